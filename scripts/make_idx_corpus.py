#!/usr/bin/env python3
"""Re-creates tests/data/idx_corpus/: malformed IDX files (raw and gzip'd) and a few valid ones,
with MANIFEST.tsv giving for each file what xg::data::read_idx must do with it:

    <file>\tok\t<shape>          loads, with that shape (values 0, 1, 2, ...)
    <file>\terror\t<reason>      raises xg::IOError naming the file, whose message contains <reason>

tests/data/test_idx.cpp walks the directory and checks every entry against the manifest (and
that every file has an entry). The files are small (the largest is a few hundred bytes); the
gzip bomb of many megabytes is made by the test itself. Output is deterministic (gzip mtime 0),
so running this again changes nothing unless the list below changed.

Usage: python3 scripts/make_idx_corpus.py [OUTDIR]   (default: tests/data/idx_corpus)
"""
import os
import shutil
import struct
import sys
import zlib


def header(dims, type_byte=0x08, magic=b"\x00\x00", rank=None):
    r = len(dims) if rank is None else rank
    return magic + bytes([type_byte, r]) + b"".join(struct.pack(">I", d) for d in dims)


def idx(dims, data=None):
    n = 1
    for d in dims:
        n *= d
    if data is None:
        data = bytes(i % 256 for i in range(n))
    return header(dims) + data


def gz(raw, level=9):
    c = zlib.compressobj(level, zlib.DEFLATED, 31)  # gzip wrapper, mtime 0: deterministic
    return c.compress(raw) + c.flush()


def gz_with_name(raw, name=b"images-idx3-ubyte"):
    # A member with the FNAME flag (as gzip writes by default): the reader must skip it.
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = c.compress(raw) + c.flush()
    crc = struct.pack("<I", zlib.crc32(raw) & 0xFFFFFFFF)
    size = struct.pack("<I", len(raw) & 0xFFFFFFFF)
    return b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x02\x03" + name + b"\x00" + body + crc + size


def flip(b, offset, mask=0xFF):
    b = bytearray(b)
    b[offset] ^= mask
    return bytes(b)


VALID = idx([2, 3])  # values 0..5
VALID_GZ = gz(VALID)
BIG = 0xFFFFFFFF

# (file name, content or None for a directory, expectation, shape or reason)
CASES = [
    # --- valid files
    ("valid-2x3.idx", VALID, "ok", "[2, 3]"),
    ("valid-2x3.idx.gz", VALID_GZ, "ok", "[2, 3]"),
    ("valid-fname-header.idx.gz", gz_with_name(VALID), "ok", "[2, 3]"),
    ("valid-level0-stored.idx.gz", gz(VALID, 0), "ok", "[2, 3]"),
    ("valid-1-value.idx", idx([1]), "ok", "[1]"),
    ("valid-zero-extent.idx", idx([0, 28, 28]), "ok", "[0, 28, 28]"),
    ("valid-rank-8.idx", idx([1, 2, 1, 2, 1, 2, 1, 2]), "ok", "[1, 2, 1, 2, 1, 2, 1, 2]"),
    # --- not a file, empty
    ("is-a-directory.idx", None, "error", "is a directory"),
    ("empty.idx", b"", "error", "empty file (0 bytes)"),
    ("empty-content.idx.gz", gz(b""), "error", "truncated: 0 bytes of inflated data"),
    # --- magic number
    ("magic-1-byte.idx", b"\x00", "error", "truncated: 1 bytes, the 4-byte magic number is incomplete"),
    ("magic-3-bytes.idx.gz", gz(b"\x00\x00\x08"), "error", "truncated: 3 bytes of inflated data, the 4-byte magic"),
    ("bad-magic-0102.idx", header([2, 3], magic=b"\x01\x02") + bytes(6), "error",
     "bad magic number (bytes 0-1 are 1, 2, expected 0, 0)"),
    ("bad-magic-0100.idx.gz", gz(header([1], magic=b"\x01\x00") + b"\x05"), "error",
     "bad magic number (bytes 0-1 are 1, 0"),
    ("bad-magic-zlib-not-gzip.idx", zlib.compress(VALID), "error", "bad magic number (bytes 0-1 are 120, 156"),
    ("bad-magic-text.idx", b"P5\n28 28\n255\n", "error", "bad magic number (bytes 0-1 are 80, 53"),
    # --- type byte (printed in hex)
    ("type-0x0B-int16.idx", header([1], type_byte=0x0B) + b"\x00\x01", "error",
     "unsupported element type 0x0B at offset 2"),
    ("type-0x0D-float.idx.gz", gz(header([1], type_byte=0x0D) + bytes(4)), "error",
     "unsupported element type 0x0D at offset 2"),
    ("type-0x09-signed.idx", header([1], type_byte=0x09) + b"\x01", "error", "unsupported element type 0x09"),
    ("type-0x00.idx", header([1], type_byte=0x00) + b"\x01", "error", "unsupported element type 0x00"),
    ("type-0xFF.idx", header([1], type_byte=0xFF) + b"\x01", "error", "unsupported element type 0xFF"),
    # --- number of dimensions
    ("rank-0.idx", header([], rank=0), "error", "unsupported number of dimensions 0 at offset 3"),
    ("rank-9.idx.gz", gz(header([1] * 9) + b"\x01"), "error", "unsupported number of dimensions 9 at offset 3"),
    ("rank-255.idx", header([], rank=255) + bytes(64), "error", "unsupported number of dimensions 255"),
    # --- header cut at several offsets
    ("header-cut-at-5.idx", header([4])[:5], "error", "truncated in the header: 5 bytes, the 1 dimensions need 8"),
    ("header-cut-at-10.idx", header([2, 28, 28])[:10], "error",
     "truncated in the header: 10 bytes, the 3 dimensions need 16"),
    ("header-cut-at-15.idx", header([2, 28, 28])[:15], "error", "truncated in the header: 15 bytes"),
    ("header-cut-at-9.idx.gz", gz(header([2, 3])[:9]), "error",
     "truncated in the header: 9 bytes of inflated data, the 2 dimensions need 12"),
    # --- data cut at several offsets
    ("data-cut-at-8.idx", header([4]), "error", "truncated: dimensions [4] need 4 bytes of data after the 8-byte header, the file ends at offset 8"),
    ("data-cut-at-15.idx", VALID[:15], "error", "need 6 bytes of data after the 12-byte header, the file ends at offset 15"),
    ("data-cut-at-17.idx", VALID[:17], "error", "the file ends at offset 17"),
    ("data-cut-at-12.idx.gz", gz(VALID[:12]), "error", "need 6 bytes of data after the 12-byte header, the inflated data ends at offset 12"),
    ("data-cut-at-16.idx.gz", gz(VALID[:16]), "error", "the inflated data ends at offset 16"),
    # --- trailing bytes
    ("trailing-1-byte.idx", idx([1]) + b"\x07", "error", "1 unexpected bytes after the data (offset 9)"),
    ("trailing-zero-extent.idx", idx([0, 28, 28]) + bytes(5), "error", "5 unexpected bytes after the data (offset 16)"),
    ("trailing-second-file.idx", VALID + VALID, "error", "18 unexpected bytes after the data (offset 18)"),
    ("trailing-garbage.idx.gz", VALID_GZ + b"garbage!", "error",
     "8 unexpected bytes after the gzip stream (offset %d of %d)" % (len(VALID_GZ), len(VALID_GZ) + 8)),
    ("trailing-zero-padding.idx.gz", VALID_GZ + bytes(4), "error", "4 unexpected bytes after the gzip stream"),
    ("trailing-1-byte.idx.gz", VALID_GZ + b"\x1f", "error", "1 unexpected bytes after the gzip stream"),
    ("two-members.idx.gz", VALID_GZ + gz(bytes(6)), "error", "a second gzip member, which is not accepted"),
    ("two-members-split-data.idx.gz", gz(VALID[:12]) + gz(VALID[12:]), "error",
     "unexpected bytes after the gzip stream (offset %d" % len(gz(VALID[:12]))),
    ("inflated-trailing.idx.gz", gz(idx([2]) + b"\x01\x02\x03"), "error",
     "the inflated data goes on past offset 10, more than dimensions [2] declare"),
    ("small-bomb-16-values.idx.gz", gz(idx([16]) + bytes(1 << 20)), "error",
     "the inflated data goes on past offset 24, more than dimensions [16] declare"),
    # --- corrupt gzip
    ("gzip-crc-corrupt.idx.gz", flip(VALID_GZ, len(VALID_GZ) - 8), "error", "incorrect data check"),
    ("gzip-length-corrupt.idx.gz", flip(VALID_GZ, len(VALID_GZ) - 4, 0x01), "error", "incorrect length check"),
    ("gzip-bad-block-type.idx.gz", VALID_GZ[:10] + bytes([VALID_GZ[10] | 0x06]) + VALID_GZ[11:], "error",
     "corrupted gzip data near offset"),
    ("gzip-bad-method.idx.gz", VALID_GZ[:2] + b"\x07" + VALID_GZ[3:], "error", "unknown compression method"),
    ("gzip-header-only.idx.gz", VALID_GZ[:5], "error", "truncated gzip stream: the file ends at offset 5"),
    ("gzip-cut-in-data.idx.gz", VALID_GZ[: len(VALID_GZ) // 2], "error", "truncated gzip stream"),
    ("gzip-cut-before-trailer.idx.gz", VALID_GZ[:-8], "error",
     "truncated gzip stream: the file ends at offset %d after 18 bytes of inflated data" % (len(VALID_GZ) - 8)),
    ("gzip-magic-only.idx.gz", b"\x1f\x8b", "error", "truncated gzip stream: the file ends at offset 2"),
    # --- dimensions whose product overflows (an IOError naming the file, not a ShapeError)
    ("overflow-3-dims-of-4294967295.idx", header([BIG] * 3), "error",
     "dimensions [4294967295, 4294967295, 4294967295] (offsets 4-15) overflow"),
    ("overflow-2-pow-64-wraps-to-0.idx", header([65536] * 4), "error", "dimensions [65536, 65536, 65536, 65536] (offsets 4-19) overflow"),
    ("overflow-256-pow-8-wraps-to-0.idx.gz", gz(header([256] * 8)), "error", "overflow: their product does not fit in 64 bits"),
    ("overflow-above-int64.idx", header([BIG, BIG]), "error", "dimensions [4294967295, 4294967295] (offsets 4-11) overflow"),
    ("overflow-stride-with-zero-extent.idx", header([0, BIG, BIG, BIG]), "error",
     "dimensions [0, 4294967295, 4294967295, 4294967295] (offsets 4-19) overflow"),
    ("overflow-wraps-to-6.idx.gz", gz(header([65536] * 4) + bytes(6)), "error", "overflow: their product"),
    # --- huge dimensions against the file's length (before allocating)
    ("huge-dims-raw.idx", header([BIG]) + bytes(3), "error",
     "truncated: dimensions [4294967295] need 4294967295 bytes of data after the 8-byte header, the file ends at offset 11"),
    ("huge-dims-2-pow-62-raw.idx", header([1 << 31, 1 << 31]), "error", "need 4611686018427387904 bytes of data"),
    ("huge-dims-2-pow-62.idx.gz", gz(header([1 << 31, 1 << 31])), "error",
     "dimensions [2147483648, 2147483648] need 4611686018427387916 bytes, more than a"),
    ("huge-dims-60000-images.idx.gz", gz(header([60000, 28, 28]) + bytes(10)), "error",
     "-byte gzip file can inflate to (at most 1032 times its length)"),
]


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "data", "idx_corpus")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    names = set()
    lines = []
    for name, content, expect, detail in CASES:
        assert name not in names, name
        names.add(name)
        path = os.path.join(out, name)
        if content is None:
            os.makedirs(path)
            # git keeps no empty directory: the test only needs the directory itself
            with open(os.path.join(path, "README"), "w") as f:
                f.write("A directory where an IDX file is expected (tests/data/test_idx.cpp).\n")
        else:
            with open(path, "wb") as f:
                f.write(content)
        lines.append("%s\t%s\t%s\n" % (name, expect, detail))
    with open(os.path.join(out, "MANIFEST.tsv"), "w") as f:
        f.write("".join(lines))
    errors = sum(1 for c in CASES if c[2] == "error")
    print("%s: %d files (%d malformed, %d valid)" % (out, len(CASES), errors, len(CASES) - errors))


if __name__ == "__main__":
    main()

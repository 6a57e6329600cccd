"""Writes the seed files of the fuzz targets (tests/fuzz/corpus/idx, .../safetensors, .../ops):
small valid files of each kind the readers accept, a few near misses, and byte strings for the
op-graph target. Run once; libFuzzer's -merge=1 adds what the campaigns found (docs/fuzzing.md).
Plain Python, no dependencies. The seeds of the 'load' target are a model's and an optimizer's
files written by xgrad itself (see tests/fuzz/fuzz_load.cpp, XG_FUZZ_WRITE_SEEDS)."""
import gzip
import json
import pathlib
import struct
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent / "corpus")


def idx(dims, values=None, type_byte=0x08):
    n = 1
    for d in dims:
        n *= d
    if values is None:
        values = bytes((7 * i) % 256 for i in range(n))
    return bytes([0, 0, type_byte, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + values


def gz(b):
    return gzip.compress(b, mtime=0)


def st(tensors, metadata=None, pad=True):
    """tensors: [(name, dtype, shape, raw bytes)] -> safetensors bytes."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def write(target, name, content):
    d = root / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(content)


# IDX: the shapes of MNIST files, small; gzip'd and raw; and near misses.
write("idx", "seed-labels-1d", idx([5]))
write("idx", "seed-images-3d", idx([2, 3, 3]))
write("idx", "seed-2d", idx([3, 4]))
write("idx", "seed-empty-axis", idx([0, 4]))
write("idx", "seed-0d", idx([]))
write("idx", "seed-labels-1d.gz", gz(idx([5])))
write("idx", "seed-images-3d.gz", gz(idx([2, 3, 3])))
write("idx", "seed-truncated", idx([2, 3, 3])[:-5])
write("idx", "seed-trailing", idx([4]) + b"\x01\x02")
write("idx", "seed-type-float", idx([2], b"\0" * 8, 0x0D))
write("idx", "seed-huge-dims", bytes([0, 0, 8, 3]) + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 2))
write("idx", "seed-gz-trailing", gz(idx([3])) + b"junk")

# safetensors: every dtype the reader converts, metadata, empty and 0-d tensors, near misses.
f32 = struct.pack("<4f", 1.0, -2.5, 0.0, float("inf"))
f64 = struct.pack("<2d", 3.25, float("nan"))
write("safetensors", "seed-f32-f64-i64", st([("a", "F32", [2, 2], f32), ("b", "F64", [2], f64),
                                             ("c", "I64", [1], struct.pack("<q", -7))]))
write("safetensors", "seed-small-dtypes", st([("h", "F16", [2], struct.pack("<2H", 0x3C00, 0xFC00)),
                                              ("bf", "BF16", [2], struct.pack("<2H", 0x3F80, 0x7FC0)),
                                              ("i", "I32", [2], struct.pack("<2i", -1, 2**31 - 1)),
                                              ("i8", "I8", [3], struct.pack("<3b", -128, 0, 127)),
                                              ("u8", "U8", [2], bytes([0, 255])),
                                              ("t", "BOOL", [2], bytes([0, 1]))]))
write("safetensors", "seed-metadata", st([("w", "F32", [1], struct.pack("<f", 0.5))], {"format": "pt", "k": "v"}))
write("safetensors", "seed-empty-and-scalar", st([("e", "F32", [0, 3], b""), ("s", "F64", [], struct.pack("<d", 2.0))]))
write("safetensors", "seed-empty-header", st([]))
write("safetensors", "seed-float-shape", st([("a", "F32", [1.0e30], f32)]))
write("safetensors", "seed-overlap", struct.pack("<Q", 96) + json.dumps(
    {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
     "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, separators=(",", ":")).encode().ljust(96) + b"\0" * 12)
write("safetensors", "seed-truncated", st([("a", "F32", [2, 2], f32)])[:-3])

# ops: the first byte picks wild (edge values) or tame mode (a multiple of 4), then steps, op,
# sample and arguments; a few fixed strings, the campaigns add the rest.
write("ops", "seed-tame-one-step", bytes([0, 0]) + bytes(range(1, 64)))
write("ops", "seed-wild-four-steps", bytes([1, 3]) + bytes((37 * i + 11) % 256 for i in range(200)))
write("ops", "seed-wild-broadcast", bytes([2, 1, 40, 0, 3, 3, 1, 0, 3, 2]) + bytes((13 * i) % 256 for i in range(120)))
write("ops", "seed-tame-chain", bytes([4, 3]) + bytes((101 * i + 7) % 256 for i in range(160)))

# csv: the first byte chooses the options (tests/fuzz/fuzz_csv.cpp: bit 0 no header, 1 space
# delimiter, 2 a target column, 3 float32, 4 non-finite allowed, 5 blank lines are errors, 6 one
# row skipped), the rest is the file: valid tables of each kind and near misses.
HOUSING = b'"x1","x2","y"\n0.00632,18,24\n0.02731,0,21.6\n# comment\n\n0.03237,+0,-3.4e1\n'
write("csv", "seed-header-target", bytes([4]) + HOUSING)
write("csv", "seed-header-target.gz", bytes([4]) + gz(HOUSING))
write("csv", "seed-float32", bytes([8 | 4]) + HOUSING)
write("csv", "seed-no-header-space", bytes([1 | 2 | 4]) + b"59 2  32.1\t101\n48 1 21.6 87\n")
write("csv", "seed-skip-count-line", bytes([64 | 4]) + b"3,2\nx,y\n1,2\n3,4\n5,6\n")
write("csv", "seed-quotes-crlf-bom", bytes([0]) + b'\xef\xbb\xbf"a","b ""q"""\r\n"1", 2 \r\n')
write("csv", "seed-nan-allowed", bytes([16]) + b"a,b\nnan,-inf\nINF,1e-400\n")
write("csv", "seed-nan-refused", bytes([0]) + b"a,b\n1,NaN\n")
write("csv", "seed-ragged", bytes([4]) + b"a,y\n1,2,3\n4\n")
write("csv", "seed-bad-number", bytes([0]) + b"a,b\n1,0x10\n1.5.2,3\n")
write("csv", "seed-unclosed-quote", bytes([0]) + b'a,b\n1,"2\n')
write("csv", "seed-blank-refused", bytes([32]) + b"a\n1\n\n2\n")
write("csv", "seed-empty-header-name", bytes([0]) + b"a,,a\n1,2,3\n")
write("csv", "seed-gz-trailing", bytes([0]) + gz(b"a\n1\n") + b"junk")

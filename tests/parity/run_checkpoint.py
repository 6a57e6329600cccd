#!/usr/bin/env python3
"""Checkpoint interoperability with PyTorch: runs tests/parity's checkpoint_driver (the path given
as the argument) and checks with Debian's python3-torch (1.13) and the parity suite's small
safetensors reader (no extra Python package):
- xgrad's file: every tensor's data offset is a multiple of its element size (data starting
  8-aligned), dtypes, shapes and values are as written, __metadata__ is exact;
- xgrad's F16/BF16 files: the stored bits are those of PyTorch's .half() / .bfloat16() of the
  same float64 values (subnormals, overflow to inf, NaN included);
- a file PyTorch writes (unaligned, in no particular order, F32/F64/I64/F16/BF16/I32/I8/U8/BOOL,
  metadata) is read by xgrad, which writes it back; the values must be PyTorch's, converted as
  load_tensors documents (16-bit floats to float32, small integers and BOOL to int64).
Fails (like parity/pytorch) when PyTorch is missing.
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_parity import read_safetensors, read_safetensors_header  # noqa: E402 (also imports torch)

import torch  # noqa: E402

SIZES = {"F64": 8, "F32": 4, "I64": 8, "I32": 4, "F16": 2, "BF16": 2, "I8": 1, "U8": 1, "BOOL": 1}
TORCH_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.int64: "I64", torch.int32: "I32",
               torch.float16: "F16", torch.bfloat16: "BF16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}
METADATA = {"quote": 'say "hi"', "backslash": "C:\\path\\n", "unicode": "caf\u00e9 \u2207 \U0001F600", "empty": ""}
# the values the driver stores as F16/BF16 (keep in step with checkpoint_driver.cpp)
HALF_VALUES = [1 + 2**-11 + 2**-40, 65520.0, 65519.99, 2.0**-25, 2.0**-24 * 1.5, 3e-8, 1e-45, -1e-40, 3.4e38,
               1e39, -math.inf, -0.0, 0.1, -2.5, 1 + 2**-8 + 2**-40, math.nan]

problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


def same(x, y):
    return x.dtype == y.dtype and x.shape == y.shape and bool(torch.equal(x, y))


def check_aligned(path):
    header, base, data = read_safetensors_header(path)
    check(base % 8 == 0, "%s: data starts at %d, not 8-aligned" % (path, base))
    ranges = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        check((base + a) % SIZES[info["dtype"]] == 0,
              "%s: tensor %s (%s) at file offset %d is not aligned" % (path, name, info["dtype"], base + a))
        ranges.append((a, b))
    ranges.sort()
    check(all(r[1] == s[0] for r, s in zip(ranges, ranges[1:])) and (not ranges or ranges[-1][1] == len(data) - base),
          "%s: byte ranges do not tile the data area" % path)
    return header


def write_safetensors(path, tensors, metadata):
    """A file as another writer may produce it: in the given order, unaligned, header unpadded."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors:
        raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": TORCH_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, ensure_ascii=False).encode("utf-8")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    if len(sys.argv) != 2:
        print("usage: run_checkpoint.py CHECKPOINT_DRIVER")
        return 2
    out = tempfile.mkdtemp(prefix="xgrad-checkpoint-")
    try:
        def driver():
            r = subprocess.run([sys.argv[1], out], capture_output=True, text=True)
            if r.returncode != 0:
                problems.append("the driver failed (status %d): %s%s" % (r.returncode, r.stdout, r.stderr))
            return r.returncode == 0

        if not driver():
            raise SystemExit
        # xgrad -> PyTorch
        path = os.path.join(out, "xgrad.safetensors")
        header = check_aligned(path)
        check(header.get("__metadata__") == METADATA, "metadata differs: %r" % header.get("__metadata__"))
        names = [k for k in header if k != "__metadata__"]
        check(names == ["a", "idx", "b", "w", "empty"], "header order %r" % names)
        T = read_safetensors(path)
        want = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 7.0,
                "idx": torch.tensor([3, -1, 4]),
                "b": torch.tensor([-1.25], dtype=torch.float32),
                "w": torch.arange(4, dtype=torch.float64).reshape(2, 2) / 3.0 - 0.5,
                "empty": torch.zeros(0, 3, dtype=torch.float64)}
        for k, v in want.items():
            check(k in T and same(T[k], v), "xgrad.safetensors: %s is %r, PyTorch's is %r" % (k, T.get(k), v))
        h64 = torch.tensor(HALF_VALUES, dtype=torch.float64)
        for fname, conv, dt in (("xgrad_f16.safetensors", h64.half(), "F16"), ("xgrad_bf16.safetensors", h64.bfloat16(), "BF16")):
            path = os.path.join(out, fname)
            header = check_aligned(path)
            check(header["h"]["dtype"] == dt, "%s: dtype %s" % (fname, header["h"]["dtype"]))
            T = read_safetensors(path)
            got, ref = T["h"].view(torch.int16).tolist(), conv.view(torch.int16).tolist()
            if dt == "BF16":
                # PyTorch's own BF16 NaN bits differ between its paths (0x7fc0 element by element,
                # 0xffff vectorised): any NaN pattern stands for NaN there.
                def is_nan(b):
                    return (b & 0x7f80) == 0x7f80 and (b & 0x7f) != 0
                got = ["nan" if is_nan(b) else b for b in got]
                ref = ["nan" if is_nan(b) else b for b in ref]
            check(got == ref, "%s: bits %r, PyTorch's %r" % (fname, got, ref))
            check(same(T["i"], torch.tensor([7])), "%s: i is %r" % (fname, T["i"]))
        # PyTorch -> xgrad -> PyTorch
        g = torch.Generator().manual_seed(0)
        theirs = [("z.bool", torch.tensor([True, False, True])),
                  ("half", torch.randn(3, 2, generator=g, dtype=torch.float64).half()),
                  ("f64", torch.randn(2, 3, generator=g, dtype=torch.float64)),
                  ("u8", torch.tensor([0, 200, 255], dtype=torch.uint8)),
                  ("bf16", torch.tensor([1e-40, -3.5, 1e38], dtype=torch.float32).bfloat16()),
                  ("f32", torch.randn(5, generator=g, dtype=torch.float32)),
                  ("i8", torch.tensor([-128, 5], dtype=torch.int8)),
                  ("i64", torch.tensor([[2**62, -7]])),
                  ("i32", torch.tensor([-2**31, 2**31 - 1], dtype=torch.int32)),
                  ("scalar", torch.tensor(2.5, dtype=torch.float64)),
                  ("nothing", torch.zeros(2, 0, dtype=torch.float32))]
        meta = {"format": "pt", "note": "\"quoted\" \\ \u00fc"}
        write_safetensors(os.path.join(out, "torch.safetensors"), theirs, meta)
        if driver():
            path = os.path.join(out, "torch_back.safetensors")
            header = check_aligned(path)
            check(header.get("__metadata__") == meta, "metadata back: %r" % header.get("__metadata__"))
            check([k for k in header if k != "__metadata__"] == [n for n, _ in theirs], "order back %r" % list(header))
            T = read_safetensors(path)
            for name, t in theirs:
                if t.dtype in (torch.float16, torch.bfloat16):
                    ref = t.float()
                elif t.dtype in (torch.int32, torch.int8, torch.uint8, torch.bool):
                    ref = t.long()
                else:
                    ref = t
                check(name in T and same(T[name], ref), "torch_back: %s is %r, PyTorch's is %r" % (name, T.get(name), ref))
    except SystemExit:
        pass
    finally:
        shutil.rmtree(out, ignore_errors=True)
    for p in problems:
        print("FAIL " + p)
    print("checkpoint: xgrad -> PyTorch and PyTorch -> xgrad, %d failed" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

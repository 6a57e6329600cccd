#!/usr/bin/env python3
"""CI smoke check of the benchmark programs' machine-readable output (no timing assertions).

    check_bench_json.py bench WORKLOAD[,WORKLOAD...] -- BINARY ARGS...
    check_bench_json.py tta -- BINARY ARGS...

Runs the command and fails (exit 1, saying why) unless it exits with 0 and prints on stdout
exactly one JSON object per expected workload, each well-formed and carrying the fields of
../shared/bench/WORKLOADS.md with finite values: per-step times, final_loss for the training
workloads, GFLOP/s for matmul_peak, the kernel times for kernels, the RSS figures for mlp_rss.
xgrad runs must report xg_threads (xg::get_num_threads()) equal to threads, LibTorch runs
torch_threads and blas_threads. `tta` checks the
time-to-accuracy line (workload fashion_mlp_tta or fashion_cnn_tta) of xgrad-train
--target-accuracy and libtorch-fashion-mlp or libtorch-fashion-cnn.
"""
import json
import math
import subprocess
import sys

TRAINING = {"mlp", "cnn", "tiny", "lstm", "mlp_rss"}


class Bad(Exception):
    pass


def finite(rec, key, lo=None, hi=None):
    if key not in rec:
        raise Bad(f"{rec.get('workload')}: no field '{key}'")
    v = rec[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise Bad(f"{rec.get('workload')}: '{key}' is {v!r}, not a finite number")
    if lo is not None and v < lo:
        raise Bad(f"{rec.get('workload')}: '{key}' = {v} is below {lo}")
    if hi is not None and v > hi:
        raise Bad(f"{rec.get('workload')}: '{key}' = {v} is above {hi}")
    return v


def check_threads(rec):
    threads = finite(rec, "threads", lo=1)
    if rec.get("impl") == "xgrad" and finite(rec, "xg_threads", lo=1) != threads:
        raise Bad(f"{rec['workload']}: xgrad xg_threads = {rec['xg_threads']} but threads = {threads}")
    if rec.get("impl") == "libtorch":
        for k in ("torch_threads", "blas_threads"):
            if finite(rec, k, lo=1) != threads:
                raise Bad(f"{rec['workload']}: libtorch {k} = {rec[k]} but threads = {threads}")


def check_bench(rec, workload):
    if rec.get("workload") != workload:
        raise Bad(f"expected workload '{workload}', got {rec.get('workload')!r}")
    if not isinstance(rec.get("impl"), str) or not rec["impl"]:
        raise Bad(f"{workload}: no impl name")
    check_threads(rec)
    if workload == "kernels":
        keys = [k for k in rec if k.startswith("us_")]
        if len(keys) < 3:
            raise Bad(f"kernels: expected the us_* kernel times, got {sorted(rec)}")
        for k in keys:
            finite(rec, k, lo=0)
        return
    finite(rec, "warmup", lo=0)
    finite(rec, "steps", lo=1)
    mn, med = finite(rec, "ms_per_step_min", lo=0), finite(rec, "ms_per_step_median", lo=0)
    mean, mx = finite(rec, "ms_per_step_mean", lo=0), finite(rec, "ms_per_step_max", lo=0)
    if not (mn <= med <= mx and mn <= mean <= mx):
        raise Bad(f"{workload}: per-step times out of order (min {mn}, median {med}, mean {mean}, max {mx})")
    if workload in TRAINING:
        finite(rec, "first_loss")
        finite(rec, "final_loss")
        finite(rec, "peak_rss_kb", lo=1)
    if workload == "tiny":
        if rec.get("ops_per_step") != 300:
            raise Bad(f"tiny: ops_per_step is {rec.get('ops_per_step')!r}, not 300")
        finite(rec, "us_per_op", lo=0)
    if workload == "matmul_peak":
        finite(rec, "gflops_median", lo=1e-9)
        finite(rec, "gflops_max", lo=1e-9)
    if workload == "mlp_rss":
        before, after = finite(rec, "rss_kb_after_warmup", lo=1), finite(rec, "rss_kb_end", lo=1)
        growth = finite(rec, "rss_growth_percent")
        if abs(growth - 100.0 * (after - before) / before) > 0.01:
            raise Bad(f"mlp_rss: rss_growth_percent {growth} does not match {before} -> {after} kB")
        finite(rec, "anon_rss_kb_after_warmup", lo=1)
        finite(rec, "anon_rss_kb_end", lo=1)
        finite(rec, "anon_rss_growth_percent")
        trace = rec.get("rss_kb_every_10_percent")
        if not isinstance(trace, list) or len(trace) != 11 or trace[0] != before:
            raise Bad(f"mlp_rss: rss_kb_every_10_percent should be 11 readings starting at {before}, got {trace!r}")


def check_tta(rec):
    w = rec.get("workload")
    if w not in ("fashion_mlp_tta", "fashion_cnn_tta"):
        raise Bad(f"expected workload 'fashion_mlp_tta' or 'fashion_cnn_tta', got {w!r}")
    if not isinstance(rec.get("reached"), bool):
        raise Bad(f"{w}: 'reached' is {rec.get('reached')!r}, not a boolean")
    target = finite(rec, "target", lo=0, hi=1)
    acc = finite(rec, "test_accuracy", lo=0, hi=1)
    if rec["reached"] != (acc >= target):
        raise Bad(f"{w}: reached = {rec['reached']} but test_accuracy {acc} vs target {target}")
    finite(rec, "seconds", lo=0)
    finite(rec, "epochs", lo=0)
    finite(rec, "steps", lo=1)
    check_threads(rec)


def main(argv):
    if "--" not in argv or len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    sep = argv.index("--")
    opts, cmd = argv[1:sep], argv[sep + 1:]
    kind = opts[0] if opts else ""
    if kind not in ("bench", "tta") or (kind == "bench" and len(opts) != 2):
        print(__doc__, file=sys.stderr)
        return 2
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    shown = " ".join(cmd)
    if proc.returncode != 0:
        print(f"FAIL: `{shown}` exited with {proc.returncode}\n{proc.stderr}", file=sys.stderr)
        return 1
    lines = [l for l in proc.stdout.splitlines() if l.lstrip().startswith("{")]
    expected = opts[1].split(",") if kind == "bench" else ["fashion_mlp_tta"]
    try:
        if len(lines) != len(expected):
            raise Bad(f"expected {len(expected)} JSON line(s), got {len(lines)}:\n{proc.stdout}")
        for line, w in zip(lines, expected):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise Bad(f"not valid JSON ({e}): {line}")
            if not isinstance(rec, dict):
                raise Bad(f"not a JSON object: {line}")
            check_bench(rec, w) if kind == "bench" else check_tta(rec)
            print(line)
    except Bad as e:
        print(f"FAIL: `{shown}`: {e}", file=sys.stderr)
        return 1
    print(f"ok: {len(lines)} well-formed JSON line(s) from `{shown}`")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Runs xgrad-bench and libtorch-bench alternately (A B A B ...) and prints a table of medians.

For each round: xgrad at its defaults, then LibTorch at its default thread setting and at each
split of --intra / --blas-threads over {1, 2}. The table reports, per workload, the median over
rounds of each run's median ms/step, the spread (min-max of those medians), LibTorch's best split,
the ratios, and for mlp/cnn the fraction of the machine's gemm roofline (from matmul_peak).
Usage: bench/compare.py [--build DIR] [--rounds N] [--threads T] [--workloads a,b,...]
"""
import argparse
import json
import statistics
import subprocess
import sys

FLOP_PER_STEP = {  # forward + backward (about 3x forward) multiply-adds x 2, per WORKLOADS.md shapes
    "mlp": 3 * 2 * 128 * (784 * 512 + 512 * 256 + 256 * 10),
    "cnn": 3 * 2 * 64 * (28 * 28 * 32 * 9 + 14 * 14 * 64 * 32 * 9 + 3136 * 128 + 128 * 10),
}


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workloads", default="mlp,cnn,tiny,lstm,matmul_peak")
    a = ap.parse_args()
    xb, tb = f"{a.build}/bench/xgrad-bench", f"{a.build}/bench/libtorch-bench"
    t = str(a.threads)
    splits = sorted({(i, b) for i in (1, a.threads) for b in (1, a.threads)})
    res = {}  # (impl, workload) -> list of per-run records

    def add(impl, recs):
        for r in recs:
            res.setdefault((impl, r["workload"]), []).append(r)

    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds}", file=sys.stderr, flush=True)
        add("xgrad", run([xb, a.workloads, "--threads", t]))
        add("libtorch-default", run([tb, a.workloads, "--threads", t]))
        for i, b in splits:
            add(f"libtorch-{i}/{b}", run([tb, a.workloads, "--threads", t, "--intra", str(i), "--blas-threads", str(b)]))

    def med(impl, w, key="ms_per_step_median"):
        vals = [x[key] for x in res.get((impl, w), []) if key in x]
        return (statistics.median(vals), min(vals), max(vals)) if vals else None

    peak = med("xgrad", "matmul_peak", "gflops_median")
    print(f"\nthreads {a.threads}, {a.rounds} alternating rounds; ms/step: median of per-run medians [min-max]")
    print(f"{'workload':12} {'xgrad':>22} {'libtorch default':>22} {'libtorch best':>30} {'x/default':>9} {'x/best':>7} {'roofline':>8}")
    for w in a.workloads.split(","):
        x = med("xgrad", w)
        d = med("libtorch-default", w)
        best = None
        for i, b in splits:
            m = med(f"libtorch-{i}/{b}", w)
            if m and (best is None or m[0] < best[1][0]):
                best = (f"{i}/{b}", m)
        if not x or not d or not best:
            continue
        fmt = lambda m: f"{m[0]:8.3f} [{m[1]:.3f}-{m[2]:.3f}]"
        roof = ""
        if w in FLOP_PER_STEP and peak:
            ideal_ms = FLOP_PER_STEP[w] / (peak[0] * 1e9) * 1e3
            roof = f"{ideal_ms / x[0]:.0%}"
        if w == "matmul_peak":
            xg_g, lt_g = med("xgrad", w, "gflops_median"), med("libtorch-default", w, "gflops_median")
            roof = f"{xg_g[0]:.0f} vs {lt_g[0]:.0f} GFLOP/s"
        print(f"{w:12} {fmt(x):>22} {fmt(d):>22} {fmt(best[1]) + ' (' + best[0] + ')':>30} {x[0] / d[0]:9.2f} {x[0] / best[1][0]:7.2f} {roof:>8}")
    rss = [(w, med("xgrad", w, "peak_rss_kb"), med("libtorch-default", w, "peak_rss_kb")) for w in a.workloads.split(",")]
    print("\npeak RSS (MiB), xgrad vs libtorch: " + ", ".join(
        f"{w} {x[0] / 1024:.0f} vs {l[0] / 1024:.0f}" for w, x, l in rss if x and l))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs xgrad-bench and libtorch-bench alternately (A B A B ...) and prints a table of medians.

Every workload runs in its own process, one per implementation and setting, so the peak RSS
reported is that workload's alone. For each round and each workload: xgrad at its defaults, then
LibTorch at its default thread setting and at each split of --intra / --blas-threads over
{1, T}. The table reports, per workload, the median over rounds of each run's median ms/step,
the spread (min-max of those medians), LibTorch's best split, the ratios, and for mlp/cnn the
fraction of the machine's gemm roofline (from matmul_peak).

Thread counts are checked, not assumed: xgrad's and LibTorch's default runs must both report T
threads (xgrad: xg::get_num_threads(), its pool and OpenBLAS's ceiling; LibTorch:
torch::get_num_threads() and OpenBLAS's), each split what it asked for; otherwise the comparison
stops with an error.

--replay adds, for tiny, mlp, cnn and lstm, a run of `xgrad-bench W --replay` in each round (the
step captured once with xg::capture and replayed) and a row "W replay" next to the eager one,
with its ratios to LibTorch, and its peak RSS against eager's.

--tta also compares time to accuracy (issue 6): `xgrad-train --model mlp --target-accuracy A`
against `libtorch-fashion-mlp --target A` (the same MLP, data, optimizer and schedule), run
alternately --tta-rounds times (default 1: each run takes minutes; round r uses seed r), at T
threads both, and LibTorch also at the split --tta-libtorch-split (default 1/T; "none" to skip).
--tta-model cnn does the same for the CNN (issue 16): `xgrad-train --model cnn` at its default
recipe against `libtorch-fashion-cnn` (the same model, augmentation, label smoothing, AdamW and
one-cycle schedule, batch), to 0.93 by default, LibTorch's split defaulting to T/1 (its best
for cnn in WORKLOADS.md).

Usage: bench/compare.py [--build DIR] [--rounds N] [--threads T] [--workloads a,b,...] [--replay]
                        [--tta] [--tta-only] [--tta-model mlp|cnn] [--tta-rounds N] [--tta-target A]
                        [--tta-eval-every S]
                        [--tta-seed S] [--tta-libtorch-split I/B|none]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

FLOP_PER_STEP = {  # 2 flops per multiply-add; forward, weight gradient, and the input gradient of every
    # layer but the first (the data needs none), per WORKLOADS.md shapes
    "mlp": 2 * 128 * (784 * 512 * 2 + (512 * 256 + 256 * 10) * 3),
    "cnn": 2 * 64 * (28 * 28 * 32 * 9 * 2 + (14 * 14 * 64 * 32 * 9 + 3136 * 128 + 128 * 10) * 3),
}
LIBTORCH_WORKLOADS = {"mlp", "cnn", "tiny", "lstm", "matmul_peak"}  # what libtorch-bench implements
REPLAY_WORKLOADS = {"mlp", "cnn", "tiny", "lstm"}  # what xgrad-bench --replay implements


def fail(msg):
    sys.exit(f"compare.py: {msg}")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"`{' '.join(cmd)}` exited with {p.returncode}:\n{p.stderr.strip()}")
    recs = []
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            try:
                recs.append(json.loads(line))
            except json.JSONDecodeError as e:
                fail(f"`{' '.join(cmd)}` printed a malformed JSON line ({e}): {line}")
    if not recs:
        fail(f"`{' '.join(cmd)}` printed no JSON line:\n{p.stdout}{p.stderr}")
    return recs


def check_threads(rec, what, torch_threads, blas_threads):
    """Fails loudly unless `rec` ran with the thread counts asked for."""
    impl = rec.get("impl")
    if impl == "libtorch":
        got = (rec.get("torch_threads"), rec.get("blas_threads"))
        if None in got:
            fail(f"{what}: the LibTorch JSON has no torch_threads/blas_threads (rebuild libtorch-bench): {rec}")
        if got != (torch_threads, blas_threads):
            fail(f"{what}: LibTorch ran with torch {got[0]} / OpenBLAS {got[1]} threads, "
                 f"expected {torch_threads} / {blas_threads}; the comparison would not be like for like")
        if rec.get("interop_threads", 1) != 1:
            fail(f"{what}: LibTorch ran with {rec['interop_threads']} inter-op threads, expected 1")
    else:
        # xgrad: one budget, xg::set_num_threads(T), for its kernel pool and (at most) OpenBLAS
        got = rec.get("xg_threads")
        if got is None:
            fail(f"{what}: the xgrad JSON has no xg_threads (rebuild): {rec}")
        if got != torch_threads:
            fail(f"{what}: xgrad ran with {got} threads, expected {torch_threads}")


def med(vals):
    return (statistics.median(vals), min(vals), max(vals)) if vals else None


def compare_workloads(a, xb, tb):
    t = str(a.threads)
    splits = sorted({(i, b) for i in (1, a.threads) for b in (1, a.threads)})
    workloads = [w for w in a.workloads.split(",") if w]
    res = {}  # (impl, workload) -> list of per-run records

    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds}", file=sys.stderr, flush=True)
        for w in workloads:
            # one process per workload and implementation: its peak RSS is its own
            for rec in run([xb, w, "--threads", t]):
                check_threads(rec, f"xgrad {w}", a.threads, a.threads)
                res.setdefault(("xgrad", w), []).append(rec)
            if a.replay and w in REPLAY_WORKLOADS:
                for rec in run([xb, w, "--threads", t, "--replay"]):
                    check_threads(rec, f"xgrad {w} --replay", a.threads, a.threads)
                    res.setdefault(("xgrad-replay", w), []).append(rec)
            if w not in LIBTORCH_WORKLOADS:
                continue
            for rec in run([tb, w, "--threads", t]):
                check_threads(rec, f"libtorch default {w}", a.threads, a.threads)
                res.setdefault(("libtorch-default", w), []).append(rec)
            for i, b in splits:
                for rec in run([tb, w, "--threads", t, "--intra", str(i), "--blas-threads", str(b)]):
                    check_threads(rec, f"libtorch {i}/{b} {w}", i, b)
                    res.setdefault((f"libtorch-{i}/{b}", w), []).append(rec)

    def m(impl, w, key="ms_per_step_median"):
        return med([x[key] for x in res.get((impl, w), []) if key in x])

    lt = [x for (impl, _), recs in res.items() if impl == "libtorch-default" for x in recs]
    if lt:
        x0, l0 = res[("xgrad", workloads[0])][0], lt[0]
        print(f"\nthreads checked: xgrad {x0['xg_threads']} (its pool and at most that for OpenBLAS); "
              f"LibTorch default torch {l0['torch_threads']}, OpenBLAS {l0['blas_threads']}, "
              f"inter-op {l0.get('interop_threads', '?')} in all {len(lt)} runs: the same thread count")
    peak = m("xgrad", "matmul_peak", "gflops_median")
    print(f"\nthreads {a.threads}, {a.rounds} alternating rounds, one process per workload; "
          f"ms/step: median of per-run medians [min-max]")
    print(f"{'workload':12} {'xgrad':>22} {'libtorch default':>22} {'libtorch best':>30} {'x/default':>9} {'x/best':>7} {'roofline':>8}")
    fmt = lambda v: f"{v[0]:8.3f} [{v[1]:.3f}-{v[2]:.3f}]"
    rows = []
    for w in workloads:
        rows.append((w, "xgrad", w))
        if m("xgrad-replay", w):
            rows.append((w, "xgrad-replay", w + " replay"))
    for w, impl, label in rows:
        x = m(impl, w)
        if not x:
            continue
        d = m("libtorch-default", w)
        best = None
        for i, b in splits:
            v = m(f"libtorch-{i}/{b}", w)
            if v and (best is None or v[0] < best[1][0]):
                best = (f"{i}/{b}", v)
        roof = ""
        if w in FLOP_PER_STEP and peak:
            ideal_ms = FLOP_PER_STEP[w] / (peak[0] * 1e9) * 1e3
            roof = f"{ideal_ms / x[0]:.0%}"
        if w == "matmul_peak" and d:
            xg_g, lt_g = m("xgrad", w, "gflops_median"), m("libtorch-default", w, "gflops_median")
            roof = f"{xg_g[0]:.0f} vs {lt_g[0]:.0f} GFLOP/s"
        if not d or not best:
            print(f"{label:12} {fmt(x):>22} {'(xgrad only)':>22}")
            continue
        print(f"{label:12} {fmt(x):>22} {fmt(d):>22} {fmt(best[1]) + ' (' + best[0] + ')':>30} "
              f"{x[0] / d[0]:9.2f} {x[0] / best[1][0]:7.2f} {roof:>8}")
    rss = [(w, m("xgrad", w, "peak_rss_kb"), m("libtorch-default", w, "peak_rss_kb")) for w in workloads]
    print("\npeak RSS (MiB, each workload in its own process), xgrad vs libtorch: " + ", ".join(
        f"{w} {x[0] / 1024:.0f} vs {l[0] / 1024:.0f}" for w, x, l in rss if x and l))
    rr = [(w, m("xgrad-replay", w, "peak_rss_kb"), m("xgrad", w, "peak_rss_kb")) for w in workloads]
    if any(r and e for _, r, e in rr):
        print("peak RSS (MiB), xgrad replayed vs eager: " + ", ".join(
            f"{w} {r[0] / 1024:.1f} vs {e[0] / 1024:.1f}" for w, r, e in rr if r and e))
        # The same over the timed steps only (the high-water mark reset after the warm-up, which
        # with --replay holds the capture: one eager step run while recording).
        rt = [(w, m("xgrad-replay", w, "timed_peak_rss_kb"), m("xgrad", w, "timed_peak_rss_kb")) for w in workloads]
        if any(r and e and r[0] > 0 and e[0] > 0 for _, r, e in rt):
            print("peak RSS over the timed steps (MiB), xgrad replayed vs eager: " + ", ".join(
                f"{w} {r[0] / 1024:.1f} vs {e[0] / 1024:.1f}" for w, r, e in rt if r and e and r[0] > 0 and e[0] > 0))


# What --tta-model runs: the peer, the default target, LibTorch's best split (WORKLOADS.md) and
# the recipe both run (xgrad-train's defaults for the model; the peer's defaults are the same).
TTA_MODELS = {
    "mlp": ("libtorch-fashion-mlp", 0.88, lambda t: f"1/{t}",
            "Fashion-MNIST MLP 784-256-128-10 (dropout 0.2), Adam 1e-3, cosine over 15 epochs, batch 128"),
    "cnn": ("libtorch-fashion-cnn", 0.93, lambda t: f"{t}/1",
            "Fashion-MNIST CNN conv32-BN-pool, conv64-BN-pool, fc 3136-128-10 with dropout 0.3; random "
            "left-right flips, label smoothing 0.1, AdamW 3e-3 (wd 0.05), one-cycle over 11 epochs, batch 128"),
}


def compare_tta(a, build):
    peer_name, default_target, best_split, recipe = TTA_MODELS[a.tta_model]
    if a.tta_target is None:
        a.tta_target = default_target
    train, peer = f"{build}/examples/trainer/xgrad-train", f"{build}/bench/{peer_name}"
    for exe in (train, peer):
        if not os.access(exe, os.X_OK):
            fail(f"{exe} is missing: build {build} ({peer_name} needs libtorch-dev)")
    t = str(a.threads)
    split = None
    if a.tta_libtorch_split == "auto":
        a.tta_libtorch_split = best_split(a.threads) if a.threads > 1 else "none"
    if a.tta_libtorch_split != "none":
        try:
            split = tuple(int(v) for v in a.tta_libtorch_split.split("/"))
            assert len(split) == 2 and min(split) >= 1
        except (ValueError, AssertionError):
            fail(f"--tta-libtorch-split: expected INTRA/BLAS (e.g. 1/{a.threads}) or none, got {a.tta_libtorch_split!r}")
    impls = ["xgrad", "libtorch default"] + ([f"libtorch {split[0]}/{split[1]}"] if split else [])
    res = {impl: [] for impl in impls}
    common = ["--eval-every", str(a.tta_eval_every), "--threads", t]
    with tempfile.TemporaryDirectory(prefix="xgrad-tta-") as out:
        for r in range(a.tta_rounds):
            seed = str(a.tta_seed + r)  # each round its own seed: the epochs needed vary with it
            runs = [("xgrad", [train, "--model", a.tta_model, "--target-accuracy", str(a.tta_target), "--seed", seed,
                               "--quiet", "--out", out] + common, (a.threads, a.threads)),
                    ("libtorch default", [peer, "--target", str(a.tta_target), "--seed", seed] + common,
                     (a.threads, a.threads))]
            if split:
                runs.append((impls[2], [peer, "--target", str(a.tta_target), "--seed", seed, "--intra", str(split[0]),
                                        "--blas-threads", str(split[1])] + common, split))
            for impl, cmd, (intra, blas) in runs:
                print(f"time to accuracy: round {r + 1}/{a.tta_rounds} (seed {seed}), {impl}", file=sys.stderr, flush=True)
                rec = run(cmd)[-1]
                check_threads(rec, f"{impl} time to accuracy", intra, blas)
                res[impl].append(rec)
    when = "after each epoch" if a.tta_eval_every == 0 else f"every {a.tta_eval_every} steps and after each epoch"
    lt = res["libtorch default"][0]
    print(f"\ntime to accuracy {a.tta_target}: {recipe}; test accuracy evaluated {when}; seconds of training only; "
          f"{a.tta_rounds} alternating round(s), seeds {a.tta_seed}..{a.tta_seed + a.tta_rounds - 1}")
    print(f"threads checked: xgrad {res['xgrad'][0]['xg_threads']} (its pool and at most that for OpenBLAS); LibTorch "
          f"default torch {lt['torch_threads']}, OpenBLAS {lt['blas_threads']}, inter-op {lt['interop_threads']}: the same"
          + (f"; LibTorch's split {split[0]}/{split[1]} shown too (its default's two pools contend on few cores, "
             f"WORKLOADS.md)" if split else ""))
    print(f"{'impl':16} {'reached':>8} {'seconds':>24} {'epochs':>16} {'test acc':>9} {'x/impl':>7}")
    secs = {}
    for impl, recs in res.items():
        reached = sum(1 for x in recs if x["reached"])
        secs[impl] = statistics.median(x["seconds"] for x in recs) if reached == len(recs) else None
    for impl, recs in res.items():
        reached = sum(1 for x in recs if x["reached"])
        s, e = med([x["seconds"] for x in recs]), med([x["epochs"] for x in recs])
        acc = statistics.median(x["test_accuracy"] for x in recs)
        ratio = f"{secs['xgrad'] / secs[impl]:.2f}" if secs["xgrad"] and secs[impl] else "-"
        print(f"{impl:16} {f'{reached}/{len(recs)}':>8} {f'{s[0]:8.2f} [{s[1]:.2f}-{s[2]:.2f}]':>24} "
              f"{f'{e[0]:g} [{e[1]:g}-{e[2]:g}]':>16} {acc:9.4f} {ratio:>7}")
    if not all(secs.values()):
        print("(the target was not reached in every run: seconds are then those of the whole run, and no ratio)")
    for recs in res.values():
        for x in recs:
            print(json.dumps(x))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workloads", default="mlp,cnn,tiny,lstm,matmul_peak")
    ap.add_argument("--replay", action="store_true", help="also time xgrad's captured steps (xgrad-bench --replay)")
    ap.add_argument("--tta", action="store_true", help="also compare time to accuracy (takes minutes)")
    ap.add_argument("--tta-only", action="store_true", help="only the time-to-accuracy comparison")
    ap.add_argument("--tta-rounds", type=int, default=1)
    ap.add_argument("--tta-model", choices=sorted(TTA_MODELS), default="mlp",
                    help="the model of the time-to-accuracy comparison (cnn: issue 16's recipe, to 0.93)")
    ap.add_argument("--tta-target", type=float, default=None, help="default: 0.88 for mlp, 0.93 for cnn")
    ap.add_argument("--tta-eval-every", type=int, default=0, help="steps between evaluations (0: after each epoch)")
    ap.add_argument("--tta-seed", type=int, default=0, help="seed of the first round (round r uses seed + r)")
    ap.add_argument("--tta-libtorch-split", default="auto",
                    help="also run LibTorch at this intra-op/OpenBLAS split, or none (auto: WORKLOADS.md's best, "
                         "1/T for mlp, T/1 for cnn)")
    a = ap.parse_args()
    xb, tb = f"{a.build}/bench/xgrad-bench", f"{a.build}/bench/libtorch-bench"
    if not a.tta_only:
        for exe in (xb, tb):
            if not os.access(exe, os.X_OK):
                fail(f"{exe} is missing: build {a.build} (libtorch-bench needs libtorch-dev)")
        compare_workloads(a, xb, tb)
    if a.tta or a.tta_only:
        compare_tta(a, a.build)


if __name__ == "__main__":
    main()

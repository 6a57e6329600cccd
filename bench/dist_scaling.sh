#!/usr/bin/env bash
# Data-parallel figures of docs/performance.md: examples per second of xgrad-train's MLP and CNN
# at 1 process x 2 threads and at 2 processes x 1 thread (mpirun --distributed), the step's
# communication and how much of it overlapped backward (DistributedDataParallel::stats()), then
# the allreduce micro-benchmark (latency and bandwidth for the scaling model).
#   bench/dist_scaling.sh [build dir] [--quick]
# Each run trains one epoch on the first examples of Fashion-MNIST (--limit); the figures are
# the epoch's training time only. Numbers on a shared machine are noisy: run it on a quiet one.
set -u
build=${1:-build}
quick=0
[ "${2:-}" = "--quick" ] && quick=1
train=$build/examples/trainer/xgrad-train
bench=$build/bench/dist-allreduce
mpirun=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)
for f in "$train" "$bench"; do
  [ -x "$f" ] || { echo "dist_scaling.sh: $f is missing (build with MPI: ninja -C $build)" >&2; exit 1; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# model limit batch: the slice of the training set and the global batch of each run.
runs=("mlp 12800 128" "cnn 1280 64")
[ $quick -eq 1 ] && runs=("mlp 2560 128" "cnn 256 64")

# "... (4.2s, 3047 ex/s)" -> 3047
ex_per_s() { sed -n 's/^epoch .*, \([0-9.]*\) ex\/s)$/\1/p' <<<"$1" | tail -1; }

printf '%-5s %-40s %10s %12s %14s %14s %9s\n' model run "ex/s" "ms/step" "comm ms/step" "overlap ms" "overlap"
for r in "${runs[@]}"; do
  read -r model limit batch <<<"$r"
  common=(--model "$model" --limit "$limit" --epochs 1 --batch-size "$batch" --quiet --out "$out")
  log=$("$train" "${common[@]}" --threads 2 2>&1) || { echo "$log" >&2; exit 1; }
  printf '%-5s %-40s %10s %12s %14s %14s %9s\n' "$model" "1 process x 2 threads" "$(ex_per_s "$log")" - - - -
  for np in 1 2 2b; do
    extra=()
    label="${np%b} process$([ "${np%b}" -gt 1 ] && echo es) x 1 thread"
    [ "$np" = 2b ] && { extra=(--bucket-mb 0.25); label="$label, 0.25 MB buckets"; }
    log=$("${mpirun[@]}" -np "${np%b}" "$train" --distributed "${common[@]}" "${extra[@]}" --threads 1 2>&1) || {
      echo "$log" >&2
      exit 1
    }
    # "  2 ranks: 23.60 ms per step, of which 11.40 ms waiting ...; communication 12.000 ms per step,
    #  0.600 ms (5%) overlapping backward, 11.400 ms waited; 1 bucket"
    line=$(grep -E '^  [0-9]+ ranks?: ' <<<"$log" | tail -1)
    step=$(sed -n 's/^  [0-9]* ranks*: \([0-9.]*\) ms per step.*/\1/p' <<<"$line")
    comm=$(sed -n 's/.*communication \([0-9.]*\) ms per step.*/\1/p' <<<"$line")
    over=$(sed -n 's/.*ms per step, \([0-9.]*\) ms (\([0-9]*%\)) overlapping.*/\1 \2/p' <<<"$line")
    over=${over:-"- -"}
    printf '%-5s %-40s %10s %12s %14s %14s %9s\n' "$model" "$label" \
      "$(ex_per_s "$log")" "$step" "${comm:--}" "${over% *}" "${over#* }"
  done
done
echo
"${mpirun[@]}" -np 2 "$bench" --reps $([ $quick -eq 1 ] && echo 10 || echo 30)

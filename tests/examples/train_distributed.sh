#!/usr/bin/env bash
# xgrad-train --distributed end to end (docs/distributed.md): 2 ranks train 1 epoch of a small
# slice and stop; the checkpoint resumes on 1 process for epoch 2. $1: mpirun, $2: xgrad-train.
set -u
mpirun=$1 train=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
common=(--model mlp --limit 512 --epochs 2 --batch-size 64 --threads 1 --quiet --out "$out")
log=$(timeout 120 "$mpirun" --allow-run-as-root --oversubscribe -np 2 "$train" --distributed --stop-after 1 "${common[@]}" 2>&1)
rc=$?
echo "$log"
[ "$rc" -eq 0 ] || fail "2 ranks: exit $rc"
# Rank 0 alone prints: one header, one epoch line.
[ "$(grep -c '^training mlp' <<<"$log")" -eq 1 ] || fail "2 ranks: not exactly one header"
grep -q "^distributed: 2 ranks, 32 examples per rank per step" <<<"$log" || fail "2 ranks: no split of the batch"
grep -Eq "^  2 ranks: [0-9.]+ ms per step, of which [0-9.]+ ms waiting" <<<"$log" || fail "2 ranks: no step time"
[ "$(grep -c '^epoch  1/2' <<<"$log")" -eq 1 ] || fail "2 ranks: not exactly one epoch line"
[ -f "$out/mlp/checkpoint.safetensors" ] || fail "2 ranks: no checkpoint"
log=$(timeout 120 "$train" "${common[@]}" --resume "$out/mlp/checkpoint.safetensors" 2>&1)
rc=$?
echo "$log"
[ "$rc" -eq 0 ] || fail "resume on 1 process: exit $rc"
grep -q "resumed from .* after epoch 1" <<<"$log" || fail "resume: not from epoch 1"
grep -q "^epoch  2/2" <<<"$log" || fail "resume: no epoch 2"
# --sync-bn: the CNN's BatchNorm layers take statistics over both ranks' batches.
log=$(timeout 300 "$mpirun" --allow-run-as-root --oversubscribe -np 2 "$train" --distributed --sync-bn --model cnn --limit 128 --epochs 1 --batch-size 32 --threads 1 --quiet --out "$out" 2>&1)
rc=$?
echo "$log"
[ "$rc" -eq 0 ] || fail "--sync-bn: exit $rc"
grep -q "^distributed: 2 ranks, 16 examples per rank per step, 1 threads each, SyncBatchNorm" <<<"$log" || fail "--sync-bn: no SyncBatchNorm"
grep -Eq "communication [0-9.]+ ms per step, [0-9.]+ ms \([0-9]+%\) overlapping backward" <<<"$log" || fail "--sync-bn: no communication timings"
grep -q "^epoch  1/1" <<<"$log" || fail "--sync-bn: no epoch line"
# A global batch the ranks cannot split is refused on every rank, and the job fails.
log=$(timeout 60 "$mpirun" --allow-run-as-root --oversubscribe -np 2 "$train" --distributed --batch-size 63 --limit 512 --epochs 1 --quiet --out "$out" 2>&1)
rc=$?
[ "$rc" -ne 0 ] || fail "batch 63 on 2 ranks succeeded"
grep -Eq "rank [01]\): --batch-size must be a multiple of the 2 ranks" <<<"$log" || fail "batch 63: no error: $log"
echo PASS

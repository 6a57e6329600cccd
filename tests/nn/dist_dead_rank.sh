#!/usr/bin/env bash
# The dead-rank test (nn/dist.hpp, docs/distributed.md): a rank that stops must make the job fail
# within a bounded time with an error naming it, not hang. $1: mpirun, $2: dist_dead_rank.
set -u
mpirun=$1 prog=$2
fail() { echo "FAIL: $*"; exit 1; }
for mode in stuck exit; do
  start=$SECONDS
  out=$(timeout 60 "$mpirun" --allow-run-as-root --oversubscribe -np 2 "$prog" "$mode" 2>&1)
  rc=$? took=$((SECONDS - start))
  echo "--- $mode: exit $rc after $took s"
  echo "$out"
  [ "$rc" -ne 124 ] || fail "$mode: the job hung (killed after 60 s)"
  [ "$rc" -ne 0 ] || fail "$mode: the job succeeded"
  [ "$took" -le 20 ] || fail "$mode: took $took s, more than 20"
  case "$mode" in
    # Rank 1 is alive but silent: only xgrad's deadline can end the wait, and it names the rank.
    stuck) grep -q "caught: dist: all_reduce on rank 0 timed out after 2.[0-9] s: rank 1 does not answer" <<<"$out" ||
             fail "stuck: no dist::Error naming rank 1" ;;
    # Rank 1 is gone: mpirun ends the job and names it, or rank 0's deadline does, whichever first.
    exit) grep -Eq "rank 1 does not answer|process rank 1|rank 1 with PID" <<<"$out" ||
            fail "exit: no message names rank 1" ;;
  esac
done
echo "PASS"

#!/usr/bin/env bash
# Runs ninja in a build directory and prints one line when it succeeds; when it fails, prints
# every failed command with its compiler messages (the first 300 lines of them), so that a CI log
# says which file broke and why instead of only "build stopped".
#
# usage: bash scripts/ninja-quiet.sh BUILD_DIR [targets...]     (JOBS=N sets -j, default 2)
set -uo pipefail
dir=$1
shift
log="$dir/ninja-output.log"
ninja -C "$dir" -j"${JOBS:-2}" "$@" >"$log" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
  tail -n 1 "$log"
  exit 0
fi
echo "ninja in $dir failed (exit $rc); the failed steps:" >&2
# A failed step starts at "FAILED:" and runs to the next "[n/m]" progress line.
awk '/^FAILED:/ { show = 1 } /^\[[0-9]+\/[0-9]+\]/ { show = 0 } show' "$log" | head -n 300 >&2
tail -n 1 "$log" >&2
exit "$rc"

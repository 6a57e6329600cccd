#!/usr/bin/env bash
# The libFuzzer targets of tests/fuzz (docs/fuzzing.md), built in build-asan/ (clang, ASan +
# UBSan, see scripts/sanitize.sh). Without arguments: fuzzes every target for XG_FUZZ_SECONDS
# (60 by default) from its corpus, as the meson suite 'fuzz_timed' (what .ci/run runs).
# With a target: a campaign of that target, new inputs merged into its corpus afterwards.
#
# usage: bash scripts/fuzz.sh
#        bash scripts/fuzz.sh <idx|safetensors|load|ops|csv> <seconds> [more libFuzzer flags]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-asan}
bash scripts/sanitize.sh --setup-only || exit 1
targets=(idx safetensors load ops csv)
[ $# -eq 0 ] || targets=("$1")
bash scripts/ninja-quiet.sh "$BUILD" "${targets[@]/#/tests/fuzz_}" "${targets[@]/#/tests/replay_}" || exit 1
# The targets write each input to a file in $TMPDIR for the loaders to read; on a disk that
# discards blocks on truncate that file I/O took most of the time (the fuzzers sat in D state,
# 0.15 of a core each): a tmpfs keeps them busy with the parsers.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

if [ $# -eq 0 ]; then
  meson test -C "$BUILD" --no-rebuild --suite fuzz_timed --print-errorlogs --logbase fuzz
  exit $?
fi

# A campaign: fuzz into a scratch directory, then keep only the inputs that add coverage.
target=$1 seconds=${2:-600}
shift 2
corpus=tests/fuzz/corpus/$target
scratch=$(mktemp -d)
artifacts=$BUILD/tests/fuzz-artifacts/$target
mkdir -p "$artifacts"
nice -n 10 "$BUILD/tests/fuzz_$target" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
  -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" "$scratch" "$corpus"
status=$?
nice -n 10 "$BUILD/tests/fuzz_$target" -merge=1 -rss_limit_mb=2048 "$corpus" "$scratch" 2>&1 | tail -n 2
rm -rf "$scratch"
exit $status

#!/usr/bin/env bash
# Development check, not part of CI: builds the project into build-asan/ with AddressSanitizer,
# LeakSanitizer and UndefinedBehaviorSanitizer (plus float-cast-overflow, which -fsanitize=undefined
# leaves out: float -> int64 conversions of NaN, inf or out-of-range values), then runs the whole
# test suite under them. Any sanitizer report fails the test that triggered it.
#
# usage: bash scripts/sanitize.sh [meson test arguments, e.g. a test name]
# Expects the packages of scripts/setup.sh to be installed. A debug build: expect the suite to
# take several times longer than the release build.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-asan}

if [ ! -d "$BUILD" ]; then
  meson setup "$BUILD" -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug \
    -Dcpp_args=-fsanitize=float-cast-overflow -Dcpp_link_args=-fsanitize=float-cast-overflow || exit 1
fi
ninja -C "$BUILD" -j"${JOBS:-2}" || exit 1

# UBSan only prints by default; halt so that a report fails its test. meson 1.0 sets none of these.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
meson test -C "$BUILD" --num-processes "${JOBS:-2}" --print-errorlogs --timeout-multiplier 4 "$@"

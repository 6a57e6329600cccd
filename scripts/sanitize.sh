#!/usr/bin/env bash
# Builds the project into build-asan/ with AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer (float-cast-overflow included: float -> integer conversions of NaN,
# inf or out-of-range values), then runs the whole test suite under them. Any sanitizer report
# fails the test that triggered it. .ci/run runs it (scripts/ci.sh).
#
# usage: bash scripts/sanitize.sh [meson test arguments, e.g. a test name]
#        bash scripts/sanitize.sh --setup-only   (configure build-asan and stop; scripts/fuzz.sh)
# Expects the packages of scripts/setup.sh (XGRAD_SETUP_TESTS=1 for clang and libFuzzer).
#
# With clang (the default when clang++-14 is installed; SAN_CXX=g++ for GCC) the same build also
# holds the libFuzzer targets: the library is compiled with -fsanitize=fuzzer-no-link (coverage
# counters, which the sanitizer runtime ignores outside a fuzzer) and -Dfuzz=true, so that
# scripts/fuzz.sh needs no second build. Built with -O1 (SAN_OPT=0 for -O0): sanitizers need no
# -O0, and -O1 runs the suite several times faster; -g1 (line tables) keeps file:line in every
# report's stack trace and compiles much faster than full debug info.
#
# Not run here, each for a reason (the release suite runs them all):
# - suite 'fuzz_timed': the timed libFuzzer runs, which scripts/fuzz.sh runs in this build;
# - suite 'parity' (parity/pytorch): it compares the driver's numbers with PyTorch's; the driver
#   runs the registry's op samples, which the registry sweep (autograd/tape/registry_*) runs here
#   under the sanitizers too, so the sanitized run would add minutes of PyTorch, not coverage;
# - suite 'install' (install_consumer): it checks README's install, pkg-config and CMake commands,
#   which describe the release library, not a sanitized one;
# - suite 'lessons' (docs/lessons.md against the lesson programs' output): those programs train for
#   hundreds of steps, and the digits they print depend on the compiler's floating-point
#   contraction (clang's build prints relu 0.0492 where GCC's prints 0.0494); the page is GCC's
#   release output, checked by the release suite; the sanitizers still run the programs in
#   examples/smoke;
# - suite 'browser' (the explorer page in chromium): its C++ side, explain_html, is tested by
#   autograd/tools/test_explain_html, which runs here; the rest is node and chromium, which the
#   sanitizers do not see.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-asan}
if [ -z "${SAN_CXX:-}" ]; then
  if command -v clang++-14 >/dev/null; then SAN_CXX=clang++-14; else SAN_CXX=g++; fi
fi

if [ ! -f "$BUILD/build.ninja" ]; then
  extra="-fsanitize=float-cast-overflow -g1"
  fuzz=false
  if [[ "$SAN_CXX" == clang* ]]; then
    extra="$extra -fsanitize=fuzzer-no-link"
    fuzz=true
  fi
  # -Dmpi=disabled: OpenMPI's own allocations outlive MPI_Finalize (LeakSanitizer reports them) and
  # its launcher would run each rank under the sanitizer runtime; the release suite runs xg::dist.
  CXX="$SAN_CXX" meson setup "$BUILD" -Db_sanitize=address,undefined -Db_lundef=false -Ddebug=false \
    -Doptimization="${SAN_OPT:-1}" -Dfuzz=$fuzz -Dmpi=disabled -Dcpp_args="$extra" -Dcpp_link_args="$extra" >/dev/null || exit 1
fi
[ "${1:-}" != --setup-only ] || exit 0
bash scripts/ninja-quiet.sh "$BUILD" || exit 1

# UBSan only prints by default; halt so that a report fails its test. meson 1.0 sets none of these.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
meson test -C "$BUILD" --num-processes "${JOBS:-2}" --print-errorlogs --timeout-multiplier 4 \
  --logbase asan --no-suite fuzz_timed --no-suite parity --no-suite install \
  --no-suite browser --no-suite lessons "$@"

#!/usr/bin/env bash
# Builds the threaded tests with ThreadSanitizer into build-tsan/ and runs them: the compute
# pool (autograd/kernels/parallel), two models trained in two threads at once (nn/threads), the
# DataLoader (data/dataset) and the random generator (autograd/tensor/generator, when present).
# A data race or lock-order inversion fails the test that caused it. .ci/run runs it.
#
# usage: bash scripts/tsan.sh [more meson test names]
# clang++-14 when installed (SAN_CXX=g++ for GCC). -O1 -g1, as scripts/sanitize.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-tsan}
if [ -z "${SAN_CXX:-}" ]; then
  if command -v clang++-14 >/dev/null; then SAN_CXX=clang++-14; else SAN_CXX=g++; fi
fi
if [ ! -f "$BUILD/build.ninja" ]; then
  # -Dmpi=disabled: the threaded tests do not use xg::dist, and OpenMPI is not built for TSan.
  CXX="$SAN_CXX" meson setup "$BUILD" -Db_sanitize=thread -Db_lundef=false -Ddebug=false \
    -Doptimization="${SAN_OPT:-1}" -Dmpi=disabled -Dcpp_args=-g1 >/dev/null || exit 1
fi

# meson test name -> its executable (tests/meson.build names each after its file).
tests=(autograd/kernels/parallel nn/threads data/dataset)
[ -f tests/autograd/tensor/test_generator.cpp ] && tests+=(autograd/tensor/generator)
tests+=("$@")
targets=()
for t in "${tests[@]}"; do targets+=("tests/test_${t##*/}"); done
bash scripts/ninja-quiet.sh "$BUILD" "${targets[@]}" || exit 1

# halt_on_error: the first report ends the test with TSan's exit code (66), so it fails.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:history_size=4}
# OpenBLAS is not instrumented and its worker threads hand work over by spinning on plain
# memory, which TSan cannot see as synchronisation; with one OpenBLAS thread, gemm runs on the
# calling thread and every hand-over TSan judges is xgrad's own (its pool, its tape, its state).
export OPENBLAS_NUM_THREADS=1
meson test -C "$BUILD" --no-rebuild --num-processes "${JOBS:-2}" --print-errorlogs --timeout-multiplier 4 \
  --logbase tsan "${tests[@]}"

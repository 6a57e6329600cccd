#!/usr/bin/env bash
# Installs what xgrad needs from Debian 12 (only the missing packages), then configures and
# builds it with meson in release mode into ./build. Safe to run again: it only does what is left.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ libxtensor-dev libxtensor-blas-dev libxsimd-dev libopenblas-dev doctest-dev nlohmann-json3-dev zlib1g-dev libcli11-dev gnuplot-nox dataset-fashion-mnist meson ninja-build pkg-config cmake python3 graphviz clang-format libopenmpi-dev openmpi-bin python3-sklearn)
# python3-sklearn: the CSV data sets of examples/programs/housing_regression (Boston housing,
# diabetes; 35 KB and 20 KB of it are used). It is large for that, about 230 MB with what it pulls
# in (scipy, and boost's headers through pythran), but it is where Debian ships these files.
# OpenMPI: xg::dist and `mpirun -np N xgrad-train --distributed` (docs/distributed.md); without it
# (meson -Dmpi=auto) xgrad builds without xg::dist and the suite skips the MPI tests.
# XGRAD_SETUP_TESTS=1 (scripts/run-tests.sh): also what the test suite needs beyond the build,
# PyTorch for the parity test (tests/parity; large, so not installed for building alone), and
# clang with its sanitizer runtimes and libFuzzer for .ci/run's sanitizer and fuzzing stages
# (scripts/sanitize.sh, tsan.sh, fuzz.sh); and for the browser test of the backprop explorer
# (tests/browser), chromium and node with npm (npm only when no npm is there: a node from
# elsewhere may bring its own).
if [ -n "${XGRAD_SETUP_TESTS:-}" ]; then
  packages+=(python3-torch clang-14 libclang-rt-14-dev libfuzzer-14-dev llvm-14 chromium)
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "xgrad: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The browser test's driver, puppeteer-core, at the version of tests/browser/package-lock.json.
if [ -n "${XGRAD_SETUP_TESTS:-}" ] && [ ! -d tests/browser/node_modules/puppeteer-core ]; then
  echo "xgrad: installing puppeteer-core into tests/browser/node_modules (npm ci)"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# XGRAD_SETUP_NO_BUILD=1: packages only (bench/compare builds its own directory).
[ -z "${XGRAD_SETUP_NO_BUILD:-}" ] || exit 0

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release >/dev/null
fi
bash scripts/ninja-quiet.sh build || exit 1

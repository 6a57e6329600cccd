#!/usr/bin/env bash
# Quick start, command 2: set everything up, then run the whole test suite with meson test.
# Ends with the plain line "N passed, N failed" (N = doctest test cases, plus one per
# non-doctest test).
set -uo pipefail
cd "$(dirname "$0")/.."
XGRAD_SETUP_TESTS=1 bash scripts/setup.sh || exit 1
# Setup installed chromium and puppeteer-core: the browser test must run here, not be skipped.
XGRAD_REQUIRE_BROWSER=1 meson test -C build --num-processes 2 --print-errorlogs
status=$?
python3 scripts/summarise_tests.py build/meson-logs/testlog.json
exit $status

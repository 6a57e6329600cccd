#!/usr/bin/env bash
# meson test browser/explorer: tests/browser/explorer_test.js in headless chromium. Without node,
# chromium or puppeteer-core (scripts/setup.sh installs them with XGRAD_SETUP_TESTS=1) the test
# is skipped (exit 77), unless XGRAD_REQUIRE_BROWSER=1 (scripts/run-tests.sh, so CI), where it fails.
#   usage: run_explorer_test.sh EXPLORER_PAGE OUT_DIR [--corrupt]
here=$(cd "$(dirname "$0")" && pwd)
missing=""
command -v node >/dev/null || missing+=" node"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=" chromium"
[ -d "$here/node_modules/puppeteer-core" ] || missing+=" puppeteer-core (cd tests/browser && npm ci)"
if [ -n "$missing" ]; then
  echo "browser test: missing$missing (scripts/setup.sh with XGRAD_SETUP_TESTS=1 installs them)" >&2
  [ -n "${XGRAD_REQUIRE_BROWSER:-}" ] && exit 1
  exit 77
fi
exec node "$here/explorer_test.js" "$@"

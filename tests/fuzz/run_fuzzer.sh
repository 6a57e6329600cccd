#!/usr/bin/env bash
# One timed libFuzzer run (the 'fuzzing' suite, scripts/fuzz.sh): fuzzes a target for a fixed
# time starting from its corpus directories, which it only reads (new inputs go to a scratch
# directory, removed afterwards; a crashing input is kept in the artifact directory).
# usage: XG_FUZZ_SECONDS=60 run_fuzzer.sh <fuzzer> <artifact dir> <corpus dir>...
set -uo pipefail
fuzzer=$1 artifacts=$2 seconds=${XG_FUZZ_SECONDS:-60}
shift 2
mkdir -p "$artifacts"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# -rss_limit_mb/-malloc_limit_mb: an allocation beyond 2 GB is a finding (a size taken from a
# file before it was checked). -timeout: one input taking over 30 s is a finding.
"$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$scratch" "$@"

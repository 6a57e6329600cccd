#!/usr/bin/env bash
# Quick start, command 1: set everything up, then run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./build/examples/trainer/xgrad-train --model mlp

#!/usr/bin/env bash
# The stall benchmark (never part of `make test`): see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
.venv/bin/python bench/stall_bench.py "$@" 2>&1 | tee bench/results/stall-$(date +%Y%m%d-%H%M%S).txt

#!/usr/bin/env bash
# The search benchmark (never part of `make test`). Needs wrk for the load phase.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq wrk >/dev/null; else
    echo "wrk is missing: sudo apt-get install wrk" >&2; exit 1; fi
fi
mkdir -p bench/results
.venv/bin/python bench/search_bench.py "$@" 2>&1 | tee bench/results/search-$(date +%Y%m%d-%H%M%S).txt

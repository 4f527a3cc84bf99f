#!/usr/bin/env bash
# Every benchmark figure in one run, written to bench/RESULTS.md (issue 8):
#   bash bench/run_all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python bench/bench_derive.py --repeat 7 --out /tmp/matcalc_bench_derive.md
python bench/bench_eval.py --out /tmp/matcalc_bench_eval.md
{ echo "<!-- produced by: bash bench/run_all.sh ($(date -u +%Y-%m-%d)) -->"; echo;
  cat /tmp/matcalc_bench_eval.md; echo; cat /tmp/matcalc_bench_derive.md; } > bench/RESULTS.md
echo "wrote bench/RESULTS.md"

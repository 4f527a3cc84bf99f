#!/usr/bin/env bash
# Every benchmark figure in one run, written to bench/RESULTS.md (issue 8):
#   bash bench/run_all.sh
# JAX and PyTorch (CPU) are installed into the current environment if missing; tensorgrad, whose
# own requirements pin networkx and leave torch unpinned, goes into a separate environment
# bench/.tgenv that sees this one's packages, after torch==2.13.0 (never an unpinned torch).
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import jax" 2>/dev/null || python -m pip install -q jax jaxlib
python -c "import torch" 2>/dev/null || python -m pip install -q torch==2.13.0
python -c "import matplotlib" 2>/dev/null || python -m pip install -q matplotlib
if [ ! -x bench/.tgenv/bin/python ]; then
  python -m venv --system-site-packages bench/.tgenv
  bench/.tgenv/bin/python -m pip install -q torch==2.13.0
  bench/.tgenv/bin/python -m pip install -q tensorgrad==0.3.0
fi
# Bytecode for matcalc's modules, as `pip install` leaves it: where PYTHONDONTWRITEBYTECODE is set
# (as on the machines these figures come from) every command-line call would otherwise compile
# the package's sources again, about 80 ms that no installed copy pays.
python -m compileall -q matcalc
python bench/bench_derive.py --repeat 7 --out /tmp/matcalc_bench_derive.md
python bench/bench_scaling.py --repeat 3 --cli 0 --out /tmp/matcalc_bench_scaling.md
python bench/bench_eval.py --out /tmp/matcalc_bench_eval.md
python bench/resources.py --out /tmp/matcalc_bench_resources.md
python bench/bench_callables.py --out /tmp/matcalc_bench_callables.md
{ echo "<!-- produced by: bash bench/run_all.sh ($(date -u +%Y-%m-%d)) -->"; echo;
  cat /tmp/matcalc_bench_eval.md; echo; cat /tmp/matcalc_bench_derive.md; echo;
  cat /tmp/matcalc_bench_scaling.md; echo;
  cat /tmp/matcalc_bench_resources.md; echo; cat /tmp/matcalc_bench_callables.md; } > bench/RESULTS.md
echo "wrote bench/RESULTS.md"

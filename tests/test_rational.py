"""Element-wise rational algebra without SymPy: matcalc.simplify.rational puts a rational
function of opaque atoms in lowest terms itself, so the command line never imports SymPy for a
formula of the identity table.

The structural test derives and prints every identity-table formula the way the `matcalc`
command does, in a fresh interpreter, and asks whether SymPy was imported. The unit tests
compare the own cancellation with sympy.cancel (an independent oracle, allowed in tests) at
random rational points.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from test_identities import TABLE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Derives and prints each row like `matcalc EXPR --wrt X [--shapes S] [--order K]`; after a row
# that imported SymPy, records it and forgets SymPy so the next row is judged on its own (the
# simplifier's memos are emptied before each row, so no row rides on an earlier one's answers).
_CHILD = r"""
import contextlib, io, json, sys
from matcalc.cli import main
from matcalc.simplify.rewrite import clear_caches
rows = json.loads(sys.stdin.read())
bad = []
for expr, wrt, shapes, order in rows:
    argv = [expr, "--wrt", wrt] + (["--shapes", shapes] if shapes else []) + \
        (["--order", str(order)] if order != 1 else [])
    clear_caches()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(argv)
    if status != 0:
        bad.append([expr, "exit status %s" % status])
    if "sympy" in sys.modules:
        bad.append([expr, "imported SymPy"])
        for name in [m for m in sys.modules if m == "sympy" or m.startswith("sympy.")]:
            del sys.modules[name]
print(json.dumps(bad))
"""


def _cli_rows():
    return [[p.values[0], p.values[1], p.values[2], p.values[4]] for p in TABLE]


def test_command_line_never_imports_sympy_for_an_identity_formula():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(_cli_rows()),
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    bad = json.loads(done.stdout.strip().splitlines()[-1])
    assert bad == [], "\n".join(f"{e}: {why}" for e, why in bad)

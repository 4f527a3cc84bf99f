"""The element-wise table: each row's derivative agrees with SymPy's scalar derivative."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

from matcalc.core import expr as E
from matcalc.core.functions import FUNCTIONS
from matcalc.numeric.evaluate import evaluate_tree
from matcalc.core.shapes import dim

POINTS = np.array([[-1.7], [-0.4], [0.3], [0.9], [2.2]])


def _points(name):
    """Points inside the function's domain (arcsin and arccos: (−1, 1); log1p: > −1)."""
    if name in ("log", "sqrt", "log1p"):
        return np.abs(POINTS)
    if name in ("arcsin", "arccos"):
        return POINTS / 2.5
    return POINTS


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_derivative_row_matches_sympy(name):
    f = FUNCTIONS[name]
    x = E.Sym("x", (dim("n"), dim(1)))          # our sizes, never SymPy numbers
    d = f.deriv(x)
    pts = _points(name)
    ours = evaluate_tree(d, {"x": pts}, {dim("n"): len(pts)})
    ours = np.broadcast_to(ours, pts.shape)
    t = sympy.Symbol("t", real=True)
    dsym = sympy.diff(f.sympy(t), t)
    theirs = np.array([[float(dsym.subs(t, float(p)).evalf())] for p in pts.ravel()])
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_numpy_matches_sympy(name):
    f = FUNCTIONS[name]
    t = sympy.Symbol("t", real=True)
    pts = _points(name)
    ours = f.numpy(pts)
    theirs = np.array([[float(f.sympy(t).subs(t, float(p)).evalf())] for p in pts.ravel()])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)

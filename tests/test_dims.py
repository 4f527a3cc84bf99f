"""Sizes (matcalc/core/dims.py): monomials that behave like the SymPy sizes they replaced."""
from __future__ import annotations

import subprocess
import sys

from matcalc.core.dims import ONE, as_dim, integer, symbol


def test_products_are_monomials_in_name_order():
    m, n = symbol("m"), symbol("n")
    assert str(n * m) == "m*n" and n * m == m * n and hash(n * m) == hash(m * n)
    assert str(n * n) == "n**2" and str(2 * n) == "2*n" and str(integer(3) * 2) == "6"
    assert (n * m) is (m * n)                          # interned: identity is the fast test


def test_integers_compare_and_hash_like_ints():
    assert integer(1) is ONE and ONE == 1 and hash(ONE) == hash(1) and {1: "x"}[ONE] == "x"
    assert int(integer(7)) == 7 and integer(7) != symbol("n") and symbol("n") != 1


def test_queries_and_substitution():
    m, n = symbol("m"), symbol("n")
    assert n.is_Symbol and not (m * n).is_Symbol and integer(4).is_Integer
    assert (m * n).free_symbols == {m, n} and integer(4).free_symbols == set()
    assert (m * n * n).subs({n: 3}) == 3 * 3 * m
    assert (m * n).subs({"m": 2, "n": 5}) == 10 and (m * n).subs({m: n}) == n * n


def test_sympy_bridge():
    import sympy
    m, n = symbol("m"), symbol("n")
    s = (2 * m * n).to_sympy()
    assert s == 2 * sympy.Symbol("m", integer=True, positive=True) * \
        sympy.Symbol("n", integer=True, positive=True)
    assert as_dim(sympy.Integer(3)) == 3 and as_dim(sympy.Symbol("k")) == symbol("k")


def test_deriving_and_printing_import_neither_sympy_nor_numpy():
    code = ("import sys, matcalc; r = matcalc.derive('(Xθ−y)^T(Xθ−y)', wrt='θ'); "
            "print(r, r.latex, r.explain()); "
            "print('sympy' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False False")

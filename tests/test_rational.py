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


# ---------------------------------------------------------------- the cancellation itself

import random  # noqa: E402
from fractions import Fraction  # noqa: E402

import sympy  # noqa: E402

from matcalc.simplify import rational as R  # noqa: E402

NAMES = [f"a{i}" for i in range(4)]


def _own(expr_text):
    """An expression in a0…a3 built with the SymPy-free stand-in (the way algebra.py does)."""
    env = {n: R.Symbol(n) for n in NAMES}
    env.update(Add=R.Add, Mul=R.Mul, Q=R.Rational)
    return _build(expr_text, env)


def _ref(expr_text):
    env = {n: sympy.Symbol(n) for n in NAMES}
    env.update(Add=sympy.Add, Mul=sympy.Mul, Q=sympy.Rational)
    return _build(expr_text, env)


def _build(tree, env):
    """tree: nested tuples ('+', …), ('*', …), ('/', a, b), ('^', a, k), a name or a number."""
    if isinstance(tree, str):
        return env[tree]
    if isinstance(tree, (int, Fraction)):
        f = Fraction(tree)
        return env["Q"](f.numerator, f.denominator)
    op, *kids = tree
    vals = [_build(k, env) for k in kids]
    if op == "+":
        return env["Add"](*vals)
    if op == "*":
        return env["Mul"](*vals)
    if op == "/":
        return vals[0] / vals[1]
    return vals[0] ** env["Q"](kids[1], 1)


def _value(e, point):
    """An own result expression evaluated exactly at a point {index: Fraction}."""
    if e.is_Symbol:
        return point[e.index]
    if e.is_Rational:
        return Fraction(e.p, e.q)
    if e.is_Add:
        return sum((_value(a, point) for a in e.args), Fraction(0))
    if e.is_Mul:
        out = Fraction(1)
        for a in e.args:
            out *= _value(a, point)
        return out
    return _value(e.base, point) ** int(Fraction(e.exp.p, e.exp.q))


def _to_sympy(e):
    if e.is_Symbol:
        return sympy.Symbol(f"a{e.index}")
    if e.is_Rational:
        return sympy.Rational(e.p, e.q)
    if e.is_Add:
        return sympy.Add(*[_to_sympy(a) for a in e.args], evaluate=False)
    if e.is_Mul:
        return sympy.Mul(*[_to_sympy(a) for a in e.args], evaluate=False)
    return sympy.Pow(_to_sympy(e.base), _to_sympy(e.exp), evaluate=False)


POOL = ["a0", ("+", 1, ("*", -1, "a0")), ("+", 1, ("^", "a1", 2)), ("+", "a0", ("*", -1, "a1")),
        ("+", "a0", ("*", 2, "a1"), -3), "a2", ("+", ("*", "a0", "a1"), 1),
        ("+", ("*", Fraction(1, 2), "a3"), ("*", Fraction(-3, 4), "a0")), ("+", "a1", "a3")]


def _random_tree(rng, depth=0):
    """A random sum of quotients of products of powers of pool factors (numbers included)."""
    def product():
        factors = [rng.choice(POOL) for _ in range(rng.randint(0, 2))]
        factors = [("^", f, rng.randint(1, 2)) if rng.random() < 0.3 else f for f in factors]
        return ("*", Fraction(rng.randint(-6, 6) or 1, rng.randint(1, 4)), *factors)
    terms = [("/", product(), product()) for _ in range(rng.randint(1, 3))]
    if depth == 0 and rng.random() < 0.5:
        terms.append(("*", product(), _random_tree(rng, 1)))
    return ("+", *terms)


@pytest.mark.parametrize("seed", range(60))
def test_cancel_agrees_with_sympy_at_random_rational_points(seed):
    rng = random.Random(seed)
    tree = _random_tree(rng)
    try:
        mine = R.cancel(_own(tree))
    except R.Undecided:
        pytest.skip("a division by a sum that is zero")
    ref = sympy.cancel(_ref(tree))
    # the same normal form as SymPy's: the same numerator and denominator polynomials
    got_n, got_d = sympy.fraction(sympy.together(_to_sympy(mine)))
    want_n, want_d = sympy.fraction(sympy.together(ref))
    assert sympy.expand(got_n * want_d - want_n * got_d) == 0
    assert sympy.Poly(sympy.expand(got_d), *sympy.symbols(NAMES)).total_degree() == \
        sympy.Poly(sympy.expand(want_d), *sympy.symbols(NAMES)).total_degree()
    assert sympy.srepr(_to_sympy(mine)) == sympy.srepr(ref)
    # and the value of the original function at random rational points
    syms = sympy.symbols(NAMES)
    for _ in range(3):
        point = {i: Fraction(rng.randint(-9, 9), rng.randint(1, 5)) for i in range(4)}
        want = _ref(tree).subs({syms[i]: sympy.Rational(v.numerator, v.denominator)
                                for i, v in point.items()})
        if not want.is_finite:
            continue
        assert _value(mine, point) == Fraction(int(want.p), int(want.q))


@pytest.mark.parametrize("seed", range(40))
def test_factor_matches_sympy_or_says_undecided(seed):
    rng = random.Random(1000 + seed)
    tree = _random_tree(rng)
    try:
        mine = R.factor(R.cancel(_own(tree)))
    except R.Undecided:
        return                                   # the caller then asks SymPy: allowed
    ref = sympy.factor(sympy.cancel(_ref(tree)))
    assert sympy.srepr(_to_sympy(mine)) == sympy.srepr(ref)


def test_logistic_gradient_cancels_to_sigma_minus_y():
    # σ(1 − σ)((1 − y)/(1 − σ) − y/σ) = σ − y, with a0 = σ, a1 = y
    s, y = R.Symbol("a0"), R.Symbol("a1")
    e = R.Mul(s, 1 + -1 * s, R.Add((1 + -1 * y) / (1 + -1 * s), -1 * y / s))
    out = R.cancel(e)
    assert out.is_Add and sorted((_value(out, {0: Fraction(3), 1: Fraction(5)}),)) == [-2]
    assert out.is_polynomial()


def test_rational_x2_over_1_plus_x2_derivative_factors_over_the_sum():
    # 2x(1/(1 + x²) − x²/(1 + x²)²) = 2x/(1 + x²)²: the factor comes from the input's sum
    x = R.Symbol("a0")
    one_plus = R.Add(1, x ** R.Integer(2))
    e = R.Mul(2, x, R.Add(1 / one_plus, -1 * x ** R.Integer(2) / one_plus ** R.Integer(2)))
    got = R.factor(R.cancel(e))
    a0 = sympy.Symbol("a0")
    assert sympy.srepr(_to_sympy(got)) == sympy.srepr(2 * a0 / (a0 ** 2 + 1) ** 2)


def test_fractional_power_is_left_to_sympy():
    with pytest.raises(R.Undecided):
        R.Symbol("a0") ** R.Rational(1, 2)


def test_factor_it_cannot_certify_is_left_to_sympy():
    # a0² − a1² = (a0 − a1)(a0 + a1), but no sum in the input names either factor
    a0, a1 = R.Symbol("a0"), R.Symbol("a1")
    e = R.cancel(R.Add(a0 ** R.Integer(2), -1 * a1 ** R.Integer(2)) / a0)
    with pytest.raises(R.Undecided):
        R.factor(e)

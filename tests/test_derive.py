"""derive() and Result (CONTRACT §3): notations, kinds, layouts, evaluate, check, steps, sympy."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

import matcalc
from matcalc import CheckError, derive, parse
from matcalc.numeric.evaluate import evaluate_tree
from matcalc.result import Result

LS = dict(shapes="X: m×n, θ: n, y: m")


def test_result_notations():
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", **LS)
    assert str(r) == "2Xᵀ(Xθ − y)"
    assert r.text == "2*X^T*(X*θ - y)"
    assert r.latex == r"2 X^{\top} \left(X \theta - y\right)"
    assert r._repr_latex_().startswith("$")
    assert r.shape == ("n", 1) and r.kind == "gradient"


def test_text_reads_back():
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", **LS)
    assert parse(r.text, LS["shapes"]) == parse("2*X^T*(X*θ - y)", LS["shapes"])


@pytest.mark.parametrize("expr, wrt, shapes", [
    (p.values[0], p.values[1], p.values[2]) for p in __import__("test_identities").TABLE
    if not p.marks])
def test_text_round_trip_is_equivalent(expr, wrt, shapes):
    """Every identity-table result printed as text parses back to an equal value."""
    r = derive(expr, wrt=wrt, shapes=shapes)
    back = parse(r.text, shapes)
    rng = np.random.default_rng(5)
    from conftest import random_point
    for attempt in range(6):
        env, sizes = random_point([r.node, back, r.function], r.decls, rng,
                                  positive=attempt % 2 == 1)
        a, b = evaluate_tree(r.node, env, sizes), evaluate_tree(back, env, sizes)
        if np.all(np.isfinite(a)):
            break
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_evaluate_accepts_greek_spelled_out_and_flat_vectors():
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", **LS)
    X, t, y = np.arange(6.0).reshape(3, 2), np.array([1.0, -1.0]), np.array([1.0, 2.0, 3.0])
    want = 2 * X.T @ (X @ t - y)
    for key in ("θ", "theta"):
        got = r.evaluate({"X": X, key: t, "y": y})
        assert got.shape == (2, 1) and np.allclose(got.ravel(), want)
    assert np.allclose(r.evaluate({"X": X, "θ": t.reshape(2, 1), "y": y}).ravel(), want)


def test_evaluate_reports_bad_values():
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", **LS)
    with pytest.raises(matcalc.MatcalcError, match="no value"):
        r.evaluate({"X": np.eye(2)})
    with pytest.raises(matcalc.MatcalcError, match="size"):
        r.evaluate({"X": np.eye(3), "θ": np.ones(2), "y": np.ones(3)})


def test_scalar_result_evaluates_to_float():
    r = derive("x^3", wrt="x", shapes="x: scalar")
    assert r.shape == () and r.evaluate({"x": 2.0}) == pytest.approx(12.0)


@pytest.mark.parametrize("expr, wrt, shapes, kind, shape", [
    ("x^T x", "x", "x: n", "gradient", ("n", 1)),
    ("tr(X)", "X", "X: n×n", "gradient", ("n", "n")),
    ("A x", "x", "A: m×n, x: n", "jacobian", ("m", "n")),
    ("t*x", "t", "t: scalar, x: n", "derivative", ("n", 1)),
    ("t*A", "t", "t: scalar, A: m×n", "derivative", ("m", "n")),
    ("t^2", "t", "t: scalar", "derivative", ()),
    ("x^T A x", "x", "A: n×n, x: n", "hessian", ("n", "n")),
])
def test_kinds_and_shapes(expr, wrt, shapes, kind, shape):
    order = 2 if kind == "hessian" else 1
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    assert (r.kind, r.shape) == (kind, shape)
    r.check()


def test_denominator_layout_transposes_jacobians_only():
    num = derive("A x", wrt="x", shapes="A: m×n, x: n")
    den = derive("A x", wrt="x", shapes="A: m×n, x: n", layout="denominator")
    assert str(num) == "A" and str(den) == "Aᵀ" and den.shape == ("n", "m")
    den.check()
    g = derive("x^T x", wrt="x", shapes="x: n", layout="denominator")
    assert g.shape == ("n", 1)
    d = derive("t*x", wrt="t", shapes="t: scalar, x: n", layout="denominator")
    assert d.shape == (1, "n")
    d.check()


def test_symmetric_declaration_simplifies_but_keeps_meaning():
    plain = derive("x^T A x", wrt="x", shapes="A: n×n, x: n")
    sym = derive("x^T A x", wrt="x", shapes="A: n×n symmetric, x: n")
    assert str(plain) == "(A + Aᵀ)x" and str(sym) == "2Ax"
    sym.check()
    # the gradient wrt a symmetric matrix is still the unconstrained one (Matrix Cookbook)
    g = derive("x^T A y", wrt="A", shapes="A: n×n symmetric, x: n, y: n")
    assert str(g) == "xyᵀ"
    g.check()


def test_derivative_of_something_without_the_variable_is_zero():
    r = derive("a^T b", wrt="x", shapes="a: n, b: n, x: n")
    assert str(r) == "0" and r.shape == ("n", 1)


def test_check_catches_a_wrong_derivative():
    """The checker must be able to fail: a transposed gradient at distinct sizes."""
    r = derive("a^T X b", wrt="X", shapes="a: m, X: m×n, b: n")
    wrong = parse("b a^T", "a: m, X: m×n, b: n")
    bad = Result(r.input, r.wrt, wrong, r.function, r.variable, r.kind, r.layout, 1, r.decls)
    with pytest.raises(CheckError):
        bad.check()
    bad_scale = Result(r.input, r.wrt, parse("2 a b^T", "a: m, b: n"), r.function, r.variable,
                       r.kind, r.layout, 1, r.decls)
    with pytest.raises(CheckError, match="disagrees"):
        bad_scale.check()


def test_rule_steps_record_rules_and_shapes():
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", **LS)
    rules = [s.rule for s in r.rule_steps]
    assert rules[0] == "mat_mul" and rules[-1] == "mat_mul" and "add" in rules
    last = r.rule_steps[-1]
    assert last.child == "θ" and last.child_shape == "n×1" and last.shape == "m×1"


def test_sympy_result():
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", **LS)
    expr = r.sympy
    assert isinstance(expr, sympy.MatrixExpr) and expr.shape == (sympy.Symbol("n", integer=True,
                                                                              positive=True), 1)
    X, t, y = sympy.MatrixSymbol("X", 2, 2), sympy.MatrixSymbol("θ", 2, 1), sympy.MatrixSymbol("y", 2, 1)
    m, n = sympy.Symbol("m", integer=True, positive=True), sympy.Symbol("n", integer=True, positive=True)
    concrete = expr.subs({m: 2, n: 2})
    assert concrete.shape == (2, 1)


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("logdet(X)", "X", "X: n×n"), ("sum(log(1 + exp(-y .* (X*w))))", "w", "X: N×n, w: n, y: N"),
    ("tanh(W x)", "x", "W: m×n, x: n"), ("det(X)", "X", "X: n×n"),
])
def test_sympy_translation_has_the_right_shape(expr, wrt, shapes):
    r = derive(expr, wrt=wrt, shapes=shapes)
    s = r.sympy
    assert tuple(s.shape) == tuple(d.to_sympy() for d in r.node.shape)


def test_simplify_false_still_correct():
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", simplify=False, **LS)
    r.check()


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


@pytest.mark.parametrize("expr, wrt, shapes, order", [
    (p.values[0], p.values[1], p.values[2], p.values[4])
    for p in __import__("test_identities").TABLE if not p.marks])
def test_results_are_readable(expr, wrt, shapes, order):
    """No 0·, 1·, I·, + 0, double transposes, or uncollected like terms in any result; (AB)ᵀ
    only where it saves at least two transposes over BᵀAᵀ (CᵀBᵀAᵀ is printed (ABC)ᵀ)."""
    from matcalc.core import expr as E
    from matcalc.core.build import is_zero, is_one
    from matcalc.simplify.rewrite import split_term
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    if is_zero(r.node):
        return
    for n in _walk(r.node):
        assert not is_zero(n), f"a zero inside {r}"
        if isinstance(n, E.MatMul):
            assert not any(is_one(f) for f in n.args), f"1· in {r}"
            assert not any(isinstance(f, E.Identity) for f in n.args
                           if sum(not g.is_scalar for g in n.args) > 1), f"I· in {r}"
        if isinstance(n, E.Transpose):
            assert not isinstance(n.arg, E.Transpose), f"double transpose in {r}"
            if isinstance(n.arg, E.MatMul):
                chain = [f for f in n.arg.args if not f.is_scalar]
                inside = sum(isinstance(f, E.Transpose) for f in chain)
                assert (len(chain) - inside) - (inside + 1) >= 2, f"(·)ᵀ unexpanded in {r}"
        if isinstance(n, E.Add):
            rests = []
            for t in n.args:
                c, s, chain = split_term(t)
                rests.append((tuple(s), tuple(chain)))
            assert len(set(rests)) == len(rests), f"like terms not collected in {r}"

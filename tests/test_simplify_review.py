"""Adversarial property test of the scalar normal form and the identities of the simplifier
(scalars.py, identities.py, algebra.py): random expressions built to reach their rules
(√(u²) = |u|, √u² = u, |u| → u for u ≥ 0, sign/abs, (uᵃ)ᵇ, common scalar powers of sums,
exp(a)exp(b), sinh/cosh, cos² + sin², det(X⁻¹), tr(cA), a centred vector's sum, s𝟙 + v,
lowest terms), with arguments that may be negative.

Two checks, neither compares matcalc with itself:
- the derivative r.node against central finite differences of the ORIGINAL expression
  (matcalc's evaluator of the parsed, unsimplified input), at random values with a different
  size for every dimension name;
- the value: simplify(e) evaluates to what the unsimplified parse of e evaluates to.
What matcalc prints reads back as the same function (test_roundtrip's machinery).
Thousands of examples with `--slow`."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import matcalc
from matcalc import derive
from matcalc.language.parser import parse_with_shapes
from matcalc.numeric.evaluate import CheckError, evaluate_tree, finite_difference_check, names_in
from matcalc.simplify import simplify

from conftest import random_point
from test_roundtrip import assert_result_reads_back

SHAPES = "x: n, y: n, A: n x n symmetric, S: n x n spd, X: n x n, a: scalar, b: scalar, M: m x n"

EXPONENTS = ("2", "3", "-1", "-2", "(1/2)", "(3/2)", "(-1/2)", "(1/3)", "(2/3)", "4")
UNARY = ("exp", "sigmoid", "softplus", "sinh", "cosh", "sin", "cos", "tanh", "abs", "sign")


@st.composite
def scalars(draw, depth=3):
    """A scalar expression (text) that may be negative."""
    leaves = ["a", "b", "x'*y", "x'*x", "x'*A*x", "norm2(x)", "det(X)", "tr(X)", "sum(x)",
              "mean(x)", "a*b", "-a", "(a - b)", "x'*X*y", "sum(M*x)", "x'*S*x", "logdet(S)",
              "sqrt(x'*S*x)", "abs(x'*A*x)"]
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(leaves))
    sub = scalars(depth - 1)
    u = draw(sub)
    kind = draw(st.integers(0, 17))
    if kind == 0:
        return f"({u} + {draw(sub)})"
    if kind == 1:
        return f"({u} - {draw(sub)})"
    if kind == 2:
        return f"({u})*({draw(sub)})"
    if kind == 3:
        return f"({u})/({draw(sub)})"
    if kind == 4:
        return f"({u})^{draw(st.sampled_from(EXPONENTS))}"
    if kind == 5:
        return f"(({u})^{draw(st.sampled_from(EXPONENTS))})^{draw(st.sampled_from(EXPONENTS))}"
    if kind == 6:
        return f"sqrt(({u})^2)"
    if kind == 7:
        return f"sqrt({u})^2"
    if kind == 8:
        return f"{draw(st.sampled_from(UNARY))}({u})"
    if kind == 9:
        return f"sign({u})*({u})"
    if kind == 10:
        return f"({u})/abs({u})"
    if kind == 11:
        return f"exp({u})*exp({draw(sub)})"
    if kind == 12:
        return f"sinh({u})/cosh({u})"
    if kind == 13:
        return f"(cos({u})^2 + sin({u})^2)"
    if kind == 14:
        return f"abs({u})*({draw(sub)})"
    if kind == 15:
        return f"sqrt(abs({u}))"
    if kind == 16:
        return f"sum({draw(vectors(depth - 1))})"
    return f"({draw(vectors(depth - 1))})'*({draw(vectors(depth - 1))})"


@st.composite
def vectors(draw, depth=2):
    """A column n-vector (text)."""
    leaves = ["x", "y", "A*x", "X*y", "x - mean(x)", "exp(x)", "M'*M*x"]
    if depth <= 0 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(leaves))
    v = draw(vectors(depth - 1))
    s = draw(scalars(depth - 1))
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return f"({v} + {draw(vectors(depth - 1))})"
    if kind == 1:
        return f"({s})*({v})"
    if kind == 2:
        return f"({v} - mean({v}))"
    if kind == 3:
        return f"({v}) .* ({draw(vectors(depth - 1))})"
    if kind == 4:
        return f"(cos({v}).^2 + sin({v}).^2)"
    if kind == 5:
        return f"({s})*ones(n) + {v}"
    if kind == 6:
        return f"({v})/({s})^{draw(st.sampled_from(EXPONENTS))}"
    if kind == 7:
        return f"exp({v}) ./ exp({draw(vectors(depth - 1))})"
    if kind == 8:
        return f"inv(X)*({v})"
    return f"({s})^2*({v}) + ({s})^3*({draw(vectors(depth - 1))})"


MATRIX = ["X", "inv(X)", "a*X", "X^2", "cos(X)^2 + sin(X)^2", "cos(X).^2 + sin(X).^2",
          "inv(X*A)*X*A", "X*inv(X)"]


@st.composite
def cases(draw):
    kind = draw(st.integers(0, 5))
    if kind == 0:
        expr = f"det({draw(st.sampled_from(MATRIX))})"
    elif kind == 1:
        expr = f"tr(({draw(scalars(1))})*{draw(st.sampled_from(MATRIX))})"
    else:
        expr = draw(scalars())
    return expr


@st.composite
def vector_cases(draw):
    """A vector-valued function (its Jacobian wrt x reaches the rules through matrix chains)."""
    return draw(vectors(3))


def _parse(text):
    try:
        return parse_with_shapes(text, SHAPES)
    except matcalc.MatcalcError:
        assume(False)


def _finite_everywhere(node, env, sizes) -> bool:
    stack = [node]
    with np.errstate(all="ignore"):
        while stack:
            n = stack.pop()
            v = evaluate_tree(n, env, sizes)
            if not np.all(np.isfinite(v)) or np.max(np.abs(v), initial=0) > 1e8:
                return False
            if type(n).__name__ in ("Inverse", "Det", "LogDet") and not n.arg.is_scalar:
                if np.linalg.cond(evaluate_tree(n.arg, env, sizes)) > 1e6:
                    return False
            stack.extend(n.children)
    return True


def check_value(text, seed=0):
    """simplify(e) evaluates as the unsimplified parse of e, at points with negative values."""
    node, decls = _parse(text)
    try:
        simple = simplify(node)
    except matcalc.DomainError:           # (b − b)⁻¹: undefined everywhere, and said so
        return False
    rng = np.random.default_rng(seed)
    checked = False
    for attempt in range(6):
        env, sizes = random_point([node, simple], decls, rng, positive=attempt % 3 == 2)
        if not _finite_everywhere(node, env, sizes):
            continue
        with np.errstate(all="ignore"):
            want = evaluate_tree(node, env, sizes)
            got = evaluate_tree(simple, env, sizes)
        assert got.shape == want.shape, f"{text}: shape {got.shape} ≠ {want.shape}"
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9,
                                   err_msg=f"{text} simplifies to another function: {simple}")
        checked = True
    return checked


def check_derivative(text, wrt, seed=0, order=1):
    node, _ = _parse(text)
    if wrt not in names_in(node):
        return None
    try:
        r = derive(text, wrt=wrt, shapes=SHAPES, order=order)
    except matcalc.MatcalcError:
        return None
    try:
        kind = {"hessian": "jacobian"}.get(r.kind, r.kind)
        finite_difference_check(r.function, r.node, r._variables(), kind, r.layout,
                                r.decls.modifiers, seed=seed)
    except CheckError as err:
        if "could not find a point" in str(err) or "not differentiable where" in str(err):
            return None                   # no usable point (a kink, a singular matrix)
        raise                             # disagrees with the differences, or a wrong shape
    return r


SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
BASE = settings.default.max_examples            # 60, or thousands with --slow


@settings(max_examples=max(400, BASE), **SETTINGS)
@given(cases(), st.integers(0, 3))
def test_simplified_expression_has_the_value_of_the_original(text, seed):
    check_value(text, seed)


@settings(max_examples=max(400, BASE), **SETTINGS)
@given(cases(), st.sampled_from(["x", "a", "X"]), st.integers(0, 3))
def test_derivative_equals_differences_of_the_original(text, wrt, seed):
    r = check_derivative(text, wrt, seed)
    if r is not None:
        assert_result_reads_back(r, SHAPES, seed)



@settings(max_examples=max(150, BASE // 3), **SETTINGS)
@given(vector_cases(), st.sampled_from(["x", "a"]), st.integers(0, 3))
def test_jacobian_of_a_vector_function_equals_differences_of_the_original(text, wrt, seed):
    check_value(text, seed)
    r = check_derivative(text, wrt, seed)
    if r is not None:
        assert_result_reads_back(r, SHAPES, seed)


@settings(max_examples=max(80, BASE // 10), **SETTINGS)
@given(scalars(2), st.integers(0, 3))
def test_hessian_equals_second_differences_of_the_original(text, seed):
    r = check_derivative(text, "x", seed, order=2)
    if r is not None:
        assert_result_reads_back(r, SHAPES, seed)


# Regressions found by the properties above -----------------------------------------------------

def _same_value(text):
    assert check_value(text), f"no usable point for {text}"


def test_cos_squared_plus_sin_squared_of_a_matrix_power_is_not_the_ones_matrix():
    # cos(X)² is the matrix product cos(X)·cos(X): only the element-wise squares sum to 𝟙𝟙ᵀ
    _same_value("cos(X)^2 + sin(X)^2")
    _same_value("det(cos(X)^2 + sin(X)^2)")
    node, _ = parse_with_shapes("cos(X).^2 + sin(X).^2", SHAPES)
    assert str(simplify(node)) != str(node)          # the element-wise identity still fires


def test_ones_minus_its_mean_stays_a_vector():
    # 𝟙 − mean(𝟙) lost its ones and became the scalar 1 − 1: "transpose_of_sum changed shape"
    _same_value("(ones(n) - mean(ones(n)))'*y")
    _same_value("(cos(x).^2 + sin(x).^2 - mean(cos(x).^2 + sin(x).^2))'*y")


def test_sum_of_a_broadcast_scalar_plus_a_centred_vector_counts_every_entry():
    # sum(a𝟙 + 2(x − mean(x))) is n·a; it printed sum(a), which is a
    _same_value("sum(a*ones(n) + 2*(x - mean(x)))")
    _same_value("sum(y + a*ones(n) + 2*(x - mean(x)))")
    _same_value("mean(a*ones(n) + 2*(x - mean(x)))")


def test_quotient_by_its_own_absolute_value_of_a_product_gives_an_answer():
    # (a/u)/|a/u| with u = xᵀXy: the scalar normal form and the factor order undid each other
    # until a RecursionError came out of the engine
    _same_value("((a)/(x'*X*y))/abs((a)/(x'*X*y))")
    r = derive("((a)/(x'*X*y))/abs((a)/(x'*X*y)) + a^2", wrt="a", shapes=SHAPES)
    finite_difference_check(r.function, r.node, r._variables(), r.kind, r.layout,
                            r.decls.modifiers, seed=1)


@pytest.mark.parametrize("fmt, want", [("latex", r"2 X^{\top} r \quad\text{where } r = X \theta - y"),
                                       ("text", "2*X^T*r   where r = X*θ - y")])
def test_cse_flag_works_with_latex_and_text_output(fmt, want):
    # --cse with --format latex|text was refused as "Unicode output only"
    from matcalc.cli import main
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["(X*theta - y)'*(X*theta - y)", "--wrt", "theta", "--cse", "--format", fmt])
    assert code in (0, None)
    assert out.getvalue().strip() == want


def test_quotient_of_exponentials_that_leaves_a_scalar_stays_a_vector():
    # exp(x) ⊘ exp(x − mean(x)) printed exp(mean(x)), a scalar: its inner product with itself
    # came out exp(mean(x))², not n·exp(2mean(x)), and a sum with it changed shape
    _same_value("(exp(x) ./ exp(x - mean(x)))'*(exp(x) ./ exp(x - mean(x)))")
    _same_value("((exp(x - mean(x)) ./ exp(x))'*(M'*M*x) - sum(x))")
    _same_value("exp(x) .* exp(a*ones(n) - x)")


def test_vector_minus_itself_plus_a_scalar_keeps_its_ones():
    # x + mean(x) − x printed mean(x) (reads back as a scalar); (x + mean(x) − x)ᵀy stopped
    # the engine with "transpose_of_sum changed shape"
    _same_value("(x + mean(x) - x)'*y")
    _same_value("X + a - X")
    node, _ = parse_with_shapes("x + mean(x) - x", SHAPES)
    from matcalc.printing.text import to_text          # 𝟙 alone carries no size in Unicode
    back, _ = parse_with_shapes(to_text(simplify(node)), SHAPES)
    assert tuple(back.shape) == tuple(node.shape)

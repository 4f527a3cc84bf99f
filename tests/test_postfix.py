"""A postfix operator (ᵀ ' ^T ⁻¹ ⁻ᵀ ^-1 ² ^k .^) applies to the single factor directly to its
left — a letter with its digits or subscript, a declared name, a bracket or a call — never to a
juxtaposed run of letters (CONTRACT §1): `AAᵀ` is A·Aᵀ, not (AA)ᵀ. And a function name followed
by a juxtaposed call is the composition; anywhere else it is a ParseError with a caret."""
from __future__ import annotations

import numpy as np
import pytest

from matcalc import ParseError, derive, parse

SHAPES = ("A: n×n, B: n×n, K: m×m, R: m×m, W: n×k, X: n×p, S: n×n, a: n, b: m, x: n, u: n, "
          "v: m, μ: n, c: scalar, s: scalar, z: n, y: n, Xtrain: p×n, W1: n×n, θ: n")

SPELLINGS = [
    ("AAᵀ", "A*A^T"), ("AA^T", "A*A^T"), ("AA'", "A*A'"), ("AA^{T}", "A*A^T"), ("AA^⊤", "A*A^T"),
    ("xxᵀ", "x*x^T"), ("xx'", "x*x^T"), ("WWᵀX", "W*W^T*X"), ("KRKᵀ", "K*R*K^T"),
    ("abᵀ", "a*b^T"), ("uvᵀ", "u*v^T"), ("cS⁻¹(μ − x)", "c*S^-1*(μ - x)"),
    ("cS^-1(μ − x)", "c*inv(S)*(μ - x)"), ("AB⁻¹", "A*inv(B)"), ("AB^{-1}", "A*inv(B)"),
    ("AB⁻ᵀ", "A*inv(B)^T"), ("AB^-T", "A*inv(B)^T"), ("AB²", "A*B^2"), ("AB^3", "A*B^3"),
    ("AB^k", None), ("cx.^2", "c*(x .^ 2)"), ("ABᵀ⁻¹", "A*inv(B^T)"), ("ABᵀA", "A*B^T*A"),
    ("sAᵀ", "s*A^T"), ("2AAᵀ", "2*A*A^T"), ("−AAᵀ", "-(A*A^T)"), ("xᵀAAᵀx", "x^T*A*A^T*x"),
    ("Xtrainᵀ", "Xtrain^T"), ("XtrainᵀXtrain", "Xtrain^T*Xtrain"), ("W1ᵀ", "W1^T"),
    ("AW1ᵀ", "A*W1^T"), ("θᵀAθ", "θ^T*A*θ"), ("xθᵀ", "x*θ^T"), ("AAx_1ᵀ", None),
]


@pytest.mark.parametrize("spelling, explicit", [p for p in SPELLINGS if p[1]],
                         ids=[s for s, e in SPELLINGS if e])
def test_postfix_binds_to_the_last_factor_of_a_juxtaposed_run(spelling, explicit):
    assert parse(spelling, SHAPES) == parse(explicit, SHAPES)


def test_symbolic_exponent_after_a_run_is_a_parse_error_or_the_last_factor():
    # ^k with k a name is not an exponent the language has: refused with a caret, not misread.
    with pytest.raises(ParseError) as err:
        parse("AB^k", SHAPES)
    assert "^" in str(err.value)


def _central_gradient(f, A, h=1e-6):
    g = np.zeros_like(A)
    for idx in np.ndindex(*A.shape):
        e = np.zeros_like(A)
        e[idx] = h
        g[idx] = (f(A + e) - f(A - e)) / (2 * h)
    return g


def test_trace_of_AA_transposed_is_2A_not_2A_transposed():
    """tr(AA^T) once printed 2Aᵀ: AAᵀ was read as (AA)ᵀ."""
    r = derive("tr(AA^T)", wrt="A", shapes="A: n×n")
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4))
    got = r.evaluate({"A": A})
    want = _central_gradient(lambda M: np.trace(M @ M.T), A)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert str(r) == "2A"


def test_quadratic_form_with_juxtaposed_inverse_matches_finite_differences():
    """cS⁻¹(μ − x) once read as (cS)⁻¹(μ − x)."""
    r = derive("(μ − x)ᵀcS⁻¹(μ − x)", wrt="x", shapes="S: n×n, μ: n, x: n, c: scalar")
    rng = np.random.default_rng(1)
    n = 5
    S = rng.normal(size=(n, n)) * 0.3 + np.eye(n)
    mu, x, c = rng.normal(size=(n, 1)), rng.normal(size=(n, 1)), 1.7

    def f(xv):
        d = mu - xv
        return (d.T @ (c * np.linalg.inv(S)) @ d).item()
    got = r.evaluate({"S": S, "μ": mu, "x": x, "c": c})
    want = _central_gradient(f, x)
    np.testing.assert_allclose(np.reshape(got, (n, 1)), want, rtol=1e-6, atol=1e-7)


def test_outer_products_written_without_a_star_match_finite_differences():
    """xxᵀ and WWᵀX once gave a shape error or (xx)ᵀ."""
    r = derive("aᵀWWᵀXb", wrt="W", shapes="a: n, W: n×k, X: n×p, b: p")
    rng = np.random.default_rng(2)
    a, W = rng.normal(size=(3, 1)), rng.normal(size=(3, 4))
    X, b = rng.normal(size=(3, 5)), rng.normal(size=(5, 1))
    got = r.evaluate({"a": a, "W": W, "X": X, "b": b})
    want = _central_gradient(lambda M: (a.T @ M @ M.T @ X @ b).item(), W)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    r = derive("xᵀxxᵀx", wrt="x", shapes="x: n")
    x = rng.normal(size=(4, 1))
    want = _central_gradient(lambda v: ((v.T @ v) ** 2).item(), x)
    np.testing.assert_allclose(np.reshape(r.evaluate({"x": x}), (4, 1)), want, rtol=1e-6)


# Function names --------------------------------------------------------------------------------

COMPOSITIONS = [
    ("log det(K + sI)", "log(det(K + s*I))"),
    ("−yᵀlog softmax(z)", "-y^T*log(softmax(z))"),
    ("log det(A)", "log(det(A))"), ("exp tr(A)", "exp(tr(A))"),
    ("sqrt det(A)", "sqrt(det(A))"), ("log sum(exp(x))", "log(sum(exp(x)))"),
    ("c log det(A)", "c*log(det(A))"), ("tanh sigmoid(x)", "tanh(sigmoid(x))"),
    ("log log det(A)", "log(log(det(A)))"),
]


@pytest.mark.parametrize("spelling, explicit", COMPOSITIONS, ids=[s for s, _ in COMPOSITIONS])
def test_function_name_before_a_call_is_the_composition(spelling, explicit):
    shapes = SHAPES.replace("K: m×m", "K: n×n")
    assert parse(spelling, shapes) == parse(explicit, shapes)


def test_log_det_spelled_with_a_space_has_the_gradient_of_log_det():
    """`log det(K + sI)` once made `log` a vector variable."""
    r = derive("log det(K + sI)", wrt="K", shapes="K: n×n, s: scalar")
    rng = np.random.default_rng(3)
    K = rng.normal(size=(4, 4)) * 0.2 + np.eye(4)
    got = r.evaluate({"K": K, "s": 0.5})
    want = _central_gradient(lambda M: np.log(np.linalg.det(M + 0.5 * np.eye(4))), K)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def _function_names():
    from matcalc.language.parser import CALL_NAMES
    return sorted(n for n in CALL_NAMES if len(n) > 1)


@pytest.mark.parametrize("name", _function_names())
@pytest.mark.parametrize("template", ["{f}", "{f} + x", "x + {f}", "2{f}", "{f}ᵀx", "{f} x",
                                      "A {f}"])
def test_function_name_without_a_call_is_a_parse_error_with_a_caret(name, template):
    text = template.format(f=name)
    with pytest.raises(ParseError) as err:
        parse(text, SHAPES)
    assert err.value.span is not None
    start = text.index(name)
    assert err.value.span.start == start, f"caret at {err.value.span} for {text!r}"
    assert name in str(err.value)


BRACKETED = [("(AB)ᵀ", "(A*B)^T"), ("(AB)⁻¹", "inv(A*B)"), ("(AB)²", "(A*B)^2"),
             ("(AXB)ᵀ + (BXA)ᵀ", "(A*X*B)^T + (B*X*A)^T"), ("2(AB)", "2*(A*B)"),
             ("((AB))ᵀ", "(A*B)^T"), ("x(ab)ᵀ", None)]


@pytest.mark.parametrize("spelling, explicit", [b for b in BRACKETED if b[1]],
                         ids=[s for s, e in BRACKETED if e])
def test_a_bracketed_run_takes_the_postfix_whole(spelling, explicit):
    """(AXB)ᵀ once read back as (A·X·Bᵀ) — the printed gradient of tr(AXBX) changed meaning."""
    shapes = "A: n×n, B: n×n, X: n×n"
    assert parse(spelling, shapes) == parse(explicit, shapes)


def test_cross_entropy_with_log_softmax_spelled_with_a_space_matches_finite_differences():
    """`−yᵀlog softmax(z)` once made `log` a vector variable; the answer surfaced at evaluate."""
    r = derive("−yᵀlog softmax(z)", wrt="z", shapes="y: n, z: n")
    rng = np.random.default_rng(4)
    y, z = rng.uniform(size=(5, 1)), rng.normal(size=(5, 1))

    def f(v):
        e = np.exp(v - v.max())
        return -(y.T @ np.log(e / e.sum())).item()
    want = _central_gradient(f, z)
    got = np.reshape(r.evaluate({"y": y, "z": z}), (5, 1))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_sigma_alone_is_still_a_greek_letter():
    """σ is sigmoid only when called: σ², σx and xᵀxσ keep σ a name."""
    shapes = "σ: scalar, x: n"
    assert parse("σ²", shapes) == parse("σ^2", shapes)
    assert parse("σ x", shapes) == parse("σ*x", shapes)
    assert parse("σ(x)", shapes) == parse("sigmoid(x)", shapes)

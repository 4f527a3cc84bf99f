"""LaTeX input: the usual LaTeX for the pseudo-inverse, the exponential, the matrix functions and
the linear solve reads as the same tree as the plain spelling; e^{X} of a vector or matrix is a
ParseError with a caret (matcalc's exp is element-wise, the usual meaning of e^{X} for a square
X is the matrix exponential: the user chooses)."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc import parse
from matcalc.numeric.evaluate import evaluate_tree

SH = ("A: m×n, b: m, X: n×n, S: n×n symmetric, P: n×n spd, B: n×n, c: n, s: scalar, "
      "x: n, w: n, y: scalar")

SAME = [
    # pseudo-inverse
    (r"A^{+} b", "pinv(A) b"),
    (r"A^+ b", "pinv(A) b"),
    (r"A^\dagger b", "pinv(A) b"),
    (r"A^{\dagger} b", "pinv(A) b"),
    (r"A^\dag b", "pinv(A) b"),
    (r"\mathbf{A}^{+}\mathbf{b}", "pinv(A) b"),
    (r"(A^\top A)^{+} A^\top b", "pinv(A^T A) A^T b"),
    (r"\left(A^\top\right)^{\dagger}", "pinv(A^T)"),
    (r"B A^{+}", "B pinv(A)"),
    (r"2A^+ b", "2 pinv(A) b"),
    (r"\|A^{+}\|_F^2", "norm2(pinv(A))^2"),
    # e^{…} of a scalar, \exp, \log and \sqrt (element-wise, as exp, log and sqrt are)
    (r"e^{s}", "exp(s)"),
    (r"e^s", "exp(s)"),
    (r"e^{-s}", "exp(-s)"),
    (r"\mathrm{e}^{2 s}", "exp(2 s)"),
    (r"\log(1 + e^{-y \mathbf{w}^\top \mathbf{x}})", "log(1 + exp(-y w^T x))"),
    (r"\operatorname{tr}(e^{c^\top B c} B)", "tr(exp(c^T B c) B)"),
    (r"\exp(X)", "exp(X)"),
    (r"\exp\left(X\right)", "exp(X)"),
    (r"\log(P)", "log(P)"),
    (r"\sqrt{P}", "sqrt(P)"),
    # matrix functions
    (r"\operatorname{expm}(X)", "expm(X)"),
    (r"\operatorname{tr}(\operatorname{expm}(X))", "tr(expm(X))"),
    (r"\operatorname{logm}(P)", "logm(P)"),
    (r"P^{1/2}", "sqrtm(P)"),
    (r"P^{\frac{1}{2}}", "sqrtm(P)"),
    (r"\lambda_{\max}(S)", "lambda_max(S)"),
    (r"\lambda_\max(S)", "λ_max(S)"),
    (r"\lambda_{\min}(S)", "lambda_min(S)"),
    (r"\sigma_{\max}(A)", "sigma_max(A)"),
    (r"\|A\|_2", "sigma_max(A)"),
    (r"\left\|A\right\|_2", "‖A‖₂"),
    (r"\|A\|_*", "nuclear(A)"),
    (r"\|A\|_{*}", "‖A‖_*"),
    # linear systems: the inverse stays the inverse, the backslash is solve
    (r"B^{-1}c", "inv(B) c"),
    (r"B \backslash c", "solve(B, c)"),
    (r"B \backslash c", r"B \ c"),
]


@pytest.mark.parametrize("latex, plain", SAME, ids=[s[0] for s in SAME])
def test_latex_spelling_parses_to_the_plain_tree(latex, plain):
    assert parse(latex, SH) == parse(plain, SH)


def test_latex_pseudo_inverse_is_the_pseudo_inverse():
    """A^{+} b was a ParseError ("unexpected `+`") and A^\\dagger b "unknown LaTeX command"."""
    rng = np.random.default_rng(3)
    A, b = rng.normal(size=(5, 3)), rng.normal(size=5)
    node = parse(r"A^{\dagger} b", "A: m×n, b: m")
    got = evaluate_tree(node, {"A": A, "b": b[:, None]}, {"m": 5, "n": 3})
    np.testing.assert_allclose(got[:, 0], np.linalg.pinv(A) @ b, rtol=1e-10)


def test_latex_e_to_a_scalar_is_exp_of_that_scalar():
    rng = np.random.default_rng(4)
    w, x = rng.normal(size=(4, 1)), rng.normal(size=(4, 1))
    node = parse(r"\log(1 + e^{-y \mathbf{w}^\top \mathbf{x}})", "w: n, x: n, y: scalar")
    got = evaluate_tree(node, {"w": w, "x": x, "y": np.array([[0.7]])}, {"n": 4})
    assert got.shape == (1, 1)
    np.testing.assert_allclose(got[0, 0], np.log1p(np.exp(-0.7 * (w.T @ x)[0, 0])), rtol=1e-12)


def test_latex_e_to_an_undeclared_name_reads_it_as_a_scalar():
    """The logistic loss as usually typeset, with y undeclared: y is the scalar label."""
    node = parse(r"\log(1 + e^{-y \mathbf{w}^\top \mathbf{x}})", "w: n, x: n")
    assert node == parse("log(1 + exp(-y w^T x))", "w: n, x: n, y: scalar")


def test_latex_e_to_a_square_matrix_is_refused_with_a_caret_that_names_expm():
    """\\mathrm{tr}(e^{X}) said "a power with a symbolic exponent is not supported"; e^{X} of a
    square matrix is the matrix exponential to most readers, exp(X) in matcalc is element-wise:
    the message names both spellings."""
    with pytest.raises(matcalc.ParseError) as err:
        parse(r"\mathrm{tr}(e^{X})", "X: n×n")
    text = str(err.value)
    assert "expm(X)" in text and r"\operatorname{expm}" in text and "or exp(X)" in text
    assert err.value.span.start == r"\mathrm{tr}(e^{X})".index("e^")
    assert err.value.span.end == len(r"\mathrm{tr}(e^{X}")


def test_latex_e_to_a_vector_is_refused_with_the_element_wise_spelling():
    with pytest.raises(matcalc.ParseError) as err:
        parse(r"\mathbf{1}^\top e^{\mathbf{x}}", "x: n")
    assert "exp(x)" in str(err.value) and "vector" in str(err.value)


def test_latex_e_to_a_matrix_is_refused_in_derive_too():
    with pytest.raises(matcalc.ParseError):
        matcalc.derive(r"\operatorname{tr}(e^{X})", wrt="X", shapes="X: n×n")


def test_e_declared_as_a_name_keeps_its_meaning():
    """Only exponents that were errors are read as exp: e² of a declared e, eᵀx, e⁻¹ stay."""
    assert parse("e^{2}", "e: scalar") == parse("e^2", "e: scalar")
    assert parse("e^T x", "e: n, x: n") == parse("transpose(e) x".replace("transpose(e)", "e'"),
                                                  "e: n, x: n")
    assert parse("e^{-1}", "e: scalar") == parse("1/e", "e: scalar") or \
        parse("e^{-1}", "e: scalar") == parse("e^-1", "e: scalar")
    with pytest.raises(matcalc.ParseError) as err:
        parse(r"e^{s}", "e: scalar, s: scalar")
    assert "declared" in str(err.value)


def test_latex_exp_of_a_matrix_stays_element_wise():
    """\\exp(X) was element-wise before the matrix exponential existed; it still is."""
    node = parse(r"\exp(X)", "X: n×n")
    assert type(node).__name__ == "Apply" and node.fn == "exp"


def test_shape_errors_in_latex_input_point_into_the_latex():
    """A shape error found after parsing (in inference) had its caret in the coordinates of the
    plain translation: under `\\frac{1}{2}\\m` for the whole product."""
    text = r"\frac{1}{2}\mathbf{A} \mathbf{x}"
    with pytest.raises(matcalc.ShapeError) as err:
        parse(text, "A: n×n, x: m")
    assert (err.value.span.start, err.value.span.end) == (0, text.rindex("x") + 1)


def test_plain_text_keeps_its_meaning_next_to_the_new_spellings():
    assert parse("a^T + b^T", "a: n, b: n") == parse("a' + b'", "a: n, b: n")
    assert parse("x^T e", "x: n, e: n") == parse("x' e", "x: n, e: n")
    assert parse("(x - e)^T (x - e)", "x: n, e: n") == parse("(x-e)'(x-e)", "x: n, e: n")

"""LaTeX in and out (issue 6): LaTeX spellings read as the language, and the LaTeX of every
identity-table result parses back to an equivalent expression."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc import derive, parse
from matcalc.core import expr as E
from matcalc.numeric.evaluate import evaluate_tree

from conftest import random_point
from test_identities import TABLE

SH = "X: m×n, θ: n, y: m, A: n×n, x: n, a: n, b: n, N: scalar, W1: m×n"


@pytest.mark.parametrize("latex, plain", [
    (r"(X\theta - y)^\top (X\theta - y)", "(Xθ − y)^T (Xθ − y)"),
    (r"(X\theta - y)^{\mathsf T} (X\theta - y)", "(Xθ − y)^T (Xθ − y)"),
    (r"(X\theta - y)^{\top}(X\theta - y)", "(Xθ − y)^T (Xθ − y)"),
    (r"a \cdot b", "a·b"),
    (r"a \odot b", "a .* b"),
    (r"a \oslash b", "a ./ b"),
    (r"A \otimes A", "kron(A, A)"),
    (r"\operatorname{tr}(A)", "tr(A)"),
    (r"\mathbf{A} \mathbf{x}", "A x"),
    (r"\left( A + A^\top \right) x", "(A + A^T) x"),
    (r"\|x\|_2^2", "norm2(x)^2"),
    (r"\left\| X \theta - y \right\|^2", "norm2(X θ - y)^2"),
    (r"\frac{1}{N} x", "(1/N) x"),
    (r"\sqrt{x}", "sqrt(x)"),
    (r"\log\det(A)", "logdet(A)"),
    (r"\det(A)", "det(A)"),
    (r"\exp(x)", "exp(x)"),
    (r"\sigma(A x)", "sigmoid(A x)"),
    (r"A^{-1}", "inv(A)"),
    (r"A^{-\top}", "inv(A)^T"),
    (r"x^{\circ 2}", "x .^ 2"),
    (r"\mathbf{1}^\top x", "ones(n)^T x"),
    (r"\boldsymbol{\theta}", "θ"),
    (r"W_{1} x", "W1 x"),
    (r"\operatorname{diag}(x) a", "diag(x) a"),
    (r"\lambda \, x", "lambda*x"),
])
def test_latex_spellings(latex, plain):
    shapes = SH + ", λ: scalar"
    assert parse(latex, shapes) == parse(plain, shapes)


def test_latex_errors_point_into_the_latex():
    with pytest.raises(matcalc.ParseError) as info:
        parse(r"x^\top \sum y")
    assert info.value.column == 8 and "unknown LaTeX command \\sum" in str(info.value)


ROWS = [pytest.param(*p.values, id=p.id) for p in TABLE if not p.marks]


@pytest.mark.parametrize("expr, wrt, shapes, expected, order", ROWS)
def test_latex_output_reads_back(expr, wrt, shapes, expected, order):
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    back = parse(r.latex, shapes)
    rng = np.random.default_rng(3)
    for attempt in range(6):
        env, sizes = random_point([r.node, back, r.function], r.decls, rng,
                                  positive=attempt % 2 == 1)
        a = evaluate_tree(r.node, env, sizes)
        if np.all(np.isfinite(a)):
            break
    else:
        pytest.fail(f"no point where {r} is finite (not a pass)")
    b = evaluate_tree(back, env, sizes)
    if isinstance(r.node, E.Zero) or r.node.__class__ is E.Num and r.node.value == 0:
        b = np.broadcast_to(b, a.shape)       # `0` alone is the zero of the result's shape
    assert b.shape == a.shape, (r.latex, b.shape, a.shape)
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12, err_msg=f"{r.latex}")


def test_bold_symbols_option():
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", shapes="X: m×n, θ: n, y: m")
    bold = r.to_latex(bold=True)
    assert "\\mathbf{X}" in bold and "\\boldsymbol{\\theta}" in bold
    assert parse(bold, "X: m×n, θ: n, y: m") == parse(r.latex, "X: m×n, θ: n, y: m")


def test_digit_subscript_reads_back_as_the_printed_name():
    """The LaTeX of W2 is W_{2}; read back without declarations it was another name, W_2."""
    from matcalc import derive
    r = derive("‖W2 tanh(W1 x) - y‖^2", wrt="W2")
    assert "W_{2}" in r.latex
    assert parse(r.latex) == parse(r.text)
    assert parse("W_{1} x", "W_1: m×n, x: n") == parse("W_1 x", "W_1: m×n, x: n")
    assert parse("W1 x", "W_1: m×n, x: n") == parse("W_1 x", "W_1: m×n, x: n")

"""The golden table (issue 4): inputs with the exact form matcalc must print — the form a
textbook prints, never longer — each also evaluated next to a closed form written by hand from
the literature (Matrix Cookbook §2, Magnus & Neudecker, ML texts) at random values with a
different size for every dimension name, and checked against finite differences.

A printed form that changes must be a deliberate decision: update the row, and say why in the
commit message."""
from __future__ import annotations

import numpy as np
import pytest

from matcalc import derive

from conftest import compare_with_closed_form


def G(expr, wrt, shapes, printed, closed, id, order=1):
    return pytest.param(expr, wrt, shapes, printed, closed, order, id=id)


LOG_LOSS = "-(y^T log(sigmoid(X w)) + (1 - y)^T log(1 - sigmoid(X w)))"

GOLDEN = [
    # The issue's own examples.
    G("x^T A x", "x", "A: n×n, x: n", "(A + Aᵀ)x", "(A + A^T) x", "xTAx"),
    G("x^T A x", "x", "A: n×n symmetric, x: n", "2Ax", "2 A x", "xTAx-symmetric"),
    G("tr(X^T A X)", "X", "A: m×m, X: m×n", "(A + Aᵀ)X", "A X + A^T X", "trXTAX"),
    G("tr(X^T A X)", "X", "A: m×m symmetric, X: m×n", "2AX", "2 A X", "trXTAX-symmetric"),
    G("det(X)", "X", "X: n×n", "det(X)X⁻ᵀ", "det(X) inv(X^T)", "det"),
    G("a^T inv(X) b", "X", "a: n, b: n, X: n×n", "−X⁻ᵀabᵀX⁻ᵀ",
      "-inv(X^T) a b^T inv(X^T)", "aTXinvb"),
    G("sum(exp(W x))", "x", "W: m×n, x: n", "Wᵀexp(Wx)", "W^T exp(W x)", "sum-exp"),
    G("tanh(W x)", "x", "W: m×n, x: n", "diag(1 − tanh(Wx)⊙²)W",
      "diag(1 - tanh(W x) .^ 2) W", "tanh-jacobian"),
    G(LOG_LOSS, "w", "X: N×n, w: n, y: N", "Xᵀ(σ(Xw) − y)", "X^T (sigmoid(X w) - y)",
      "logistic"),
    # Seeds and least squares.
    G("(X θ - y)^T (X θ - y)", "θ", "X: N×n, θ: n, y: N", "2Xᵀ(Xθ − y)",
      "2 X^T X θ - 2 X^T y", "least-squares"),
    G("(1/N) sum((X w - y) .^ 2)", "w", "X: N×n, w: n, y: N", "2Xᵀ(Xw − y)/N",
      "(2/N) X^T (X w - y)", "mse"),
    G("‖A x - b‖^2", "x", "A: m×n, x: n, b: m", "2Aᵀ(Ax − b)", "2 A^T A x - 2 A^T b",
      "least-squares-norm"),
    G("(A x - b)^T W (A x - b)", "x", "A: m×n, x: n, b: m, W: m×m symmetric", "2AᵀW(Ax − b)",
      "2 A^T W (A x - b)", "weighted-least-squares"),
    G("sum((A X + B) .^ 2)", "X", "A: m×p, X: p×n, B: m×n", "2Aᵀ(AX + B)",
      "2 A^T (A X + B)", "sum-squares-affine"),
    G("sum(exp(A X + B))", "X", "A: m×p, X: p×n, B: m×n", "Aᵀexp(AX + B)",
      "A^T exp(A X + B)", "seed-exp-X"),
    G("sum(exp(A X + B))", "A", "A: m×p, X: p×n, B: m×n", "exp(AX + B)Xᵀ",
      "exp(A X + B) X^T", "seed-exp-A"),
    G("relu(w^T x + b)", "w", "w: n, x: n, b: scalar", "step(wᵀx + b)x",
      "step(w^T x + b) x", "relu-neuron"),
    # Linear and bilinear forms (Cookbook 69–72, 81).
    G("a^T x", "x", "a: n, x: n", "a", "a", "aTx"),
    G("a^T X b", "X", "a: m, X: m×n, b: n", "abᵀ", "a b^T", "aTXb"),
    G("a^T X^T b", "X", "a: n, X: m×n, b: m", "baᵀ", "b a^T", "aTXTb"),
    G("x^T A y", "A", "A: m×n, x: m, y: n", "xyᵀ", "x y^T", "bilinear-A"),
    G("x^T A y", "y", "A: m×n, x: m, y: n", "Aᵀx", "A^T x", "bilinear-y"),
    G("x^T x", "x", "x: n", "2x", "2 x", "xTx"),
    G("b^T X^T X c", "X", "X: m×n, b: n, c: n", "X(bcᵀ + cbᵀ)", "X b c^T + X c b^T",
      "bTXTXc"),
    G("a^T X^T X a", "X", "X: m×n, a: n", "2Xaaᵀ", "2 X a a^T", "aTXTXa"),
    G("(a^T x)^2", "x", "a: n, x: n", "2(aᵀx)a", "2 a a^T x", "square-of-linear"),
    G("(a^T x)(x^T a)", "x", "a: n, x: n", "2(xᵀa)a", "2 a a^T x", "aTx-xTa-collected"),
    G("x^T A x + (A x)^T x", "x", "A: n×n, x: n", "2(A + Aᵀ)x", "2 A x + 2 A^T x",
      "same-form-twice"),
    # Traces (Cookbook 100–112).
    G("tr(X)", "X", "X: n×n", "I", "eye(n)", "trX"),
    G("tr(A X B)", "X", "A: p×m, X: m×n, B: n×p", "AᵀBᵀ", "(B A)^T", "trAXB"),
    G("tr(A X^T B)", "X", "A: p×n, X: m×n, B: m×p", "BA", "B A", "trAXTB"),
    G("tr(A X) + tr(X A)", "X", "A: n×n, X: n×n", "2Aᵀ", "2 A^T", "trace-cyclic-collected"),
    G("tr(X^2)", "X", "X: n×n", "2Xᵀ", "2 X^T", "trX2"),
    G("tr(X^3)", "X", "X: n×n", "3(Xᵀ)²", "3 (X X)^T", "trX3"),
    G("tr(X^2 B)", "X", "X: n×n, B: n×n", "(XB + BX)ᵀ", "B^T X^T + X^T B^T", "trX2B"),
    G("tr(X^T B X)", "X", "X: m×n, B: m×m", "(B + Bᵀ)X", "B X + B^T X", "trXTBX"),
    G("tr(X B X^T)", "X", "X: m×n, B: n×n", "X(B + Bᵀ)", "X B^T + X B", "trXBXT"),
    G("tr(A X B X)", "X", "A: n×n, B: n×n, X: n×n", "(AXB)ᵀ + (BXA)ᵀ",
      "A^T X^T B^T + B^T X^T A^T", "trAXBX"),
    G("tr(inv(X))", "X", "X: n×n", "−(Xᵀ)⁻²", "-(inv(X) inv(X))^T", "trXinv"),
    G("tr(A inv(X) B)", "X", "A: n×n, X: n×n, B: n×n", "−(X⁻¹BAX⁻¹)ᵀ",
      "-inv(X^T) A^T B^T inv(X^T)", "trAXinvB"),
    G("tr(kron(a, b^T))", "a", "a: n, b: n", "b", "b", "trace-kron-outer"),
    # Determinants (Cookbook 49–53).
    G("det(A X B)", "X", "A: n×n, X: n×n, B: n×n", "det(AXB)X⁻ᵀ", "det(A X B) inv(X)^T",
      "detAXB"),
    G("logdet(X)", "X", "X: n×n", "X⁻ᵀ", "inv(X)^T", "logdet"),
    G("logdet(X)", "X", "X: n×n spd", "X⁻¹", "inv(X)", "logdet-spd"),
    G("det(X^2)", "X", "X: n×n", "2det(X²)X⁻ᵀ", "2 det(X)^2 inv(X)^T", "det-square"),
    G("det(X^T A X)", "X", "X: n×n, A: n×n", "2det(XᵀAX)X⁻ᵀ",
      "2 det(X^T A X) inv(X)^T", "detXTAX-square"),
    G("logdet(X^T X)", "X", "X: m×n", "2X(XᵀX)⁻¹", "2 X inv(X^T X)", "logdet-gram"),
    # Norms.
    G("‖x - a‖^2", "x", "x: n, a: n", "2(x − a)", "2 x - 2 a", "norm-squared-shifted"),
    G("‖x‖", "x", "x: n", "x/‖x‖", "x / sqrt(x^T x)", "norm"),
    G("‖X‖_F^2", "X", "X: m×n", "2X", "2 X", "frobenius"),
    G("‖X - U V^T‖_F^2", "U", "X: m×n, U: m×k, V: n×k", "2(UVᵀ − X)V",
      "2 U V^T V - 2 X V", "factorisation-U"),
    G("sum(X .* X)", "X", "X: m×n", "2X", "2 X", "hadamard-square"),
    # Element-wise functions: Jacobians are diagonal.
    G("x", "x", "x: n", "I", "eye(n)", "identity"),
    G("A x", "x", "A: m×n, x: n", "A", "A", "jacobian-Ax"),
    G("exp(x)", "x", "x: n", "diag(exp(x))", "diag(exp(x))", "exp-jacobian"),
    G("log(x)", "x", "x: n", "diag(1 ⊘ x)", "diag(1 ./ x)", "log-jacobian"),
    G("sigmoid(x)", "x", "x: n", "diag(σ(x) ⊙ (1 − σ(x)))",
      "diag(exp(-x) ./ (1 + exp(-x)) .^ 2)", "sigmoid-jacobian"),
    G("relu(x)", "x", "x: n", "diag(step(x))", "diag(step(x))", "relu-jacobian"),
    G("x .^ 2 ./ (1 + x .^ 2)", "x", "x: n", "diag(2x ⊘ (1 + x⊙²)⊙²)",
      "diag(2x ./ (1 + x .^ 2) .^ 2)", "rational"),
    G("log(1 + exp(x))", "x", "x: n", "diag(σ(x))", "diag(1 ./ (1 + exp(-x)))", "softplus"),
    G("sum(tanh(W x))", "W", "W: m×n, x: n", "(1 − tanh(Wx)⊙²)xᵀ",
      "(1 - tanh(W x) .^ 2) x^T", "sum-tanh"),
    G("sigmoid(w^T x)", "w", "w: n, x: n", "σ(wᵀx)(1 − σ(wᵀx))x",
      "exp(-(w^T x)) / (1 + exp(-(w^T x)))^2 * x", "sigmoid-neuron"),
    G("sum(log(1 + exp(X w)))", "w", "X: N×n, w: n", "Xᵀσ(Xw)",
      "X^T (1 ./ (1 + exp(-(X w))))", "sum-softplus"),
    G("a^T diag(x) b", "x", "a: n, b: n, x: n", "a ⊙ b", "a .* b", "diag-bilinear"),
    G("diag(x) a", "x", "a: n, x: n", "diag(a)", "diag(a)", "diag-times-vector"),
    G("sum(kron(a, b))", "a", "a: p, b: q", "sum(b)𝟙", "sum(b) ones(p)", "sum-kron"),
    G("cos(x)", "x", "x: n", "−diag(sin(x))", "-diag(sin(x))", "cos-jacobian"),
    G("1 ./ x", "x", "x: n", "−diag(1 ⊘ x⊙²)", "-diag(1 ./ (x .* x))", "reciprocal"),
    G("sqrt(t)", "t", "t: scalar", "0.5/sqrt(t)", "1 / (2 sqrt(t))", "scalar-sqrt"),
    G("(x - μ)^T inv(Σ) (x - μ)", "Σ", "x: n, μ: n, Σ: n×n", "−Σ⁻ᵀ(x − μ)(x − μ)ᵀΣ⁻ᵀ",
      "-inv(Σ)^T (x - μ)(x - μ)^T inv(Σ)^T", "mahalanobis-covariance"),
    # Softmax and cross-entropy.
    G("logsumexp(x)", "x", "x: n", "softmax(x)", "exp(x) / sum(exp(x))", "logsumexp"),
    G("log(sum(exp(x)))", "x", "x: n", "softmax(x)", "exp(x) / sum(exp(x))", "log-sum-exp"),
    G("softmax(x)", "x", "x: n", "diag(softmax(x)) − softmax(x)softmax(x)ᵀ",
      "diag(exp(x)) / sum(exp(x)) - exp(x) exp(x)^T / sum(exp(x))^2", "softmax-jacobian"),
    G("-y^T log(softmax(x))", "x", "x: n, y: n", "sum(y)softmax(x) − y",
      "sum(y) exp(x) / sum(exp(x)) - y", "softmax-ce"),
    G("-y^T log(softmax(W x))", "W", "W: m×n, x: n, y: m", "(sum(y)softmax(Wx) − y)xᵀ",
      "(sum(y) exp(W x) / sum(exp(W x)) - y) x^T", "softmax-ce-weights"),
    # Hessians.
    G("x^T A x", "x", "A: n×n, x: n", "A + Aᵀ", "A + A^T", "hessian-xTAx", order=2),
    G("x^T A x", "x", "A: n×n symmetric, x: n", "2A", "2 A", "hessian-xTAx-symmetric",
      order=2),
    G("‖A x - b‖^2", "x", "A: m×n, x: n, b: m", "2AᵀA", "2 A^T A", "hessian-least-squares",
      order=2),
    G(LOG_LOSS, "w", "X: N×n, w: n, y: N", "Xᵀdiag(σ(Xw) ⊙ (1 − σ(Xw)))X",
      "X^T diag(exp(-(X w)) ./ (1 + exp(-(X w))) .^ 2) X", "hessian-logistic", order=2),
    G("logsumexp(x)", "x", "x: n", "diag(softmax(x)) − softmax(x)softmax(x)ᵀ",
      "diag(exp(x)) / sum(exp(x)) - exp(x) exp(x)^T / sum(exp(x))^2", "hessian-logsumexp",
      order=2),
    G("a^T x x^T b", "x", "a: n, b: n, x: n", "abᵀ + baᵀ", "a b^T + b a^T",
      "hessian-product-of-linears", order=2),
    G("x^T x", "x", "x: n", "2I", "2 eye(n)", "hessian-xTx", order=2),
]


@pytest.mark.parametrize("expr, wrt, shapes, printed, closed, order", GOLDEN)
def test_golden(expr, wrt, shapes, printed, closed, order):
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    assert str(r) == printed
    got, want, sizes = compare_with_closed_form(r, closed, shapes)
    assert len(set(sizes.values())) == len(sizes), "every dimension name gets its own size"
    np.testing.assert_allclose(*np.broadcast_arrays(got, want), rtol=1e-7, atol=1e-9)
    r.check()


def test_the_table_is_large_enough():
    assert len(GOLDEN) >= 60
    assert len({p.id for p in GOLDEN}) == len(GOLDEN)

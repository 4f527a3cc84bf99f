"""Every worked example of the tutorials the notebooks retell, in the closed form they print, and
checked numerically (the identity table checks the same formulas against hand-written forms)."""
from __future__ import annotations

import numpy as np
import pytest

from matcalc import derive

SEED_FORMS = [
    # seed 000: least squares, the chain rule, Y = AX + B with a concrete z = sum(exp(Y))
    ("(Xθ − y)^T (Xθ − y)", "θ", "X: m×n, θ: n, y: m", "2Xᵀ(Xθ − y)", "gradient", ("n", 1)),
    ("(X*theta - y)'*(X*theta - y)", "theta", "X: m×n, theta: n, y: m", "2Xᵀ(Xθ − y)",
     "gradient", ("n", 1)),
    ("sum(exp(A X + B))", "X", "A: m×k, X: k, B: m", "Aᵀexp(AX + B)", "gradient", ("k", 1)),
    ("sum(exp(A X + B))", "A", "A: m×k, X: k, B: m", "exp(AX + B)Xᵀ", "gradient", ("m", "k")),
    ("sum(exp(A X + B))", "X", "A: m×k, X: k×n, B: m×n", "Aᵀexp(AX + B)", "gradient",
     ("k", "n")),
    ("sum(exp(A X + B))", "A", "A: m×k, X: k×n, B: m×n", "exp(AX + B)Xᵀ", "gradient",
     ("m", "k")),
    # seed 001: Parr & Howard
    ("3x^2 y", "x", "x: scalar, y: scalar", "6xy", "derivative", ()),
    ("3x^2 y", "y", "x: scalar, y: scalar", "3x²", "derivative", ()),
    ("2x + y^8", "y", "x: scalar, y: scalar", "8y⁷", "derivative", ()),
    ("w + x", "w", "w: n, x: n", "I", "jacobian", ("n", "n")),
    ("w - x", "w", "w: n, x: n", "I", "jacobian", ("n", "n")),
    ("w .* x", "w", "w: n, x: n", "diag(x)", "jacobian", ("n", "n")),
    ("w ./ x", "w", "w: n, x: n", "diag(1 ⊘ x)", "jacobian", ("n", "n")),
    ("x + z", "z", "x: n, z: scalar", "𝟙", "derivative", ("n", 1)),
    ("sum(x)", "x", "x: n", "𝟙", "gradient", ("n", 1)),
    ("max(0, w·x + b)", "w", "w: n, x: n, b: scalar", "step(wᵀx + b)x", "gradient", ("n", 1)),
    ("max(0, w·x + b)", "b", "w: n, x: n, b: scalar", "step(wᵀx + b)", "derivative", ()),
    ("(1/N)*sum((y - max(0, X w + b)) .^ 2)", "w", "X: N×n, w: n, y: N, b: scalar",
     "2Xᵀ(step(Xw + b) ⊙ (relu(Xw + b) − y))/N", "gradient", ("n", 1)),
    # seed 002: element by element, then reassembled
    ("sum((X W - Y) .^ 2)", "W", "X: B×N, W: N×M, Y: B×M", "2Xᵀ(XW − Y)", "gradient",
     ("N", "M")),
]


@pytest.mark.parametrize("expr, wrt, shapes, printed, kind, shape", SEED_FORMS,
                         ids=[f"{e} d/d{w}" for e, w, *_ in SEED_FORMS])
def test_seed_closed_form(expr, wrt, shapes, printed, kind, shape):
    r = derive(expr, wrt=wrt, shapes=shapes)
    assert str(r) == printed
    assert r.kind == kind
    assert r.shape == shape
    r.check(seed=3)


def test_seed_000_normal_equation():
    """Setting 2Xᵀ(Xθ − y) to zero gives θ = (XᵀX)⁻¹Xᵀy: the gradient vanishes there."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(7, 3)), rng.normal(size=7)
    theta = np.linalg.solve(X.T @ X, X.T @ y)
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", shapes="X: m×n, θ: n, y: m")
    assert np.allclose(r.evaluate({"X": X, "theta": theta, "y": y}), 0, atol=1e-10)
    g = r.evaluate({"X": X, "θ": np.zeros(3), "y": y})
    assert np.allclose(g.ravel(), -2 * X.T @ y)


def test_seed_001_neuron_gradient_is_zero_when_inactive():
    r = derive("max(0, w·x + b)", wrt="w", shapes="w: n, x: n, b: scalar")
    x = np.array([1.0, 2.0])
    assert np.allclose(r.evaluate({"w": [-1.0, -1.0], "x": x, "b": 0.5}), 0)
    assert np.allclose(r.evaluate({"w": [1.0, 1.0], "x": x, "b": 0.5}).ravel(), x)


def test_seed_004_backward_with_v():
    """PyTorch's y.backward(v) computes vᵀJ; at x = [1, 2, 3], v = [3, 2, 1] it is
    [17, 52, 81] for y = [x1³ + 2x2² + 3x3, 3x1 + 2x2² + x3³, 2x1 + x2³ + 3x3²]."""
    r = derive("v^T (A x.^3 + B x.^2 + C x)", wrt="x", shapes="v: 3, x: 3, A: 3×3, B: 3×3, C: 3×3")
    A = [[1, 0, 0], [0, 0, 1], [0, 1, 0]]       # cubes
    B = [[0, 2, 0], [0, 2, 0], [0, 0, 3]]       # squares
    C = [[0, 0, 3], [3, 0, 0], [2, 0, 0]]       # linear terms
    got = r.evaluate({"v": [3, 2, 1], "x": [1, 2, 3], "A": A, "B": B, "C": C})
    assert np.allclose(got.ravel(), [17, 52, 81])
    r.check()


def test_seed_004_two_hidden_layers_against_the_chain_rule():
    """L = ‖y − W3 tanh(W2 tanh(W1 x))‖²/2: the gradient wrt W1 written out by the chain rule."""
    r = derive("0.5*(y - W3 tanh(W2 tanh(W1 x)))^T (y - W3 tanh(W2 tanh(W1 x)))", wrt="W1",
               shapes="x: n, W1: h×n, W2: k×h, W3: m×k, y: m")
    rng = np.random.default_rng(1)
    v = {"x": rng.normal(size=4), "W1": rng.normal(size=(3, 4)), "W2": rng.normal(size=(5, 3)),
         "W3": rng.normal(size=(2, 5)), "y": rng.normal(size=2)}
    h1 = np.tanh(v["W1"] @ v["x"])
    h2 = np.tanh(v["W2"] @ h1)
    e = v["W3"] @ h2 - v["y"]
    d2 = (v["W3"].T @ e) * (1 - h2 ** 2)
    d1 = (v["W2"].T @ d2) * (1 - h1 ** 2)
    assert np.allclose(r.evaluate(v), np.outer(d1, v["x"]))

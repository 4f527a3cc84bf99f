"""Issue 5: Hessians (any order, mixed), tensor-kind derivatives in vec form, and symbolic
VJP / JVP / HVP. Every closed form below is written by hand from the Matrix Cookbook or
Magnus & Neudecker (vec(AXB) = (Bᵀ ⊗ A)vec X, vec Xᵀ = K vec X, d vec X⁻¹ = −(X⁻ᵀ ⊗ X⁻¹) d vec X),
compared at random values with distinct sizes, and checked by finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc import derive, hvp, jvp, vjp
from matcalc.numeric.evaluate import evaluate_tree
from matcalc.language.parser import parse_with_shapes

from conftest import compare_with_closed_form, random_point


def close(r, expected, shapes, seed=0):
    got, want, sizes = compare_with_closed_form(r, expected, shapes, seed=seed)
    assert got.shape == want.shape, (got.shape, want.shape, sizes)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9, err_msg=f"{r} ≠ {expected}")


HESSIANS = [
    ("‖A x - b‖^2 + λ*‖x‖^2", "x", "A: m×n, x: n, b: m, λ: scalar", "2 A^T A + 2 λ eye(n)"),
    ("x^T A x + b^T x", "x", "A: n×n, x: n, b: n", "A + A^T"),
    ("(a^T x)^2", "x", "a: n, x: n", "2 a a^T"),
    ("exp(a^T x)", "x", "a: n, x: n", "exp(a^T x) a a^T"),
    ("log(1 + exp(a^T x))", "x", "a: n, x: n", "σ(a^T x)(1 - σ(a^T x)) a a^T"),
    ("sum(x .^ 4)", "x", "x: n", "diag(12 x .^ 2)"),
    ("norm2(x)", "x", "x: n", "(eye(n) - x x^T/(x^T x))/norm2(x)"),
    ("(x^T x)^2", "x", "x: n", "4 (x^T x) eye(n) + 8 x x^T"),
    ("0.5*x^T A x", "x", "A: n×n spd, x: n", "A"),
    ("sum(log(x))", "x", "x: n", "-diag(1 ./ x .^ 2)"),
    ("-sum(log(b - A x))", "x", "A: m×n, x: n, b: m", "A^T diag(1 ./ (b - A x) .^ 2) A"),
    ("logsumexp(W x)", "x", "W: m×n, x: n",
     "W^T (diag(softmax(W x)) - softmax(W x) softmax(W x)^T) W"),
    ("0.5*(x - μ)^T Σ^-1 (x - μ)", "μ", "x: n, μ: n, Σ: n×n spd", "Σ^-1"),
    ("sum(softplus(X w))", "w", "X: N×n, w: n", "X^T diag(σ(X w) .* (1 - σ(X w))) X"),
    ("sum(exp(X w))", "w", "X: N×n, w: n", "X^T diag(exp(X w)) X"),
    ("‖X w - y‖^2", "w", "X: N×n, w: n, y: N", "2 X^T X"),
    ("‖x - a‖^2 + ‖x - b‖^2", "x", "x: n, a: n, b: n", "4 eye(n)"),
    ("sum(sqrt(x))", "x", "x: n", "-diag(1 ./ (4 x .* sqrt(x)))"),
    ("sin(t)", "t", "t: scalar", "-sin(t)"),
    ("sum(tanh(x))", "x", "x: n", "-diag(2 tanh(x) .* (1 - tanh(x) .^ 2))"),
]

TENSOR_HESSIANS = [   # vec form of the Hessian of a scalar wrt a matrix
    ("tr(X^T A X)", "X", "X: m×n, A: m×m", "kron(eye(n), A + A^T)"),
    ("‖A X - B‖_F^2", "X", "A: p×m, X: m×n, B: p×n", "2 kron(eye(n), A^T A)"),
    ("‖X - U V^T‖_F^2", "U", "X: m×n, U: m×k, V: n×k", "2 kron(V^T V, eye(m))"),
    ("logdet(X)", "X", "X: n×n", "-commutation(n, n) kron(X^-T, X^-1)"),
    ("tr(A X B X^T)", "X", "A: m×m, X: m×n, B: n×n", "kron(B^T, A) + kron(B, A^T)"),
]


@pytest.mark.parametrize("expr, wrt, shapes, expected", HESSIANS, ids=[h[0] for h in HESSIANS])
def test_hessian(expr, wrt, shapes, expected):
    r = derive(expr, wrt=wrt, shapes=shapes, order=2)
    assert r.kind in ("hessian", "derivative")
    close(r, expected, shapes)
    r.check(seed=1)


@pytest.mark.parametrize("expr, wrt, shapes, expected", TENSOR_HESSIANS,
                         ids=[h[0] for h in TENSOR_HESSIANS])
def test_hessian_wrt_matrix(expr, wrt, shapes, expected):
    r = derive(expr, wrt=wrt, shapes=shapes, order=2)
    assert r.kind == "tensor" and len(r.shape) == 4
    close(r.vec, expected, shapes)
    r.check(seed=1)


def test_hessian_examples_print_in_closed_form():
    assert str(derive("x^T A x", wrt="x", order=2)) == "A + Aᵀ"
    assert str(derive("‖A x - b‖^2", wrt="x", order=2)) == "2AᵀA"
    assert str(derive("‖X - U V^T‖_F^2", wrt="U", order=2)) == "2(VᵀV ⊗ I)" or \
        str(derive("‖X - U V^T‖_F^2", wrt="U", order=2)) == "2((VᵀV) ⊗ I)"


@pytest.mark.parametrize("expr, wrt, order, shapes, expected", [
    ("t^3", "t", 3, "t: scalar", "6"),
    ("x^4", "x", 3, "x: scalar", "24 x"),
    ("exp(2t)", "t", 4, "t: scalar", "16 exp(2t)"),
])
def test_any_order_by_repetition(expr, wrt, order, shapes, expected):
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    close(r, expected, shapes)
    r.check()


@pytest.mark.parametrize("expr, wrt, shapes, expected", [
    ("x^T A y", ("x", "y"), "x: m, A: m×n, y: n", "A"),
    ("(a^T x)*(b^T y)", ("x", "y"), "a: m, x: m, b: n, y: n", "a b^T"),
    ("x^T A y + sum(exp(x))", ("y", "x"), "x: m, A: m×n, y: n", "A^T"),
    ("‖W x - y‖^2", ("x", "y"), "W: m×n, x: n, y: m", "-2 W^T"),
])
def test_mixed_second_derivative(expr, wrt, shapes, expected):
    r = derive(expr, wrt=wrt, shapes=shapes)
    assert r.kind == "mixed"
    close(r, expected, shapes)
    r.check()


# Tensors ------------------------------------------------------------------------------------

TENSORS = [   # (expr, wrt, shapes, hand-written vec form d vec(F)/d vec(X)ᵀ, index sizes)
    ("A X B", "X", "A: m×p, X: p×q, B: q×n", "kron(B^T, A)", ("m", "n", "p", "q")),
    ("X^T", "X", "X: m×n", "commutation(m, n)", ("n", "m", "m", "n")),
    ("inv(X)", "X", "X: n×n", "-kron(X^-T, X^-1)", ("n", "n", "n", "n")),
    ("X a", "X", "X: m×n, a: n", "kron(a^T, eye(m))", ("m", "m", "n")),
    ("a^T X", "X", "X: m×n, a: m", "kron(eye(n), a^T)", ("n", "m", "n")),
    ("X^2", "X", "X: n×n", "kron(X^T, eye(n)) + kron(eye(n), X)", ("n", "n", "n", "n")),
    ("X^T X", "X", "X: m×n", "kron(eye(n), X^T) + kron(X^T, eye(n)) commutation(m, n)",
     ("n", "n", "m", "n")),
    ("X X^T", "X", "X: m×n", "kron(X, eye(m)) + kron(eye(m), X) commutation(m, n)",
     ("m", "m", "m", "n")),
    ("exp(X)", "X", "X: m×n", "diag(vec(exp(X)))", ("m", "n", "m", "n")),
    ("X .* A", "X", "X: m×n, A: m×n", "diag(vec(A))", ("m", "n", "m", "n")),
    ("x x^T", "x", "x: n", "kron(x, eye(n)) + kron(eye(n), x)", ("n", "n", "n")),
    ("x a^T", "x", "x: n, a: p", "kron(a, eye(n))", ("n", "p", "n")),
    ("tanh(W x)", "W", "W: m×n, x: n", "diag(1 - tanh(W x) .^ 2) kron(x^T, eye(m))",
     ("m", "m", "n")),
    ("softmax(W x)", "W", "W: m×n, x: n",
     "(diag(softmax(W x)) - softmax(W x) softmax(W x)^T) kron(x^T, eye(m))", ("m", "m", "n")),
    ("A X", "X", "A: p×m, X: m×n", "kron(eye(n), A)", ("p", "n", "m", "n")),
    ("X B", "X", "X: m×n, B: n×p", "kron(B^T, eye(m))", ("m", "p", "m", "n")),
    ("t*A*X", "X", "t: scalar, A: p×m, X: m×n", "t kron(eye(n), A)", ("p", "n", "m", "n")),
    ("W x + b", "W", "W: m×n, x: n, b: m", "kron(x^T, eye(m))", ("m", "m", "n")),
]


@pytest.mark.parametrize("expr, wrt, shapes, expected, index", TENSORS,
                         ids=[t[0] for t in TENSORS])
def test_tensor(expr, wrt, shapes, expected, index):
    r = derive(expr, wrt=wrt, shapes=shapes)
    assert r.kind == "tensor" and r.shape == index
    close(r.vec, expected, shapes)                 # the vec form against the literature
    r.check(seed=4)                                # every entry against finite differences


@pytest.mark.parametrize("expr, wrt, shapes, expected", [t[:4] for t in TENSORS],
                         ids=[t[0] for t in TENSORS])
def test_vec_form_matches_full_array(expr, wrt, shapes, expected):
    """r.evaluate's T[i, j, k, l] = ∂F_ij/∂X_kl is entry J[i + m·j, k + p·l] of the vec form."""
    r = derive(expr, wrt=wrt, shapes=shapes)
    rng = np.random.default_rng(8)
    env, sizes = random_point([r.function, r.node], r.decls, rng)
    full = r.evaluate(env)
    J = evaluate_tree(r.node, env, sizes)
    if r.function.shape[1] == 1 and r.variable.shape[1] == 1:
        pytest.skip("vector wrt vector: the vec form is the array itself")
    m, n = evaluate_tree(r.function, env, sizes).shape
    p, q = env[r.variable.name].shape
    T = np.zeros((m, n, p, q))
    for i, j, k, l in np.ndindex(m, n, p, q):
        T[i, j, k, l] = J[i + m * j, k + p * l]
    assert np.allclose(T.reshape(full.shape), full)


def test_tensor_entries_by_einsum():
    """The full arrays against index formulas written directly in NumPy."""
    rng = np.random.default_rng(2)
    A, X, B = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(4, 5))
    r = derive("A X B", wrt="X", shapes="A: m×p, X: p×q, B: q×n")
    assert np.allclose(r.evaluate({"A": A, "X": X, "B": B}), np.einsum("ik,lj->ijkl", A, B))
    r = derive("X^T", wrt="X", shapes="X: m×n")
    T = r.evaluate({"X": X})
    assert np.allclose(T, np.einsum("jk,il->ijkl", np.eye(3), np.eye(4)))
    S = rng.normal(size=(3, 3)) + 3 * np.eye(3)
    Y = np.linalg.inv(S)
    r = derive("inv(X)", wrt="X", shapes="X: n×n")
    assert np.allclose(r.evaluate({"X": S}), -np.einsum("ik,lj->ijkl", Y, Y))


def test_enough_cases():
    assert len(HESSIANS) + len(TENSOR_HESSIANS) + 3 + 4 + 9 >= 25   # with the identity table's
    assert len(TENSORS) >= 15


# VJP / JVP / HVP ------------------------------------------------------------------------------

PRODUCTS = [
    (vjp, "tanh(W x)", "x", "W: m×n, x: n, v: m", "W^T (v .* (1 - tanh(W x) .^ 2))"),
    (vjp, "A x", "x", "A: m×n, x: n, v: m", "A^T v"),
    (vjp, "A X B", "X", "A: m×p, X: p×q, B: q×n, v: m×n", "A^T v B^T"),
    (vjp, "inv(X)", "X", "X: n×n, v: n×n", "-X^-T v X^-T"),
    (vjp, "softmax(x)", "x", "x: n, v: n", "softmax(x) .* v - softmax(x) (softmax(x)^T v)"),
    (vjp, "x .* y", "x", "x: n, y: n, v: n", "v .* y"),
    (vjp, "exp(X)", "X", "X: m×n, v: m×n", "v .* exp(X)"),
    (vjp, "σ(W x + b)", "W", "W: m×n, x: n, b: m, v: m",
     "(v .* σ(W x + b) .* (1 - σ(W x + b))) x^T"),
    (jvp, "tanh(W x)", "x", "W: m×n, x: n, u: n", "(1 - tanh(W x) .^ 2) .* (W u)"),
    (jvp, "A X B", "X", "A: m×p, X: p×q, B: q×n, u: p×q", "A u B"),
    (jvp, "inv(X)", "X", "X: n×n, u: n×n", "-X^-1 u X^-1"),
    (jvp, "X^T X", "X", "X: m×n, u: m×n", "u^T X + X^T u"),
    (jvp, "softmax(x)", "x", "x: n, u: n", "softmax(x) .* u - softmax(x) (softmax(x)^T u)"),
    (jvp, "logdet(X)", "X", "X: n×n, u: n×n", "tr(X^-1 u)"),
    (jvp, "x x^T", "x", "x: n, u: n", "u x^T + x u^T"),
    (hvp, "x^T A x", "x", "A: n×n, x: n, u: n", "(A + A^T) u"),
    (hvp, "sum(log(1 + exp(X w)))", "w", "X: N×n, w: n, u: n",
     "X^T (σ(X w) .* (1 - σ(X w)) .* (X u))"),
    (hvp, "‖X - U V^T‖_F^2", "U", "X: m×n, U: m×k, V: n×k, u: m×k", "2 u V^T V"),
    (hvp, "logdet(X)", "X", "X: n×n, u: n×n", "-X^-T u^T X^-T"),
]


@pytest.mark.parametrize("fn, expr, wrt, shapes, expected", PRODUCTS,
                         ids=[f"{p[0].__name__}:{p[1]}" for p in PRODUCTS])
def test_products(fn, expr, wrt, shapes, expected):
    given = ", ".join(s for s in shapes.split(", ") if not s.startswith(("v:", "u:")))
    r = fn(expr, wrt, shapes=given)
    close(r, expected, shapes)
    r.check(seed=6)


def test_vjp_example_from_the_issue():
    assert str(vjp("tanh(W x)", "x")) == "Wᵀ((1 − tanh(Wx)⊙²) ⊙ v)"


def test_seed_004_backward_is_a_vjp():
    """y.backward(v) = vᵀJ: the seed's example, symbolically and numerically."""
    r = vjp("A x.^3 + B x.^2 + C x", "x", shapes="x: 3, A: 3×3, B: 3×3, C: 3×3")
    A = [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    B = [[0, 2, 0], [0, 2, 0], [0, 0, 3]]
    C = [[0, 0, 3], [3, 0, 0], [2, 0, 0]]
    got = r.evaluate({"v": [3, 2, 1], "x": [1, 2, 3], "A": A, "B": B, "C": C})
    assert np.allclose(got.ravel(), [17, 52, 81])
    assert r.text == "3*(x.^2 .* (A^T*v)) + 2*(x .* (B^T*v)) + C^T*v"


def test_product_names_must_be_new():
    with pytest.raises(matcalc.MatcalcError, match="already used"):
        vjp("v^T x", "x")
    with pytest.raises(matcalc.UnsupportedError, match="scalar"):
        hvp("A x", "x")


def test_no_placeholders():
    """Every result is a closed form: no node outside the language's own."""
    from matcalc.core import expr as E
    for expr, wrt, shapes, *_ in TENSORS:
        r = derive(expr, wrt=wrt, shapes=shapes)
        stack = [r.node]
        while stack:
            n = stack.pop()
            assert type(n) in E.NODE_TYPES
            stack.extend(n.children)
        parse_with_shapes(r.text, shapes)       # and the text reads back

"""No silent wrong answers from the derivative engine.

Every derivative here is compared with something matcalc did not compute: central differences
(first derivatives) or second differences (second derivatives) of the ORIGINAL function, written
in this file's own NumPy, or a closed form from the literature (Magnus & Neudecker, the Matrix
Cookbook), at random values with a different size for every dimension name, so a transposition
cannot hide. Second derivatives with respect to a matrix perturb every entry independently, also
for variables declared symmetric, spd or diagonal (CONTRACT §3: a declaration may shorten what is
printed, never change what is differentiated).
"""
from __future__ import annotations

import numpy as np
import pytest

from matcalc import derive, hvp

inv, det = np.linalg.inv, np.linalg.det
SIZES = {"m": 5, "n": 3, "p": 4, "q": 2}           # a different size for every name


def item(a) -> float:
    """The number in a 1×1 array."""
    return np.asarray(a, float).item()


def logdet(a):
    sign, val = np.linalg.slogdet(a)
    assert sign > 0, "test point must have a positive determinant"
    return val


def near_identity(n, rng, scale=0.3):
    return np.eye(n) + scale * rng.normal(size=(n, n)) / np.sqrt(n)


def spd(n, rng):
    a = rng.normal(size=(n, n))
    return a @ a.T / n + np.eye(n)


def commutation(m, n):
    """K(m,n): K vec(A) = vec(Aᵀ) for every m×n A (column-major vec)."""
    k = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            k[j + n * i, i + m * j] = 1.0
    return k


def vec(a):
    return np.asarray(a, float).reshape(-1, 1, order="F")


# Numerical derivatives of the original function ----------------------------------------------

def jacobian_fd(fun, x, h=1e-6):
    """d vec(fun(x))/d vec(x)ᵀ by central differences (x a 2-D array or a float)."""
    if np.isscalar(x):
        return vec((np.asarray(fun(x + h), float) - np.asarray(fun(x - h), float)) / (2 * h))
    x = np.asarray(x, float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        e = e.reshape(x.shape, order="F")
        cols.append(vec((np.asarray(fun(x + e), float) - np.asarray(fun(x - e), float)) / (2 * h)))
    return np.hstack(cols)


def hessian_fd(f, x, h=1e-4):
    """∂²f/∂vec(x)∂vec(x)ᵀ of a scalar f by second differences, every entry of x perturbed
    independently (also the entries of a symmetric x: the perturbed points are not symmetric)."""
    x = np.asarray(x, float)
    n = x.size

    def at(i, si, j, sj):
        y = x.reshape(-1, order="F").copy()
        y[i] += si * h
        y[j] += sj * h
        return float(np.asarray(f(y.reshape(x.shape, order="F"))).reshape(()))

    H = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            H[i, j] = H[j, i] = (at(i, 1, j, 1) - at(i, 1, j, -1) - at(i, -1, j, 1)
                                 + at(i, -1, j, -1)) / (4 * h * h)
    return H


def second_fd_scalar(f, t, h=1e-4):
    """d²f/dt² by the second difference (f(t+h) − 2f(t) + f(t−h))/h²."""
    return (np.asarray(f(t + h), float) - 2 * np.asarray(f(t), float)
            + np.asarray(f(t - h), float)) / (h * h)


def assert_close(got, want, tol=1e-5):
    got = np.asarray(got, float)
    want = np.asarray(want, float)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


def as_tensor(J, f_shape, x_shape):
    """T[i, j, k, l] = ∂F_ij/∂X_kl from the vec form (unit axes dropped, as r.shape does)."""
    full = np.asarray(J).reshape(tuple(f_shape) + tuple(x_shape), order="F")
    return full.reshape([d for d in full.shape if d != 1])


def check_hessian_wrt_matrix(r, f, values, wrt):
    """The Hessian result r (kind tensor) against second differences of f over every entry."""
    X = values[wrt]
    H = hessian_fd(lambda v: f(**{**values, wrt: v}), X)
    assert r.kind == "tensor"
    assert_close(r.vec.evaluate(values), H, tol=1e-5)
    assert_close(r.evaluate(values), as_tensor(H, X.shape, X.shape), tol=1e-5)
    return H


# 1. Second derivatives through inverses and negative powers -----------------------------------

def test_hessian_of_trace_of_inverse_is_not_zero():
    """derive("tr(inv(A))", wrt="A", order=2) printed 0 (the rule for A⁻² was an empty sum)."""
    rng = np.random.default_rng(1)
    A = near_identity(3, rng)
    r = derive("tr(inv(A))", wrt="A", order=2)
    assert str(r) != "0"
    H = check_hessian_wrt_matrix(r, lambda A: np.trace(inv(A)), {"A": A}, "A")
    # Magnus–Neudecker: d² tr(A⁻¹) = 2 tr(A⁻¹ dA A⁻² dA), and tr(P dA Q dA) =
    # vec(dA)ᵀ K(n,n)ᵀ(Qᵀ ⊗ P) vec(dA); symmetrised: H = K(n,n)(A⁻²ᵀ ⊗ A⁻¹ + A⁻ᵀ ⊗ A⁻²)
    Ai = inv(A)
    K = commutation(3, 3)
    closed = K @ np.kron(Ai.T, Ai @ Ai) + K @ np.kron((Ai @ Ai).T, Ai)
    assert_close(H, closed, tol=1e-5)


def test_hessian_of_trace_of_inverse_of_identity_plus_outer_product_keeps_every_term():
    """tr(inv(I + xxᵀ)) wrt x, order 2, printed −2(I + xxᵀ)⁻² (the term from d(M⁻²) was lost)."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 1))
    r = derive("tr(inv(I + x x^T))", wrt="x", order=2)
    assert r.kind == "hessian"
    f = lambda x: np.trace(inv(np.eye(3) + x @ x.T))
    assert_close(r.evaluate({"x": x}), hessian_fd(f, x))
    # closed form: with M = I + xxᵀ, g = −2M⁻²x and
    # H = −2M⁻² + 2(xᵀM⁻²x)M⁻¹ + 2M⁻¹x xᵀM⁻² + 2(xᵀM⁻¹x)M⁻² + 2M⁻²x xᵀM⁻¹
    M1 = inv(np.eye(3) + x @ x.T)
    M2 = M1 @ M1
    s2, s1 = item(x.T @ M2 @ x), item(x.T @ M1 @ x)
    closed = (-2 * M2 + 2 * s2 * M1 + 2 * M1 @ x @ x.T @ M2 + 2 * s1 * M2
              + 2 * M2 @ x @ x.T @ M1)
    assert_close(r.evaluate({"x": x}), closed)


def test_second_derivative_wrt_scalar_through_inverse_of_shifted_matrix_does_not_crash():
    """derive("tr((I + c A)^-1)", wrt="c", order=2) raised AssertionError."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 3)) / 3
    c = 0.4
    r = derive("tr((I + c A)^-1)", wrt="c", shapes="A: n×n, c: scalar", order=2)
    assert r.shape == ()
    f = lambda c: np.trace(inv(np.eye(3) + c * A))
    got = r.evaluate({"c": c, "A": A})
    assert_close(got, second_fd_scalar(f, c), tol=1e-5)
    M = inv(np.eye(3) + c * A)                     # d²/dc² tr(M) = 2 tr(M A M A M)
    assert_close(got, 2 * np.trace(M @ A @ M @ A @ M), tol=1e-9)


def test_gradient_of_det_of_zeroth_matrix_power_is_zero_not_a_crash():
    """derive("det(X^0)", wrt="X") raised AssertionError; X⁰ = I does not depend on X."""
    rng = np.random.default_rng(4)
    X, A = near_identity(3, rng), rng.normal(size=(3, 3))
    r = derive("det(X^0)", wrt="X")
    assert_close(r.evaluate({"X": X}), np.zeros((3, 3)))
    r = derive("tr(X^0 A) + tr(X A)", wrt="X")
    assert_close(r.evaluate({"X": X, "A": A}), jacobian_fd(
        lambda X: np.trace(A) + np.trace(X @ A), X).reshape(3, 3, order="F"))
    r = derive("tr(X^0 A) + tr(X^2)", wrt="X", order=2)
    check_hessian_wrt_matrix(r, lambda X, A: np.trace(A) + np.trace(X @ X), {"X": X, "A": A}, "X")


_R = np.random.default_rng(5)
_X, _A, _B = near_identity(3, _R), near_identity(3, _R), near_identity(3, _R)
_Y = _R.normal(size=(5, 3))                                    # m×n, m > n: YᵀY is invertible
_a, _b = _R.normal(size=(3, 1)), _R.normal(size=(3, 1))
_VALUES = {"X": _X, "A": _A, "B": _B, "Y": _Y, "a": _a, "b": _b}
_SHAPES = "X: n×n, A: n×n, B: n×n, Y: m×n, a: n, b: n"

INVERSE_FAMILY = [     # (expression, variable, the same function in NumPy)
    ("tr(X^-2 A)", "X", lambda X, A, **_: np.trace(inv(X) @ inv(X) @ A)),
    ("tr(X^-3)", "X", lambda X, **_: np.trace(inv(X) @ inv(X) @ inv(X))),
    ("a^T X^-T b", "X", lambda X, a, b, **_: item(a.T @ inv(X).T @ b)),
    ("a^T (X^T)^-2 b", "X", lambda X, a, b, **_: item(a.T @ inv(X @ X).T @ b)),
    ("tr((X^-1)^2 A)", "X", lambda X, A, **_: np.trace(inv(X) @ inv(X) @ A)),
    ("tr(inv(X + A) B)", "X", lambda X, A, B, **_: np.trace(inv(X + A) @ B)),
    ("tr(inv(X A) B)", "X", lambda X, A, B, **_: np.trace(inv(X @ A) @ B)),
    ("tr((A + X)^-2)", "X", lambda X, A, **_: np.trace(inv((A + X) @ (A + X)))),
    ("tr(X^-1 A X^-1)", "X", lambda X, A, **_: np.trace(inv(X) @ A @ inv(X))),
    ("a^T inv(Y^T Y) b", "Y", lambda Y, a, b, **_: item(a.T @ inv(Y.T @ Y) @ b)),
    ("tr(inv(Y^T Y))", "Y", lambda Y, **_: np.trace(inv(Y.T @ Y))),
    ("logdet(Y^T Y)", "Y", lambda Y, **_: logdet(Y.T @ Y)),
    ("det(Y^T Y)", "Y", lambda Y, **_: det(Y.T @ Y)),
    ("det(A X B)", "X", lambda X, A, B, **_: det(A @ X @ B)),
    ("det(X + A)", "X", lambda X, A, **_: det(X + A)),
    ("logdet(X^2)", "X", lambda X, **_: logdet(X @ X)),
    ("det(X^-1)", "X", lambda X, **_: det(inv(X))),
    ("logdet(inv(X) A)", "X", lambda X, A, **_: logdet(inv(X) @ A)),
    ("1/det(X)", "X", lambda X, **_: 1 / det(X)),
    ("det(X)^-2", "X", lambda X, **_: det(X) ** -2),
    ("det(X^3) + tr(X^-1)", "X", lambda X, **_: det(X) ** 3 + np.trace(inv(X))),
    ("logdet(X^T A X)", "X", lambda X, A, **_: logdet(X.T @ A @ X)),
    ("(a^T X b)^-2", "X", lambda X, a, b, **_: item(a.T @ X @ b) ** -2),
]


@pytest.mark.parametrize("expr, wrt, f", INVERSE_FAMILY, ids=[e for e, _, _ in INVERSE_FAMILY])
def test_gradient_through_inverses_and_negative_powers(expr, wrt, f):
    r = derive(expr, wrt=wrt, shapes=_SHAPES)
    x = _VALUES[wrt]
    want = jacobian_fd(lambda v: f(**{**_VALUES, wrt: v}), x).reshape(x.shape, order="F")
    assert_close(r.evaluate(_VALUES), want)


@pytest.mark.parametrize("expr, wrt, f", INVERSE_FAMILY, ids=[e for e, _, _ in INVERSE_FAMILY])
def test_hessian_through_inverses_and_negative_powers(expr, wrt, f):
    r = derive(expr, wrt=wrt, shapes=_SHAPES, order=2)
    check_hessian_wrt_matrix(r, lambda **v: f(**v), _VALUES, wrt)


_t = 0.35
SCALAR_FAMILY = [      # second derivatives with respect to a scalar t
    ("logdet(A + t B)", lambda t: logdet(_A + t * _B)),
    ("det(I + t A)", lambda t: det(np.eye(3) + t * _A)),
    ("tr(inv(A + t I))", lambda t: np.trace(inv(_A + t * np.eye(3)))),
    ("a^T (A + t B)^-1 a", lambda t: item(_a.T @ inv(_A + t * _B) @ _a)),
    ("det(A + t B)^-1", lambda t: 1 / det(_A + t * _B)),
    ("tr((A + t B)^-2)", lambda t: np.trace(inv((_A + t * _B) @ (_A + t * _B)))),
    ("inv(A + t B)", lambda t: inv(_A + t * _B)),
    ("inv(A + t B)^T", lambda t: inv(_A + t * _B).T),
    ("(A + t B)^-2", lambda t: inv((_A + t * _B) @ (_A + t * _B))),
    ("a^T inv(A + t B)", lambda t: _a.T @ inv(_A + t * _B)),
    ("det(A + t B) inv(A + t B)", lambda t: det(_A + t * _B) * inv(_A + t * _B)),
    ("exp(t) tr(inv(A + t B))", lambda t: np.exp(t) * np.trace(inv(_A + t * _B))),
    ("logdet(t A)", lambda t: logdet(t * _A)),
]


@pytest.mark.parametrize("expr, f", SCALAR_FAMILY, ids=[e for e, _ in SCALAR_FAMILY])
def test_second_derivative_wrt_a_scalar_through_inverses(expr, f):
    r = derive(expr, wrt="t", shapes=_SHAPES + ", t: scalar", order=2)
    want = np.asarray(second_fd_scalar(f, _t), float)
    got = r.evaluate({**_VALUES, "t": _t})
    assert_close(np.asarray(got, float).reshape(want.shape) if want.ndim == 0 else got, want,
                 tol=1e-5)


VECTOR_FAMILY = [      # Hessians wrt a vector x through inverses, dets and logdets of sums
    ("x^T inv(A + x x^T) x", lambda x: item(x.T @ inv(_A + x @ x.T) @ x)),
    ("logdet(A + x x^T)", lambda x: logdet(_A + x @ x.T)),
    ("det(I + x x^T)", lambda x: det(np.eye(3) + x @ x.T)),
    ("tr(inv(I + x x^T) A)", lambda x: np.trace(inv(np.eye(3) + x @ x.T) @ _A)),
    ("tr((A + diag(x))^-2)", lambda x: np.trace(inv((_A + np.diag(x[:, 0])) @
                                                    (_A + np.diag(x[:, 0]))))),
    ("a^T (A + x b^T)^-1 b", lambda x: item(_a.T @ inv(_A + x @ _b.T) @ _b)),
]


@pytest.mark.parametrize("expr, f", VECTOR_FAMILY, ids=[e for e, _ in VECTOR_FAMILY])
def test_hessian_wrt_a_vector_through_inverses(expr, f):
    x = np.array([[0.3], [-0.5], [0.8]])
    r = derive(expr, wrt="x", shapes=_SHAPES + ", x: n", order=2)
    assert r.kind == "hessian"
    assert_close(r.evaluate({**_VALUES, "x": x}), hessian_fd(f, x))


FOUND_BY_PROPERTIES = [    # second derivatives reported wrong (0 or missing terms) by a fuzz run
    ("tr(A^-2)", "A", "A: n×n", lambda A: np.trace(inv(A @ A)), "A"),
    ("tr(inv(A^2))", "A", "A: n×n", lambda A: np.trace(inv(A @ A)), "A"),
    ("tr(P^-2)", "P", "P: n×n symmetric", lambda P: np.trace(inv(P @ P)), "Q"),
    ("det(inv(A)^2)", "A", "A: n×n", lambda A: det(inv(A) @ inv(A)), "A"),
    ("logdet((A B)^2)", "A", "A: n×n, B: n×n", lambda A: logdet(A @ _B @ A @ _B), "A"),
    ("tr(inv(S A A))", "A", "A: n×n, S: n×n spd", lambda A: np.trace(inv(_S @ A @ A)), "A"),
]


@pytest.mark.parametrize("expr, wrt, shapes, f, point", FOUND_BY_PROPERTIES,
                         ids=[c[0] for c in FOUND_BY_PROPERTIES])
def test_hessians_that_a_fuzz_run_found_wrong(expr, wrt, shapes, f, point):
    x0 = {"A": _A, "Q": _Q}[point]
    r = derive(expr, wrt=wrt, shapes=shapes, order=2)
    check_hessian_wrt_matrix(r, lambda **v: f(v[wrt]), {wrt: x0, "B": _B, "S": _S}, wrt)


def test_second_derivative_wrt_scalar_of_trace_of_scaled_inverse():
    """tr(inv(c A)) and t·tr(inv(I + c A)) wrt c, order 2, raised AssertionError."""
    c, t = 0.7, 1.3
    r = derive("tr(inv(c A))", wrt="c", order=2, shapes="A: n×n, c: scalar")
    assert_close(r.evaluate({"c": c, "A": _A}), 2 * c ** -3 * np.trace(inv(_A)), tol=1e-9)
    r = derive("t*tr(inv(I + c A))", wrt="c", order=2, shapes="A: n×n, c: scalar, t: scalar")
    assert_close(r.evaluate({"c": c, "A": _A, "t": t}),
                 second_fd_scalar(lambda c: t * np.trace(inv(np.eye(3) + c * _A)), c))


def test_mixed_derivative_wrt_scalar_then_matrix_through_a_negative_power():
    """derive("tr((c A)^-2)", wrt=("c", "A")) raised AssertionError; ∂/∂A ∂/∂c of
    c⁻² tr(A⁻²) is 4c⁻³A⁻³ᵀ."""
    c = 0.7
    r = derive("tr((c A)^-2)", wrt=("c", "A"), shapes="A: n×n, c: scalar")
    f = lambda c, A: np.trace(inv(c * A @ (c * A)))
    dfdc = lambda A: jacobian_fd(lambda c: f(c, A), c, 1e-5).item()
    got = r.evaluate({"c": c, "A": _A})
    assert_close(got, jacobian_fd(dfdc, _A, 1e-4).reshape(3, 3, order="F"), tol=1e-5)
    assert_close(got, 4 * c ** -3 * np.linalg.matrix_power(inv(_A), 3).T, tol=1e-9)


def test_hessian_vector_product_through_an_inverse_does_not_crash():
    """hvp("tr(inv(B))", "B") raised AssertionError; it is (B⁻¹UB⁻² + B⁻²UB⁻¹)ᵀ."""
    rng = np.random.default_rng(18)
    U = rng.normal(size=(3, 3))
    r = hvp("tr(inv(B))", "B", vector="U", shapes="B: n×n")
    want = (hessian_fd(lambda B: np.trace(inv(B)), _B) @ vec(U)).reshape(3, 3, order="F")
    assert_close(r.evaluate({"B": _B, "U": U}), want)
    Bi = inv(_B)
    assert_close(r.evaluate({"B": _B, "U": U}), (Bi @ U @ Bi @ Bi + Bi @ Bi @ U @ Bi).T)

# 2. Declared symmetric / spd / diagonal variables: every entry stays independent --------------

def test_hessian_of_logdet_wrt_spd_matrix_differentiates_every_entry():
    """logdet(P), P spd, order 2, printed −(P⁻¹ ⊗ P⁻¹): the derivative of P⁻¹ instead of the
    derivative of the gradient P⁻ᵀ. The right answer is −K(n,n)(P⁻ᵀ ⊗ P⁻¹) (Magnus–Neudecker:
    d² log det P = −tr(P⁻¹ dP P⁻¹ dP)), evaluated at the spd point."""
    rng = np.random.default_rng(6)
    P = spd(3, rng)
    r = derive("logdet(P)", wrt="P", shapes="P: n×n spd", order=2)
    H = check_hessian_wrt_matrix(r, lambda P: logdet(P), {"P": P}, "P")
    Pi = inv(P)
    assert_close(H, -commutation(3, 3) @ np.kron(Pi.T, Pi))
    assert not np.allclose(H, -np.kron(Pi, Pi), atol=1e-3)     # the old answer is wrong


_S = spd(3, np.random.default_rng(7))
_Q = (lambda q: (q + q.T) / 2)(np.random.default_rng(8).normal(size=(3, 3)))
_D = np.diag([0.7, 1.3, 0.9])
STRUCTURED = [         # (expression, variable, shapes, the function in NumPy, value of the variable)
    ("logdet(P)", "P", "P: n×n spd", lambda P: logdet(P), _S),
    ("tr(P^-1 A)", "P", "P: n×n spd, A: n×n", lambda P: np.trace(inv(P) @ _A), _S),
    ("a^T P^-1 b", "P", "P: n×n spd, a: n, b: n", lambda P: item(_a.T @ inv(P) @ _b), _S),
    ("a^T P^-2 b + logdet(P)", "P", "P: n×n spd, a: n, b: n",
     lambda P: item(_a.T @ inv(P @ P) @ _b) + logdet(P), _S),
    ("det(P) tr(P A)", "P", "P: n×n spd, A: n×n", lambda P: det(P) * np.trace(P @ _A), _S),
    ("tr(Q A Q B)", "Q", "Q: n×n symmetric, A: n×n, B: n×n",
     lambda Q: np.trace(Q @ _A @ Q @ _B), _Q),
    ("tr(Q^T A Q)", "Q", "Q: n×n symmetric, A: n×n", lambda Q: np.trace(Q.T @ _A @ Q), _Q),
    ("a^T Q^3 b", "Q", "Q: n×n symmetric, a: n, b: n",
     lambda Q: item(_a.T @ Q @ Q @ Q @ _b), _Q),
    ("logdet(D)", "D", "D: n×n diagonal", lambda D: logdet(D), _D),
    ("tr(D^-1 A)", "D", "D: n×n diagonal, A: n×n", lambda D: np.trace(inv(D) @ _A), _D),
    ("a^T D^-2 b", "D", "D: n×n diagonal, a: n, b: n", lambda D: item(_a.T @ inv(D @ D) @ _b),
     _D),
    ("det(D A)", "D", "D: n×n diagonal, A: n×n", lambda D: det(D @ _A), _D),
]


@pytest.mark.parametrize("expr, wrt, shapes, f, x0", STRUCTURED, ids=[s[0] for s in STRUCTURED])
def test_hessian_wrt_declared_structured_matrix_treats_entries_as_independent(expr, wrt, shapes,
                                                                              f, x0):
    r = derive(expr, wrt=wrt, shapes=shapes, order=2)
    values = {wrt: x0, "A": _A, "B": _B, "a": _a, "b": _b}
    check_hessian_wrt_matrix(r, lambda **v: f(v[wrt]), values, wrt)


@pytest.mark.parametrize("expr, wrt, shapes, f, x0", STRUCTURED, ids=[s[0] for s in STRUCTURED])
def test_gradient_wrt_declared_structured_matrix_treats_entries_as_independent(expr, wrt, shapes,
                                                                               f, x0):
    r = derive(expr, wrt=wrt, shapes=shapes)
    values = {wrt: x0, "A": _A, "B": _B, "a": _a, "b": _b}
    assert_close(r.evaluate(values), jacobian_fd(f, x0).reshape(x0.shape, order="F"))


def test_mixed_derivative_through_a_declared_symmetric_matrix_counts_every_entry():
    """t xᵀPx wrt (x, P), P symmetric: the gradient t(P + Pᵀ)x is differentiated, not 2tPx
    (which printed 2t(xᵀ ⊗ I), twice the differences on the off-diagonal entries)."""
    rng = np.random.default_rng(19)
    x, t = rng.normal(size=(3, 1)), 1.3
    P = _Q
    r = derive("t x^T P x", wrt=("x", "P"), shapes="x: n, P: n×n symmetric, t: scalar")
    grad_x = lambda P: jacobian_fd(lambda x: t * (x.T @ P @ x).item(), x, 1e-5).reshape(-1, 1)
    J = jacobian_fd(grad_x, P, 1e-4)
    assert r.shape == ("n", "n", "n")
    assert_close(r.evaluate({"x": x, "P": P, "t": t}), as_tensor(J, (3, 1), (3, 3)))


def test_hessian_vector_product_wrt_spd_matrix_differentiates_every_entry():
    """hvp of logdet(P), P spd, applied to a non-symmetric U is −P⁻¹UᵀP⁻¹, not −P⁻¹UP⁻¹."""
    rng = np.random.default_rng(9)
    P, U = spd(3, rng), rng.normal(size=(3, 3))
    r = hvp("logdet(P)", "P", vector="U", shapes="P: n×n spd")
    H = hessian_fd(logdet, P)
    want = (H @ vec(U)).reshape(3, 3, order="F")
    assert_close(r.evaluate({"P": P, "U": U}), want)


# 3. Shapes and vec rules that a square or one-size test cannot see ----------------------------

def test_derivative_of_row_function_wrt_scalar_has_the_rows_shape():
    """derive("exp(t*x^T)", wrt="t") gave an n×1 result for a 1×n function."""
    x, t = np.array([[0.5], [-1.0], [2.0]]), 0.3
    r = derive("exp(t*x^T)", wrt="t", shapes="t: scalar, x: n")
    assert r.shape == (1, "n")
    assert str(r) == "exp(txᵀ) ⊙ xᵀ"
    got = r.evaluate({"t": t, "x": x})
    assert_close(got, (x * np.exp(t * x)).T)
    assert_close(got, jacobian_fd(lambda t: np.exp(t * x.T), t).reshape(1, 3, order="F"))
    r = derive("sin(t b^T)", wrt="t", shapes="t: scalar, b: n")
    assert_close(r.evaluate({"t": t, "b": x}), (x * np.cos(t * x)).T)
    r2 = derive("exp(t*x^T)", wrt="t", shapes="t: scalar, x: n", order=2)
    assert_close(r2.evaluate({"t": t, "x": x}), second_fd_scalar(lambda t: np.exp(t * x.T), t))


def test_hessian_of_det_on_the_tensor_path():
    """The vec rule for det must keep its factor det(X): Hessian of det(X) against second
    differences and the closed form det(X)(vec(X⁻ᵀ)vec(X⁻ᵀ)ᵀ − K(X⁻ᵀ ⊗ X⁻¹))."""
    rng = np.random.default_rng(10)
    X = 1.7 * near_identity(3, rng)                 # det(X) far from 1, so a lost factor shows
    r = derive("det(X)", wrt="X", order=2)
    H = check_hessian_wrt_matrix(r, lambda X: det(X), {"X": X}, "X")
    Xit = inv(X).T
    closed = det(X) * (vec(Xit) @ vec(Xit).T - commutation(3, 3) @ np.kron(Xit, inv(X)))
    assert_close(H, closed)


def test_det_times_rectangular_matrix_wrt_matrix():
    """det(X)A wrt X, A m×p: d vec(det(X)A) = vec(A) det(X) vec(X⁻ᵀ)ᵀ d vec(X)."""
    rng = np.random.default_rng(11)
    X, A = 1.7 * near_identity(3, rng), rng.normal(size=(5, 4))
    r = derive("det(X) A", wrt="X", shapes="X: n×n, A: m×p")
    assert r.shape == ("m", "p", "n", "n")
    J = jacobian_fd(lambda X: det(X) * A, X)
    assert_close(r.vec.evaluate({"X": X, "A": A}), J)
    assert_close(r.evaluate({"X": X, "A": A}), as_tensor(J, (5, 4), (3, 3)))
    assert_close(J, det(X) * vec(A) @ vec(inv(X).T).T)


KRON = [               # A: m×n, X: p×q, every size different (K(q,m) ≠ K(m,q) here)
    ("kron(A, X)", lambda X, A: np.kron(A, X)),
    ("kron(X, A)", lambda X, A: np.kron(X, A)),
    ("kron(A, X^T)", lambda X, A: np.kron(A, X.T)),
    ("kron(X, X)", lambda X, A: np.kron(X, X)),
    ("kron(X, X^T)", lambda X, A: np.kron(X, X.T)),
    ("kron(X .* X, A^T)", lambda X, A: np.kron(X * X, A.T)),
]


@pytest.mark.parametrize("expr, f", KRON, ids=[e for e, _ in KRON])
def test_kronecker_vec_rule_with_four_distinct_sizes(expr, f):
    rng = np.random.default_rng(12)
    X, A = rng.normal(size=(4, 2)), rng.normal(size=(5, 3))
    r = derive(expr, wrt="X", shapes="A: m×n, X: p×q")
    J = jacobian_fd(lambda X: f(X, A), X)
    assert_close(r.vec.evaluate({"X": X, "A": A}), J)
    F = f(X, A)
    assert_close(r.evaluate({"X": X, "A": A}), as_tensor(J, F.shape, X.shape))


def test_kronecker_of_rectangular_vectors_hessian():
    """A second derivative through a ⊗ b with vectors of different lengths."""
    rng = np.random.default_rng(13)
    x, a, B = rng.normal(size=(3, 1)), rng.normal(size=(5, 1)), rng.normal(size=(15, 15))
    r = derive("kron(x, a)^T B kron(x, a)", wrt="x", shapes="x: 3, a: 5, B: 15×15", order=2)
    f = lambda x: item(np.kron(x, a).T @ B @ np.kron(x, a))
    assert_close(r.evaluate({"x": x, "a": a, "B": B}), hessian_fd(f, x))


def test_inverse_transpose_times_matrix_is_not_cancelled_to_identity():
    """A rewrite must never cancel A⁻ᵀA to I: tr(Aᵀ inv(A) X) wrt X is A⁻ᵀA."""
    rng = np.random.default_rng(14)
    A, X = near_identity(3, rng, 0.8), rng.normal(size=(3, 3))
    for expr, f in (("tr(A^T inv(A) X)", lambda X: np.trace(A.T @ inv(A) @ X)),
                    ("tr(inv(A)^T A X)", lambda X: np.trace(inv(A).T @ A @ X)),
                    ("tr(X A^T inv(A))", lambda X: np.trace(X @ A.T @ inv(A))),
                    ("tr(X inv(A) A^T)", lambda X: np.trace(X @ inv(A) @ A.T))):
        r = derive(expr, wrt="X", shapes="A: n×n, X: n×n")
        want = jacobian_fd(f, X).reshape(3, 3, order="F")
        assert not np.allclose(want, np.eye(3), atol=1e-2)
        assert_close(r.evaluate({"A": A, "X": X}), want)
    r = derive("tr(inv(A) A X) + tr(A^-T A^T X)", wrt="X", shapes="A: n×n, X: n×n")
    assert str(r) == "2I"                             # these two products are I


def test_diag_of_scaled_outer_product_keeps_the_scale():
    """diag(c·abᵀ) → a ⊙ b must keep c."""
    rng = np.random.default_rng(15)
    y, x, b = (rng.normal(size=(3, 1)) for _ in range(3))
    c = 2.7
    vals = {"y": y, "x": x, "b": b, "c": c}
    shapes = "y: n, x: n, b: n, c: scalar"
    r = derive("y^T diag(c * x b^T)", wrt="y", shapes=shapes)
    assert_close(r.evaluate(vals), c * x * b)
    r = derive("y^T diag(c * x b^T)", wrt="x", shapes=shapes)
    assert_close(r.evaluate(vals), jacobian_fd(
        lambda x: item(y.T @ np.diag(c * x @ b.T).reshape(-1, 1)), x).reshape(3, 1, order="F"))
    r = derive("diag(c * x b^T)", wrt="c", shapes=shapes)
    assert_close(r.evaluate(vals), x * b)
    r = derive("diag(x (c b)^T)", wrt="x", shapes=shapes)
    assert_close(r.evaluate(vals), jacobian_fd(lambda x: np.diag(x @ (c * b).T).reshape(-1, 1), x))


HADAMARD_AND_INVERSE_TENSORS = [     # matrix functions of a matrix, every size different
    ("X .* A", "X", "X: m×p, A: m×p", lambda X, A, Y: X * A),
    ("A ./ X", "X", "X: m×p, A: m×p", lambda X, A, Y: A / X),
    ("exp(X) .* X .* X", "X", "X: m×p",
     lambda X, A, Y: np.exp(X) * X * X),
    ("Y .* Y^T", "Y", "Y: n×n", lambda X, A, Y: Y * Y.T),
    ("inv(Y)", "Y", "Y: n×n", lambda X, A, Y: inv(Y)),
    ("inv(Y)^T", "Y", "Y: n×n", lambda X, A, Y: inv(Y).T),
    ("X inv(Y)", "Y", "X: m×n, Y: n×n", lambda X, A, Y: X @ inv(Y)),
    ("inv(X^T X)", "X", "X: m×p", lambda X, A, Y: inv(X.T @ X)),
    ("X inv(X^T X) X^T", "X", "X: m×p", lambda X, A, Y: X @ inv(X.T @ X) @ X.T),
    ("det(Y) inv(Y)", "Y", "Y: n×n", lambda X, A, Y: det(Y) * inv(Y)),
    ("Y^-2 .* Y", "Y", "Y: n×n", lambda X, A, Y: inv(Y @ Y) * Y),
]


@pytest.mark.parametrize("expr, wrt, shapes, f", HADAMARD_AND_INVERSE_TENSORS,
                         ids=[h[0] for h in HADAMARD_AND_INVERSE_TENSORS])
def test_hadamard_and_inverse_on_the_tensor_path(expr, wrt, shapes, f):
    rng = np.random.default_rng(16)
    vals = {"X": rng.uniform(0.5, 1.5, size=(5, 4)), "A": rng.normal(size=(5, 4)),
            "Y": near_identity(3, rng)}
    if "X: m×n" in shapes:
        vals["X"] = rng.normal(size=(5, 3))
    r = derive(expr, wrt=wrt, shapes=shapes)
    x = vals[wrt]
    F = f(vals["X"], vals["A"], vals["Y"])
    J = jacobian_fd(lambda v: f(**{**{k: vals[k] for k in "XAY"}, wrt: v}), x)
    got = {k: v for k, v in vals.items() if k in shapes or k == wrt}
    assert_close(r.vec.evaluate(got), J)
    assert_close(r.evaluate(got), as_tensor(J, F.shape, x.shape))


def test_hessian_of_hadamard_expression_wrt_rectangular_matrix():
    rng = np.random.default_rng(17)
    X, A = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    r = derive("sum(A .* X .* X .* X)", wrt="X", shapes="X: m×p, A: m×p", order=2)
    check_hessian_wrt_matrix(r, lambda X, A: np.sum(A * X ** 3), {"X": X, "A": A}, "X")


# 4. Properties: random formulas from the families above, against differences of the original ---
#
# The oracle is the ORIGINAL expression evaluated by matcalc's NumPy evaluator (never the
# derivative), differenced entry by entry with every entry of the variable perturbed on its own.
# A point where the differences are not trustworthy (two step sizes disagree) is redrawn; an
# example with no trustworthy point fails, it is never counted as a pass.

from hypothesis import given, strategies as st                       # noqa: E402

from matcalc.numeric.evaluate import evaluate_tree                           # noqa: E402

PROP_SHAPES = {"X": "n×n", "A": "n×n", "Y": "m×n", "C": "m×n", "x": "n", "a": "n", "b": "n",
               "c": "m", "t": "scalar"}
VARIABLES = {"X": "M", "Y": "R", "x": "v", "t": "s"}
MODIFIERS = ("", "", "", " spd", " symmetric", " diagonal")


def formula(rnd, kind, depth, var):
    """A random formula of the given kind (s scalar, v n-vector, w m-vector, M n×n, R m×n)
    built from inverses, negative powers, det/logdet of sums and products, Hadamard and
    element-wise functions; inverses are of I + 0.3·(…), so most points are well conditioned."""
    leaves = {"s": ["t", "t", "0.7"], "v": ["x", "a", "b"], "w": ["c"],
              "M": ["X", "X^T", "A", "x x^T", "a x^T", "diag(x)", "t A", "Y^T Y", "Y^T C"],
              "R": ["Y", "C", "t C", "c x^T"]}[kind]
    if depth <= 0 or rnd.random() < 0.25:
        mine = [s for s in leaves if var in s.replace("^T", "")]
        return rnd.choice(mine if mine and rnd.random() < 0.7 else leaves)
    G = lambda k: formula(rnd, k, depth - 1, var)                       # noqa: E731
    options = {
        "s": [lambda: f"tr({G('M')})", lambda: f"a^T ({G('v')})",
              lambda: f"({G('v')})^T ({G('v')})", lambda: f"sum({G('R')})",
              lambda: (lambda M: f"logdet(I + 0.2*({M}) ({M})^T)")(G("M")),
              lambda: f"det(I + 0.3*({G('M')}))", lambda: f"logsumexp({G('v')})",
              lambda: f"({G('s')}) ({G('s')})", lambda: f"log(1 + ({G('s')})^2)",
              lambda: f"1/(1 + ({G('s')})^2)", lambda: f"‖{G('R')}‖_F^2",
              lambda: f"c^T ({G('R')}) ({G('v')})", lambda: f"tr(inv(I + 0.3*({G('M')})))",
              lambda: f"tr((I + 0.3*({G('M')}))^-2)", lambda: f"({G('v')})^T ({G('M')}) ({G('v')})",
              lambda: f"a^T (I + 0.3*({G('M')}))^-T b"],
        "v": [lambda: f"({G('M')}) ({G('v')})", lambda: f"({G('R')})^T ({G('w')})",
              lambda: f"({G('v')}) .* ({G('v')})", lambda: f"sin({G('v')})",
              lambda: f"softmax({G('v')})", lambda: f"({G('s')}) ({G('v')})",
              lambda: f"diag({G('M')})", lambda: f"({G('v')}) + ({G('v')})",
              lambda: f"({G('v')}) ./ (1 + ({G('v')}) .* ({G('v')}))",
              lambda: f"inv(I + 0.3*({G('M')})) ({G('v')})",
              lambda: f"(I + 0.3*({G('M')}))^-2 ({G('v')})", lambda: f"tanh({G('v')})"],
        "w": [lambda: f"({G('R')}) ({G('v')})", lambda: f"({G('s')}) ({G('w')})",
              lambda: f"({G('R')}) ({G('M')}) ({G('v')})"],
        "M": [lambda: f"inv(I + 0.3*({G('M')}))", lambda: f"({G('M')}) ({G('M')})",
              lambda: f"({G('M')}) + ({G('M')})", lambda: f"({G('M')}) .* ({G('M')})",
              lambda: f"({G('M')})^T", lambda: f"({G('v')}) ({G('v')})^T",
              lambda: f"diag({G('v')})", lambda: f"({G('s')}) ({G('M')})",
              lambda: f"({G('M')})^2", lambda: f"(I + 0.3*({G('M')}))^-2",
              lambda: f"({G('R')})^T ({G('R')})", lambda: f"inv(I + 0.3*({G('M')}))^T",
              lambda: f"det(I + 0.3*({G('M')})) ({G('M')})",
              lambda: f"({G('M')}) ./ (2 + ({G('M')}) .* ({G('M')}))"],
        "R": [lambda: f"({G('R')}) ({G('M')})", lambda: f"({G('R')}) .* ({G('R')})",
              lambda: f"({G('s')}) ({G('R')})", lambda: f"({G('w')}) ({G('v')})^T",
              lambda: f"tanh({G('R')})", lambda: f"({G('R')}) inv(I + 0.3*({G('M')}))"],
    }[kind]
    return rnd.choice(options)()


def draw_case(rnd, second: bool):
    """(expression, variable, shapes text, order) with the variable occurring in it."""
    while True:
        var = rnd.choice(list(VARIABLES))
        kind = "s" if second and var != "t" else rnd.choice(["s", "s", "v", "M", "R", "row"])
        text = formula(rnd, "v" if kind == "row" else kind, 3, var)
        text = f"({text})^T" if kind == "row" else text
        from matcalc.language.parser import parse_with_shapes
        mod = rnd.choice(MODIFIERS) if var == "X" else ""
        shapes = ", ".join(f"{k}: {v}{mod if k == var else ''}" for k, v in PROP_SHAPES.items())
        f, _ = parse_with_shapes(text, shapes)
        from matcalc.core.expr import names_in
        if var in names_in(f):
            return text, var, shapes, (2 if second else 1)


def draw_point(rnd, shapes):
    rng = np.random.default_rng(rnd.randrange(2 ** 32))
    n, m = rng.permutation([3, 4])                   # a different size for n and m
    sizes = {"n": int(n), "m": int(m)}
    vals = {}
    for name, spec in PROP_SHAPES.items():
        decl = shapes.split(f"{name}: ")[1].split(",")[0]
        if spec == "scalar":
            vals[name] = np.array([[rng.uniform(-1, 1)]])
        elif spec == "n×n":
            v = near_identity(sizes["n"], rng)
            if "spd" in decl:
                v = spd(sizes["n"], rng)
            elif "symmetric" in decl:
                v = (v + v.T) / 2
            elif "diagonal" in decl:
                v = np.diag(rng.uniform(0.5, 1.5, size=sizes["n"]))
            vals[name] = v
        else:
            r, c = spec.split("×") if "×" in spec else (spec, "1")
            vals[name] = rng.normal(size=(sizes[r], sizes.get(c, 1)))
    return vals, sizes


def _numeric(f_of, x0, order, h):
    if order == 1:
        return jacobian_fd(f_of, x0, h)
    if x0.size == 1 and np.asarray(f_of(x0)).size > 1:       # a matrix function of t, twice
        e = np.full_like(x0, h)
        return vec((f_of(x0 + e) - 2 * f_of(x0) + f_of(x0 - e)) / (h * h))
    return hessian_fd(lambda v: f_of(v), x0, h)


def _expected_layout(r, J, f_shape, x_shape):
    """The numeric d vec(f)/d vec(x)ᵀ laid out as the result of r's kind."""
    if r.kind == "tensor":
        return as_tensor(J, f_shape, x_shape)
    if r.kind == "gradient":
        return J.reshape(x_shape, order="F")
    if r.kind == "derivative":
        out = J.reshape(f_shape, order="F")
        return float(out[0, 0]) if out.shape == (1, 1) else out
    return J                                                     # jacobian, hessian


def check_against_differences(text, var, shapes, order, rnd):
    r = derive(text, wrt=var, shapes=shapes, order=order)
    unusable = []
    for _ in range(6):
        vals, sizes = draw_point(rnd, shapes)
        from matcalc.core.dims import symbol
        dims = {symbol(k): v for k, v in sizes.items()}

        def f_of(v):
            return evaluate_tree(r.function, {**vals, var: np.asarray(v, float).reshape(
                vals[var].shape)}, dims)
        f0 = f_of(vals[var])
        got = r.evaluate({k: (v.item() if v.shape == (1, 1) else v) for k, v in vals.items()})
        if not (np.all(np.isfinite(f0)) and np.all(np.isfinite(got))):
            unusable.append("not finite")
            continue
        h1, h2 = (1e-6, 1e-5) if order == 1 else (1e-4, 3e-4)
        f_shape = r.source.shape
        f_shape = tuple(int(d.subs(dims)) if d.free_symbols else int(d) for d in f_shape)
        want1 = _expected_layout(r, _numeric(f_of, vals[var], order, h1), f_shape,
                                 vals[var].shape)
        want1 = np.asarray(want1, float)
        gotarr = np.asarray(got, float)
        assert gotarr.shape == want1.shape, (text, var, order, gotarr.shape, want1.shape)
        scale = max(1.0, float(np.max(np.abs(want1))))
        tol = (1e-5 if order == 1 else 1e-4) * scale
        if np.allclose(gotarr, want1, rtol=0, atol=tol):
            return
        want2 = np.asarray(_expected_layout(r, _numeric(f_of, vals[var], order, h2), f_shape,
                                            vals[var].shape), float)
        if np.allclose(gotarr, want2, rtol=0, atol=tol):
            return
        if not np.allclose(want1, want2, rtol=0, atol=tol / 4):  # the differences themselves
            unusable.append("finite differences unstable")       # disagree: redraw
            continue
        raise AssertionError(f"{text} wrt {var} (order {order}, {shapes}): matcalc {r} differs "
                             f"from differences of the original by "
                             f"{np.max(np.abs(gotarr - want1)):.3g} (scale {scale:.3g})")
    raise AssertionError(f"no usable point for {text} wrt {var}: {unusable}")


@given(st.randoms(use_true_random=False))
def test_property_first_derivatives_match_differences_of_the_original(rnd):
    check_against_differences(*draw_case(rnd, second=False), rnd)


@given(st.randoms(use_true_random=False))
def test_property_second_derivatives_match_second_differences_of_the_original(rnd):
    check_against_differences(*draw_case(rnd, second=True), rnd)


# 5. Rewrites that hold only under conditions ----------------------------------------------------

def test_square_root_of_a_square_is_the_absolute_value():
    """(t²)^0.5 wrt t printed 1 (the powers were merged to t); it is |t|, derivative sign(t)."""
    t = -2.0
    r = derive("(t^2)^0.5", wrt="t", shapes="t: scalar")
    assert_close(r.evaluate({"t": t}), jacobian_fd(lambda t: (t ** 2) ** 0.5, t).item())
    assert r.evaluate({"t": t}) == pytest.approx(-1.0)
    x = np.array([[-2.0], [0.5], [-0.7]])
    f = lambda x: np.sum(np.abs(x) ** 3)
    r = derive("sum(((x .^ 2) .^ 0.5) .^ 3)", wrt="x", shapes="x: n")
    assert_close(r.evaluate({"x": x}), jacobian_fd(f, x).reshape(3, 1, order="F"))
    r = derive("sum(((x .^ 2) .^ 0.5) .^ 3)", wrt="x", shapes="x: n", order=2)
    assert_close(r.evaluate({"x": x}), hessian_fd(f, x))
    r = derive("((t^4)^0.25)^3", wrt="t", shapes="t: scalar")        # |t|³
    assert r.evaluate({"t": t}) == pytest.approx(-3 * t * t)


def test_trace_of_kronecker_of_rectangular_factors_is_not_split():
    """t·tr(A ⊗ B) with A m×n, B n×m raised "tr needs a square matrix, but A is m×n": the
    rewrite tr(A ⊗ B) = tr(A)tr(B) needs square factors."""
    rng = np.random.default_rng(20)
    A, B = rng.normal(size=(5, 3)), rng.normal(size=(3, 5))
    r = derive("t tr(kron(A, B))", wrt="t", shapes="t: scalar, A: m×n, B: n×m")
    assert_close(r.evaluate({"t": 0.4, "A": A, "B": B}), np.trace(np.kron(A, B)))


def test_commutation_rewrite_checks_the_sizes():
    """K(m,n)vec(A) = vec(Aᵀ) for A of m×n; K(n,m)vec(A) is another vector when m ≠ n."""
    from matcalc.core import build as B, expr as E
    from matcalc.core.dims import symbol
    from matcalc.numeric.evaluate import evaluate_tree
    from matcalc.simplify.rewrite import simplify
    m, n = symbol("m"), symbol("n")
    A = E.Sym("A", (m, n))
    Av = np.random.default_rng(21).normal(size=(5, 3))
    sizes = {m: 5, n: 3}
    for K, want in ((B.commutation(m, n), commutation(5, 3) @ vec(Av)),
                    (B.commutation(n, m), commutation(3, 5) @ vec(Av)),
                    (B.transpose(B.commutation(n, m)), commutation(3, 5).T @ vec(Av)),
                    (B.transpose(B.commutation(m, n)), commutation(5, 3).T @ vec(Av))):
        assert_close(evaluate_tree(simplify(B.mul(K, B.vec(A))), {"A": Av}, sizes), want)


# 6. Kronecker products of matrices in reverse mode ----------------------------------------------

_RK = np.random.default_rng(22)
_KA, _KC = _RK.normal(size=(5, 3)), _RK.normal(size=(20, 6))       # A: m×n, C: (mp)×(nq)
_KX, _KW = _RK.normal(size=(4, 2)), _RK.normal(size=(3, 5))        # X: p×q, W: n×m
_Kx = _RK.normal(size=(4, 1))
KRON_SCALARS = [       # scalar functions through A ⊗ X; were "no derivative rule" before
    ("sum(kron(A, X))", lambda X: np.sum(np.kron(_KA, X))),
    ("‖kron(A, X)‖_F^2", lambda X: np.sum(np.kron(_KA, X) ** 2)),
    ("‖kron(X, A)‖_F^2", lambda X: np.sum(np.kron(X, _KA) ** 2)),
    ("tr(kron(A^T, X^T) kron(W^T, X))", lambda X: np.trace(np.kron(_KA.T, X.T) @ np.kron(_KW.T, X))),
    ("sum(exp(0.1*kron(X, A)))", lambda X: np.sum(np.exp(0.1 * np.kron(X, _KA)))),
    ("sum(kron(A, X) .* kron(A, X .* X))", lambda X: np.sum(np.kron(_KA, X) * np.kron(_KA, X * X))),
]


@pytest.mark.parametrize("expr, f", KRON_SCALARS, ids=[k[0] for k in KRON_SCALARS])
def test_gradient_and_hessian_through_kronecker_of_matrices(expr, f):
    shapes = "A: m×n, X: p×q, W: n×m"
    vals = {"A": _KA, "X": _KX, "W": _KW}
    r = derive(expr, wrt="X", shapes=shapes)
    assert_close(r.evaluate(vals), jacobian_fd(f, _KX).reshape(4, 2, order="F"))
    r = derive(expr, wrt="X", shapes=shapes, order=2)
    check_hessian_wrt_matrix(r, lambda **v: f(v["X"]), vals, "X")


def test_frobenius_norm_of_kronecker_prints_in_closed_form():
    """‖A ⊗ X‖² = ‖A‖²‖X‖²: its gradient is 2‖A‖²X, found through (A ⊗ B) ⊙ (C ⊗ D) =
    (A ⊙ C) ⊗ (B ⊙ D) and the mixed-product rule."""
    r = derive("‖kron(A, X)‖_F^2", wrt="X", shapes="A: m×n, X: p×q")
    assert "⊗" not in str(r)
    assert_close(r.evaluate({"A": _KA, "X": _KX}), 2 * np.sum(_KA ** 2) * _KX)


def test_matrix_kronecker_wrt_a_scalar_first_and_second_derivative():
    """kron(tA, Z + tB) wrt t: (A ⊗ (Z + tB)) + (tA ⊗ B), and 2(A ⊗ B)."""
    Z, Bm, t = _RK.normal(size=(4, 2)), _RK.normal(size=(4, 2)), 0.6
    f = lambda t: np.kron(t * _KA, Z + t * Bm)
    shapes = "A: m×n, Z: p×q, B: p×q, t: scalar"
    vals = {"A": _KA, "Z": Z, "B": Bm, "t": t}
    r = derive("kron(t A, Z + t B)", wrt="t", shapes=shapes)
    assert_close(r.evaluate(vals), jacobian_fd(f, t).reshape(20, 6, order="F"))
    r = derive("kron(t A, Z + t B)", wrt="t", shapes=shapes, order=2)
    assert_close(r.evaluate(vals), 2 * np.kron(_KA, Bm), tol=1e-9)


def test_kronecker_of_rows_and_columns_in_reverse_mode():
    """xᵀ ⊗ y = yxᵀ, x ⊗ yᵀ = xyᵀ and xᵀ ⊗ yᵀ = (x ⊗ y)ᵀ (x: n, y: m, n ≠ m); these had no
    reverse-mode rule, so a scalar through them could not be differentiated wrt a matrix."""
    rng = np.random.default_rng(23)
    x, y, Bm, X, a = (rng.normal(size=(4, 1)), rng.normal(size=(3, 1)), rng.normal(size=(3, 4)),
                      rng.normal(size=(4, 3)), rng.normal(size=(3, 1)))
    vals = {"x": x, "y": y, "B": Bm, "X": X, "a": a}
    shapes = "x: n, y: m, B: m×n, X: n×m, a: m"
    r = derive("sum(kron(x^T, y) .* B)", wrt="x", shapes=shapes)
    assert_close(r.evaluate(vals), Bm.T @ y)
    r = derive("sum(kron(x^T, y) .* B)", wrt="y", shapes=shapes)
    assert_close(r.evaluate(vals), Bm @ x)
    f = lambda y: np.sum(np.kron(x.T, y.T) ** 2)
    r = derive("sum(kron(x^T, y^T) .^ 2)", wrt="y", shapes=shapes, order=2)
    assert_close(r.evaluate(vals), hessian_fd(f, y))
    g = lambda X: np.sum(np.exp(0.3 * np.kron(X @ a, y.T)))
    r = derive("sum(exp(0.3*kron(X a, y^T)))", wrt="X", shapes=shapes)
    assert_close(r.evaluate(vals), jacobian_fd(g, X).reshape(4, 3, order="F"))
    r = derive("sum(exp(0.3*kron(X a, y^T)))", wrt="X", shapes=shapes, order=2)
    check_hessian_wrt_matrix(r, lambda **v: g(v["X"]), vals, "X")
    r = derive("kron(x^T, y)", wrt="x", shapes=shapes)
    assert str(r) == "eye(n) ⊗ y"                         # K(1, n) is the identity, not I·(…)
    assert_close(r.evaluate(vals), as_tensor(jacobian_fd(lambda x: np.kron(x.T, y), x),
                                             (3, 4), (4, 1)))
    t = 0.8
    r = derive("kron(t x, t y^T)", wrt="t", shapes=shapes + ", t: scalar", order=2)
    assert_close(r.evaluate({**vals, "t": t}), 2 * x @ y.T, tol=1e-9)


# 7. Long chains -------------------------------------------------------------------------------

def test_long_product_chain_is_differentiated_as_one_product():
    """A product of many matrices (nested pairwise by the parser) gave one Kronecker factor per
    level of nesting and took ~3 s for 300 factors; it is one term, checked here against the
    Kronecker form written in NumPy, with three different sizes around the chain."""
    import time
    dims, sizes = ["p", "q", "r"], {"p": 2, "q": 3, "r": 4}
    rng = np.random.default_rng(24)
    k = 14
    shapes = ", ".join(f"A{i}: {dims[i % 3]}×{dims[(i + 1) % 3]}" for i in range(k))
    vals = {f"A{i}": rng.normal(size=(sizes[dims[i % 3]], sizes[dims[(i + 1) % 3]])) / 2
            for i in range(k)}
    r = derive(" ".join(f"A{i}" for i in range(k)), wrt="A1", shapes=shapes)

    def f(A1):
        out = vals["A0"] @ A1
        for i in range(2, k):
            out = out @ vals[f"A{i}"]
        return out
    J = jacobian_fd(f, vals["A1"])
    assert_close(r.vec.evaluate(vals), J)
    assert "⊗" in str(r) and str(r).count("⊗") == 1
    start = time.process_time()
    derive(" ".join(f"A_{i}" for i in range(240)), wrt="A_1")   # within the 250-name limit
    assert time.process_time() - start < 3.0


def test_long_nested_sum_built_by_hand_simplifies_quickly():
    """A sum of 400 terms nested pairwise (as code might build it) made the simplifier cubic."""
    import time
    from matcalc.core import build as B, expr as E
    from matcalc.language.parser import parse_with_shapes
    from matcalc.simplify.rewrite import simplify
    x, _ = parse_with_shapes("x", "x: n")
    node = None
    for i in range(400):
        t = B.mul(E.Sym(f"A{i}", (x.shape[0], x.shape[0])), x)
        node = t if node is None else E.Add((node, t), shape=x.shape)
    start = time.process_time()
    out = simplify(node)
    assert time.process_time() - start < 3.0
    assert type(out) is E.MatMul and len(out.args) == 2        # (A0 + … + A399)x


def test_sum_of_softmax_is_one_so_its_gradient_prints_zero():
    """d/dx sum(softmax(x)) printed softmax(x) − sum(softmax(x))softmax(x), which is 0."""
    x = np.array([[0.3], [-1.2], [2.0]])
    for k in (1, 3):
        text = "sum(" + "softmax(" * k + "x" + ")" * (k + 1)
        r = derive(text, wrt="x", shapes="x: n")
        assert str(r) == "0"
        assert_close(r.evaluate({"x": x}), np.zeros((3, 1)))


def test_logdet_on_the_tensor_path_uses_the_inverse_transpose():
    """d vec(logdet(X)A) = vec(A) vec(X⁻ᵀ)ᵀ d vec(X): with X⁻¹ in place of X⁻ᵀ (a mutant that no
    test caught) the answer is wrong for every non-symmetric X."""
    rng = np.random.default_rng(25)
    X, A = near_identity(3, rng, 0.6), rng.normal(size=(5, 4))
    r = derive("logdet(X) A", wrt="X", shapes="X: n×n, A: m×p")
    J = jacobian_fd(lambda X: logdet(X) * A, X)
    assert_close(r.vec.evaluate({"X": X, "A": A}), J)
    assert_close(J, vec(A) @ vec(inv(X).T).T)
    r = derive("logdet(X)^2", wrt="X", shapes="X: n×n", order=2)
    check_hessian_wrt_matrix(r, lambda X: logdet(X) ** 2, {"X": X}, "X")


def test_long_chain_is_differentiated_flat_not_per_nesting_level():
    """The raw derivative of a 300-factor product holds one Kronecker product, not one per
    level of the parser's pairwise nesting (which made simplifying it quadratic)."""
    from matcalc.core import expr as E
    r = derive(" ".join(f"A_{i}" for i in range(240)), wrt="A_1", simplify=False)  # ≤ 250 names
    krons, stack = 0, [r.node]
    while stack:
        n = stack.pop()
        krons += type(n) is E.Kron
        stack.extend(n.children)
    assert krons == 1


def test_long_product_with_a_repeated_variable_is_refused_quickly():
    """"A B A B …" (400 factors) took 7 s for a 320,000-character answer; now a MatcalcError
    names the limit, before the work is done. 100 repetitions still give the answer."""
    import time
    from matcalc import MatcalcError
    start = time.process_time()
    with pytest.raises(MatcalcError, match="over the limit"):
        derive(" ".join(["A B"] * 1250), wrt="A")
    with pytest.raises(MatcalcError, match="over the limit"):
        derive("tr(" + " ".join(["A B"] * 1250) + ")", wrt="A")
    assert time.process_time() - start < 5.0
    rng = np.random.default_rng(26)
    A, Bm = near_identity(3, rng, 0.2) / 1.2, near_identity(3, rng, 0.2) / 1.2
    r = derive("tr(" + " ".join(["A B"] * 20) + ")", wrt="A", shapes="A: n×n, B: n×n")
    want = jacobian_fd(lambda A: np.trace(np.linalg.matrix_power(A @ Bm, 20)), A)
    assert_close(r.evaluate({"A": A, "B": Bm}), want.reshape(3, 3, order="F"))

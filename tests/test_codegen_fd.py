"""Generated code against mathematics matcalc did not compute.

Every row holds an expression and the same function written here in NumPy. The generated code
(NumPy always; JAX and PyTorch where installed; with value=True and value=False) must return
  - the value of that NumPy function, with exactly its shape (a scalar is 0-d), and
  - the derivative that central finite differences of that NumPy function give, in the
    layout of the result's kind, with exactly that shape (a tensor result comes back as its
    vec-form matrix d vec(F)/d vec(X)ᵀ, column-major vec),
and the derivative must equal r.evaluate (the tensor rebuilt from the vec form by this file's
own index arithmetic). Every dimension name gets its own size, so a transposition cannot hide.
"""
from __future__ import annotations

import importlib.util
import inspect
import re
import zlib
from dataclasses import dataclass, field
from typing import Callable

from conftest_x64 import jax_float64  # noqa: F401  (autouse: float64 JAX, restored after)
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from matcalc import derive, hvp, jvp, vjp
from matcalc.printing.code import identifier

BACKENDS = ["numpy"] + [b for b in ("jax", "torch") if importlib.util.find_spec(b)]
SIZES = {"m": 3, "n": 4, "p": 5, "k": 2, "q": 6, "N": 7}


# the rows ------------------------------------------------------------------------------------

@dataclass
class Case:
    id: str
    expr: str
    wrt: str | tuple
    shapes: str | None
    values: dict                       # name → (shape, how): how ∈ normal, spd, near_I, pos
    f: Callable                        # the ORIGINAL function in NumPy: env → float | 2-D array
    kind: str
    order: int = 1
    product: str | None = None         # "vjp" | "jvp" | "hvp": the new vector is values' `extra`
    extra: str | None = None
    layout: str = "numerator"
    marks: tuple = field(default=())


def col(n):
    return (SIZES[n], 1)


def mat(a, b):
    return (SIZES[a], SIZES[b])


def sc(a):
    """A 1×1 (or 0-d) array as a float."""
    return float(np.reshape(a, ()))


def scipy_linalg():
    import scipy.linalg
    return scipy.linalg


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


S = ()      # a scalar

CASES = [
    # gradients -------------------------------------------------------------------------------
    Case("least squares", "(X θ − y)^T (X θ − y)", "θ", "X: m×n, θ: n, y: m",
         {"X": (mat("m", "n"), "normal"), "θ": (col("n"), "normal"), "y": (col("m"), "normal")},
         lambda e: sc(((e["X"] @ e["θ"] - e["y"]) ** 2).sum()), "gradient"),
    Case("logistic loss", "sum(log(1 + exp(-y .* (X*w))))", "w", "X: N×n, w: n, y: N",
         {"X": (mat("N", "n"), "normal"), "w": (col("n"), "normal"), "y": (col("N"), "normal")},
         lambda e: sc(np.log(1 + np.exp(-e["y"] * (e["X"] @ e["w"]))).sum()), "gradient"),
    Case("trace of a rectangular product", "tr(A X B)", "X", "A: p×m, X: m×n, B: n×p",
         {"A": (mat("p", "m"), "normal"), "X": (mat("m", "n"), "normal"),
          "B": (mat("n", "p"), "normal")},
         lambda e: sc(np.trace(e["A"] @ e["X"] @ e["B"])), "gradient"),
    Case("logdet", "logdet(X)", "X", "X: n×n", {"X": (mat("n", "n"), "spd")},
         lambda e: sc(np.linalg.slogdet(e["X"])[1]), "gradient"),
    Case("det", "det(X)", "X", "X: n×n", {"X": (mat("n", "n"), "near_I")},
         lambda e: sc(np.linalg.det(e["X"])), "gradient"),
    Case("division by a product", "sum(x) / (s*t)", "x", "x: n, s: scalar, t: scalar",
         {"x": (col("n"), "normal"), "s": (S, "pos"), "t": (S, "pos")},
         lambda e: sc(e["x"].sum() / (e["s"] * e["t"])), "gradient"),
    Case("ratio of inner products", "(a^T x) / (b^T x)", "x", "a: n, b: n, x: n",
         {"a": (col("n"), "normal"), "b": (col("n"), "pos"), "x": (col("n"), "pos")},
         lambda e: sc((e["a"].T @ e["x"]) / (e["b"].T @ e["x"])), "gradient"),
    Case("Rayleigh quotient", "x^T A x / (x^T x)", "x", "A: n×n, x: n",
         {"A": (mat("n", "n"), "normal"), "x": (col("n"), "normal")},
         lambda e: sc(e["x"].T @ e["A"] @ e["x"] / (e["x"].T @ e["x"])), "gradient"),
    Case("gradient wrt a row vector", "r A r^T", "r", "r: 1×n, A: n×n",
         {"r": ((1, SIZES["n"]), "normal"), "A": (mat("n", "n"), "normal")},
         lambda e: sc(e["r"] @ e["A"] @ e["r"].T), "gradient"),
    Case("exp layer wrt its weights", "sum(exp(W x))", "W", "W: m×n, x: n",
         {"W": (mat("m", "n"), "normal"), "x": (col("n"), "normal")},
         lambda e: sc(np.exp(e["W"] @ e["x"]).sum()), "gradient"),
    Case("variables named like sizes", "m^T X n", "X", "X: m×n, m: m, n: n",
         {"m": (col("m"), "normal"), "X": (mat("m", "n"), "normal"), "n": (col("n"), "normal")},
         lambda e: sc(e["m"].T @ e["X"] @ e["n"]), "gradient"),
    Case("a size used as a value", "sum((X w - y) .^ 2) / N + m^T m", "w",
         "X: N×n, w: n, y: N, m: p",
         {"X": (mat("N", "n"), "normal"), "w": (col("n"), "normal"), "y": (col("N"), "normal"),
          "m": (col("p"), "normal")},
         lambda e: sc(((e["X"] @ e["w"] - e["y"]) ** 2).sum() / SIZES["N"] + e["m"].T @ e["m"]),
         "gradient"),
    Case("variables named like inferred sizes", "(n_x^T x)^2 + m_A^T A x", "x", None,
         {"n_x": (col("n"), "normal"), "x": (col("n"), "normal"), "m_A": (col("m"), "normal"),
          "A": (mat("m", "n"), "normal")},
         lambda e: sc((e["n_x"].T @ e["x"]) ** 2 + e["m_A"].T @ e["A"] @ e["x"]),
         "gradient"),
    Case("a variable named like a temporary", "t1^T x * sum(X) + sum(X)^2", "x",
         "t1: n, x: n, X: m×p",
         {"t1": (col("n"), "normal"), "x": (col("n"), "normal"), "X": (mat("m", "p"), "normal")},
         lambda e: sc(e["t1"].T @ e["x"] * e["X"].sum() + e["X"].sum() ** 2), "gradient"),
    Case("declared names that are prefixes of others", "‖Xtr w‖^2 + ‖Xtrain w‖^2", "w",
         "Xtr: m×n, Xtrain: p×n, w: n",
         {"Xtr": (mat("m", "n"), "normal"), "Xtrain": (mat("p", "n"), "normal"),
          "w": (col("n"), "normal")},
         lambda e: sc(((e["Xtr"] @ e["w"]) ** 2).sum() + ((e["Xtrain"] @ e["w"]) ** 2).sum()),
         "gradient"),
    Case("diagonal of a matrix", "x^T diag(X)", "x", "x: n, X: n×n",
         {"x": (col("n"), "normal"), "X": (mat("n", "n"), "normal")},
         lambda e: sc(e["x"].T @ np.diag(e["X"]).reshape(-1, 1)), "gradient"),
    Case("inverse of a scalar in a sum", "c^-1 + (x^T x) c", "c", "c: scalar, x: n",
         {"c": (S, "pos"), "x": (col("n"), "normal")},
         lambda e: sc(1 / e["c"] + (e["x"].T @ e["x"]) * e["c"]), "derivative"),
    # Jacobians -------------------------------------------------------------------------------
    Case("element-wise division by a product", "x ./ (a .* b)", "x", "x: n, a: n, b: n",
         {"x": (col("n"), "normal"), "a": (col("n"), "pos"), "b": (col("n"), "pos")},
         lambda e: e["x"] / (e["a"] * e["b"]), "jacobian"),
    Case("element-wise division of a product", "(a .* x) ./ (b .* x)", "x", "x: n, a: n, b: n",
         {"x": (col("n"), "pos"), "a": (col("n"), "pos"), "b": (col("n"), "pos")},
         lambda e: (e["a"] * e["x"]) / (e["b"] * e["x"]), "jacobian"),
    Case("tanh layer", "tanh(W x)", "x", "W: m×n, x: n",
         {"W": (mat("m", "n"), "normal"), "x": (col("n"), "normal")},
         lambda e: np.tanh(e["W"] @ e["x"]), "jacobian"),
    Case("softmax", "softmax(x)", "x", "x: n", {"x": (col("n"), "normal")},
         lambda e: softmax(e["x"]), "jacobian"),
    Case("row-vector function", "x^T A", "x", "x: m, A: m×n",
         {"x": (col("m"), "normal"), "A": (mat("m", "n"), "normal")},
         lambda e: e["x"].T @ e["A"], "jacobian"),
    Case("row-vector function of a row", "exp(r B)", "r", "r: 1×m, B: m×n",
         {"r": ((1, SIZES["m"]), "normal"), "B": (mat("m", "n"), "normal")},
         lambda e: np.exp(e["r"] @ e["B"]), "jacobian"),
    Case("denominator layout", "A x", "x", "A: m×n, x: n",
         {"A": (mat("m", "n"), "normal"), "x": (col("n"), "normal")},
         lambda e: e["A"] @ e["x"], "jacobian", layout="denominator"),
    Case("declared names W1 and W12", "W1 W12 x", "x", "W1: m×p, W12: p×n, x: n",
         {"W1": (mat("m", "p"), "normal"), "W12": (mat("p", "n"), "normal"),
          "x": (col("n"), "normal")},
         lambda e: e["W1"] @ e["W12"] @ e["x"], "jacobian"),
    Case("doubly negated product", "(z) + ((-(-(z u^T))) (u))", "z", "z: n, u: p",
         {"z": (col("n"), "normal"), "u": (col("p"), "normal")},
         lambda e: e["z"] + e["z"] @ e["u"].T @ e["u"], "jacobian"),
    Case("division of a vector by a scalar function", "x / (a^T x)", "x", "a: n, x: n",
         {"a": (col("n"), "pos"), "x": (col("n"), "pos")},
         lambda e: e["x"] / sc(e["a"].T @ e["x"]), "jacobian"),
    # derivatives with respect to a scalar ----------------------------------------------------
    Case("vector wrt a scalar", "exp(t * x)", "t", "x: n, t: scalar",
         {"x": (col("n"), "normal"), "t": (S, "normal")},
         lambda e: np.exp(e["t"] * e["x"]), "derivative"),
    Case("row vector wrt a scalar", "exp(t*x^T)", "t", "x: n, t: scalar",
         {"x": (col("n"), "normal"), "t": (S, "normal")},
         lambda e: np.exp(e["t"] * e["x"].T), "derivative"),
    Case("matrix wrt a scalar", "X inv(A + s B)", "s", "X: m×n, A: n×n, B: n×n, s: scalar",
         {"X": (mat("m", "n"), "normal"), "A": (mat("n", "n"), "near_I"),
          "B": (mat("n", "n"), "normal"), "s": (S, "normal")},
         lambda e: e["X"] @ np.linalg.inv(e["A"] + e["s"] * e["B"]), "derivative"),
    Case("scalar wrt a scalar", "log(1 + c^2) * sum(x)", "c", "c: scalar, x: n",
         {"c": (S, "normal"), "x": (col("n"), "normal")},
         lambda e: sc(np.log(1 + e["c"] ** 2) * e["x"].sum()), "derivative"),
    Case("second derivative wrt a scalar", "exp(t * x)", "t", "x: n, t: scalar",
         {"x": (col("n"), "normal"), "t": (S, "normal")},
         lambda e: np.exp(e["t"] * e["x"]), "derivative", order=2),
    # Hessians ---------------------------------------------------------------------------------
    Case("quadratic form Hessian", "x^T A x", "x", "A: n×n, x: n",
         {"A": (mat("n", "n"), "normal"), "x": (col("n"), "normal")},
         lambda e: sc(e["x"].T @ e["A"] @ e["x"]), "hessian", order=2),
    Case("logsumexp Hessian", "logsumexp(x)", "x", "x: n", {"x": (col("n"), "normal")},
         lambda e: sc(np.log(np.exp(e["x"]).sum())), "hessian", order=2),
    Case("logistic Hessian", "sum(log(1 + exp(X w)))", "w", "X: N×n, w: n",
         {"X": (mat("N", "n"), "normal"), "w": (col("n"), "normal")},
         lambda e: sc(np.log(1 + np.exp(e["X"] @ e["w"])).sum()), "hessian", order=2),
    Case("Kronecker quadratic form Hessian", "x^T kron(A, B) x", "x", "A: m×m, B: k×k",
         {"A": (mat("m", "m"), "normal"), "B": (mat("k", "k"), "normal"),
          "x": ((SIZES["m"] * SIZES["k"], 1), "normal")},
         lambda e: sc(e["x"].T @ np.kron(e["A"], e["B"]) @ e["x"]), "hessian", order=2),
    # the Kronecker forms of the matrix functions (K2_exp, K_pow) in every backend
    Case("weighted matrix exponential Hessian", "tr(A expm(X))", "X", "A: n×n, X: n×n",
         {"A": (mat("n", "n"), "normal"), "X": (mat("n", "n"), "near_I")},
         lambda e: sc(np.trace(e["A"] @ scipy_linalg().expm(e["X"]))), "tensor", order=2),
    Case("matrix power Hessian", "tr(X^2.5)", "X", "X: n×n",
         {"X": (mat("n", "n"), "spd")},
         # tr(X^p) = Σ λᵢ^p over the eigenvalues of X (the differences move X off the
         # symmetric matrices; fractional_matrix_power gives the same, 20 times slower)
         lambda e: sc(np.sum(np.real(np.linalg.eigvals(e["X"]).astype(complex) ** 2.5))),
         "tensor", order=2),
    Case("mixed second derivative", "x^T A y + (x^T x)(y^T y)", ("x", "y"),
         "x: n, A: n×p, y: p",
         {"x": (col("n"), "normal"), "A": (mat("n", "p"), "normal"), "y": (col("p"), "normal")},
         lambda e: sc(e["x"].T @ e["A"] @ e["y"] + (e["x"].T @ e["x"]) * (e["y"].T @ e["y"])),
         "mixed"),
    # tensors (returned in vec form) ------------------------------------------------------------
    Case("transpose: commutation K(m,n)", "X^T", "X", "X: m×n",
         {"X": (mat("m", "n"), "normal")}, lambda e: e["X"].T, "tensor"),
    Case("A X B wrt X", "A X B", "X", "A: p×m, X: m×n, B: n×k",
         {"A": (mat("p", "m"), "normal"), "X": (mat("m", "n"), "normal"),
          "B": (mat("n", "k"), "normal")},
         lambda e: e["A"] @ e["X"] @ e["B"], "tensor"),
    Case("Kronecker product wrt its right factor", "kron(A, X)", "X", "A: p×q, X: m×n",
         {"A": (mat("p", "q"), "normal"), "X": (mat("m", "n"), "normal")},
         lambda e: np.kron(e["A"], e["X"]), "tensor"),
    Case("Kronecker product wrt its left factor", "kron(X, A)", "X", "A: p×q, X: m×n",
         {"A": (mat("p", "q"), "normal"), "X": (mat("m", "n"), "normal")},
         lambda e: np.kron(e["X"], e["A"]), "tensor"),
    Case("Hadamard product wrt a matrix", "X ⊙ A", "X", "X: m×n, A: m×n",
         {"X": (mat("m", "n"), "normal"), "A": (mat("m", "n"), "normal")},
         lambda e: e["X"] * e["A"], "tensor"),
    Case("inverse wrt its matrix", "inv(X)", "X", "X: n×n", {"X": (mat("n", "n"), "near_I")},
         lambda e: np.linalg.inv(e["X"]), "tensor"),
    Case("det times a rectangular matrix (vec column-major)", "det(X) A", "X",
         "X: n×n, A: m×p", {"X": (mat("n", "n"), "near_I"), "A": (mat("m", "p"), "normal")},
         lambda e: np.linalg.det(e["X"]) * e["A"], "tensor"),
    Case("vector function wrt a matrix", "W x", "W", "W: m×n, x: n",
         {"W": (mat("m", "n"), "normal"), "x": (col("n"), "normal")},
         lambda e: e["W"] @ e["x"], "tensor"),
    Case("outer products wrt a matrix", "X x x^T", "X", "X: m×n, x: n",
         {"X": (mat("m", "n"), "normal"), "x": (col("n"), "normal")},
         lambda e: e["X"] @ e["x"] @ e["x"].T, "tensor"),
    Case("Hessian of det (tensor path)", "det(X)", "X", "X: n×n",
         {"X": (mat("n", "n"), "near_I")},
         lambda e: sc(np.linalg.det(e["X"])), "tensor", order=2),
    Case("Hessian of tr(inv(A)) (tensor path)", "tr(inv(A))", "A", "A: n×n",
         {"A": (mat("n", "n"), "near_I")},
         lambda e: sc(np.trace(np.linalg.inv(e["A"]))), "tensor", order=2),
    Case("Hessian of a factorisation loss", "‖X - U V^T‖_F^2", "U", "X: m×n, U: m×k, V: n×k",
         {"X": (mat("m", "n"), "normal"), "U": (mat("m", "k"), "normal"),
          "V": (mat("n", "k"), "normal")},
         lambda e: sc(((e["X"] - e["U"] @ e["V"].T) ** 2).sum()), "tensor", order=2),
    Case("Hessian of tr(XᵀAX)", "tr(X^T A X)", "X", "X: m×n, A: m×m",
         {"X": (mat("m", "n"), "normal"), "A": (mat("m", "m"), "normal")},
         lambda e: sc(np.trace(e["X"].T @ e["A"] @ e["X"])), "tensor", order=2),
    Case("mixed derivative through a matrix", "sum(exp(W x))", ("W", "x"), "W: m×n, x: n",
         {"W": (mat("m", "n"), "normal"), "x": (col("n"), "normal")},
         lambda e: sc(np.exp(e["W"] @ e["x"]).sum()), "tensor"),
    # vector–Jacobian, Jacobian–vector and Hessian–vector products ------------------------------
    Case("vjp of a tanh layer", "tanh(W x)", "x", "W: m×n, x: n",
         {"W": (mat("m", "n"), "normal"), "x": (col("n"), "normal"), "v": (col("m"), "normal")},
         lambda e: np.tanh(e["W"] @ e["x"]), "vjp", product="vjp", extra="v"),
    Case("vjp wrt a matrix", "A X B", "X", "A: p×m, X: m×n, B: n×k",
         {"A": (mat("p", "m"), "normal"), "X": (mat("m", "n"), "normal"),
          "B": (mat("n", "k"), "normal"), "V": (mat("p", "k"), "normal")},
         lambda e: e["A"] @ e["X"] @ e["B"], "vjp", product="vjp", extra="V"),
    Case("jvp of a tanh layer wrt its weights", "tanh(W x)", "W", "W: m×n, x: n",
         {"W": (mat("m", "n"), "normal"), "x": (col("n"), "normal"), "U": (mat("m", "n"), "normal")},
         lambda e: np.tanh(e["W"] @ e["x"]), "jvp", product="jvp", extra="U"),
    Case("hvp of logsumexp", "logsumexp(x)", "x", "x: n",
         {"x": (col("n"), "normal"), "u": (col("n"), "normal")},
         lambda e: sc(np.log(np.exp(e["x"]).sum())), "hvp", product="hvp", extra="u"),
    Case("hvp wrt a matrix", "tr(X^T A X)", "X", "X: m×n, A: m×m",
         {"X": (mat("m", "n"), "normal"), "A": (mat("m", "m"), "normal"),
          "U": (mat("m", "n"), "normal")},
         lambda e: sc(np.trace(e["X"].T @ e["A"] @ e["X"])), "hvp", product="hvp", extra="U"),
]
ROWS = [pytest.param(c, id=c.id, marks=c.marks) for c in CASES]


# this file's own numbers ------------------------------------------------------------------------

def draw(values, seed):
    rng = np.random.default_rng(seed)
    env = {}
    for name, (shape, how) in values.items():
        if shape == ():
            env[name] = float(rng.uniform(0.5, 1.5) if how == "pos" else rng.normal())
            continue
        r, c = shape
        if how == "spd":
            a = rng.normal(size=(r, r))
            env[name] = a @ a.T / r + np.eye(r)
        elif how == "near_I":
            env[name] = np.eye(r) + 0.3 * rng.normal(size=(r, r)) / np.sqrt(r)
        elif how == "pos":
            env[name] = rng.uniform(0.5, 1.5, size=shape)
        else:
            env[name] = rng.normal(size=shape)
    return env


def vec(a):
    return np.reshape(np.asarray(a, dtype=float), -1, order="F")


def bump(env, name, i, h):
    out = dict(env)
    if np.ndim(env[name]) == 0:
        out[name] = env[name] + h
    else:
        flat = vec(env[name]).copy()
        flat[i] += h
        out[name] = flat.reshape(np.shape(env[name]), order="F")
    return out


def size(env, name):
    return int(np.size(env[name]))


def fd_first(f, env, name, h=1e-6):
    """d vec f / d vec(name)ᵀ by central differences of the test's own f."""
    cols = []
    for i in range(size(env, name)):
        cols.append((vec(f(bump(env, name, i, h))) - vec(f(bump(env, name, i, -h)))) / (2 * h))
    return np.stack(cols, axis=1)


def fd_second(f, env, a, b, h=1e-3):
    """M[r, i, j] = ∂² vec(f)_r / ∂a_i ∂b_j by central second differences of f."""
    na, nb = size(env, a), size(env, b)
    out = np.zeros((vec(f(env)).size, na, nb))
    for i in range(na):
        for j in range(nb):
            val = 0
            for si, sj, w in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
                val = val + w * vec(f(bump(bump(env, a, i, si * h), b, j, sj * h)))
            out[:, i, j] = val / (4 * h * h)
    return out


def fd_derivative(f, env, kind, wrt: tuple, layout="numerator"):
    """The derivative of the test's own f by central differences, in the layout of `kind`
    (wrt: the variables differentiated in turn, e.g. ("x", "x") for a Hessian)."""
    fshape = np.shape(f(env))
    if len(wrt) == 1:
        J = fd_first(f, env, wrt[0])
        if kind == "gradient":
            return J[0].reshape(np.shape(env[wrt[0]]), order="F")
        if kind == "derivative":
            return J[:, 0].reshape(fshape, order="F")
        return J.T if layout == "denominator" else J      # jacobian; tensor in vec form
    M = fd_second(f, env, wrt[0], wrt[1])
    if kind == "derivative":                               # second derivative wrt a scalar
        return M[:, 0, 0].reshape(fshape, order="F")
    return M[0].T if layout == "denominator" else M[0]    # hessian, mixed; tensor in vec form


def expected(case, env):
    """(value, derivative) from the test's own NumPy f, in the layout of the result's kind."""
    f = case.f
    value = f(env)
    wrt = case.wrt if isinstance(case.wrt, tuple) else (case.wrt,) * case.order
    if case.product == "vjp":
        J = fd_first(f, env, wrt[0])
        v = env[case.extra]
        return float(vec(v) @ vec(value)), (vec(v) @ J).reshape(np.shape(env[wrt[0]]), order="F")
    if case.product == "jvp":
        J = fd_first(f, env, wrt[0])
        return value, (J @ vec(env[case.extra])).reshape(np.shape(value), order="F")
    if case.product == "hvp":
        H = fd_second(f, env, wrt[0], wrt[0])[0]
        return value, (H @ vec(env[case.extra])).reshape(np.shape(env[wrt[0]]), order="F")
    return value, fd_derivative(f, env, case.kind, wrt, case.layout)


def tensor_of(J, F: tuple, X: tuple):
    """The 3- or 4-index tensor T[i, j, k, l] = ∂F_ij/∂X_kl from its vec form J (column-major
    vec; the unit axis of a vector dropped) — how r.evaluate gives a tensor. F: the shape of
    the function differentiated last, X: the variable's shape."""
    full = np.reshape(J, tuple(F) + tuple(X), order="F")
    return full.reshape([d for d in full.shape if d != 1])


def case_tensor(case, env, J):
    wrt = case.wrt if isinstance(case.wrt, tuple) else (case.wrt,) * case.order
    F = np.shape(case.f(env)) if len(wrt) == 1 else np.shape(env[wrt[0]])
    return tensor_of(J, F, np.shape(env[wrt[-1]]))


# generated code --------------------------------------------------------------------------------

def result(case):
    shapes = case.shapes
    if case.product:
        fn = {"vjp": vjp, "jvp": jvp, "hvp": hvp}[case.product]
        return fn(case.expr, case.wrt, case.extra, shapes=shapes)
    return derive(case.expr, wrt=case.wrt, shapes=shapes, order=case.order, layout=case.layout)


def load(source: str):
    """Run generated source (matcalc's own output, never user text); its function."""
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)   # noqa: S102 - generated by matcalc
    return namespace[re.search(r"^def (\w+)\(", source, re.M).group(1)]


def to_backend(backend, a):
    a = np.asarray(a, dtype=float)
    if backend == "jax":
        import jax.numpy as jnp
        return jnp.asarray(a)
    if backend == "torch":
        import torch
        return torch.tensor(a, dtype=torch.float64)
    return a


def to_numpy(a):
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=float)


def call(fn, env, backend, sizes=None):
    """Call generated code with keyword arguments named like the variables (and, with
    `sizes`, the sizes no input carries: keyword-only parameters named like them)."""
    by_ident = {identifier(k): k for k in env}
    params = inspect.signature(fn).parameters
    if sizes is None:
        assert all(p.kind is not p.KEYWORD_ONLY for p in params.values()), "sizes readable"
    given = {p: sizes[p] for p, v in params.items() if v.kind is v.KEYWORD_ONLY}
    return fn(**{p: to_backend(backend, env[by_ident[p]]) for p in params if p not in given},
              **given)


def assert_same(got, want, what, rtol, atol):
    assert np.shape(got) == np.shape(want), f"{what}: shape {np.shape(got)} ≠ {np.shape(want)}"
    scale = max(1.0, float(np.max(np.abs(want))) if np.size(want) else 1.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale, err_msg=what)


@pytest.mark.parametrize("value", [True, False], ids=["value", "derivative-only"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ROWS)
def test_generated_code_matches_finite_differences(case, backend, value):
    r = result(case)
    assert r.kind == case.kind, f"kind {r.kind}, expected {case.kind}"
    fn = load(r.code(backend, value=value))
    env = draw(case.values, seed=zlib.crc32(case.id.encode()))
    want_value, want = expected(case, env)
    out = call(fn, env, backend)
    second = case.order == 2 or isinstance(case.wrt, tuple) or case.product == "hvp"
    tol = (1e-5, 1e-5) if second else (1e-6, 1e-7)
    if value:
        got_value, got = (to_numpy(o) for o in out)
        assert_same(got_value, np.asarray(want_value, dtype=float), "value", 1e-10, 1e-12)
    else:
        got = to_numpy(out)
    assert_same(got, want, "derivative vs finite differences", *tol)
    # the same numbers as r.evaluate, in its shape (a tensor rebuilt from the vec form here)
    ev = np.asarray(r.evaluate(env), dtype=float)
    mine = case_tensor(case, env, got) if r.kind == "tensor" else got
    assert_same(mine, ev, "derivative vs r.evaluate", 1e-9, 1e-11)


# property: generated code = r.evaluate on random expressions ------------------------------------

# vectors named like the sizes (m, n) and declared names that are prefixes of others
PROP_SHAPES = ("A: n×n, B: m×n, X: m×n, x: n, m: m, n: n, c: scalar, t: scalar, "
               "W1: m×n, W12: n×n")
P_ATOMS = ["A", "B", "X", "x", "m", "n", "c", "t", "W1", "W12", "2", "0.5", "I"]
P_UNARY = ["exp({})", "log({})", "tanh({})", "σ({})", "sum({})", "tr({})", "det({})",
           "logdet({})", "‖{}‖", "softmax({})", "logsumexp({})", "diag({})", "inv({})",
           "({})^T", "({})^2", "({}) .^ 2", "-({})", "sqrt({})", "mean({})", "sin({})",
           "softplus({})", "({})^-1"]
P_BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) .* ({})", "({}) ./ ({})",
            "({})/({})", "kron({}, {})", "({})({})"]
prop_expressions = st.recursive(
    st.sampled_from(P_ATOMS),
    lambda inner: st.one_of(
        st.builds(lambda f, a: f.format(a), st.sampled_from(P_UNARY), inner),
        st.builds(lambda f, a, b: f.format(a, b), st.sampled_from(P_BINARY), inner, inner)),
    max_leaves=5)
PROP_SIZES = {"m": 3, "n": 4}


def _prop_env(r, rng, sizes):
    """Values for every variable; a size the shapes do not name (the new vector of a vjp of
    I) gets a size of its own, added to `sizes`."""
    from matcalc.core.expr import names_in
    env = {}
    variables = {**names_in(r.function), **names_in(r.node), r.variable.name: r.variable}
    for name, node in variables.items():
        for d in node.shape:
            for s in d.free_symbols:
                sizes.setdefault(str(s), 5 + len(sizes))
        shape = tuple(int(d.subs(sizes)) for d in node.shape)
        if shape == (1, 1):
            env[name] = float(rng.uniform(0.5, 1.5))
        elif shape[0] == shape[1]:
            env[name] = np.eye(shape[0]) + 0.3 * rng.uniform(0, 1, size=shape) / shape[0]
        else:
            env[name] = rng.uniform(0.5, 1.5, size=shape)
    return env


@settings(deadline=None, suppress_health_check=list(HealthCheck))
@given(prop_expressions, st.sampled_from(["x", "A", "X", "c", "m"]), st.sampled_from([1, 1, 2]),
       st.sampled_from(BACKENDS), st.booleans(),
       st.sampled_from(["derive", "derive", "vjp", "jvp", "hvp", "mixed"]))
def test_generated_code_equals_evaluate_on_random_expressions(text, wrt, order, backend, value,
                                                              how):
    import matcalc
    from matcalc.numeric.evaluate import evaluate_tree
    try:
        if how == "derive":
            r = derive(text, wrt=wrt, shapes=PROP_SHAPES, order=order)
        elif how == "mixed":
            r = derive(text, wrt=(wrt, "x" if wrt != "x" else "A"), shapes=PROP_SHAPES)
        else:
            r = {"vjp": vjp, "jvp": jvp, "hvp": hvp}[how](text, wrt, "u", shapes=PROP_SHAPES)
    except matcalc.MatcalcError:
        event("refused by the engine (not counted)")
        assume(False)
    rng = np.random.default_rng(0)
    sizes = dict(PROP_SIZES)
    env = _prop_env(r, rng, sizes)
    with np.errstate(all="ignore"):
        try:
            want = np.asarray(r.evaluate(env, sizes=sizes), dtype=float)
            as_arrays = {k: np.reshape(v, (1, 1)) if np.ndim(v) == 0 else v
                         for k, v in env.items()}
            f = evaluate_tree(r.function, as_arrays, sizes)
        except matcalc.MatcalcError:
            want = f = np.array(np.nan)
    if not (np.all(np.isfinite(want)) and np.all(np.isfinite(f))):
        event("no finite value at the point (not counted)")
        assume(False)
    event(f"counted: {r.kind}")
    fn = load(r.code(backend, value=value))
    out = call(fn, env, backend, sizes=sizes)
    got = to_numpy(out[1] if value else out)
    if r.kind == "tensor":
        F = evaluate_tree(r.source, as_arrays, sizes).shape
        got = tensor_of(got, F, np.shape(env[r.variable.name]))
    assert got.shape == want.shape, (text, wrt, order, how, str(r), got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9 * scale,
                               err_msg=f"{how} {text} d/d{wrt} order {order}: {r}")
    if value:
        v = to_numpy(out[0])
        want_v = f.reshape(()) if f.shape == (1, 1) else f
        assert v.shape == want_v.shape
        np.testing.assert_allclose(v, want_v, rtol=1e-7, atol=1e-9 * max(1.0, np.abs(f).max()))

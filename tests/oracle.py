"""An oracle that shares nothing with matcalc: typed random expressions, each carried both as
text (for matcalc to parse and differentiate) and as a NumPy function written here, plus
central differences of that function laid out by the conventions of CONTRACT §3.

Nothing here imports matcalc. The expected derivative of an example comes from differences of
the ORIGINAL function evaluated by this module's NumPy code — never from matcalc's evaluator,
parser or symbolic derivative — so a misread input (`AAᵀ` taken as (AA)ᵀ), a wrong rule or a
wrong simplification all show up as a disagreement.

Sizes: n and m are distinct (n ∈ {2, 3}, m ∈ {n + 1, n + 2}), so a transposition cannot hide.
Square matrices are drawn near the identity, so inverses, determinants and log-determinants
exist; a point where a matrix the function inverts is ill-conditioned, or where the value is
not finite, is *unusable* and the caller reports and counts it (it is never a pass).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import strategies as st

SHAPES = ("A: n×n, B: n×n, X: m×n, x: n, y: n, z: m, c: scalar, t: scalar, "
          "S: n×n spd, P: n×n symmetric, D: n×n diagonal, B_1: n×n, y_12: n")
VARIABLES = {"A": "NN", "B": "NN", "X": "MN", "x": "N", "y": "N", "z": "M", "c": "S",
             "t": "S", "S": "NN", "P": "NN", "D": "NN", "B_1": "NN", "y_12": "N"}
STRUCTURED = ("S", "P", "D")
COND_LIMIT = 1e4


class Unusable(Exception):
    """The function is undefined or ill-conditioned at this point."""


# Values -----------------------------------------------------------------------------------------

def draw_sizes(rng) -> dict:
    n = int(rng.integers(2, 4))
    return {"n": n, "m": n + int(rng.integers(1, 3))}


def draw_values(rng, sizes) -> dict:
    """A point: square matrices near I, S spd, P symmetric, D diagonal (inside the declared
    structure; derivatives still treat every entry as independent)."""
    n, m = sizes["n"], sizes["m"]

    def near_identity():
        return np.eye(n) + 0.35 * rng.normal(size=(n, n)) / np.sqrt(n)
    g = rng.normal(size=(n, n))
    p = near_identity()
    return {
        "A": near_identity(), "B": near_identity(), "B_1": near_identity(),
        "y_12": 0.6 * rng.normal(size=(n, 1)),
        "S": g @ g.T / n + 0.5 * np.eye(n), "P": (p + p.T) / 2,
        "D": np.diag(rng.uniform(0.5, 1.5, size=n)),
        "X": 0.6 * rng.normal(size=(m, n)),
        "x": 0.6 * rng.normal(size=(n, 1)), "y": 0.6 * rng.normal(size=(n, 1)),
        "z": 0.6 * rng.normal(size=(m, 1)),
        "c": rng.uniform(-0.8, 0.8, size=(1, 1)), "t": rng.uniform(-0.8, 0.8, size=(1, 1)),
    }


# NumPy operations (every value a 2-D array) -------------------------------------------------------

def _regular(a):
    if a.shape[0] != a.shape[1]:
        raise AssertionError(f"oracle bug: square matrix expected, got {a.shape}")
    if not np.all(np.isfinite(a)) or np.linalg.cond(a) > COND_LIMIT:
        raise Unusable("ill-conditioned")
    return a


def inv(a):
    return np.linalg.inv(_regular(a))


def det(a):
    return np.array([[np.linalg.det(_regular(a))]])


def logdet(a):
    sign, val = np.linalg.slogdet(_regular(a))
    if sign <= 0:
        raise Unusable("det ≤ 0")
    return np.array([[val]])


def mpow(a, k):
    if k < 0:
        a = inv(a)
        k = -k
    out = np.eye(a.shape[0])
    for _ in range(k):
        out = out @ a
    return out


def mul(a, b):
    if a.shape == (1, 1):
        return a[0, 0] * b
    if b.shape == (1, 1):
        return a * b[0, 0]
    return a @ b


def scalar(v):
    return np.array([[float(v)]])


def softmax(v):
    e = np.exp(v - v.max())
    return e / e.sum()


def logsumexp(v):
    mx = v.max()
    return scalar(mx + np.log(np.exp(v - mx).sum()))


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


# Terms: text + NumPy function + shape -------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    text: str
    fn: Callable
    shape: str                 # S, N, M, NN, MN, NM, MM, or K (a Kronecker product's shape)
    names: frozenset

    def __call__(self, env):
        return self.fn(env)


def var(name):
    return Term(name, lambda env: env[name], VARIABLES[name], frozenset([name]))


def const(text, value):
    return Term(text, lambda env: scalar(value), "S", frozenset())


def op(template, shape, f, *kids):
    text = template.format(*[k.text for k in kids])
    fns = [k.fn for k in kids]
    names = frozenset().union(*[k.names for k in kids]) if kids else frozenset()
    return Term(text, lambda env: f(*[g(env) for g in fns]), shape, names)


TRANSPOSE = ["({})^T", "({})ᵀ", "({})'", "({})^⊤"]
INVERSE = ["inv({})", "({})^-1", "({})⁻¹", "({})^{{-1}}"]
PRODUCT = ["({})({})", "({}) * ({})", "({}) ({})"]
HADAMARD = ["({}) .* ({})", "({}) ⊙ ({})"]


# The generator ------------------------------------------------------------------------------------
# Each shape has leaves and productions; a production is (child shapes, builder(draw, kids)).

def _leaves(shape):
    # B_1 and y_12: names with a subscript, printed apart from a following factor (B_1 P)
    return {"S": ["c", "t"], "N": ["x", "y", "y_12"], "M": ["z"],
            "NN": ["A", "B", "S", "P", "D", "B_1"], "MN": ["X"], "NM": [], "MM": [],
            "R": ["A", "B", "S", "P", "D", "B_1"]}[shape]


def _pick(draw, options):
    return draw(st.sampled_from(options))


def _productions():
    P = {k: [] for k in ("S", "N", "M", "NN", "MN", "NM", "MM", "R")}

    def add(shape, kids, build):
        P[shape].append((kids, build))

    # scalars
    add("S", ["NN"], lambda d, a: op("tr({})", "S", lambda v: scalar(np.trace(v)), a))
    add("S", ["MM"], lambda d, a: op("tr({})", "S", lambda v: scalar(np.trace(v)), a))
    add("S", ["R"], lambda d, a: op("det({})", "S", det, a))
    add("S", ["R"], lambda d, a: op("logdet({})", "S", logdet, a))
    add("S", ["R"], lambda d, a: op("tr(" + _pick(d, INVERSE) + ")", "S",
                                    lambda v: scalar(np.trace(inv(v))), a))
    add("S", ["R"], lambda d, a: op("tr(({})^-2)", "S",
                                    lambda v: scalar(np.trace(mpow(v, -2))), a))
    add("S", ["N"], lambda d, a: op("sum({})", "S", lambda v: scalar(v.sum()), a))
    add("S", ["MN"], lambda d, a: op("sum({})", "S", lambda v: scalar(v.sum()), a))
    add("S", ["NN"], lambda d, a: op("mean({})", "S", lambda v: scalar(v.mean()), a))
    add("S", ["N", "N"], lambda d, a, b: op("(" + _pick(d, TRANSPOSE).format("{}") + ")({})",
                                            "S", lambda u, v: u.T @ v, a, b))
    add("S", ["N", "N"], lambda d, a, b: op("({})·({})", "S", lambda u, v: u.T @ v, a, b))
    add("S", ["N", "NN", "N"], lambda d, a, b, c: op("({})^T ({}) ({})", "S",
                                                     lambda u, M, v: u.T @ M @ v, a, b, c))
    add("S", ["M", "MN", "N"], lambda d, a, b, c: op("({})ᵀ({})({})", "S",
                                                     lambda u, M, v: u.T @ M @ v, a, b, c))
    add("S", ["N"], lambda d, a: op("‖{}‖^2", "S", lambda v: scalar((v ** 2).sum()), a))
    add("S", ["MN"], lambda d, a: op("‖{}‖_F^2", "S", lambda v: scalar((v ** 2).sum()), a))
    add("S", ["N"], lambda d, a: op("logsumexp({})", "S", logsumexp, a))
    add("S", ["S", "S"], lambda d, a, b: op("({}) + ({})", "S", np.add, a, b))
    add("S", ["S", "S"], lambda d, a, b: op("({}) - ({})", "S", np.subtract, a, b))
    add("S", ["S", "S"], lambda d, a, b: op("({}) * ({})", "S", np.multiply, a, b))
    add("S", ["S", "S"], lambda d, a, b: op("({}) / (1 + ({})^2)", "S",
                                            lambda u, v: u / (1 + v ** 2), a, b))
    add("S", ["S"], lambda d, a: op("tanh({})", "S", np.tanh, a))
    add("S", ["S"], lambda d, a: op("sin({})", "S", np.sin, a))
    add("S", ["S"], lambda d, a: op("σ({})", "S", sigmoid, a))
    add("S", ["S"], lambda d, a: op("exp(tanh({}))", "S", lambda v: np.exp(np.tanh(v)), a))
    add("S", ["S"], lambda d, a: op("log(1 + ({})^2)", "S", lambda v: np.log(1 + v ** 2), a))
    add("S", ["S"], lambda d, a: op("({})^3", "S", lambda v: v ** 3, a))
    add("S", ["S"], lambda d, a: op("sqrt(1 + ({})^2)", "S", lambda v: np.sqrt(1 + v ** 2), a))
    add("S", ["R", "R"], lambda d, a, b: op("tr(kron({}, {}))", "S",
                                            lambda u, v: scalar(np.trace(np.kron(u, v))), a, b))
    add("S", ["R", "R"], lambda d, a, b: op("logdet(kron({}, {}))", "S",
                                            lambda u, v: logdet(np.kron(u, v)), a, b))
    add("S", ["N", "M"], lambda d, a, b: op("sum(kron({}, {}))", "S",
                                            lambda u, v: scalar(np.kron(u, v).sum()), a, b))
    add("S", ["S", "R"], lambda d, a, b: op("tr(inv(I + 0.3 ({}) ({})))", "S",
                                            lambda s, M: scalar(np.trace(
                                                inv(np.eye(M.shape[0]) + 0.3 * s * M))), a, b))
    # regular square matrices (near I): safe under inv, det, logdet and negative powers
    add("R", ["R", "R"], lambda d, a, b: op(_pick(d, PRODUCT), "R", mul, a, b))
    add("R", ["R"], lambda d, a: op(_pick(d, TRANSPOSE), "R", lambda v: v.T, a))
    add("R", ["R"], lambda d, a: op(_pick(d, INVERSE), "R", inv, a))
    add("R", ["R"], lambda d, a: op("({})^2", "R", lambda v: mpow(v, 2), a))
    add("R", ["R"], lambda d, a: op("({})²", "R", lambda v: mpow(v, 2), a))
    add("R", ["R"], lambda d, a: op("({})^-2", "R", lambda v: mpow(v, -2), a))
    add("R", ["R", "R"], lambda d, a, b: op("0.5(({}) + ({}))", "R",
                                            lambda u, v: 0.5 * (u + v), a, b))
    add("R", ["MN"], lambda d, a: op("I + ({})^T ({})".replace("({})", "({0})"), "R",
                                     lambda v: np.eye(v.shape[1]) + v.T @ v, a))
    add("R", ["N"], lambda d, a: op("I + ({0})({0})ᵀ", "R",
                                    lambda v: np.eye(v.shape[0]) + v @ v.T, a))
    add("R", ["S", "R"], lambda d, a, b: op("(1 + ({})^2) ({})", "R",
                                            lambda s, M: (1 + s ** 2) * M, a, b))
    add("R", ["MN"], lambda d, a: op("({0})^T ({0})", "R", lambda v: v.T @ v, a))
    # square n×n
    for kid in (["R"],):
        add("NN", kid, lambda d, a: Term(a.text, a.fn, "NN", a.names))
    add("NN", ["NN", "NN"], lambda d, a, b: op("({}) + ({})", "NN", np.add, a, b))
    add("NN", ["NN", "NN"], lambda d, a, b: op("({}) - ({})", "NN", np.subtract, a, b))
    add("NN", ["NN", "NN"], lambda d, a, b: op(_pick(d, PRODUCT), "NN", mul, a, b))
    add("NN", ["NN"], lambda d, a: op(_pick(d, TRANSPOSE), "NN", lambda v: v.T, a))
    add("NN", ["N", "N"], lambda d, a, b: op("({})({})ᵀ", "NN", lambda u, v: u @ v.T, a, b))
    add("NN", ["N"], lambda d, a: op("diag({})", "NN", lambda v: np.diag(v[:, 0]), a))
    add("NN", ["NN", "NN"], lambda d, a, b: op(_pick(d, HADAMARD), "NN", np.multiply, a, b))
    add("NN", ["NN"], lambda d, a: op("tanh({})", "NN", np.tanh, a))
    add("NN", ["S", "NN"], lambda d, a, b: op("({}) ({})", "NN", mul, a, b))
    add("NN", ["NM", "MN"], lambda d, a, b: op(_pick(d, PRODUCT), "NN", mul, a, b))
    add("NN", ["R", "NN"], lambda d, a, b: op("det({}) ({})", "NN",
                                              lambda M, N: det(M) * N, a, b))
    # vectors
    add("N", ["NN", "N"], lambda d, a, b: op(_pick(d, PRODUCT), "N", mul, a, b))
    add("N", ["MN", "M"], lambda d, a, b: op("({})ᵀ ({})", "N", lambda M, v: M.T @ v, a, b))
    add("N", ["N", "N"], lambda d, a, b: op("({}) + ({})", "N", np.add, a, b))
    add("N", ["N", "N"], lambda d, a, b: op("({}) - ({})", "N", np.subtract, a, b))
    add("N", ["S", "N"], lambda d, a, b: op("({}) ({})", "N", mul, a, b))
    add("N", ["N", "N"], lambda d, a, b: op(_pick(d, HADAMARD), "N", np.multiply, a, b))
    add("N", ["N"], lambda d, a: op("tanh({})", "N", np.tanh, a))
    add("N", ["N"], lambda d, a: op("σ({})", "N", sigmoid, a))
    add("N", ["N"], lambda d, a: op("softmax({})", "N", softmax, a))
    add("N", ["NN"], lambda d, a: op("diag({})", "N", lambda M: np.diag(M).reshape(-1, 1), a))
    add("N", ["R", "N"], lambda d, a, b: op(_pick(d, INVERSE) + " ({})", "N",
                                            lambda M, v: inv(M) @ v, a, b))
    add("N", ["N"], lambda d, a: op("({}) .^ 2", "N", lambda v: v ** 2, a))
    add("N", ["N", "N"], lambda d, a, b: op("({}) ./ (1 + ({}) .^ 2)", "N",
                                            lambda u, v: u / (1 + v ** 2), a, b))
    add("M", ["MN", "N"], lambda d, a, b: op(_pick(d, PRODUCT), "M", mul, a, b))
    add("M", ["M", "M"], lambda d, a, b: op("({}) + ({})", "M", np.add, a, b))
    add("M", ["M"], lambda d, a: op("tanh({})", "M", np.tanh, a))
    add("M", ["S", "M"], lambda d, a, b: op("({}) ({})", "M", mul, a, b))
    add("M", ["MM", "M"], lambda d, a, b: op(_pick(d, PRODUCT), "M", mul, a, b))
    # m×n, n×m, m×m
    add("MN", ["MN", "NN"], lambda d, a, b: op(_pick(d, PRODUCT), "MN", mul, a, b))
    add("MN", ["MM", "MN"], lambda d, a, b: op(_pick(d, PRODUCT), "MN", mul, a, b))
    add("MN", ["M", "N"], lambda d, a, b: op("({})({})^T", "MN", lambda u, v: u @ v.T, a, b))
    add("MN", ["S", "MN"], lambda d, a, b: op("({}) ({})", "MN", mul, a, b))
    add("MN", ["MN", "MN"], lambda d, a, b: op("({}) + ({})", "MN", np.add, a, b))
    add("MN", ["MN"], lambda d, a: op("tanh({})", "MN", np.tanh, a))
    add("MN", ["MN", "MN"], lambda d, a, b: op(_pick(d, HADAMARD), "MN", np.multiply, a, b))
    add("MN", ["NM"], lambda d, a: op(_pick(d, TRANSPOSE), "MN", lambda v: v.T, a))
    add("NM", ["MN"], lambda d, a: op(_pick(d, TRANSPOSE), "NM", lambda v: v.T, a))
    add("NM", ["NN", "NM"], lambda d, a, b: op(_pick(d, PRODUCT), "NM", mul, a, b))
    add("NM", ["N", "M"], lambda d, a, b: op("({})({})ᵀ", "NM", lambda u, v: u @ v.T, a, b))
    add("MM", ["MN", "NM"], lambda d, a, b: op(_pick(d, PRODUCT), "MM", mul, a, b))
    add("MM", ["M", "M"], lambda d, a, b: op("({})({})^T", "MM", lambda u, v: u @ v.T, a, b))
    add("MM", ["MM", "MM"], lambda d, a, b: op("({}) + ({})", "MM", np.add, a, b))
    return P


PRODUCTIONS = _productions()


@st.composite
def terms(draw, shape: str, budget: int = 4):
    """A random Term of the given shape class with at most about `budget` operations."""
    leaves = _leaves(shape)
    if leaves and (budget <= 0 or draw(st.integers(0, 5)) == 0):
        return var(_pick(draw, leaves))
    options = PRODUCTIONS[shape]
    if budget <= 0:                  # no leaves of its own: one step to shapes that have some
        options = [p for p in options if all(_leaves(k) for k in p[0])]
    kids, build = draw(st.sampled_from(options))
    share = max(0, (budget - 1) // len(kids))
    return build(draw, *[draw(terms(k, share)) for k in kids])


# Tensor-kind functions: matrix-valued functions whose derivative wrt a matrix (or of a matrix
# wrt a vector) is a 3- or 4-index tensor; Kronecker products and transposes give commutation
# matrices in the vec form.
@st.composite
def tensor_functions(draw, budget: int = 3):
    choice = draw(st.integers(0, 8))
    if choice == 0:
        a, b = draw(terms("NN", budget)), draw(terms("NN", budget))
        return op("kron({}, {})", "K", np.kron, a, b)
    if choice == 1:
        a, b = draw(terms("MN", budget)), draw(terms("NN", budget))
        return op("kron({}, {})", "K", np.kron, a, b)
    if choice == 2:
        a, b = draw(terms("N", budget)), draw(terms("MN", budget))
        return op("kron({}, {})", "K", np.kron, a, b)
    if choice == 3:
        a = draw(terms("MN", budget))
        return op(_pick(draw, TRANSPOSE), "NM", lambda v: v.T, a)
    if choice == 4:
        a = draw(terms("R", budget))
        return op(_pick(draw, INVERSE), "NN", inv, a)
    if choice == 5:
        a, b = draw(terms("R", budget)), draw(terms("MN", budget))
        return op("det({}) ({})", "MN", lambda M, N: det(M) * N, a, b)
    if choice == 6:
        a = draw(terms("MN", budget))
        return op("({0}) ({0})ᵀ", "MM", lambda v: v @ v.T, a)
    if choice == 7:
        a, b = draw(terms("M", budget)), draw(terms("N", budget))
        return op("kron(({}), ({})ᵀ)", "K", lambda u, v: np.kron(u, v.T), a, b)
    return draw(terms(_pick(draw, ["NN", "MN", "MM", "NM"]), budget))


# Central differences and CONTRACT §3 layout ------------------------------------------------------

STEP = {1: 1e-3, 2: 2e-3, 3: 5e-3}


def differences(fn, env, name, order, scale=1.0):
    """T[i, j, k, l] = ∂F_ij/∂X_kl at env by the fourth-order central stencil (steps times
    `scale`)."""
    x0 = env[name]
    f0 = fn(env)
    table = np.zeros(f0.shape + x0.shape)
    for idx in np.ndindex(*x0.shape):
        h = scale * STEP.get(order, 1e-2) * max(1.0, abs(float(x0[idx])))
        acc = 0.0
        for a, w in ((1.0, 8.0 / 12.0), (2.0, -1.0 / 12.0)):
            xp, xm = x0.copy(), x0.copy()
            xp[idx] += a * h
            xm[idx] -= a * h
            acc = acc + w * (fn({**env, name: xp}) - fn({**env, name: xm})) / h
        table[(slice(None), slice(None)) + idx] = acc
    return table


def kind_of(f_shape, x_shape):
    """CONTRACT §3's kind of ∂F/∂X from the shapes (every named size is ≥ 2, so a size of 1
    is a 1 in the symbolic shape too)."""
    f_scalar, x_scalar = tuple(f_shape) == (1, 1), tuple(x_shape) == (1, 1)
    if f_scalar:
        return "derivative" if x_scalar else "gradient"
    if x_scalar:
        return "derivative"
    if 1 in f_shape and 1 in x_shape:
        return "jacobian"
    return "tensor"


def lay_out(table, kind):
    """Numerator layout: gradient shaped like X; derivative wrt a scalar shaped like F;
    Jacobian (F entries) × (X entries); tensor T[i, j, k, l] = ∂F_ij/∂X_kl with the index of
    length one of a vector dropped."""
    fr, fc, xr, xc = table.shape
    if kind == "gradient":
        return table[0, 0]
    if kind == "derivative":
        return table[:, :, 0, 0]
    if kind == "jacobian":
        return table.reshape(fr * fc, xr * xc)
    keep = [a for a in range(4) if table.shape[a] != 1]
    return table.reshape([table.shape[a] for a in keep])


def expected_derivative(fn, env, wrts, layout="numerator", scale=1.0):
    """(kind, array): the derivative ∂/∂wrts[-1] … ∂/∂wrts[0] of fn at env, by nested central
    differences of fn (the ORIGINAL function), laid out as CONTRACT §3 says."""
    order = len(wrts)
    f_shape = fn(env).shape
    g, shape, kind = fn, f_shape, None
    for k, name in enumerate(wrts):
        if kind == "tensor":
            raise Unusable("more than four indices")
        kind = kind_of(shape, env[name].shape)

        def nxt(env, g=g, name=name, kind=kind):
            return lay_out(differences(g, env, name, order, scale), kind)
        shape = _laid_out_shape(shape, env[name].shape, kind)
        g = nxt
    value = g(env)
    if order >= 2 and kind == "jacobian" and f_shape == (1, 1):
        kind = "hessian" if len(set(wrts)) == 1 else "mixed"
    if layout == "denominator":
        if kind in ("jacobian", "hessian", "mixed") or (
                kind == "derivative" and value.shape[1] == 1 and value.shape != (1, 1)):
            value = value.T
    return kind, value


def _laid_out_shape(f_shape, x_shape, kind):
    if kind == "gradient":
        return x_shape
    if kind == "derivative":
        return f_shape
    if kind == "jacobian":
        return (f_shape[0] * f_shape[1], x_shape[0] * x_shape[1])
    return None


def expected_with_error(fn, env, wrts, layout="numerator"):
    """(kind, array, slack): the differences at steps h and 2h; their gap estimates truncation
    and rounding error and is added to the tolerance. Unusable when it is over 1% of the
    derivative (a function too steep or too large for differences at this point)."""
    kind, fine = expected_derivative(fn, env, wrts, layout)
    _, coarse = expected_derivative(fn, env, wrts, layout, scale=2.0)
    if not (np.all(np.isfinite(fine)) and np.all(np.isfinite(coarse))):
        raise Unusable("not finite")
    slack = np.abs(fine - coarse)
    if np.max(slack, initial=0) > 1e-2 * max(1.0, float(np.max(np.abs(fine), initial=0))):
        raise Unusable("differences not accurate here")
    return kind, fine, slack


def tolerance(order, expected, f_scale):
    """Truncation and rounding of the nested stencils, with room to spare."""
    rel = {1: 1e-6, 2: 2e-5}.get(order, 1e-3)
    rounding = 200 * np.finfo(float).eps * f_scale / (STEP.get(order, 1e-2) ** order)
    return rel * max(1.0, float(np.max(np.abs(expected), initial=0))) + rounding


def assert_matches(got, expected, order, f_scale, label, slack=0.0):
    """Shapes equal (no squeezing, no broadcasting), then values within the tolerance (plus
    `slack`, the estimated error of the differences)."""
    if isinstance(got, float):
        assert expected.shape == (1, 1), f"{label}: got a scalar, expected shape {expected.shape}"
        got = np.array([[got]])
    got = np.asarray(got)
    assert got.shape == expected.shape, f"{label}: shape {got.shape}, expected {expected.shape}"
    err = np.abs(got - expected)
    tol = tolerance(order, expected, f_scale) + slack
    if not np.all(err <= tol):
        i = tuple(int(v) for v in np.argwhere(~(err <= tol))[0])
        bound = tol[i] if np.ndim(tol) else tol
        raise AssertionError(f"{label}: at index {i} matcalc gives {got[i]:.10g}, central "
                             f"differences of the function give {expected[i]:.10g} "
                             f"(tolerance {bound:.2g})")


# Juxtaposed spellings: runs of single letters with postfix operators (`AAᵀ`, `xxᵀ`, `cS⁻¹x`),
# each postfix applying to the one factor directly to its left (CONTRACT §1).

JUXT_FACTORS = {"A": ("n", "n"), "B": ("n", "n"), "S": ("n", "n"), "x": ("n", "1"),
                "y": ("n", "1"), "X": ("m", "n"), "z": ("m", "1"),
                "(x − y)": ("n", "1"), "(A + B)": ("n", "n")}
JUXT_POSTFIX = {"": lambda v: v, "ᵀ": lambda v: v.T, "'": lambda v: v.T,
                "^T": lambda v: v.T, "⁻¹": inv, "^-1": inv, "²": lambda v: mpow(v, 2)}


def _juxt_value(name, env):
    if name == "(x − y)":
        return env["x"] - env["y"]
    if name == "(A + B)":
        return env["A"] + env["B"]
    return env[name]


@st.composite
def juxtaposed(draw):
    """(juxtaposed text, the same product spelled with explicit * and brackets, Term)."""
    chain = []                                    # (factor, postfix)
    rows, cols = None, None
    length = draw(st.integers(2, 4))
    scale = draw(st.booleans())
    for _ in range(length):
        options = []
        for f, (r, c) in JUXT_FACTORS.items():
            for post in JUXT_POSTFIX:
                if post in ("⁻¹", "^-1", "²") and r != c:
                    continue
                fr, fc = (c, r) if post in ("ᵀ", "'", "^T") else (r, c)
                if cols is None or fr == cols:
                    options.append((f, post, fr, fc))
        if not options:
            break
        f, post, fr, fc = draw(st.sampled_from(options))
        if chain and chain[-1][0] == f and post == "" and chain[-1][1] == "":
            post = "ᵀ" if JUXT_FACTORS[f][0] != JUXT_FACTORS[f][1] or f in ("A", "B") else ""
            fr, fc = (JUXT_FACTORS[f][1], JUXT_FACTORS[f][0]) if post else (fr, fc)
            if cols is not None and fr != cols:
                break
        chain.append((f, post))
        rows = fr if rows is None else rows
        cols = fc
    if len(chain) < 2:
        chain.append(("A", "ᵀ") if cols == "n" else ("z", "ᵀ"))
        cols = "n" if cols == "n" else "1"
    text = "c" if scale else ""
    for f, p in chain:       # a run of two letters right before `(` would be a function name
        if f.startswith("(") and len(text) >= 2 and text[-1].isalpha() and text[-2].isalpha():
            text += " "
        text += f + p
    explicit = " * ".join((["c"] if scale else []) +
                          [f"({f}){p}" if p else f"({f})" for f, p in chain])

    def fn(env, chain=tuple(chain), scale=scale):
        out = None
        for f, p in chain:
            v = JUXT_POSTFIX[p](_juxt_value(f, env))
            out = v if out is None else out @ v
        return env["c"][0, 0] * out if scale else out
    names = frozenset(ch for f, _ in chain for ch in f if ch in VARIABLES) | (
        {"c"} if scale else set())
    if (rows, cols) == ("1", "1"):
        return text, explicit, Term(text, fn, "S", names)
    if rows == cols and draw(st.booleans()):
        return (f"tr({text})", f"tr({explicit})",
                Term(f"tr({text})", lambda env: scalar(np.trace(fn(env))), "S", names))
    if draw(st.booleans()):
        return (f"sum({text})", f"sum({explicit})",
                Term(f"sum({text})", lambda env: scalar(fn(env).sum()), "S", names))
    return text, explicit, Term(text, fn, rows + cols, names)

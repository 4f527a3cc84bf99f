"""Gradients with respect to structured matrices (docs/structured.md): every convention of every
row against a closed form written here in NumPy from the literature (Srinivasan & Panda 2023;
the Matrix Cookbook §2.8; Magnus & Neudecker's duplication matrix; Absil, Mahony & Sepulchre's
Riemannian gradient), and against central differences of the ORIGINAL function (this file's own
NumPy code) along directions inside the structure. Every dimension name has its own size.

The unconstrained gradient G of each row is written by hand; the conventions are then the
textbook maps of G: sym(G) and G + Gᵀ − G∘I (symmetric), G∘I (diagonal), skew(G) and G − Gᵀ
(skew), G − X sym(XᵀG) (Stiefel / orthogonal group). Rows from the Cookbook §2.8 also carry the
Cookbook's own formula for the entries convention, written out.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import matcalc
from matcalc import derive

from test_roundtrip import assert_result_reads_back

CONVENTIONS = ("unconstrained", "structured", "entries")
SIZES = {"n": 4, "p": 3, "k": 5}          # a different size for every dimension name
inv = np.linalg.inv


# Values inside each structure --------------------------------------------------------------

def draw(structure, shape, rng):
    n = shape[0]
    if structure == "spd":
        a = rng.normal(size=(n, n))
        return a @ a.T / n + np.eye(n)
    if structure == "symmetric":
        a = rng.normal(size=(n, n)) * 0.3
        return (a + a.T) / 2 + np.eye(n)
    if structure == "diagonal":
        return np.diag(rng.uniform(0.5, 1.5, size=n))
    if structure == "skew":
        a = rng.normal(size=(n, n))
        return (a - a.T) / 2
    if structure == "orthogonal":
        q, r = np.linalg.qr(rng.normal(size=shape))
        return q * np.sign(np.diag(r))
    if structure in ("lower", "upper"):
        a = np.eye(n) + 0.3 * rng.normal(size=(n, n))
        return np.tril(a) if structure == "lower" else np.triu(a)
    return rng.normal(size=shape)


def sym(a):
    return (a + a.T) / 2


# The conventions as the literature writes them, from a hand-written G ----------------------

def by_hand(structure, G, X):
    """{convention: closed form} for a variable of this structure whose unconstrained
    gradient is G (None: the convention does not exist)."""
    I = np.eye(G.shape[0])
    if structure in ("symmetric", "spd"):
        return {"unconstrained": G, "structured": sym(G), "entries": G + G.T - G * I}
    if structure == "diagonal":
        return {"unconstrained": G, "structured": G * I, "entries": G * I}
    if structure == "skew":
        return {"unconstrained": G, "structured": (G - G.T) / 2, "entries": G - G.T}
    if structure in ("lower", "upper"):
        T = np.tril(G) if structure == "lower" else np.triu(G)
        return {"unconstrained": G, "structured": T, "entries": T}
    return {"unconstrained": G, "structured": G - X @ sym(X.T @ G), "entries": None}


# The table ----------------------------------------------------------------------------------
# (id, expr, shapes, structure of X, shapes of the other values, f(v), G(v)[, entries(v)])

def _r(v):
    return v["x"] - v["μ"]


CASES = [
    # symmetric / spd: the Cookbook §2.8 rows carry the Cookbook's entries formula too
    ("cookbook-2.8-logdet", "logdet(X)", "X: n×n spd", "spd", {},
     lambda v: np.linalg.slogdet(v["X"])[1], lambda v: inv(v["X"]).T,
     lambda v: 2 * inv(v["X"]) - inv(v["X"]) * np.eye(len(v["X"]))),
    ("cookbook-2.8-det", "det(X)", "X: n×n symmetric", "symmetric", {},
     lambda v: np.linalg.det(v["X"]), lambda v: np.linalg.det(v["X"]) * inv(v["X"]).T,
     lambda v: np.linalg.det(v["X"]) * (2 * inv(v["X"]) - inv(v["X"]) * np.eye(len(v["X"])))),
    ("cookbook-2.8-trAX", "tr(A X)", "X: n×n symmetric, A: n×n", "symmetric", {"A": "nn"},
     lambda v: np.trace(v["A"] @ v["X"]), lambda v: v["A"].T,
     lambda v: v["A"] + v["A"].T - v["A"] * np.eye(len(v["A"]))),
    ("trAXB", "tr(A X B)", "X: n×n symmetric, A: k×n, B: n×k", "symmetric",
     {"A": "kn", "B": "nk"}, lambda v: np.trace(v["A"] @ v["X"] @ v["B"]),
     lambda v: v["A"].T @ v["B"].T),
    ("quadratic-xXx", "x^T X x", "X: n×n symmetric, x: n", "symmetric", {"x": "n1"},
     lambda v: (v["x"].T @ v["X"] @ v["x"]).item(), lambda v: v["x"] @ v["x"].T),
    ("bilinear-aXb", "a^T X b", "X: n×n symmetric, a: n, b: n", "symmetric",
     {"a": "n1", "b": "n1"}, lambda v: (v["a"].T @ v["X"] @ v["b"]).item(),
     lambda v: v["a"] @ v["b"].T),
    ("frobenius-X-A", "‖X − A‖_F^2", "X: n×n symmetric, A: n×n", "symmetric", {"A": "nn"},
     lambda v: np.sum((v["X"] - v["A"]) ** 2), lambda v: 2 * (v["X"] - v["A"])),
    ("trace-inverse", "tr(X^-1 A)", "X: n×n spd, A: n×n", "spd", {"A": "nn"},
     lambda v: np.trace(inv(v["X"]) @ v["A"]),
     lambda v: -(inv(v["X"]) @ v["A"] @ inv(v["X"])).T),
    ("gaussian-nll-covariance", "logdet(Σ)/2 + (x − μ)^T Σ^-1 (x − μ)/2",
     "Σ: n×n spd, x: n, μ: n", "spd", {"x": "n1", "μ": "n1"},
     lambda v: np.linalg.slogdet(v["Σ"])[1] / 2 + (_r(v).T @ inv(v["Σ"]) @ _r(v)).item() / 2,
     lambda v: inv(v["Σ"]) / 2 - inv(v["Σ"]) @ _r(v) @ _r(v).T @ inv(v["Σ"]) / 2),
    ("gaussian-nll-precision", "−logdet(Λ)/2 + (x − μ)^T Λ (x − μ)/2",
     "Λ: n×n spd, x: n, μ: n", "spd", {"x": "n1", "μ": "n1"},
     lambda v: -np.linalg.slogdet(v["Λ"])[1] / 2 + (_r(v).T @ v["Λ"] @ _r(v)).item() / 2,
     lambda v: -inv(v["Λ"]) / 2 + _r(v) @ _r(v).T / 2),
    ("gaussian-nll-scatter", "c*logdet(Σ)/2 + tr(Σ^-1 S)/2", "Σ: n×n spd, S: n×n spd, c: scalar",
     "spd", {"S": "spd", "c": "11"},
     lambda v: v["c"].item() * np.linalg.slogdet(v["Σ"])[1] / 2 + np.trace(inv(v["Σ"]) @ v["S"]) / 2,
     lambda v: v["c"].item() * inv(v["Σ"]) / 2 - inv(v["Σ"]) @ v["S"] @ inv(v["Σ"]) / 2),
    ("trace-square", "tr(X X)", "X: n×n symmetric", "symmetric", {},
     lambda v: np.trace(v["X"] @ v["X"]), lambda v: 2 * v["X"].T),
    ("trXAX", "tr(X A X)", "X: n×n symmetric, A: n×n", "symmetric", {"A": "nn"},
     lambda v: np.trace(v["X"] @ v["A"] @ v["X"]),
     lambda v: (v["A"] @ v["X"] + v["X"] @ v["A"]).T),
    ("trXtAX-square", "tr(X^T A X)", "X: n×n symmetric, A: n×n", "symmetric", {"A": "nn"},
     lambda v: np.trace(v["X"].T @ v["A"] @ v["X"]), lambda v: (v["A"] + v["A"].T) @ v["X"]),
    ("inverse-quadratic", "x^T X^-1 x", "X: n×n spd, x: n", "spd", {"x": "n1"},
     lambda v: (v["x"].T @ inv(v["X"]) @ v["x"]).item(),
     lambda v: -(inv(v["X"]) @ v["x"] @ v["x"].T @ inv(v["X"])).T),
    ("sum-entries", "sum(X)", "X: n×n symmetric", "symmetric", {},
     lambda v: np.sum(v["X"]), lambda v: np.ones_like(v["X"])),
    ("trace", "tr(X)", "X: n×n symmetric", "symmetric", {},
     lambda v: np.trace(v["X"]), lambda v: np.eye(len(v["X"]))),
    ("logdet-plus-trace", "logdet(X) − tr(S X)", "X: n×n spd, S: n×n symmetric", "spd",
     {"S": "symmetric"}, lambda v: np.linalg.slogdet(v["X"])[1] - np.trace(v["S"] @ v["X"]),
     lambda v: inv(v["X"]).T - v["S"].T),
    # diagonal
    ("diagonal-logdet", "logdet(X)", "X: n×n diagonal", "diagonal", {},
     lambda v: np.linalg.slogdet(v["X"])[1], lambda v: inv(v["X"]).T),
    ("diagonal-trAX", "tr(A X)", "X: n×n diagonal, A: n×n", "diagonal", {"A": "nn"},
     lambda v: np.trace(v["A"] @ v["X"]), lambda v: v["A"].T),
    ("diagonal-quadratic", "x^T X x", "X: n×n diagonal, x: n", "diagonal", {"x": "n1"},
     lambda v: (v["x"].T @ v["X"] @ v["x"]).item(), lambda v: v["x"] @ v["x"].T),
    # skew-symmetric
    ("skew-trAX", "tr(A X)", "X: n×n skew, A: n×n", "skew", {"A": "nn"},
     lambda v: np.trace(v["A"] @ v["X"]), lambda v: v["A"].T),
    ("skew-trAXX", "tr(A X X)", "X: n×n skew, A: n×n", "skew", {"A": "nn"},
     lambda v: np.trace(v["A"] @ v["X"] @ v["X"]),
     lambda v: (v["A"] @ v["X"] + v["X"] @ v["A"]).T),
    ("skew-bilinear", "a^T X b", "X: n×n skew, a: n, b: n", "skew", {"a": "n1", "b": "n1"},
     lambda v: (v["a"].T @ v["X"] @ v["b"]).item(), lambda v: v["a"] @ v["b"].T),
    ("skew-frobenius", "‖X − A‖_F^2", "X: n×n skew, A: n×n", "skew", {"A": "nn"},
     lambda v: np.sum((v["X"] - v["A"]) ** 2), lambda v: 2 * (v["X"] - v["A"])),
    # an inverse of a skew X: singular at every odd size, where r.check() must not look
    ("skew-trace-inverse", "tr(X^-1 A)", "X: n×n skew, A: n×n", "skew", {"A": "nn"},
     lambda v: np.trace(inv(v["X"]) @ v["A"]),
     lambda v: -(inv(v["X"]) @ v["A"] @ inv(v["X"])).T),
    # lower and upper triangular: the entries of the triangle are the coordinates
    ("lower-logdet", "logdet(X)", "X: n×n lower", "lower", {},
     lambda v: np.linalg.slogdet(v["X"])[1], lambda v: inv(v["X"]).T),
    ("lower-cholesky-fit", "‖X X^T − S‖_F^2", "X: n×n lower, S: n×n symmetric", "lower",
     {"S": "symmetric"}, lambda v: np.sum((v["X"] @ v["X"].T - v["S"]) ** 2),
     lambda v: 4 * (v["X"] @ v["X"].T - v["S"]) @ v["X"]),
    ("upper-trAX", "tr(A X)", "X: n×n upper, A: n×n", "upper", {"A": "nn"},
     lambda v: np.trace(v["A"] @ v["X"]), lambda v: v["A"].T),
    ("upper-bilinear", "a^T X b", "X: n×n upper, a: n, b: n", "upper", {"a": "n1", "b": "n1"},
     lambda v: (v["a"].T @ v["X"] @ v["b"]).item(), lambda v: v["a"] @ v["b"].T),
    # orthogonal group and Stiefel manifold (n×p, orthonormal columns)
    ("procrustes", "‖X A − B‖_F^2", "X: n×p orthogonal, A: p×k, B: n×k", "orthogonal",
     {"A": "pk", "B": "nk"}, lambda v: np.sum((v["X"] @ v["A"] - v["B"]) ** 2),
     lambda v: 2 * (v["X"] @ v["A"] - v["B"]) @ v["A"].T),
    ("procrustes-trace", "tr(B^T X A)", "X: n×p orthogonal, A: p×k, B: n×k", "orthogonal",
     {"A": "pk", "B": "nk"}, lambda v: np.trace(v["B"].T @ v["X"] @ v["A"]),
     lambda v: v["B"] @ v["A"].T),
    ("rayleigh-stiefel", "tr(X^T A X)", "X: n×p orthogonal, A: n×n symmetric", "orthogonal",
     {"A": "symmetric"}, lambda v: np.trace(v["X"].T @ v["A"] @ v["X"]),
     lambda v: (v["A"] + v["A"].T) @ v["X"]),
    ("orthogonal-group-trAX", "tr(A X)", "X: n×n orthogonal, A: n×n", "orthogonal",
     {"A": "nn"}, lambda v: np.trace(v["A"] @ v["X"]), lambda v: v["A"].T),
    ("orthogonal-group-quadratic", "a^T X b", "X: n×n orthogonal, a: n, b: n", "orthogonal",
     {"a": "n1", "b": "n1"}, lambda v: (v["a"].T @ v["X"] @ v["b"]).item(),
     lambda v: v["a"] @ v["b"].T),
]
IDS = [c[0] for c in CASES]


def variable(case):
    return case[2].split(":")[0].strip()


def values(case, seed=0):
    """A point inside the structure, at SIZES."""
    _, expr, shapes, structure, others, *_ = case
    rng = np.random.default_rng(seed)
    x = variable(case)
    shape = (SIZES["n"], SIZES["p"] if "n×p" in shapes else SIZES["n"])
    out = {x: draw(structure, shape, rng)}
    for name, spec in others.items():
        if spec in ("spd", "symmetric"):
            out[name] = draw(spec, (SIZES["n"], SIZES["n"]), rng)
        else:
            out[name] = rng.normal(size=tuple(SIZES.get(c, 1) for c in spec))
            if spec == "11":
                out[name] = np.abs(out[name]) + 1
    return out


def structure(case):
    return {"spd": "symmetric"}.get(case[3], case[3])


def expected(case, v):
    forms = by_hand(case[3], case[6](v), v[variable(case)])
    if len(case) > 7:                        # the Cookbook's own formula for the entries
        cookbook = case[7](v)
        np.testing.assert_allclose(forms["entries"], cookbook, rtol=1e-10, atol=1e-12)
    return forms


# Directions inside the structure, and differences of the original function -----------------

def directions(structure, X):
    """(independent entry or None, direction) spanning the structure at X."""
    n, p = X.shape
    out = []
    if structure in ("symmetric", "spd", "diagonal"):
        for j in range(n):
            for i in range(j, n):
                if structure == "diagonal" and i != j:
                    continue
                E = np.zeros((n, n))
                E[i, j] = E[j, i] = 1
                out.append(((i, j), E))
    elif structure == "skew":
        for j in range(n):
            for i in range(j + 1, n):
                E = np.zeros((n, n))
                E[i, j], E[j, i] = 1, -1
                out.append(((i, j), E))
    elif structure in ("lower", "upper"):
        for j in range(n):
            for i in (range(j, n) if structure == "lower" else range(j + 1)):
                E = np.zeros((n, n))
                E[i, j] = 1
                out.append(((i, j), E))
    else:                                    # tangent space of the Stiefel manifold at X
        Q = np.linalg.qr(X, mode="complete")[0][:, p:]
        for j in range(p):
            for i in range(j + 1, p):
                W = np.zeros((p, p))
                W[i, j], W[j, i] = 1, -1
                out.append((None, X @ W))
        for i in range(n - p):
            for j in range(p):
                B = np.zeros((n - p, p))
                B[i, j] = 1
                out.append((None, Q @ B))
    return out


def fd(f, v, x, E, h=1e-4):
    """Df(X)[E] by the fourth-order central stencil."""
    g = lambda t: f({**v, x: v[x] + t * E})     # noqa: E731
    return (8 * (g(h) - g(-h)) - (g(2 * h) - g(-2 * h))) / (12 * h)


def fd2(f, v, x, E, F, h=2e-4):
    """D²f(X)[E, F] by the mixed central difference."""
    g = lambda a, b: f({**v, x: v[x] + a * E + b * F})     # noqa: E731
    return (g(h, h) - g(h, -h) - g(-h, h) + g(-h, -h)) / (4 * h * h)


# Every convention against the closed form ----------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_convention_matches_its_closed_form(case):
    v = values(case)
    forms = expected(case, v)
    x = variable(case)
    for name in CONVENTIONS:
        if forms[name] is None:
            with pytest.raises(matcalc.UnsupportedError, match="not independent"):
                derive(case[1], x, shapes=case[2], structure=name)
            continue
        r = derive(case[1], x, shapes=case[2], structure=name)
        assert r.convention == name and r.kind == "gradient"
        got = r.evaluate(v)
        assert got.shape == forms[name].shape
        np.testing.assert_allclose(got, forms[name], rtol=1e-9, atol=1e-10,
                                   err_msg=f"{name}: {r}")
    default = derive(case[1], x, shapes=case[2])
    assert default.convention == "unconstrained"
    np.testing.assert_allclose(default.evaluate(v), forms["unconstrained"], rtol=1e-9,
                               atol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_convention_matches_differences_along_the_structure(case):
    """structured: ⟨R, E⟩ = Df[E] for every E in the structure; entries: R_ij = Df[S_ij] for
    the basis matrix S_ij of each independent entry; unconstrained: ⟨G, E⟩ = Df[E] for any E."""
    v = values(case, seed=1)
    x, f = variable(case), case[5]
    rng = np.random.default_rng(2)
    for name in CONVENTIONS:
        try:
            R = derive(case[1], x, shapes=case[2], structure=name).evaluate(v)
        except matcalc.UnsupportedError:
            assert case[3] == "orthogonal" and name == "entries"
            continue
        if name == "unconstrained":
            for _ in range(3):
                E = rng.normal(size=v[x].shape)
                assert np.sum(R * E) == pytest.approx(fd(f, v, x, E), rel=1e-6, abs=1e-7)
            continue
        for entry, E in directions(case[3], v[x]):
            want = fd(f, v, x, E)
            got = R[entry] if name == "entries" else np.sum(R * E)
            assert got == pytest.approx(want, rel=1e-6, abs=1e-7), (name, entry)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_check_runs_along_the_structure(case):
    for name in ("structured", "entries"):
        if case[3] == "orthogonal" and name == "entries":
            continue
        report = derive(case[1], variable(case), shapes=case[2], structure=name).check(seed=3)
        kind = "tangent" if case[3] == "orthogonal" else structure(case)
        assert f"{kind} directions" in str(report)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_structured_results_read_back(case):
    for name in ("structured", "entries"):
        if case[3] == "orthogonal" and name == "entries":
            continue
        r = derive(case[1], variable(case), shapes=case[2], structure=name)
        assert assert_result_reads_back(r, case[2])


def test_the_table_is_large_enough():
    assert len(CASES) >= 25
    assert {c[3] for c in CASES} == {"spd", "symmetric", "diagonal", "skew", "orthogonal",
                                     "lower", "upper"}


# Second derivatives -----------------------------------------------------------------------

def commutation(n):
    K = np.zeros((n * n, n * n))
    for i in range(n):
        for j in range(n):
            K[i * n + j, j * n + i] = 1          # K vec(A) = vec(Aᵀ), column-major vec
    return K


def duplication(n):
    """Magnus & Neudecker's D_n: vec(S) = D_n vech(S) for symmetric S."""
    cols = [(i, j) for j in range(n) for i in range(j, n)]
    D = np.zeros((n * n, len(cols)))
    for c, (i, j) in enumerate(cols):
        D[i + n * j, c] = D[j + n * i, c] = 1
    return D


HESSIANS = [
    # (id, bilinear D²f[E, F] written by hand)
    ("cookbook-2.8-logdet", lambda v, E, F: -np.trace(inv(v["X"]) @ E @ inv(v["X"]) @ F)),
    ("frobenius-X-A", lambda v, E, F: 2 * np.sum(E * F)),
    ("trace-inverse", lambda v, E, F: np.trace(inv(v["X"]) @ E @ inv(v["X"]) @ F @ inv(v["X"])
                                               @ v["A"]) + np.trace(inv(v["X"]) @ F @ inv(v["X"])
                                                                    @ E @ inv(v["X"]) @ v["A"])),
    ("gaussian-nll-covariance", lambda v, E, F: (
        -np.trace(inv(v["Σ"]) @ E @ inv(v["Σ"]) @ F) / 2
        + (_r(v).T @ inv(v["Σ"]) @ (E @ inv(v["Σ"]) @ F + F @ inv(v["Σ"]) @ E)
           @ inv(v["Σ"]) @ _r(v)).item() / 2)),
    ("gaussian-nll-precision", lambda v, E, F: np.trace(inv(v["Λ"]) @ E @ inv(v["Λ"]) @ F) / 2),
    ("trace-square", lambda v, E, F: 2 * np.trace(E @ F)),
    ("diagonal-logdet", lambda v, E, F: -np.trace(inv(v["X"]) @ E @ inv(v["X"]) @ F)),
    ("skew-trAXX", lambda v, E, F: np.trace(v["A"] @ (E @ F + F @ E))),
    ("skew-frobenius", lambda v, E, F: 2 * np.sum(E * F)),
    ("skew-trace-inverse", lambda v, E, F: np.trace(inv(v["X"]) @ E @ inv(v["X"]) @ F
                                                    @ inv(v["X"]) @ v["A"])
     + np.trace(inv(v["X"]) @ F @ inv(v["X"]) @ E @ inv(v["X"]) @ v["A"])),
    ("lower-logdet", lambda v, E, F: -np.trace(inv(v["X"]) @ E @ inv(v["X"]) @ F)),
    ("lower-cholesky-fit", lambda v, E, F: 2 * np.sum((E @ v["X"].T + v["X"] @ E.T)
                                                      * (F @ v["X"].T + v["X"] @ F.T))
     + 2 * np.sum((v["X"] @ v["X"].T - v["S"]) * (E @ F.T + F @ E.T))),
]


@pytest.mark.parametrize("hid, hess", HESSIANS, ids=[h[0] for h in HESSIANS])
def test_hessians_in_every_convention(hid, hess):
    """The vec-form Hessian H (n²×n²) and its conventions: N H N with N = (I + K)/2 (the
    structured Hessian, symmetric), P H P with P = I + K − diag(vec I) (its rows and columns at
    the independent entries: D_nᵀ H D_n), and the skew and diagonal analogues — against H
    written from the hand-derived bilinear form, and against mixed differences of f along
    directions inside the structure."""
    case = CASES[IDS.index(hid)]
    v = values(case, seed=4)
    x, f, st = variable(case), case[5], case[3]
    n = v[x].shape[0]
    units = [np.eye(n * n)[a].reshape((n, n), order="F") for a in range(n * n)]
    H = np.array([[hess(v, E, F) for F in units] for E in units])
    K, eye, mask = commutation(n), np.eye(n * n), np.diag(np.eye(n).ravel(order="F"))
    tri = np.diag((np.tril if st == "lower" else np.triu)(np.ones((n, n))).ravel(order="F"))
    P = {"symmetric": ((eye + K) / 2, eye + K - mask), "spd": ((eye + K) / 2, eye + K - mask),
         "diagonal": (mask, mask), "skew": ((eye - K) / 2, eye - K), "lower": (tri, tri),
         "upper": (tri, tri)}[st]
    want = {"unconstrained": H, "structured": P[0] @ H @ P[0], "entries": P[1] @ H @ P[1]}
    for name in CONVENTIONS:
        r = derive(case[1], x, shapes=case[2], order=2, structure=name)
        got = r.evaluate(v).reshape((n * n, n * n), order="F")
        np.testing.assert_allclose(got, want[name], rtol=1e-8, atol=1e-9, err_msg=name)
        if name == "unconstrained":
            continue
        for e1, E in directions(st, v[x]):
            for e2, F in directions(st, v[x])[:4]:
                num = fd2(f, v, x, E, F)
                sym_ = (got[e1[0] + n * e1[1], e2[0] + n * e2[1]] if name == "entries"
                        else E.ravel(order="F") @ got @ F.ravel(order="F"))
                assert sym_ == pytest.approx(num, rel=1e-4, abs=1e-5), (name, e1, e2)
        assert "directions" in str(r.check(seed=5))
        assert assert_result_reads_back(r, case[2])
        if name == "entries" and st in ("symmetric", "spd"):
            D = duplication(n)
            np.testing.assert_allclose(r.vech(v), D.T @ H @ D, rtol=1e-8, atol=1e-9)


STIEFEL_HESSIANS = [
    # (id, Euclidean D²f[E, F] written by hand)
    ("procrustes", lambda v, E, F: 2 * np.sum((E @ v["A"]) * (F @ v["A"]))),
    ("procrustes-trace", lambda v, E, F: 0.0),
    ("rayleigh-stiefel", lambda v, E, F: np.trace(E.T @ (v["A"] + v["A"].T) @ F)),
    ("orthogonal-group-trAX", lambda v, E, F: 0.0),
]


def polar(Z):
    u, _, vt = np.linalg.svd(Z, full_matrices=False)
    return u @ vt


@pytest.mark.parametrize("hid, hess", STIEFEL_HESSIANS, ids=[h[0] for h in STIEFEL_HESSIANS])
def test_riemannian_hessian_on_the_stiefel_manifold(hid, hess):
    """⟨η, Hess f(X)[ξ]⟩ = ⟨η, ∇²f(X)[ξ] − ξ sym(XᵀG)⟩ for tangent η, ξ (Absil, Mahony and
    Sepulchre §5.5, the embedded metric), against the hand-written Euclidean Hessian and
    against mixed differences of f along the polar retraction, a second-order retraction."""
    case = CASES[IDS.index(hid)]
    v = values(case, seed=11)
    x, f, X = variable(case), case[5], values(case, seed=11)[variable(case)]
    G = case[6](v)
    S = sym(X.T @ G)
    r = derive(case[1], x, shapes=case[2], order=2, structure="structured")
    n, p = X.shape
    Hm = r.evaluate(v).reshape((n * p, n * p), order="F")
    tangent = directions("orthogonal", X)
    for _, eta in tangent:
        for _, xi in tangent:
            want = hess(v, eta, xi) - np.sum(eta * (xi @ S))
            got = eta.ravel(order="F") @ Hm @ xi.ravel(order="F")
            assert got == pytest.approx(want, rel=1e-8, abs=1e-9)
            h = 1e-4
            g = lambda a, b: f({**v, x: polar(X + a * eta + b * xi)})     # noqa: E731
            fd_ = (g(h, h) - g(h, -h) - g(-h, h) + g(-h, -h)) / (4 * h * h)
            assert got == pytest.approx(fd_, rel=1e-4, abs=1e-5)
    assert "tangent directions" in str(r.check(seed=12))
    assert assert_result_reads_back(r, case[2])
    with pytest.raises(matcalc.UnsupportedError, match="not independent"):
        derive(case[1], x, shapes=case[2], order=2, structure="entries")


def test_vech_gradient_is_the_duplication_matrix_transposed_times_vec_g():
    case = CASES[IDS.index("trAXB")]
    v = values(case)
    G = case[6](v)
    r = derive(case[1], "X", shapes=case[2], structure="entries")
    n = SIZES["n"]
    np.testing.assert_allclose(r.vech(v), duplication(n).T @ G.ravel(order="F"), rtol=1e-10)
    assert r.vech(v).shape == (n * (n + 1) // 2,)


# Where the conventions must agree, and where they differ ---------------------------------

def test_structured_and_unconstrained_agree_on_every_symmetric_direction():
    """⟨sym(G), E⟩ = ⟨G, E⟩ for every symmetric E, though G itself is not symmetric."""
    case = CASES[IDS.index("trace-inverse")]
    v = values(case, seed=6)
    G = derive(case[1], "X", shapes=case[2]).evaluate(v)
    S = derive(case[1], "X", shapes=case[2], structure="structured").evaluate(v)
    assert not np.allclose(G, G.T)                      # the two matrices differ…
    rng = np.random.default_rng(7)
    for _ in range(5):
        E = sym(rng.normal(size=G.shape))               # …but not on symmetric directions
        assert np.sum(S * E) == pytest.approx(np.sum(G * E), rel=1e-12)
        assert np.sum(S * E) == pytest.approx(fd(case[5], v, "X", E), rel=1e-6)


def test_structured_differs_from_the_directional_derivative_off_the_structure():
    """Along a non-symmetric direction only G gives Df[E]: sym(G) answers a question about
    symmetric matrices only."""
    case = CASES[IDS.index("cookbook-2.8-trAX")]
    v = values(case, seed=8)
    G = derive(case[1], "X", shapes=case[2]).evaluate(v)
    S = derive(case[1], "X", shapes=case[2], structure="structured").evaluate(v)
    E = np.triu(np.ones_like(G), 1)                     # strictly upper: not symmetric
    assert np.sum(G * E) == pytest.approx(fd(case[5], v, "X", E), rel=1e-8)
    assert abs(np.sum(S * E) - np.sum(G * E)) > 1e-3


def test_entries_are_twice_the_structured_gradient_off_the_diagonal():
    """G + Gᵀ − G∘I = 2 sym(G) − sym(G)∘I: the same diagonal, twice the off-diagonal — so
    ⟨entries, E⟩ is NOT Df[E] for a symmetric E with off-diagonal entries, while entry (i, j)
    is ∂f/∂x_ij with x_ij = x_ji moving together."""
    case = CASES[IDS.index("cookbook-2.8-logdet")]
    v = values(case, seed=9)
    S = derive(case[1], "X", shapes=case[2], structure="structured").evaluate(v)
    M = derive(case[1], "X", shapes=case[2], structure="entries").evaluate(v)
    off = ~np.eye(len(S), dtype=bool)
    np.testing.assert_allclose(np.diag(M), np.diag(S), rtol=1e-12)
    np.testing.assert_allclose(M[off], 2 * S[off], rtol=1e-12)
    E = np.zeros_like(S)
    E[1, 0] = E[0, 1] = 1                               # x_10 = x_01 move together
    assert M[1, 0] == pytest.approx(fd(case[5], v, "X", E), rel=1e-7)
    assert np.sum(S * E) == pytest.approx(M[1, 0], rel=1e-12)
    assert np.sum(M * E) == pytest.approx(2 * M[1, 0], rel=1e-12)    # not Df[E]


def test_diagonal_conventions_coincide():
    case = CASES[IDS.index("diagonal-trAX")]
    v = values(case)
    S = derive(case[1], "X", shapes=case[2], structure="structured").evaluate(v)
    M = derive(case[1], "X", shapes=case[2], structure="entries").evaluate(v)
    np.testing.assert_array_equal(S, M)


def test_skew_entries_are_twice_the_structured_gradient():
    case = CASES[IDS.index("skew-trAXX")]
    v = values(case)
    S = derive(case[1], "X", shapes=case[2], structure="structured").evaluate(v)
    M = derive(case[1], "X", shapes=case[2], structure="entries").evaluate(v)
    np.testing.assert_allclose(M, 2 * S, rtol=1e-12)


def test_riemannian_gradient_is_tangent_and_agrees_on_tangent_directions():
    """grad f = G − X sym(XᵀG) lies in the tangent space (Xᵀξ + ξᵀX = 0) and ⟨grad f, ξ⟩ =
    ⟨G, ξ⟩ = Df[ξ] for every tangent ξ; off the tangent space they differ."""
    case = CASES[IDS.index("procrustes")]
    v = values(case, seed=10)
    X = v["X"]
    G = derive(case[1], "X", shapes=case[2]).evaluate(v)
    R = derive(case[1], "X", shapes=case[2], structure="structured").evaluate(v)
    np.testing.assert_allclose(X.T @ R + R.T @ X, 0, atol=1e-12)
    for _, xi in directions("orthogonal", X):
        assert np.sum(R * xi) == pytest.approx(np.sum(G * xi), rel=1e-10, abs=1e-12)
    normal = X @ sym(np.ones((X.shape[1], X.shape[1])))     # X·S with S symmetric: normal
    assert abs(np.sum(R * normal)) < 1e-10 and abs(np.sum(G * normal)) > 1e-3


# The sentence, the steps, the flag and the errors --------------------------------------------

def test_result_states_its_convention():
    r = derive("logdet(X)", "X", shapes="X: n×n spd", structure="entries")
    assert r.convention == "entries"
    assert "independent entries" in r.convention_note and r.convention_note in r.notes
    s = derive("logdet(X)", "X", shapes="X: n×n spd", structure="structured")
    assert "sym(G)" in s.convention_note and "symmetric" in s.convention_note
    default = derive("logdet(X)", "X", shapes="X: n×n spd")
    assert default.convention == "unconstrained" and "independent" in default.convention_note
    assert not any("Frobenius" in n for n in default.notes)     # the default adds no note
    steps = [str(st) for st in s.steps]
    assert any(st.startswith("structured gradient sym(G)") for st in steps)


def test_structure_without_a_declaration_says_what_to_declare():
    with pytest.raises(matcalc.MatcalcError, match="declared with its structure"):
        derive("logdet(X)", "X", shapes="X: n×n", structure="structured")


def test_unknown_structure_name_is_refused():
    with pytest.raises(matcalc.MatcalcError, match="structure must be one of"):
        derive("logdet(X)", "X", shapes="X: n×n spd", structure="sym")


def test_entries_of_an_orthogonal_variable_are_unsupported():
    with pytest.raises(matcalc.UnsupportedError, match="not independent"):
        derive("tr(A X)", "X", shapes="X: n×n orthogonal", structure="entries")


def test_vector_variable_with_a_structure_says_conventions_are_for_matrices():
    with pytest.raises(matcalc.MatcalcError, match="apply to matrix variables"):
        derive("x^T X x", "x", shapes="X: n×n symmetric, x: n", structure="entries")


def test_mixed_derivative_with_a_structure_is_refused_as_mixed():
    with pytest.raises(matcalc.UnsupportedError, match="mixed derivatives"):
        derive("x^T X y", ("x", "y"), shapes="X: n×n symmetric", structure="structured")


def test_triangular_conventions_coincide_and_print_tril():
    r = derive("tr(A X)", "X", shapes="X: n×n lower", structure="structured")
    assert str(r) == "tril(Aᵀ)" and r.text == "tril(A^T)"
    assert str(derive("tr(A X)", "X", shapes="X: n×n lower", structure="entries")) == "tril(Aᵀ)"
    assert str(derive("tr(A X)", "X", shapes="X: n×n upper", structure="entries")) == "triu(Aᵀ)"


# tril(·) and triu(·) in the language (the printed form of a triangular gradient) ---------------

TRIANGLES = [
    # (expr, wrt, shapes, f(v), gradient(v) by hand)
    ("tr(A tril(X))", "X", "X: m×n, A: n×m", lambda v: np.trace(v["A"] @ np.tril(v["X"])),
     lambda v: np.tril(v["A"].T)),
    ("sum(triu(X) .* B)", "X", "X: m×n, B: m×n", lambda v: np.sum(np.triu(v["X"]) * v["B"]),
     lambda v: np.triu(v["B"])),
    ("‖tril(X) − A‖_F^2", "X", "X: n×n, A: n×n",
     lambda v: np.sum((np.tril(v["X"]) - v["A"]) ** 2),
     lambda v: 2 * np.tril(np.tril(v["X"]) - v["A"])),
    ("sum(exp(triu(X)))", "X", "X: m×n", lambda v: np.sum(np.exp(np.triu(v["X"]))),
     lambda v: np.triu(np.exp(np.triu(v["X"])))),
]


@pytest.mark.parametrize("expr, wrt, shapes, f, grad", TRIANGLES, ids=[t[0] for t in TRIANGLES])
def test_tril_triu_gradients(expr, wrt, shapes, f, grad):
    rng = np.random.default_rng(13)
    v = {"X": rng.normal(size=(3, 5) if "m×n" in shapes.split(",")[0] else (4, 4))}
    for name in ("A", "B"):
        if name in expr:
            v[name] = rng.normal(size=v["X"].T.shape if "n×m" in shapes else v["X"].shape)
    r = derive(expr, wrt, shapes=shapes)
    np.testing.assert_allclose(r.evaluate(v), grad(v), rtol=1e-10, atol=1e-12)
    E = rng.normal(size=v["X"].shape)
    assert np.sum(r.evaluate(v) * E) == pytest.approx(fd(f, v, "X", E), rel=1e-6, abs=1e-8)
    r.check(seed=0)
    assert assert_result_reads_back(r, shapes)


def test_tril_of_a_matrix_has_a_mask_jacobian():
    r = derive("tril(X)", "X", shapes="X: m×n")
    assert r.text == "diag(vec(tril(ones(m, n))))" and r.kind == "tensor"
    r.check(seed=0)


def test_tril_translates_to_sympy():
    r = derive("tr(A tril(X))", "X", shapes="X: 3×3, A: 3×3")
    import sympy
    A = np.arange(9.0).reshape(3, 3)
    explicit = r.sympy.as_explicit().subs(sympy.MatrixSymbol("A", 3, 3), sympy.Matrix(A))
    np.testing.assert_array_equal(np.array(explicit.doit(), dtype=float), np.tril(A.T))


def test_tril_triu_parse_print_and_generate_code():
    node = matcalc.parse("tril(X) + triu(Y)", shapes="X: n×n, Y: n×n")
    assert "tril(X)" in str(node) and "triu(Y)" in str(node)
    code = derive("tr(A tril(X))", "X", shapes="X: m×n, A: n×m").code("numpy")
    assert "np.tril(A.T)" in code


def test_triangular_and_skew_declarations_are_not_taken_as_symmetric():
    """A skew or triangular declaration must not let the simplifier use Xᵀ = X."""
    for decl in ("skew", "lower", "upper", "orthogonal"):
        r = derive("tr(A X)", "X", shapes=f"X: n×n {decl}, A: n×n")
        assert r.text == "A^T", decl
        r.check(seed=0)


def test_conflicting_declarations_are_refused():
    with pytest.raises(matcalc.ParseError, match="do not go together"):
        derive("tr(X)", "X", shapes="X: n×n skew symmetric")


def test_cli_structure_flag():
    env = {"PYTHONIOENCODING": "utf-8"}
    import os
    env = {**os.environ, **env}
    out = subprocess.run([sys.executable, "-m", "matcalc", "logdet(X)", "--wrt", "X",
                          "--shapes", "X: n×n spd", "--structure", "entries", "--format", "json"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["convention"] == "entries" and data["result"] == "2*X^-1 - X^-1 .* eye(n)"
    usage = subprocess.run([sys.executable, "-m", "matcalc", "logdet(X)", "--structure",
                            "entries"], capture_output=True, text=True, env=env)
    assert usage.returncode == 2 and "--structure needs --wrt" in usage.stderr


def test_structured_gradient_with_large_declared_sizes_does_not_evaluate_big_arrays():
    """Whether G is already symmetric is tested at random points only for small arrays: a
    3000×3000 declaration prints the general form at once."""
    import time
    start = time.perf_counter()
    r = derive("tr(A X)", "X", shapes="X: 3000×3000 symmetric, A: 3000×3000",
               structure="structured")
    assert r.text == "(A + A^T)/2" and time.perf_counter() - start < 5

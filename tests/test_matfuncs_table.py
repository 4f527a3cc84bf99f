"""Matrix functions and decompositions (expm, logm, sqrtm, real powers, solve and A \\ B, pinv,
chol, eigvals, λ_max/λ_min, svdvals, σ_max, spectral and nuclear norms): a table of identities
from the literature (tests/matfuncs_oracle.py, which imports nothing from matcalc), checked in
four ways at random points with a different size for every dimension name:

(a) each hand-written closed form against central finite differences of the oracle's own
    NumPy implementation of the original function — this verifies the table itself;
(b) matcalc's derivative (`derive(...).evaluate`) against the closed form and against those
    finite differences;
(c) matcalc's vector–Jacobian products (`vjp`) of non-scalar functions against the closed form;
(d) Hessians and Hessian–vector products (`order=2`, `hvp`) against nested finite differences
    and the closed form;
(e) points where an assumption fails (repeated eigenvalues or singular values, a singular matrix
    in solve, eigenvalues on the negative axis for logm, sqrtm and real powers, a matrix that is
    not positive definite or not symmetric for chol and the eigenvalues, a rank drop for pinv):
    matcalc must raise a DomainError or warn, never return a silent NaN or an arbitrary number.

Also: matcalc's value of each original formula against the oracle's (so the two read the formula
alike), JVPs against directional differences and, by duality, the closed-form VJPs, matcalc's own
`check`, the assumptions each result states, generated NumPy/torch/JAX code, and that every printed
result reads back.

Rows whose functions matcalc does not support yet, or where it refuses a derivative with an
UnsupportedError, are expected failures that say so (only while it fails that way), so the table
runs and turns green as support lands.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg as sla

import matfuncs_oracle as O
from matfuncs_oracle import ROWS, SIZES

import matcalc
from matcalc import DomainError

# The functions of the table that matcalc does not support yet (by the tag in each row's
# `needs`). Keep this in step with the implementation: a row using one of these is an expected
# failure with the function named in the reason.
NOT_YET: set[str] = set()

# Derivatives matcalc refuses with an UnsupportedError (a clean refusal, not a wrong answer):
# id → why; expected failures only while it raises exactly that.
UNSUPPORTED: dict[str, str] = {}

# Rows where matcalc is wrong (reported in the findings file): id → (what, exception type).
WRONG: dict[str, tuple[str, type]] = {}


def _marks(row, derivative=True):
    missing = [n for n in row.needs if n in NOT_YET]
    if missing:
        return [pytest.mark.xfail(strict=False,
                                  reason="not implemented yet: " + ", ".join(missing))]
    if not derivative:
        return []
    if row.id in UNSUPPORTED:
        return [pytest.mark.xfail(strict=False, raises=matcalc.UnsupportedError,
                                  reason=UNSUPPORTED[row.id])]
    if row.id in WRONG:
        what, exc = WRONG[row.id]
        return [pytest.mark.xfail(strict=False, raises=exc, reason=what)]
    return []


def _params(rows, derivative=True):
    return [pytest.param(r, id=r.id, marks=_marks(r, derivative)) for r in rows]


def _names(row):
    """The direction's name for vjp (cotangent) and hvp (vector), unused by the formula."""
    values = row.values()
    like = row.f(values) if row.kind == "vjp" else values[row.wrt]
    vector = np.ndim(like) == 2 and np.shape(like)[1] == 1
    return "g" if row.kind == "vjp" and vector else "G" if row.kind == "vjp" else \
        "u" if vector else "U"


def _closed(row, values, d):
    return row.closed(values, d) if row.kind in ("vjp", "hvp") else row.closed(values)


_FD_CACHE: dict = {}


def _fd(row, values, d):
    """Finite differences of the original function for a row at its own point (cached: the
    point and the direction are fixed by the row's seed)."""
    if row.id not in _FD_CACHE:
        _FD_CACHE[row.id] = _fd_uncached(row, values, d)
    return _FD_CACHE[row.id]


def _fd_uncached(row, values, d):
    if row.kind == "d1":
        return O.fd_derivative(row.f, values, row.wrt)
    if row.kind == "vjp":
        return O.fd_vjp(row.f, values, row.wrt, d)
    if row.kind == "hvp":
        return O.fd_hvp(row.f, values, row.wrt, d)
    if row.kind == "mixed":
        return O.fd_mixed(row.f, values, *row.wrt.split(","))
    return O.fd_hessian(row.f, values, row.wrt)


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def _same_shape(got, want, what):
    if isinstance(want, float):
        assert isinstance(got, float), f"{what}: expected a float, got {type(got)} {np.shape(got)}"
    else:
        assert np.shape(got) == np.shape(want), f"{what}: shape {np.shape(got)} ≠ {np.shape(want)}"


# The table itself ---------------------------------------------------------------------------------

def test_table_is_large_and_cited():
    assert len(ROWS) >= 40
    assert len({r.id for r in ROWS}) == len(ROWS)
    assert sum(r.order == 2 for r in ROWS) >= 8
    assert sum(r.kind == "vjp" for r in ROWS) >= 8
    for r in ROWS:
        assert r.source and r.needs, r.id
        assert r.kind in ("d1", "d2", "vjp", "hvp", "mixed"), r.id


def test_every_dimension_name_has_its_own_size():
    assert len(set(SIZES.values())) == len(SIZES)
    for r in ROWS:
        for decl in r.shapes.split(","):
            spec = decl.split(":")[1].split()[0]
            dims = [] if spec == "scalar" else spec.split("×")
            assert set(dims) <= set(SIZES), (r.id, decl)
        values = r.values()
        for decl in r.shapes.split(","):
            name, spec = (s.strip() for s in decl.split(":"))
            spec = spec.split()[0]
            want = () if spec == "scalar" else tuple(SIZES[d] for d in spec.split("×"))
            want = want + (1,) if len(want) == 1 else want
            assert np.shape(values[name]) == want, (r.id, name)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_closed_form_matches_finite_differences(row):
    """(a) The table's closed form against differences of the oracle's own function, at the row's
    point and (first derivatives) at a second one."""
    for offset in (0,) if row.order == 2 else (0, 1):
        values = row.values(offset)
        d = row.direction(values, offset)
        want = _closed(row, values, d)
        fd = _fd(row, values, d) if offset == 0 else _fd_uncached(row, values, d)
        _same_shape(want, fd, row.id)
        err = _rel(want, fd)
        assert err < row.fd_tol, \
            f"{row.id} (point {offset}): closed form vs finite differences, rel. error {err:.2e}"


def test_oracle_frechet_helpers_agree_with_scipy():
    """The block-triangular L_exp against SciPy's expm_frechet; Daleckiĭ–Kreĭn for sqrt against
    the Sylvester form; second-order Daleckiĭ–Kreĭn for exp against Higham–Relton blocks."""
    rng = np.random.default_rng(5)
    n = SIZES["n"]
    x = O.gen_general("n")(rng)
    e, f = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    np.testing.assert_allclose(O.L_exp(x, e), sla.expm_frechet(x, e, compute_expm=False),
                               rtol=1e-10, atol=1e-12)
    s = O.gen_spd("n")(rng)
    dk_sqrt = O.L_sym(s, e, np.sqrt, lambda w: 0.5 / np.sqrt(w))
    np.testing.assert_allclose(O.L_sqrt(s, e), dk_sqrt, rtol=1e-10, atol=1e-12)
    sy = O.gen_symmetric("n", -1.0, 1.0)(rng)
    dk2 = O.L2_sym(sy, e, np.exp, np.exp, np.exp, g_=f)
    np.testing.assert_allclose(O.L2_exp(sy, e, f), dk2, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(O.logm(s), sla.logm(s).real, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(O.sqrtm(s), sla.sqrtm(s).real, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(O.mpow(s, 0.7), sla.fractional_matrix_power(s, 0.7).real,
                               rtol=1e-10, atol=1e-12)


# matcalc against the table ------------------------------------------------------------------------

def _distinct_functions():
    seen, out = set(), []
    for r in ROWS:
        if (r.expr, r.shapes) not in seen:
            seen.add((r.expr, r.shapes))
            out.append(r)
    return out


@pytest.mark.parametrize("row", _params(_distinct_functions(), derivative=False))
def test_matcalc_reads_the_function_as_the_table_does(row):
    """matcalc's value of the ORIGINAL formula equals the oracle's (so `A \\ B` is A⁻¹B, eigvals
    ascend, svdvals descend, chol is the lower factor, X^(1/2) the principal root)."""
    from matcalc.core.dims import symbol
    from matcalc.numeric.evaluate import evaluate_tree
    tree = matcalc.parse(row.expr, shapes=row.shapes)
    values = row.values()
    env = {k: np.asarray(v, dtype=float).reshape(np.shape(v) or (1, 1)) for k, v in values.items()}
    sizes = {symbol(k): v for k, v in SIZES.items()}
    got = evaluate_tree(tree, env, sizes, strict=True)
    want = np.asarray(row.f(values), dtype=float).reshape(np.shape(row.f(values)) or (1, 1))
    assert got.shape == want.shape, f"{row.expr}: value shape {got.shape} ≠ {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11, err_msg=row.expr)


def _matcalc(row):
    if row.kind == "vjp":
        return matcalc.vjp(row.expr, row.wrt, cotangent=_names(row), shapes=row.shapes)
    if row.kind == "hvp":
        return matcalc.hvp(row.expr, row.wrt, vector=_names(row), shapes=row.shapes)
    if row.kind == "mixed":
        return matcalc.derive(row.expr, wrt=tuple(row.wrt.split(",")), shapes=row.shapes)
    return matcalc.derive(row.expr, wrt=row.wrt, shapes=row.shapes, order=row.order)


@pytest.mark.parametrize("row", _params(ROWS))
def test_matcalc_matches_table(row):
    """(b) gradients, Jacobians and tensors; (c) VJPs; (d) Hessians and HVPs: at the row's point
    against the closed form and finite differences of the original, and at two more random
    points against the closed form."""
    r = _matcalc(row)
    for offset in range(3):
        values = row.values(offset)
        d = row.direction(values, offset)
        env = dict(values)
        if row.kind in ("vjp", "hvp"):
            env[_names(row)] = d
        got = r.evaluate(env)
        want = _closed(row, values, d)
        _same_shape(got, want, f"{row.id}: {r}")
        assert np.all(np.isfinite(got)), f"{row.id}: {r} is not finite at a regular point"
        err = _rel(got, want)
        assert err < 1e-7, \
            f"{row.id} (point {offset}): matcalc gives {r}; differs from the closed form by {err:.2e}"
        if offset == 0:
            err_fd = _rel(got, _fd(row, values, d))
            assert err_fd < row.fd_tol, \
                f"{row.id}: {r} vs finite differences, rel. error {err_fd:.2e}"


@pytest.mark.parametrize("row", _params([r for r in ROWS if r.order == 1]))
def test_matcalc_check_passes(row):
    """matcalc's own finite-difference check (its random points, its sizes) agrees too (first
    derivatives; the second are checked above by nested differences of the original)."""
    assert _matcalc(row).check(seed=0).max_rel_error < 1e-5


# (e) Where an assumption fails --------------------------------------------------------------------

def _spectrum(n, lam, seed=3):
    q = O.orthogonal(np.random.default_rng(seed), n)
    return (q * np.asarray(lam, dtype=float)) @ q.T


def _refuses(call):
    """A DomainError, or a warning that says what failed; never a silent result."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = call()
        except DomainError as err:
            assert err.message, "a DomainError without a message"
            return
    said = [w for w in caught if not issubclass(w.category, (RuntimeWarning, DeprecationWarning))]
    assert said, f"no DomainError and no warning; returned {out!r}"


n = SIZES["n"]
REPEATED_TOP = _spectrum(n, [-1.0, 0.5, 2.0, 2.0])
REPEATED_MIDDLE = _spectrum(n, [-1.0, 0.5, 0.5, 2.0])
NEGATIVE = _spectrum(n, [-0.7, 0.5, 1.0, 2.0])
SINGULAR = _spectrum(n, [0.0, 0.5, 1.0, 2.0])
NOT_SYMMETRIC = _spectrum(n, [1.0, 2.0, 3.0, 4.0]) + np.triu(np.full((n, n), 0.5), 1)
A_GEN = np.random.default_rng(11).normal(size=(n, n))
VEC = np.random.default_rng(12).normal(size=(n, 1))


def _repeated_singular(m, k):
    rng = np.random.default_rng(4)
    u = O.orthogonal(rng, m)[:, :k]
    v = O.orthogonal(rng, k)
    return (u * np.array([2.0, 2.0] + [1.0] * (k - 2))[:k]) @ v.T


def _rank_deficient(m, k):
    rng = np.random.default_rng(6)
    return rng.normal(size=(m, 2)) @ rng.normal(size=(2, k))


def E(id, needs, call):
    return (id, tuple(needs), call)


FAILURES = [
    E("lambda-max-repeated-top-eigenvalue", ["λ_max"],
      lambda: matcalc.derive("λ_max(S)", wrt="S", shapes="S: n×n symmetric")
      .evaluate({"S": REPEATED_TOP})),
    E("lambda-min-repeated-bottom-eigenvalue", ["λ_min"],
      lambda: matcalc.derive("λ_min(S)", wrt="S", shapes="S: n×n symmetric")
      .evaluate({"S": -REPEATED_TOP})),
    E("eigvals-jacobian-repeated-eigenvalue", ["eigvals"],
      lambda: matcalc.derive("eigvals(S)", wrt="S", shapes="S: n×n symmetric")
      .evaluate({"S": REPEATED_MIDDLE})),
    E("eigvals-vjp-repeated-eigenvalue", ["eigvals"],
      lambda: matcalc.vjp("eigvals(S)", "S", cotangent="g", shapes="S: n×n symmetric")
      .evaluate({"S": REPEATED_MIDDLE, "g": np.arange(1.0, n + 1).reshape(-1, 1)})),
    E("lambda-max-hessian-repeated-eigenvalue", ["λ_max"],
      lambda: matcalc.hvp("λ_max(S)", "S", vector="U", shapes="S: n×n symmetric")
      .evaluate({"S": REPEATED_TOP, "U": np.eye(n)})),
    E("sigma-max-repeated-singular-value", ["σ_max"],
      lambda: matcalc.derive("σ_max(A)", wrt="A", shapes="A: m×n")
      .evaluate({"A": _repeated_singular(SIZES["m"], n)})),
    E("nuclear-norm-rank-deficient", ["‖·‖_*"],
      lambda: matcalc.derive("‖A‖_*", wrt="A", shapes="A: m×n")
      .evaluate({"A": _rank_deficient(SIZES["m"], n)})),
    E("pinv-rank-deficient", ["pinv"],
      lambda: matcalc.derive("tr(C pinv(A))", wrt="A", shapes="A: m×n, C: m×n")
      .evaluate({"A": _rank_deficient(SIZES["m"], n), "C": np.ones((SIZES["m"], n))})),
    E("solve-singular-matrix-rhs", ["solve"],
      lambda: matcalc.derive("solve(A, b)", wrt="b", shapes="A: n×n, b: n")
      .evaluate({"A": SINGULAR, "b": VEC})),
    E("solve-singular-matrix-least-squares", ["solve"],
      lambda: matcalc.derive("‖solve(A, b) − c‖^2", wrt="A", shapes="A: n×n, b: n, c: n")
      .evaluate({"A": SINGULAR, "b": VEC, "c": VEC})),
    E("backslash-singular-matrix", ["\\"],
      lambda: matcalc.derive("tr(C (A \\ B))", wrt="B", shapes="A: n×n, B: n×p, C: p×n")
      .evaluate({"A": SINGULAR, "B": np.ones((n, SIZES["p"])),
                 "C": np.ones((SIZES["p"], n))})),
    E("logm-negative-eigenvalue", ["logm"],
      lambda: matcalc.derive("tr(A logm(X))", wrt="X", shapes="A: n×n, X: n×n")
      .evaluate({"A": A_GEN, "X": NEGATIVE})),
    E("logm-trace-negative-eigenvalue", ["logm"],
      lambda: matcalc.derive("tr(logm(X))", wrt="X", shapes="X: n×n")
      .evaluate({"X": NEGATIVE})),
    E("logm-singular", ["logm"],
      lambda: matcalc.derive("tr(A logm(X))", wrt="X", shapes="A: n×n, X: n×n")
      .evaluate({"A": A_GEN, "X": SINGULAR})),
    E("sqrtm-negative-eigenvalue", ["sqrtm"],
      lambda: matcalc.derive("tr(A sqrtm(X))", wrt="X", shapes="A: n×n, X: n×n")
      .evaluate({"A": A_GEN, "X": NEGATIVE})),
    E("sqrtm-vjp-negative-eigenvalue", ["sqrtm"],
      lambda: matcalc.vjp("sqrtm(X)", "X", cotangent="G", shapes="X: n×n")
      .evaluate({"X": NEGATIVE, "G": A_GEN})),
    E("half-power-not-spd", ["X^(1/2)"],
      lambda: matcalc.derive("tr(A X^(1/2))", wrt="X", shapes="A: n×n, X: n×n spd")
      .evaluate({"A": A_GEN, "X": NEGATIVE})),
    E("real-power-not-spd", ["X^p"],
      lambda: matcalc.derive("tr(X^0.7)", wrt="X", shapes="X: n×n spd")
      .evaluate({"X": NEGATIVE})),
    E("chol-indefinite", ["chol"],
      lambda: matcalc.derive("a^T chol(A) b", wrt="A", shapes="a: n, b: n, A: n×n spd")
      .evaluate({"a": VEC, "b": VEC, "A": NEGATIVE})),
    E("chol-vjp-indefinite", ["chol"],
      lambda: matcalc.vjp("chol(A)", "A", cotangent="G", shapes="A: n×n spd")
      .evaluate({"A": NEGATIVE, "G": A_GEN})),
    E("eigvals-hvp-repeated-eigenvalue", ["eigvals"],
      lambda: matcalc.hvp("a^T eigvals(S)", "S", vector="U", shapes="a: n, S: n×n symmetric")
      .evaluate({"a": VEC, "S": REPEATED_MIDDLE, "U": np.eye(n)})),
    E("nuclear-norm-hvp-repeated-singular-value", ["‖·‖_*"],
      lambda: matcalc.hvp("‖A‖_*", "A", vector="U", shapes="A: m×n")
      .evaluate({"A": _repeated_singular(SIZES["m"], n), "U": np.ones((SIZES["m"], n))})),
    E("sigma-max-hvp-repeated-singular-value", ["σ_max"],
      lambda: matcalc.hvp("σ_max(A)^2", "A", vector="U", shapes="A: m×n")
      .evaluate({"A": _repeated_singular(SIZES["m"], n), "U": np.ones((SIZES["m"], n))})),
    E("pinv-wide-rank-deficient", ["pinv"],
      lambda: matcalc.vjp("pinv(A)", "A", cotangent="G", shapes="A: p×n")
      .evaluate({"A": _rank_deficient(SIZES["p"], n), "G": np.ones((n, SIZES["p"]))})),
    E("lambda-max-not-symmetric", ["λ_max"],
      lambda: matcalc.derive("λ_max(S)", wrt="S", shapes="S: n×n symmetric")
      .evaluate({"S": NOT_SYMMETRIC})),
    E("eigvals-not-symmetric", ["eigvals"],
      lambda: matcalc.vjp("eigvals(S)", "S", cotangent="g", shapes="S: n×n symmetric")
      .evaluate({"S": NOT_SYMMETRIC, "g": VEC})),
    E("chol-not-symmetric", ["chol"],
      lambda: matcalc.derive("a^T chol(A) b", wrt="A", shapes="a: n, b: n, A: n×n spd")
      .evaluate({"a": VEC, "b": VEC, "A": NOT_SYMMETRIC})),
    E("logm-trace-spd-negative-eigenvalue", ["logm"],
      lambda: matcalc.derive("tr(logm(X))", wrt="X", shapes="X: n×n spd")
      .evaluate({"X": NEGATIVE})),
    E("gaussian-nll-cholesky-indefinite", ["chol", "solve"],
      lambda: matcalc.derive("½‖solve(chol(Σ), x)‖^2 + sum(log(diag(chol(Σ))))", wrt="Σ",
                             shapes="Σ: n×n spd, x: n").evaluate({"Σ": NEGATIVE, "x": VEC})),
]


# Failure points matcalc does not report yet (in the findings file): id → reason.
UNREPORTED: dict[str, str] = {}


def _failure_params():
    out = []
    for id, needs, call in FAILURES:
        missing = [x for x in needs if x in NOT_YET]
        marks = [pytest.mark.xfail(strict=False, reason="not implemented yet: "
                                   + ", ".join(missing))] if missing else []
        if id in UNREPORTED:
            marks.append(pytest.mark.xfail(strict=False, raises=AssertionError,
                                           reason=UNREPORTED[id]))
        out.append(pytest.param(call, id=id, marks=marks))
    return out


@pytest.mark.parametrize("call", _failure_params())
def test_assumption_failure_is_reported(call):
    """(e) An error or a warning at the point where the result does not hold."""
    _refuses(call)


def test_assumption_points_are_what_they_claim():
    """The failure points really break the assumption (so a pass above means something)."""
    top = np.linalg.eigvalsh(REPEATED_TOP)
    assert abs(top[-1] - top[-2]) < 1e-12
    mid = np.linalg.eigvalsh(REPEATED_MIDDLE)
    assert abs(mid[1] - mid[2]) < 1e-12
    assert np.linalg.eigvalsh(NEGATIVE)[0] < 0
    assert np.linalg.matrix_rank(SINGULAR) == n - 1
    s = np.linalg.svd(_repeated_singular(SIZES["m"], n), compute_uv=False)
    assert abs(s[0] - s[1]) < 1e-12
    assert np.linalg.matrix_rank(_rank_deficient(SIZES["m"], n)) == 2
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(NEGATIVE)
    assert np.max(np.abs(NOT_SYMMETRIC - NOT_SYMMETRIC.T)) > 0.4


# Assumptions stated in the result -----------------------------------------------------------------

# Row → words one of r.assumptions must contain (case-insensitive), from the conditions the
# literature's formula needs.
STATED = {
    "lambda-max": ("symmetric", "simple"),
    "lambda-min": ("symmetric", "simple"),
    "eigvals-vjp": ("symmetric", "distinct"),
    "lambda-max-hvp": ("symmetric", "simple"),
    "chol-vjp": ("positive definite",),
    "gaussian-nll-cholesky": ("positive definite",),
    "solve-matrix-vjp": ("invertible",),
    "backslash-trace": ("invertible",),
    "least-squares-solve-matrix": ("invertible",),
    "logm-trace-weighted": ("negative real axis",),
    "log-euclidean-distance": ("negative real axis",),
    "sqrtm-vjp": ("negative real axis",),
    "half-power-vjp": ("negative real axis",),
    "power-vjp": ("negative real axis",),
    "pinv-trace-tall": ("full rank",),
    "pinv-vjp": ("full rank",),
    "sigma-max": ("simple",),
    "spectral-norm-squared": ("simple",),
    "nuclear-norm": ("distinct", "nonzero"),
    "svdvals-vjp": ("distinct",),
}
_BY_ID = {r.id: r for r in ROWS}


@pytest.mark.parametrize("row", _params([_BY_ID[i] for i in STATED]))
def test_result_states_its_assumptions(row):
    """r.assumptions names the conditions the closed form needs, and the steps print them."""
    r = _matcalc(row)
    said = " ".join(r.assumptions).lower()
    for word in STATED[row.id]:
        assert word in said, f"{row.id}: {word!r} not in {r.assumptions}"
    steps = r.explain().render() if row.kind == "d1" else ""
    for a in r.assumptions if row.kind == "d1" else ():
        assert a in steps, f"{row.id}: the steps do not print the assumption {a!r}"


# Generated code -----------------------------------------------------------------------------------

# Generated code matcalc refuses for a backend (UnsupportedError: the operation has no form
# there), or gets wrong (reported in the findings file): (backend, row id) → (why, exception).
_NO_FORM = "unsupported by matcalc: no {} form for {} in generated code"
CODEGEN_XFAIL: dict[tuple[str, str], tuple[str, type]] = {
    # the second Fréchet derivative of logm through the block formula needs logm of a block
    # triangular matrix, which the eigendecomposition JAX and PyTorch are given cannot take
    ("jax", "log-euclidean-hvp"): (_NO_FORM.format("jax", "L2_log"), matcalc.UnsupportedError),
    ("torch", "log-euclidean-hvp"): (_NO_FORM.format("torch", "L2_log"),
                                     matcalc.UnsupportedError),
}


def _codegen_params():
    out = []
    per_family = {}
    for r in ROWS:
        per_family.setdefault((r.needs, r.kind), r)
    for backend in ("numpy", "torch", "jax"):
        # NumPy on every row; torch and JAX on one row per kind and combination of functions
        # and every second-order row on every backend: those print the Kronecker and
        # second Fréchet forms (K_exp, K2_log, L2_exp, …) each backend writes its own way
        second = [r for r in ROWS if (r.kind in ("d2", "hvp", "mixed") or _matrix_wrt_matrix(r))
                  and r not in per_family.values()]
        for r in ROWS if backend == "numpy" else [*per_family.values(), *second]:
            marks = list(_marks(r))
            if (backend, r.id) in CODEGEN_XFAIL and not marks:
                why, exc = CODEGEN_XFAIL[backend, r.id]
                marks = [pytest.mark.xfail(strict=False, raises=exc, reason=why)]
            out.append(pytest.param(backend, r, id=f"{backend}-{r.id}", marks=marks))
    return out


def _matrix_wrt_matrix(row) -> bool:
    """A matrix-valued function of a matrix: its derivative is printed in Kronecker form."""
    values = row.values()
    return min(np.shape(np.asarray(row.f(values)))[:2] or (1,)) > 1 and \
        min(np.shape(values[row.wrt])[:2] or (1,)) > 1


@pytest.mark.parametrize("backend, row", _codegen_params())
def test_generated_code_matches_table(backend, row):
    """r.to_function(backend) returns the function's value (⟨G, f⟩ for a VJP) and the derivative
    of the table, shaped as evaluate() gives it (JAX computes in float32 unless x64 is switched
    on, hence its tolerance)."""
    import inspect
    if backend == "torch":
        torch = pytest.importorskip("torch")
        convert = lambda a: torch.tensor(np.asarray(a, dtype=float))  # noqa: E731
    elif backend == "jax":
        jnp = pytest.importorskip("jax.numpy")
        convert = jnp.asarray
    else:
        convert = np.asarray
    r = _matcalc(row)
    fn = r.to_function(backend)
    values = row.values()
    d = row.direction(values)
    if d is not None:
        values[_names(row)] = d
    value, deriv = fn(**{k: convert(values[k]) for k in inspect.signature(fn).parameters})
    value, deriv = np.asarray(value, dtype=float), np.asarray(deriv, dtype=float)
    f = np.asarray(row.f(values), dtype=float)
    want_value = np.sum(d * f) if row.kind == "vjp" else f
    want_value = want_value.reshape(axes_or_scalar(want_value))
    want = np.asarray(_closed(row, values, d), dtype=float)
    assert value.shape == want_value.shape, f"{backend} value shape {value.shape}"
    assert deriv.shape == want.shape, f"{backend} derivative shape {deriv.shape} ≠ {want.shape}"
    tol = 2e-5 if backend == "jax" else 1e-8
    assert _rel(value, want_value) < tol, f"{backend} value of {row.expr}"
    assert _rel(deriv, want) < tol, f"{backend} derivative of {row.expr}: {r}"


def axes_or_scalar(a):
    """A scalar is 0-d in generated code; arrays keep their 2-D shape."""
    return () if np.size(a) == 1 and np.ndim(a) <= 2 and np.shape(a) in ((), (1, 1)) else \
        np.shape(a)


# JVPs and read-back -------------------------------------------------------------------------------

def _jvp_rows():
    return [r for r in ROWS if r.kind == "vjp"]


@pytest.mark.parametrize("row", _params(_jvp_rows()))
def test_matcalc_jvp_matches_table(row):
    """matcalc.jvp of each non-scalar function: against the directional difference of the
    original, and against the closed-form VJP by duality ⟨G, J[U]⟩ = ⟨J*[G], U⟩."""
    values = row.values()
    x = values[row.wrt]
    vector = np.shape(x)[1] == 1
    name = "u" if vector else "U"
    rng = np.random.default_rng(row.seed + 31)
    u = rng.normal(size=np.shape(x))
    if row.sym:
        u = O.sym(u)
    r = matcalc.jvp(row.expr, row.wrt, tangent=name, shapes=row.shapes)
    got = r.evaluate({**values, name: u})
    fd = O.fd_directional(row.f, values, row.wrt, u)
    _same_shape(got, fd, f"{row.id}: {r}")
    assert _rel(got, fd) < row.fd_tol, f"{row.id}: jvp {r} vs finite differences"
    g = row.direction(values)
    lhs = float(np.sum(g * got))
    rhs = float(np.sum(row.closed(values, g) * u))
    assert abs(lhs - rhs) < 1e-7 * max(1.0, abs(rhs)), f"{row.id}: ⟨G, J[U]⟩ ≠ ⟨J*[G], U⟩"


_NAME_OF_SIZE = {v: k for k, v in SIZES.items()}     # sizes are distinct, so this inverts


def _declare(name, array):
    """A declaration for a direction from its concrete shape (sizes → their names)."""
    rows, cols = np.shape(array)
    spec = _NAME_OF_SIZE[rows] if cols == 1 else f"{_NAME_OF_SIZE[rows]}×{_NAME_OF_SIZE[cols]}"
    return f"{name}: {spec}"


# Printed forms that do not read back (reported in the findings file): id → (why, exception).
NO_READ_BACK: dict[str, tuple[str, type]] = {}


def _read_back_params():
    out = []
    for r in ROWS:
        marks = list(_marks(r))
        if r.id in NO_READ_BACK and not any(m.kwargs.get("raises") is matcalc.UnsupportedError
                                            for m in marks):
            why, exc = NO_READ_BACK[r.id]
            marks = [pytest.mark.xfail(strict=False, raises=exc, reason=why)]
        out.append(pytest.param(r, id=r.id, marks=marks))
    return out


@pytest.mark.parametrize("row", _read_back_params())
def test_printed_result_reads_back(row):
    """str(r), r.text and r.latex parse back, with the row's shapes, to the same function."""
    from matcalc.core.dims import symbol
    from matcalc.numeric.evaluate import evaluate_tree
    r = _matcalc(row)
    shapes = row.shapes
    values = row.values()
    env = {k: np.asarray(v, dtype=float).reshape(np.shape(v) or (1, 1)) for k, v in values.items()}
    if row.kind in ("vjp", "hvp"):
        name = _names(row)
        d = np.asarray(row.direction(values), dtype=float)
        if "min(" not in str(matcalc.parse(row.expr, shapes=row.shapes).shape):
            shapes += ", " + _declare(name, d)   # (a size min(p,n) has no spelling: inferred)
        env[name] = d
    sizes = {symbol(k): v for k, v in SIZES.items()}
    want = evaluate_tree(r.node, env, sizes, strict=True)
    for form in (str(r), r.text, r.latex):
        tree = matcalc.parse(form, shapes=shapes)
        # a constant printed alone (the I of det(expm(X))I) has no size of its own: its size
        # is the result's, as when a user pastes it where the result belongs
        known = dict(sizes)
        for db, dn in zip(tree.shape, r.node.shape):
            if db.is_Symbol and db not in known and not (dn.free_symbols - set(sizes)):
                known[db] = int(dn.subs(sizes))
        got = evaluate_tree(tree, env, known, strict=True)
        assert got.shape == want.shape, f"{row.id}: {form!r} reads back as {got.shape}"
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11,
                                   err_msg=f"{row.id}: {form!r} reads back differently")


@pytest.mark.parametrize("row", _params([r for r in ROWS if r.kind == "d1" and r.wrt in ("b",)
                                         and np.ndim(r.f(r.values())) == 2]))
def test_denominator_layout_is_the_transposed_jacobian(row):
    """layout="denominator" gives the transpose of the table's (numerator-layout) Jacobian."""
    r = matcalc.derive(row.expr, wrt=row.wrt, shapes=row.shapes, layout="denominator")
    values = row.values()
    got = r.evaluate(values)
    want = np.asarray(row.closed(values)).T
    _same_shape(got, want, f"{row.id}: {r}")
    assert _rel(got, want) < 1e-9, f"{row.id}: {r}"

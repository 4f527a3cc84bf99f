"""Matrix functions and decompositions: spellings, shape and precondition errors with carets,
DomainErrors where an assumption fails, read-back of printed results, and derivatives against
central differences of the ORIGINAL function written here in NumPy/SciPy (never matcalc's own
evaluator of a derivative). The sourced identity table lives in test_matfuncs_table.py."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl

from matcalc import derive, parse
from matcalc.core import expr as E
from matcalc.core.errors import DomainError, ParseError, ShapeError

rng = np.random.default_rng(18)
M, N = 3, 4                     # a different size for every dimension name


def _spd(n):
    a = rng.normal(size=(n, n))
    return a @ a.T / n + np.eye(n)


def _sym(n):
    a = rng.normal(size=(n, n))
    return a + a.T


def _num_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


# Spellings ---------------------------------------------------------------------------------------

SPELLINGS = [
    ("A \\ b", "solve(A, b)", "A: n×n, b: n"),
    ("A \\backslash b", "solve(A, b)", "A: n×n, b: n"),
    ("X^(1/2)", "sqrtm(X)", "X: n×n spd"),
    ("X^{1/2}", "sqrtm(X)", "X: n×n spd"),
    ("\\operatorname{expm}(X)", "expm(X)", "X: n×n"),
    ("λ_max(S)", "lambda_max(S)", "S: n×n symmetric"),
    ("\\lambda_{\\max}(S)", "lambda_max(S)", "S: n×n symmetric"),
    ("\\lambda_{\\min}\\left(S\\right)", "lambda_min(S)", "S: n×n symmetric"),
    ("σ_max(A)", "sigma_max(A)", "A: m×n"),
    ("‖A‖₂", "sigma_max(A)", "A: m×n"),
    ("\\|A\\|_2", "sigma_max(A)", "A: m×n"),
    ("‖A‖_*", "nuclear(A)", "A: m×n"),
    ("\\|A\\|_*", "nuclear(A)", "A: m×n"),
    ("tr expm(X)", "tr(expm(X))", "X: n×n"),
    ("L_{\\exp}\\left(X, E\\right)", "L_exp(X, E)", "X: n×n, E: n×n"),
    ("A⁺b", "pinv(A) b", "A: m×n, b: m"),
    ("(AB)†", "pinv(A B)", "A: m×n, B: n×n"),
    ("A^{+}", "pinv(A)", "A: m×n"),
    ("\\mathbf{A}^\\dagger", "pinv(A)", "A: m×n"),
]


@pytest.mark.parametrize("spelling, explicit, shapes", SPELLINGS, ids=[s[0] for s in SPELLINGS])
def test_spelling_is_the_explicit_call(spelling, explicit, shapes):
    assert parse(spelling, shapes) == parse(explicit, shapes)


def test_elementwise_exp_and_log_keep_their_meaning():
    X = parse("exp(X) + log(X)", "X: n×n")
    assert all(type(t) is E.Apply for t in X.args)


def test_real_power_of_a_matrix_is_a_matrix_function_and_of_a_scalar_a_power():
    assert type(parse("X^(1/3)", "X: n×n spd")) is E.MatFn
    assert type(parse("s^(1/3)", "s: scalar")) is E.Power


def test_svdvals_has_min_of_the_sizes_entries():
    assert str(parse("svdvals(A)", "A: m×n").shape[0]) == "min(m,n)"
    assert parse("svdvals(A)", "A: 3×5").shape[0] == 3


# Errors ------------------------------------------------------------------------------------------

ERRORS = [
    ("expm(A)", "A: m×n", ShapeError, "expm needs a square matrix", 0),
    ("solve(A, b)", "A: n×n, b: m", ShapeError, "cannot solve", 0),
    ("1 + eigvals(X)", "X: n×n", ShapeError, "needs a symmetric matrix", 4),
    ("chol(X)", "X: n×n", ShapeError, "needs a symmetric matrix", 0),
    ("L_pow(X, E, q)", "X: n×n, E: n×n, q: scalar", ParseError, "exponent", 12),
    ("expm(X, Y)", "X: n×n, Y: n×n", ParseError, "takes 1 argument", 0),
    ("expm", "X: n×n", ParseError, "is a function", 0),
]


@pytest.mark.parametrize("text, shapes, cls, message, column", ERRORS, ids=[e[0] for e in ERRORS])
def test_mistakes_give_an_error_with_a_caret(text, shapes, cls, message, column):
    with pytest.raises(cls) as info:
        parse(text, shapes)
    assert message in str(info.value)
    assert info.value.span is not None and info.value.span.start == column
    assert "^" in str(info.value).splitlines()[-1]


def test_symmetric_by_structure_needs_no_declaration():
    assert parse("λ_max(XᵀX) + λ_min(A + Aᵀ) + λ_max(XᵀSX)", "X: m×n, A: n×n, S: m×m spd")


DOMAIN = [
    ("λ_max(S)", "S", "S: n×n symmetric", {"S": np.eye(3)}, "repeated"),
    ("cᵀ solve(A, b)", "b", "A: n×n, b: n, c: n",
     {"A": np.ones((3, 3)), "b": np.ones(3), "c": np.ones(3)}, "singular"),
    ("tr logm(X)", "X", "X: n×n", {"X": -np.eye(3)}, "negative real axis"),
    ("tr sqrtm(X)", "X", "X: n×n", {"X": np.diag([1.0, -2.0, 3.0])}, "negative real axis"),
    # (sum(eigvals(S)) = tr S is differentiable at repeated eigenvalues too: its gradient is I)
    ("wᵀ eigvals(S)", "S", "S: n×n symmetric, w: n",
     {"S": np.diag([1.0, 1.0, 2.0]), "w": np.array([1.0, 2.0, 3.0])}, "repeated"),
    ("‖A‖₂", "A", "A: m×n", {"A": np.eye(3)}, "repeated"),
    ("sum(chol(A))", "A", "A: n×n spd", {"A": -np.eye(3)}, "not positive definite"),
]


@pytest.mark.parametrize("f, wrt, shapes, values, why", DOMAIN, ids=[d[0] for d in DOMAIN])
def test_an_assumption_failing_at_the_point_is_a_domain_error_not_nan(f, wrt, shapes, values, why):
    r = derive(f, wrt=wrt, shapes=shapes)
    assert r.assumptions
    with pytest.raises(DomainError) as info:
        r.evaluate(values)
    assert why in str(info.value)


def test_assumptions_are_listed_and_shown_in_the_steps():
    r = derive("λ_max(S)", wrt="S", shapes="S: n×n symmetric")
    assert r.assumptions == ["S is symmetric", "the largest eigenvalue of S is simple"]
    assert "assuming the largest eigenvalue of S is simple" in str(r.steps)
    assert derive("xᵀx", wrt="x").assumptions == []


# Derivatives against this file's own finite differences ------------------------------------------

def test_trace_of_expm_has_gradient_expm_transposed():
    r = derive("tr expm(X)", wrt="X", shapes="X: n×n")
    assert r.text == "expm(X)^T"
    X = rng.normal(size=(N, N))
    np.testing.assert_allclose(r.evaluate({"X": X}), sl.expm(X).T, rtol=1e-10)


def test_gradient_through_expm_is_the_adjoint_frechet_derivative():
    r = derive("tr(W expm(X))", wrt="X", shapes="X: n×n, W: n×n")
    X, W = rng.normal(size=(N, N)) * 0.5, rng.normal(size=(N, N))
    want = _num_grad(lambda x: np.trace(W @ sl.expm(x)), X)
    np.testing.assert_allclose(r.evaluate({"X": X, "W": W}), want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f, fn", [("tr(W logm(X))", lambda x: np.real(sl.logm(x))),
                                   ("tr(W sqrtm(X))", lambda x: np.real(sl.sqrtm(x))),
                                   ("tr(W X^(1/3))",
                                    lambda x: np.real(sl.fractional_matrix_power(x, 1 / 3)))])
def test_gradient_through_logm_sqrtm_and_real_powers(f, fn):
    r = derive(f, wrt="X", shapes="X: n×n spd, W: n×n")
    X, W = _spd(N), rng.normal(size=(N, N))
    want = _num_grad(lambda x: np.trace(W @ fn(x)), X)
    np.testing.assert_allclose(r.evaluate({"X": X, "W": W}), want, rtol=1e-5, atol=1e-7)


def test_solve_gradients_are_the_inverse_forms():
    A, b, c = rng.normal(size=(N, N)) + 3 * np.eye(N), rng.normal(size=N), rng.normal(size=N)
    for wrt, x in (("A", A), ("b", b)):
        r = derive("cᵀ solve(A, b)", wrt=wrt, shapes="A: n×n, b: n, c: n")

        def f(v, wrt=wrt):
            args = {"A": A, "b": b, **{wrt: v}}
            return c @ np.linalg.solve(args["A"], args["b"])
        got = np.asarray(r.evaluate({"A": A, "b": b, "c": c})).reshape(x.shape)
        np.testing.assert_allclose(got, _num_grad(f, x), rtol=1e-6, atol=1e-8)


def test_eigenvalue_gradients_are_eigenvector_outer_products():
    S = _sym(N)
    w, V = np.linalg.eigh(S)
    r = derive("λ_max(S)", wrt="S", shapes="S: n×n symmetric")
    np.testing.assert_allclose(r.evaluate({"S": S}), np.outer(V[:, -1], V[:, -1]), atol=1e-10)
    r = derive("λ_min(S)", wrt="S", shapes="S: n×n symmetric")
    np.testing.assert_allclose(r.evaluate({"S": S}), np.outer(V[:, 0], V[:, 0]), atol=1e-10)


def test_nuclear_and_spectral_norm_gradients():
    A = rng.normal(size=(M, N))
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    np.testing.assert_allclose(derive("‖A‖_*", wrt="A", shapes="A: m×n").evaluate({"A": A}),
                               U @ Vt, atol=1e-10)
    np.testing.assert_allclose(derive("‖A‖₂", wrt="A", shapes="A: m×n").evaluate({"A": A}),
                               np.outer(U[:, 0], Vt[0]), atol=1e-10)


def test_cholesky_gradient_against_differences_of_the_symmetric_reading():
    r = derive("sum(W .* chol(A))", wrt="A", shapes="A: n×n spd, W: n×n")
    A, W = _spd(N), rng.normal(size=(N, N))
    want = _num_grad(lambda a: np.sum(W * np.linalg.cholesky((a + a.T) / 2)), A)
    np.testing.assert_allclose(r.evaluate({"A": A, "W": W}), want, rtol=1e-6, atol=1e-8)


def test_pinv_gradient_of_a_wide_full_rank_matrix():
    r = derive("tr(W pinv(A))", wrt="A", shapes="A: m×n, W: m×n")
    A, W = rng.normal(size=(M, N)), rng.normal(size=(M, N))
    want = _num_grad(lambda a: np.trace(W @ np.linalg.pinv(a)), A)
    np.testing.assert_allclose(r.evaluate({"A": A, "W": W}), want, rtol=1e-6, atol=1e-8)


def test_second_derivative_of_the_largest_eigenvalue_along_a_line():
    r = derive("λ_max(A + t B)", wrt="t", shapes="A: n×n symmetric, B: n×n symmetric, t: scalar",
               order=2)
    A, B, t, h = _sym(N), _sym(N), 0.3, 1e-4
    lam = lambda s: np.linalg.eigvalsh(A + s * B)[-1]
    want = (lam(t + h) - 2 * lam(t) + lam(t - h)) / h ** 2
    assert abs(r.evaluate({"A": A, "B": B, "t": t}) - want) < 1e-5 * max(1, abs(want))


def test_second_derivative_through_expm_uses_the_second_frechet_derivative():
    r = derive("sum(expm(t A) .* W)", wrt="t", shapes="A: n×n, W: n×n, t: scalar", order=2)
    A, W = rng.normal(size=(N, N)) * 0.5, rng.normal(size=(N, N))
    want = np.sum((A @ A @ sl.expm(0.7 * A)) * W)           # d²/dt² e^{tA} = A² e^{tA}
    assert abs(r.evaluate({"A": A, "W": W, "t": 0.7}) - want) < 1e-8 * max(1, abs(want))


def test_hessian_of_a_quadratic_form_through_solve():
    r = derive("xᵀ solve(A, x)", wrt="x", shapes="A: n×n, x: n", order=2)
    A = rng.normal(size=(N, N)) + 3 * np.eye(N)
    inv = np.linalg.inv(A)
    np.testing.assert_allclose(r.evaluate({"A": A, "x": rng.normal(size=N)}), inv + inv.T,
                               rtol=1e-10)


# Printing reads back ---------------------------------------------------------------------------

READ_BACK = [
    ("cᵀ solve(A, b)", "A", "A: n×n, b: n, c: n"),
    ("tr(W expm(X))", "X", "X: n×n, W: n×n"),
    ("tr(W X^(1/3))", "X", "X: n×n spd, W: n×n"),
    ("λ_max(A + xxᵀ)", "x", "A: n×n symmetric, x: n"),
    ("‖A‖_* + ‖A‖₂", "A", "A: m×n"),
    ("wᵀ eigvals(S)", "S", "S: n×n symmetric, w: n"),
    ("sum(W .* chol(A))", "A", "A: n×n spd, W: n×n"),
    ("wᵀ svdvals(A)", "A", "A: 3×5, w: 3"),
    ("tr(pinv(A))", "A", "A: n×n"),
]


@pytest.mark.parametrize("f, wrt, shapes", READ_BACK, ids=[r[0] for r in READ_BACK])
def test_printed_results_read_back(f, wrt, shapes):
    r = derive(f, wrt=wrt, shapes=shapes)
    node = r.node
    for text in (r.text, str(r), r.latex):
        assert parse(text, shapes) == parse(r.text, shapes), text
    assert parse(r.text, shapes).shape == node.shape


def test_generated_numpy_code_matches_scipy():
    r = derive("tr(W expm(X)) + λ_max(S)", wrt="X", shapes="X: n×n, W: n×n, S: n×n symmetric")
    assert "import scipy.linalg" in r.code()
    X, W, S = rng.normal(size=(N, N)) * 0.5, rng.normal(size=(N, N)), _sym(N)
    value, grad = r.to_function()(X=X, W=W, S=S)
    assert abs(value - (np.trace(W @ sl.expm(X)) + np.linalg.eigvalsh(S)[-1])) < 1e-10
    want = _num_grad(lambda x: np.trace(W @ sl.expm(x)), X)
    np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-8)


def test_hessian_of_trace_expm_is_the_kronecker_form_of_its_frechet_derivative():
    """∂² tr expm(X) = K(n,n)K_exp(X): compared with this file's nested differences."""
    r = derive("tr expm(X)", wrt="X", shapes="X: n×n", order=2)
    assert r.text.replace(" ", "") in ("commutation(n,n)*K_exp(X)",)
    X, h = rng.normal(size=(3, 3)) * 0.5, 1e-5
    H = r.evaluate({"X": X})
    for (i, j, k, l) in [(0, 1, 2, 0), (1, 1, 1, 1), (2, 0, 0, 2)]:
        e = np.zeros((3, 3))
        e[k, l] = h
        g = lambda x: sl.expm(x).T[i, j]
        assert abs(H[i, j, k, l] - (g(X + e) - g(X - e)) / (2 * h)) < 1e-6


def test_hessian_of_the_spectral_norm_squared():
    r = derive("σ_max(A)^2", wrt="A", shapes="A: m×n", order=2)
    assert r.check().max_rel_error < 1e-5


def test_kronecker_forms_read_back_and_generate_code():
    r = derive("tr(W X^(1/3))", wrt="X", shapes="X: n×n spd, W: n×n", order=2)
    for text in (r.text, str(r), r.latex):
        assert parse(text, "X: n×n spd, W: n×n") == parse(r.text, "X: n×n spd, W: n×n")
    X, W = _spd(3), rng.normal(size=(3, 3))
    got = np.asarray(r.to_function()(X=X, W=W)[1])
    np.testing.assert_allclose(got.reshape(3, 3, 3, 3), r.evaluate({"X": X, "W": W}), atol=1e-9)


# Regressions (found by the identity table) ---------------------------------------------------

@pytest.mark.parametrize("f, wrt, shapes", [
    ("λ_max(A^T A)", "A", "A: m×n"),
    ("½‖A − M‖_F^2 + λ‖A‖_*", "A", "A: m×n, M: m×n, λ: scalar"),
    ("‖X W − Y‖_F^2 + λ‖W‖₂^2", "W", "X: m×n, W: n×p, Y: m×p, λ: scalar"),
    ("x^T A x λ_max(S)", "x", "A: n×n, x: n, S: n×n symmetric")])
def test_a_letter_before_eigvec_max_or_svd_U_is_spaced_so_the_result_reads_back(f, wrt, shapes):
    """`2Aeigvec_max(AᵀA)…` once read back as a call of an unknown function Aeigvec_max."""
    r = derive(f, wrt=wrt, shapes=shapes)
    assert parse(str(r), shapes) == parse(r.text, shapes)


def test_svdvals_jacobian_with_symbolic_sizes_evaluates_reads_back_and_generates_code():
    """It raised a bare TypeError (the size min(m,n) is not a number) and printed sizes that
    did not read back."""
    r = derive("svdvals(A)", wrt="A", shapes="A: m×n")
    A = rng.normal(size=(5, 3))
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    T = r.evaluate({"A": A})
    assert T.shape == (3, 5, 3)
    np.testing.assert_allclose(T[1], np.outer(U[:, 1], Vt[1]), atol=1e-10)   # dσᵢ/dA = uᵢvᵢᵀ
    for text in (str(r), r.latex):
        assert parse(text, "A: m×n") == parse(str(r), "A: m×n")
    got = np.asarray(r.to_function()(A=A)[1])
    np.testing.assert_allclose(got.reshape(T.shape), T, atol=1e-10)


def test_latex_identity_with_an_unreadable_size_is_an_error_not_a_recursion():
    with pytest.raises(ParseError):
        parse("I_{min(m n)}", "A: m×n")


def test_pinv_derivative_at_a_rank_deficient_matrix_is_a_domain_error():
    r = derive("tr(C pinv(A))", wrt="A", shapes="A: m×n, C: m×n")
    R = rng.normal(size=(6, 2)) @ rng.normal(size=(2, 4))
    with pytest.raises(DomainError, match="full rank"):
        r.evaluate({"A": R, "C": np.ones((6, 4))})


def test_domain_error_of_a_real_power_names_the_matrix_the_user_wrote():
    """It named an internal rewrite, (X⁻¹)^0.3, and the eigenvalue of X⁻¹."""
    r = derive("tr(X^0.7)", wrt="X", shapes="X: n×n spd")
    with pytest.raises(DomainError) as info:
        r.evaluate({"X": np.diag([-0.7, 1.0, 2.0])})
    assert "X⁻¹" not in str(info.value) and "-0.7" in str(info.value)


def test_latex_fraction_exponent_is_the_real_power():
    assert parse(r"X^{\frac{1}{2}}", "X: n×n spd") == parse("sqrtm(X)", "X: n×n spd")
    assert parse(r"s^{\frac{1}{2}}", "s: scalar") == parse("s^(1/2)", "s: scalar")


def test_eigenvector_matrix_gradient_against_differences_of_eigh():
    r = derive("sum(eigvecs(S) .* W)", wrt="S", shapes="S: n×n symmetric, W: n×n")
    S, W = _sym(N), rng.normal(size=(N, N))

    def f(s):
        _, v = np.linalg.eigh((s + s.T) / 2)
        v = v * np.sign(v[np.argmax(np.abs(v), axis=0), np.arange(N)])    # largest entry > 0
        return np.sum(v * W)
    np.testing.assert_allclose(r.evaluate({"S": S, "W": W}), _num_grad(f, S), rtol=1e-5,
                               atol=1e-7)


def test_hessian_of_a_weighted_eigenvalue_sum_along_a_line():
    r = derive("wᵀ eigvals(A + t B)", wrt="t", order=2,
               shapes="A: n×n symmetric, B: n×n symmetric, t: scalar, w: n")
    A, B, w, h = _sym(N), _sym(N), rng.normal(size=N), 1e-4
    g = lambda t: w @ np.linalg.eigvalsh(A + t * B)
    want = (g(0.2 + h) - 2 * g(0.2) + g(0.2 - h)) / h ** 2
    assert abs(r.evaluate({"A": A, "B": B, "t": 0.2, "w": w}) - want) < 1e-5 * max(1, abs(want))


@pytest.mark.parametrize("shapes", ["A: 3×5", "A: 5×3"])
def test_hessian_of_the_nuclear_norm_against_nested_differences(shapes):
    """Through the derivative of the thin SVD's U and V (wide and tall A)."""
    r = derive("‖A‖_*", wrt="A", shapes=shapes, order=2)
    m, n = (3, 5) if shapes == "A: 3×5" else (5, 3)
    A, h = rng.normal(size=(m, n)), 1e-4
    H = r.evaluate({"A": A})                       # H[i, j, k, l] = ∂²‖A‖_*/∂A_ij ∂A_kl
    nuc = lambda a: np.sum(np.linalg.svd(a, compute_uv=False))
    for (i, j, k, l) in [(0, 1, 2, 0), (1, 1, 1, 1), (2, 2, 0, 1)]:
        e1, e2 = np.zeros((m, n)), np.zeros((m, n))
        e1[i, j], e2[k, l] = h, h
        want = (nuc(A + e1 + e2) - nuc(A + e1 - e2) - nuc(A - e1 + e2) + nuc(A - e1 - e2)) / (4 * h * h)
        assert abs(H[i, j, k, l] - want) < 1e-5


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_logm_and_real_powers_in_torch_and_jax_code_match_scipy(backend):
    pytest.importorskip(backend)
    r = derive("tr(W logm(X)) + tr(W X^(1/3))", wrt="X", shapes="X: n×n, W: n×n")
    X = rng.normal(size=(N, N)) * 0.3 + 1.5 * np.eye(N)          # not symmetric
    W = rng.normal(size=(N, N))
    value, grad = r.to_function(backend)(X=X, W=W)
    want = np.trace(W @ np.real(sl.logm(X))) + np.trace(W @ np.real(
        sl.fractional_matrix_power(X, 1 / 3)))
    assert abs(float(value) - want) < 1e-4 * max(1, abs(want))
    np.testing.assert_allclose(np.asarray(grad, dtype=float), r.evaluate({"X": X, "W": W}),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_a_sum_as_a_direction_of_a_frechet_derivative_is_bracketed_in_code(backend):
    """`vi @ 2.0 * (a - b).to(…) @ v` once multiplied the wrong operands (TypeError)."""
    pytest.importorskip(backend)
    r = derive("‖logm(X) − logm(Y)‖_F^2", wrt="X", shapes="X: n×n spd, Y: n×n spd")
    X, Y = _spd(N), _spd(N)
    value, grad = r.to_function(backend)(X=X, Y=Y)
    want = np.linalg.norm(np.real(sl.logm(X)) - np.real(sl.logm(Y))) ** 2
    assert abs(float(value) - want) < 1e-4 * max(1, want)
    np.testing.assert_allclose(np.asarray(grad, dtype=float), r.evaluate({"X": X, "Y": Y}),
                               rtol=1e-4, atol=1e-4)


def test_e_to_a_matrix_power_points_to_expm():
    with pytest.raises(ParseError) as info:
        parse("e^X", "X: n×n")
    assert "expm(X)" in str(info.value)


# Regressions (found by the read-back property) -----------------------------------------------

def _fd_jacobian(f, x, h=1e-6):
    """d vec f(X) / d vec(X) by central differences (column-major vec), f given in NumPy."""
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        e = e.reshape(x.shape, order="F")
        cols.append(((f(x + e) - f(x - e)) / (2 * h)).reshape(-1, order="F"))
    return np.column_stack(cols)


@pytest.mark.parametrize("spelling, fn", [
    ("expm", sl.expm), ("logm", lambda x: np.real(sl.logm(x))),
    ("sqrtm", lambda x: np.real(sl.sqrtm(x))),
    ("X^(1/3)", lambda x: np.real(sl.fractional_matrix_power(x, 1 / 3)))])
def test_jacobian_through_a_matrix_function_of_a_product_evaluates_where_it_is_undefined_too(
        spelling, fn):
    """`vec(sqrtm(B A))` wrt A printed K_sqrt(BA)(eye(n) ⊗ B); evaluating it where sqrtm is
    undefined raised a bare ValueError (NaN of the wrong size for K_sqrt) instead of NaN."""
    from matcalc.numeric.evaluate import evaluate_tree
    text = f"vec({spelling}(B A))" if "^" not in spelling else "vec((B A)^(1/3))"
    r = derive(text, wrt="A", shapes="A: n×n, B: n×n")
    A, B = rng.normal(size=(3, 3)) * 0.3 + 1.5 * np.eye(3), rng.normal(size=(3, 3)) * 0.3 + np.eye(3)
    want = _fd_jacobian(lambda a: fn(B @ a), A)
    np.testing.assert_allclose(evaluate_tree(r.node, {"A": A, "B": B}, {"n": 3}), want,
                               atol=1e-7)
    got = np.asarray(r.to_function()(A=A, B=B)[1])          # generated NumPy code
    np.testing.assert_allclose(got.reshape(9, 9, order="F"), want, atol=1e-7)
    # B A with the eigenvalue −1 (but not for expm, defined everywhere)
    A2, B2 = np.diag([-1.0, 2.0, 3.0]), np.eye(3)
    out = evaluate_tree(r.node, {"A": A2, "B": B2}, {"n": 3})
    assert out.shape == (9, 9)
    if spelling != "expm":
        assert np.all(np.isnan(out))
        with pytest.raises(DomainError, match="negative real axis"):
            r.evaluate({"A": A2, "B": B2})


def test_hessian_through_a_real_power_of_a_kronecker_product_evaluates_to_nan_where_undefined():
    """K2_pow of an n²×n² argument gave NaN of size n², so the product raised a bare ValueError."""
    from matcalc.numeric.evaluate import evaluate_tree
    r = derive("sum((X ⊗ B)^0.7)", wrt="X", shapes="X: n×n, B: n×n", order=2)
    out = evaluate_tree(r.node, {"X": -np.eye(3), "B": np.eye(3)}, {"n": 3})
    assert out.shape == (9, 9) and np.all(np.isnan(out))


def test_jacobian_of_sqrtm_of_a_kronecker_product_with_a_commutation_matrix():
    """(kron(A, K(m,n)))^(1/2) wrt A raised a bare ValueError (size 324 vs 18); where A has no
    real eigenvalue (n = 2), A ⊗ K(m,n) has none on the negative axis and it has a value."""
    from matcalc.numeric.evaluate import evaluate_tree
    r = derive("(kron(A, K(m,n)))^(1/2)", wrt="A", shapes="A: n×n")
    out = evaluate_tree(r.node, {"A": rng.normal(size=(3, 3))}, {"m": 2, "n": 3})
    assert out.shape == (2 * 2 * 3 ** 4, 9) and np.all(np.isnan(out))    # real eigenvalue λ, −λ
    m, n = 3, 2
    K = np.zeros((m * n, m * n))                # K vec(Y) = vec(Yᵀ) for Y m×n
    for i in range(m):
        for j in range(n):
            K[i * n + j, j * m + i] = 1.0
    A = np.array([[1.0, -2.0], [2.0, 1.3]])     # eigenvalues 1.15 ± 2i
    want = _fd_jacobian(lambda a: np.real(sl.sqrtm(np.kron(a, K))), A)
    np.testing.assert_allclose(evaluate_tree(r.node, {"A": A}, {"m": m, "n": n}), want,
                               atol=1e-7)
    got = np.asarray(r.to_function()(A=A, m=m)[1])
    np.testing.assert_allclose(got.reshape(want.shape, order="F"), want, atol=1e-7)


@pytest.mark.parametrize("f, k", [("λ_max(S)", -1), ("λ_min(S)", 0)])
def test_torch_code_for_the_hessian_of_an_extreme_eigenvalue_runs(f, k):
    """torch.kron(eye(n), <a column of eigh>) raised "view size is not compatible with input
    tensor's size and stride": .contiguous() keeps the column-major stride of a one-column slice."""
    torch = pytest.importorskip("torch")
    r = derive(f, wrt="S", shapes="S: n×n symmetric", order=2)
    S = _sym(N)
    value, H = r.to_function("torch")(torch.tensor(S))
    H = np.asarray(H, dtype=float)
    assert abs(float(value) - np.linalg.eigvalsh(S)[k]) < 1e-10
    np.testing.assert_allclose(H, r.evaluate({"S": S}), atol=1e-9)
    g = lambda s: np.linalg.eigvalsh((s + s.T) / 2)[k]          # what matcalc reads: f(sym S)
    h = 1e-4
    for (i, j, p, q) in [(0, 1, 2, 0), (1, 1, 1, 1), (3, 2, 0, 3), (2, 2, 1, 0)]:
        e1, e2 = np.zeros((N, N)), np.zeros((N, N))
        e1[i, j], e2[p, q] = h, h
        want = (g(S + e1 + e2) - g(S + e1 - e2) - g(S - e1 + e2) + g(S - e1 - e2)) / (4 * h * h)
        assert abs(H[i, j, p, q] - want) < 1e-5 * max(1, abs(want))


# Short forms: exact identities used by the rules (each checked by value) -----------------------

SHORT_FORMS = [
    # (f, wrt, shapes, printed, f in NumPy, a point)
    ("logdet(expm(X))", "X", "X: n×n", "I",
     lambda v: np.linalg.slogdet(sl.expm(v["X"]))[1], lambda: {"X": rng.normal(size=(N, N))}),
    ("sum(eigvals(S))", "S", "S: n×n symmetric", "I",
     lambda v: np.sum(np.linalg.eigvalsh((v["S"] + v["S"].T) / 2)), lambda: {"S": _sym(N)}),
    ("3 sum(eigvals(S))", "S", "S: n×n symmetric", "3I",
     lambda v: 3 * np.sum(np.linalg.eigvalsh((v["S"] + v["S"].T) / 2)), lambda: {"S": _sym(N)}),
    ("‖eigvals(S)‖^2", "S", "S: n×n symmetric", "2S",
     lambda v: np.sum(np.linalg.eigvalsh((v["S"] + v["S"].T) / 2) ** 2), lambda: {"S": _sym(N)}),
    ("‖eigvals((A + A^T)/2)‖^2", "A", "A: n×n", "A + Aᵀ",
     lambda v: np.sum(np.linalg.eigvalsh((v["A"] + v["A"].T) / 2) ** 2),
     lambda: {"A": rng.normal(size=(N, N))}),
    ("‖svdvals(A)‖^2", "A", "A: m×n", "2A",
     lambda v: np.sum(np.linalg.svd(v["A"], compute_uv=False) ** 2),
     lambda: {"A": rng.normal(size=(M, N))}),
    ("tr(X^(1/2) X^(1/2))", "X", "X: n×n spd", "I",
     lambda v: np.trace(np.real(sl.sqrtm(v["X"])) @ np.real(sl.sqrtm(v["X"]))),
     lambda: {"X": _spd(N)}),
    ("tr(X^0.7 X^0.3)", "X", "X: n×n spd", "I",
     lambda v: np.trace(np.real(sl.fractional_matrix_power(v["X"], 0.7)
                                @ sl.fractional_matrix_power(v["X"], 0.3))),
     lambda: {"X": _spd(N)}),
    ("tr(X^(1/3) X^(1/3))", "X", "X: n×n spd", "2X^(-1/3)/3",
     lambda v: np.trace(np.real(sl.fractional_matrix_power(v["X"], 1 / 3)) ** 1
                        @ np.real(sl.fractional_matrix_power(v["X"], 1 / 3))),
     lambda: {"X": _spd(N)}),
    ("logdet(X^(1/2))", "X", "X: n×n spd", "X⁻¹/2",
     lambda v: np.linalg.slogdet(np.real(sl.sqrtm(v["X"])))[1], lambda: {"X": _spd(N)}),
    ("tr(sqrtm(X)^3)", "X", "X: n×n spd", "3sqrtm(X)/2",
     lambda v: np.trace(np.linalg.matrix_power(np.real(sl.sqrtm(v["X"])), 3)),
     lambda: {"X": _spd(N)}),
    ("tr(expm(X) expm(X))", "X", "X: n×n", "2(expm(X)ᵀ)²",
     lambda v: np.trace(sl.expm(v["X"]) @ sl.expm(v["X"])),
     lambda: {"X": rng.normal(size=(N, N)) * 0.5}),
    ("tr(logm(X) logm(X))", "X", "X: n×n spd", "2logm(X)X⁻¹",
     lambda v: np.trace(np.real(sl.logm(v["X"])) @ np.real(sl.logm(v["X"]))),
     lambda: {"X": _spd(N)}),
]


@pytest.mark.parametrize("f, wrt, shapes, printed, fn, point", SHORT_FORMS,
                         ids=[s[0] for s in SHORT_FORMS])
def test_gradients_that_are_simple_matrices_print_short(f, wrt, shapes, printed, fn, point):
    """They printed as L_exp(X, expm(X)⁻¹)ᵀ, eigvecs(S)eigvecs(S)ᵀ, svd_U(A)diag(2svdvals(A))…,
    L_sqrt(X, 2sqrtm(X))ᵀ: VVᵀ = I, UΣVᵀ = A, and L_f(X, E) = f′(X)E for E a function of X
    (then X^a X^b = X^(a+b)). Values against differences of the original function in NumPy."""
    r = derive(f, wrt=wrt, shapes=shapes)
    assert str(r) == printed
    v = point()
    if f == "sum(eigvals(S))":                  # = tr S: the gradient I exists at repeated λ too
        np.testing.assert_allclose(r.evaluate({"S": np.diag([1.0, 1.0, 2.0])}), np.eye(3))
    got = r.evaluate(v)
    want = _num_grad(lambda x: fn({**v, wrt: x}), v[wrt])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_generated_code_gives_eigenvectors_and_singular_vectors_the_evaluators_signs(backend):
    """Generated code took eigh's and svd's vectors as they came, so its value and derivative
    of sum(eigvecs(S) .* W) differed from r.evaluate (largest entry of each eigenvector
    positive; uᵢ, vᵢ flipped together by vᵢ's largest entry)."""
    pytest.importorskip(backend)
    conv = {"numpy": np.asarray, "torch": lambda a: __import__("torch").tensor(a),
            "jax": lambda a: __import__("jax.numpy").numpy.asarray(a)}[backend]

    def signed(v):
        return v * np.sign(v[np.argmax(np.abs(v), axis=0), np.arange(v.shape[1])])

    S, W = _sym(N), rng.normal(size=(N, N))
    f = lambda s: np.sum(signed(np.linalg.eigh((s + s.T) / 2)[1]) * W)
    r = derive("sum(eigvecs(S) .* W)", wrt="S", shapes="S: n×n symmetric, W: n×n")
    value, grad = r.to_function(backend)(S=conv(S), W=conv(W))
    tol = 1e-4 if backend == "jax" else 1e-6             # JAX in float32 unless x64 is on
    assert abs(float(value) - f(S)) < tol
    np.testing.assert_allclose(np.asarray(grad, dtype=float), _num_grad(f, S), atol=tol * 10)
    A, z = rng.normal(size=(5, 3)), rng.normal(size=5)

    def g(a):
        u, _, vt = np.linalg.svd(a, full_matrices=False)
        s = np.sign(vt.T[np.argmax(np.abs(vt.T), axis=0), np.arange(3)])
        return z @ (u * s)[:, 0]
    r = derive("zᵀ svd_u1(A)", wrt="A", shapes="A: m×n, z: m")
    value, grad = r.to_function(backend)(A=conv(A), z=conv(z))
    assert abs(float(value) - g(A)) < tol
    np.testing.assert_allclose(np.asarray(grad, dtype=float), _num_grad(g, A), atol=tol * 10)

"""r.check() against the ORIGINAL function.

Each wrong-derivative test builds a Result whose derivative is wrong in a way the earlier
check could not see: the earlier check differentiated matcalc's own first derivative
(`checked_function`), so a wrong first derivative together with its exact derivative passed.
The test first shows that blind spot (the earlier comparison, reproduced with
finite_difference_check on the first derivative, passes), then shows that r.check() — which
differentiates the original function numerically — fails.
"""
from __future__ import annotations

import time
import tracemalloc
from dataclasses import replace

import numpy as np
import pytest

import matcalc
from matcalc import derive, hvp
from matcalc.numeric.evaluate import (MAX_CHECK_EVALUATIONS, MAX_NUMERIC_ENTRIES, CheckError,
                                      finite_difference_check)
from matcalc.language.parser import parse_with_shapes


def node(text, decls):
    return parse_with_shapes(text, decls)[0]


def old_check_passes(r, first, kind):
    """The comparison the earlier check made: r.node against differences of `first` (a
    symbolic first derivative), not of the function."""
    finite_difference_check(first, r.node, r.variable, kind, r.layout, r.decls.modifiers,
                            seed=0, direction=r.direction)


def test_check_fails_on_a_hessian_missing_the_transpose_term():
    """xᵀAx (A not symmetric): the Hessian is A + Aᵀ; 2A with the gradient 2Ax passed before."""
    r = derive("x^T A x", wrt="x", shapes="A: n×n, x: n", order=2)
    wrong_grad, wrong = node("2 A x", r.decls), node("2 A", r.decls)
    bad = replace(r, node=wrong, checked_function=wrong_grad)
    old_check_passes(bad, wrong_grad, "jacobian")
    with pytest.raises(CheckError, match="disagrees with finite differences"):
        bad.check(seed=0)
    replace(r, node=node("A + A^T", r.decls)).check(seed=0)        # the right one passes


def test_check_fails_on_a_hessian_missing_a_term_through_an_inverse():
    """tr((I + xxᵀ)⁻¹): −2(I + xxᵀ)⁻² alone misses the term from differentiating the inverse."""
    shapes = "x: n"
    r = derive("tr(inv(I + x x^T))", wrt="x", shapes=shapes, order=2)
    bad = replace(r, node=node("-2 (I + x x^T)^-2", r.decls))
    with pytest.raises(CheckError, match="disagrees with finite differences"):
        bad.check(seed=0)
    # Hand-derived: g = −2M⁻²x with M = I + xxᵀ; dg = −2M⁻²dx + 2M⁻¹(dx xᵀ + x dxᵀ)M⁻²x
    #                                                         + 2M⁻²(dx xᵀ + x dxᵀ)M⁻¹x
    right = ("-2 (I + x x^T)^-2 + 2 inv(I + x x^T) ((x^T (I + x x^T)^-2 x) I "
             "+ x x^T (I + x x^T)^-2) + 2 (I + x x^T)^-2 ((x^T inv(I + x x^T) x) I "
             "+ x x^T inv(I + x x^T))")
    replace(r, node=node(right, r.decls)).check(seed=0)


def test_check_fails_on_a_wrong_mixed_derivative():
    """∂/∂y ∂(xᵀAy)/∂x is A; Aᵀ with the first derivative Aᵀy passed before."""
    r = derive("x^T A y", wrt=("x", "y"), shapes="x: n, A: n×n, y: n")
    wrong_first, wrong = node("A^T y", r.decls), node("A^T", r.decls)
    bad = replace(r, node=wrong, checked_function=wrong_first)
    old_check_passes(bad, wrong_first, "jacobian")
    with pytest.raises(CheckError):
        bad.check(seed=0)
    r.check(seed=0)


def test_check_fails_on_a_wrong_second_derivative_wrt_a_scalar():
    """tr((I + cA)⁻¹): d/dc is −tr(M⁻¹AM⁻¹); one inverse dropped, with its exact derivative,
    passed before. The right second derivative is 2tr(M⁻¹AM⁻¹AM⁻¹)."""
    shapes = "A: n×n, c: scalar"
    r = derive("tr(A) + c", wrt="c", shapes=shapes, order=2)
    f = node("tr(inv(I + c A))", r.decls)
    wrong_first = node("-tr(inv(I + c A) A)", r.decls)
    wrong = node("tr(inv(I + c A) A inv(I + c A) A)", r.decls)
    bad = replace(r, function=f, node=wrong, checked_function=wrong_first)
    old_check_passes(bad, wrong_first, "derivative")
    with pytest.raises(CheckError):
        bad.check(seed=0)
    right = node("2 tr(inv(I + c A) A inv(I + c A) A inv(I + c A))", r.decls)
    replace(r, function=f, node=right).check(seed=0)


def test_check_fails_on_a_wrong_hessian_vector_product():
    """(∇²xᵀAx)u = (A + Aᵀ)u; 2Au with the gradient 2Ax passed before."""
    r = hvp("x^T A x", "x", shapes="A: n×n, x: n")
    wrong_grad, wrong = node("2 A x", r.decls), node("2 A u", r.decls)
    bad = replace(r, node=wrong, checked_function=wrong_grad)
    finite_difference_check(wrong_grad, wrong, r.variable, "jacobian", "numerator",
                            r.decls.modifiers, seed=0, direction="u")
    with pytest.raises(CheckError):
        bad.check(seed=0)
    r.check(seed=0)


def test_check_fails_on_a_wrong_hessian_wrt_a_matrix():
    """tr(XᵀAX): the Hessian (vec form) is I ⊗ (A + Aᵀ); I ⊗ 2A with gradient 2AX passed."""
    shapes = "X: m×n, A: m×m"
    r = derive("tr(X^T A X)", wrt="X", shapes=shapes, order=2)
    assert r.kind == "tensor"
    wrong_grad, wrong = node("2 A X", r.decls), node("kron(eye(n), 2 A)", r.decls)
    bad = replace(r, node=wrong, checked_function=wrong_grad)
    old_check_passes(bad, wrong_grad, "tensor")
    with pytest.raises(CheckError):
        bad.check(seed=0)
    replace(r, node=node("kron(eye(n), A + A^T)", r.decls)).check(seed=0)


def test_check_of_a_declared_spd_variable_treats_every_entry_as_independent():
    """logdet(P), P spd: every entry independent (CONTRACT §3), so the Hessian's vec form is
    −K(P⁻ᵀ ⊗ P⁻¹) — the derivative of the gradient P⁻ᵀ. −(P⁻¹ ⊗ P⁻¹), the derivative of the
    gradient written P⁻¹ by the declaration, passed before; the point is drawn spd."""
    shapes = "P: n×n spd"
    r = derive("logdet(P)", wrt="P", shapes=shapes, order=2)
    wrong_grad, wrong = node("inv(P)", r.decls), node("-kron(inv(P), inv(P))", r.decls)
    bad = replace(r, node=wrong, checked_function=wrong_grad)
    old_check_passes(bad, wrong_grad, "tensor")
    with pytest.raises(CheckError):
        bad.check(seed=0)
    right = node("-commutation(n, n) kron(inv(P)^T, inv(P))", r.decls)
    replace(r, node=right).check(seed=0)


def test_check_of_a_symmetric_variable_draws_a_symmetric_point():
    """The first derivative of xᵀSx wrt x is (S + Sᵀ)x = 2Sx only at a symmetric S: 2Sx passes
    because the point is drawn symmetric; S is still perturbed entry by entry wrt S."""
    r = derive("x^T S x", wrt="x", shapes="S: n×n symmetric, x: n")
    replace(r, node=node("2 S x", r.decls)).check(seed=0)
    g = derive("x^T S x", wrt="S", shapes="S: n×n symmetric, x: n")
    replace(g, node=node("x x^T", g.decls)).check(seed=0)
    with pytest.raises(CheckError):             # sym(xxᵀ) − diag: another convention, not ours
        replace(g, node=node("2 x x^T - diag(diag(x x^T))", g.decls)).check(seed=0)


def test_check_without_a_usable_point_is_an_error_not_a_pass():
    r = derive("sum(log(-exp(x)))", wrt="x", shapes="x: n")
    with pytest.raises(CheckError, match="could not find a point"):
        r.check(seed=0)


def test_higher_orders_are_checked_against_the_function():
    """Third and fourth derivatives wrt a scalar, and a third-order tensor wrt a vector."""
    r = derive("exp(2t)", wrt="t", shapes="t: scalar", order=4)
    with pytest.raises(CheckError):
        replace(r, node=node("8 exp(2t)", r.decls)).check(seed=0)
    r.check(seed=0)
    r = derive("sum(x .^ 4)", wrt="x", shapes="x: n", order=2)
    r.check(seed=0)


def test_check_with_a_huge_declared_size_names_the_limit_before_allocating():
    """A: 100000×100000 once raised MemoryError (74.5 GiB) from inside the check."""
    r = derive("tr(A)", wrt="A", shapes="A: 100000×100000")
    tracemalloc.start()
    t = time.perf_counter()
    try:
        with pytest.raises(matcalc.MatcalcError, match="1,000,000 entries"):
            r.check()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t < 2
    assert peak < 50_000_000
    assert MAX_NUMERIC_ENTRIES == 1_000_000


def test_check_that_would_take_too_many_evaluations_names_the_limit():
    r = derive("tr(X)", wrt="X", shapes="X: 400×400")
    with pytest.raises(matcalc.MatcalcError, match=f"{MAX_CHECK_EVALUATIONS:,} evaluations"):
        r.check()


def test_cli_check_with_a_huge_size_is_a_clear_error(capsys):
    from matcalc.cli import main
    code = main(["--wrt", "A", "--shapes", "A: 100000×100000", "--check", "tr(A)"])
    err = capsys.readouterr().err
    assert code == 1
    assert "1,000,000 entries" in err and "Traceback" not in err


def test_evaluate_with_an_array_over_the_limit_names_the_limit():
    r = derive("kron(x, x)", wrt="x", shapes="x: n")
    with pytest.raises(matcalc.MatcalcError, match="1,000,000 entries"):
        r.evaluate({"x": np.ones(200)})


@pytest.mark.parametrize("text, wrt, what", [
    ("tr(A^-2)", "A", "A"),                      # once LinAlgError from matrix_power
    ("x^T inv(A) x", "x", "A"),                  # once silently NaN
    ("logdet(A)", "A", "A"),
])
def test_evaluate_at_a_singular_point_is_a_domain_error(text, wrt, what):
    r = derive(text, wrt=wrt, shapes="A: n×n, x: n")
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(matcalc.DomainError, match="singular") as info:
        r.evaluate({"A": singular, "x": np.ones(2)})
    assert what in str(info.value)


def test_evaluate_of_logdet_with_a_negative_determinant_is_a_domain_error():
    r = derive("logdet(A) + tr(A)", wrt="A", shapes="A: n×n")
    v = r.evaluate({"A": np.eye(2)})
    np.testing.assert_allclose(v, 2 * np.eye(2))
    r2 = derive("logdet(A) x^T x", wrt="x", shapes="A: n×n, x: n")
    with pytest.raises(matcalc.DomainError, match="determinant is not positive"):
        r2.evaluate({"A": np.diag([1.0, -1.0]), "x": np.ones(2)})


def test_evaluate_at_a_regular_point_is_unchanged():
    r = derive("x^T inv(A) x", wrt="x", shapes="A: n×n, x: n")
    A = np.array([[2.0, 1.0], [0.0, 3.0]])
    x = np.array([1.0, -2.0])
    Ai = np.linalg.inv(A)
    np.testing.assert_allclose(r.evaluate({"A": A, "x": x}), ((Ai + Ai.T) @ x).reshape(2, 1))


def test_check_of_a_relu_loss_looks_past_points_where_every_unit_is_inactive():
    """With every unit of a relu layer inactive, the derivative and the differences are both
    exactly 0: agreeing zeros proved nothing, yet were reported as a pass. The check now looks
    for a point where something is compared, and says so when there is none."""
    from matcalc import derive
    g = derive("(1/N)*sum((y - max(0, X w + b)) .^ 2)", wrt="w",
               shapes="X: N×n, w: n, y: N, b: scalar")
    for seed in range(6):
        report = g.check(seed=seed)
        assert not report.only_zeros and report.max_abs_error > 0, str(report)
    flat = derive("sum(step(x))", wrt="x").check(seed=0)        # 0 wherever it is defined
    assert flat.only_zeros and "only zeros were compared" in str(flat)


def test_a_check_too_large_at_drawn_sizes_says_so_and_does_not_ask_for_names():
    """Nested ⊗ wrt a matrix needs a 4,374² array even at the sizes the check draws: the
    refusal does not tell the user to declare sizes as names (they are names already)."""
    r = derive("kron(kron(A, X), kron(A, A))", wrt="A", shapes="A: n×n, X: m×n")
    with pytest.raises(matcalc.MatcalcError) as info:
        r.check(seed=0)                  # (draws n = 3, m = 2; at n = 2 the array fits)
    assert "numeric work is limited" in str(info.value)
    assert "already names" in info.value.hint and "declare" not in info.value.hint


def test_a_check_too_large_at_sizes_written_as_numbers_asks_for_names():
    r = derive("kron(A, A)", wrt="A", shapes="A: 40×40")
    with pytest.raises(matcalc.MatcalcError) as info:
        r.check()
    assert "declare the sizes as names" in info.value.hint

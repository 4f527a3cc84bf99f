"""Shape inference: the sizes inference makes up (of a bare I, 𝟙 or an undeclared name) never
take a name the user wrote, and sizes that are products (Kronecker products, vec, K(m,n)) unify
factor by factor. Every case compares with the spelling that writes the sizes out."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc import parse
from matcalc.core.dims import symbol, without_common_factor
from matcalc.core.shapes import Unifier, fmt_dim
from matcalc.language.parser import parse_together
from matcalc.numeric.evaluate import evaluate_tree

n, k, m, p = (symbol(s) for s in "nkmp")


def _sym_shapes(node) -> dict:
    out, stack = {}, [node]
    while stack:
        a = stack.pop()
        if type(a).__name__ == "Sym":
            out.setdefault(a.name, set()).add(a.shape)
        stack.extend(a.children)
    return out


def test_bare_identity_before_a_kronecker_product_keeps_the_declared_size_of_a():
    """I(eye(n) ⊗ A) with A: n×k gave A the shape n×n² (the identity's made-up size was
    called k, the user's k, and was bound to n²)."""
    node = parse("I (eye(n) ⊗ A)", shapes="A: n×k")
    assert _sym_shapes(node) == {"A": {(n, k)}}
    assert node.shape == (n * n, n * k)
    assert node == parse("eye(n*n) (eye(n) ⊗ A)", shapes="A: n×k")


def test_bare_identity_before_a_commutation_matrix_takes_its_size():
    """`I K(n,k)` with A: n×k said "cannot multiply I (k×k) by K(n,k) (k·n×k·n)"."""
    node = parse("I K(n,k)", shapes="A: n×k")
    assert node.shape == (n * k, n * k)
    assert node == parse("eye(n*k) K(n,k)", shapes="A: n×k")


@pytest.mark.parametrize("text, explicit, shape", [
    ("(eye(n) ⊗ A) I", "(eye(n) ⊗ A) eye(n*k)", (n * n, n * k)),
    ("K(n,k) I", "K(n,k) eye(n*k)", (n * k, n * k)),
    ("I vec(A)", "eye(n*k) vec(A)", (n * k, 1)),
    ("I (eye(n) ⊗ A) I", "eye(n*n) (eye(n) ⊗ A) eye(n*k)", (n * n, n * k)),
    ("I + K(n,k)", "eye(n*k) + K(n,k)", (n * k, n * k)),
    ("(I + (Aᵀ ⊗ A)) K(n,k)", "(eye(n*k) + (Aᵀ ⊗ A)) K(n,k)", (n * k, n * k)),
])
def test_bare_identity_next_to_kronecker_factors_means_its_sized_spelling(text, explicit, shape):
    node = parse(text, shapes="A: n×k")
    assert _sym_shapes(node).get("A", {(n, k)}) == {(n, k)}
    assert node.shape == shape
    assert node == parse(explicit, shapes="A: n×k")


def test_unicode_hessian_with_a_bare_identity_before_a_kronecker_reads_back():
    """The Riemannian Hessian of ‖XA − B‖²_F + tr(CXX) on orthogonal matrices prints a bare I
    in front of K(n,n)(… (eye(n) ⊗ A)K(n,k) …); that Unicode form read back with A: n×n²."""
    shapes = "X: n×n, A: n×k, B: n×k, C: n×n"
    printed = ("(I − (I + (Xᵀ ⊗ X)K(n,n))/2)(K(n,n)(2(eye(n) ⊗ A)K(n,k)(Aᵀ ⊗ eye(n)) + "
               "eye(n) ⊗ C + Cᵀ ⊗ eye(n)))")
    explicit = printed.replace("(I", "(eye(n*n)")
    back = parse(printed, shapes)
    assert _sym_shapes(back)["A"] == {(n, k)}
    assert back == parse(explicit, shapes)
    # and the values, against NumPy written out here (n = 3, k = 2)
    rng = np.random.default_rng(1)
    X, A, C = rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=(3, 3))

    def K(r, c):                      # the commutation matrix: K(r,c) vec(M) = vec(Mᵀ), M: r×c
        out = np.zeros((r * c, r * c))
        for i in range(r):
            for j in range(c):
                out[i * c + j, j * r + i] = 1
        return out

    M = np.random.default_rng(2).normal(size=(3, 2))
    assert np.allclose(K(3, 2) @ M.ravel(order="F"), M.T.ravel(order="F"))
    I9, I3 = np.eye(9), np.eye(3)
    want = (I9 - (I9 + np.kron(X.T, X) @ K(3, 3)) / 2) @ (K(3, 3) @ (
        2 * np.kron(I3, A) @ K(3, 2) @ np.kron(A.T, I3) + np.kron(I3, C) + np.kron(C.T, I3)))
    got = evaluate_tree(back, {"X": X, "A": A, "B": rng.normal(size=(3, 2)), "C": C},
                        {"n": 3, "k": 2})
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_size_written_in_the_formula_is_not_taken_by_a_bare_identity():
    """(I + xxᵀ) ⊗ eye(k): the identity's made-up size was called k and bound to x's length,
    so the user's eye(k) shrank to that length too."""
    node = parse("(I + x xᵀ) ⊗ eye(k)")
    nx = symbol("n_x")
    assert node.shape == (nx * k, nx * k)
    assert node.right.shape == (k, k)


def test_made_up_sizes_avoid_every_name_the_formula_and_the_shapes_use():
    u = Unifier(reserved={"k", "k1", "n_x"})
    made = [u.fresh("k"), u.fresh("k"), u.fresh("n_x")]
    assert len(set(made)) == 3 and not {str(d) for d in made} & {"k", "k1", "n_x"}
    # nothing taken: the usual names (printed forms and messages do not change)
    u = Unifier()
    assert [str(u.fresh("k")), str(u.fresh("k"))] == ["k", "k2"]


def test_formulas_read_together_do_not_share_a_made_up_size_with_a_written_one():
    (a, b), _ = parse_together(["I + x xᵀ", "eye(k)"])
    assert b.shape == (k, k) and a.shape[0] != k


@pytest.mark.parametrize("text, shapes, explicit", [
    ("(I ⊗ A) vec(X)", "A: m×n, X: n×p", "(eye(p) ⊗ A) vec(X)"),
    ("vec(X)ᵀ (I ⊗ A)", "A: m×n, X: m×p", "vec(X)ᵀ (eye(p) ⊗ A)"),
    ("(A ⊗ I) K(n,p)", "A: m×n", "(A ⊗ eye(p)) K(n,p)"),
    ("(I ⊗ A) + (eye(p) ⊗ A)", "A: m×n", "(eye(p) ⊗ A) + (eye(p) ⊗ A)"),
])
def test_an_identity_inside_a_kronecker_product_takes_the_factor_the_product_needs(
        text, shapes, explicit):
    """(I ⊗ A)vec(X) said "inner sizes k·n and n·p differ": sizes that are products unify
    once their common factor is cancelled (k·n = n·p exactly when k = p)."""
    assert parse(text, shapes) == parse(explicit, shapes)


def test_declared_sizes_stay_rigid_when_products_are_compared():
    with pytest.raises(matcalc.ShapeError) as err:
        parse("(eye(n) ⊗ A) vec(X)", "A: m×k, X: n×p")
    assert "k·n and n·p differ" in str(err.value)


def test_two_bare_identities_in_a_kronecker_product_are_ambiguous_not_guessed():
    with pytest.raises(matcalc.ShapeError) as err:
        parse("(I ⊗ I) vec(X)", "X: m×n")
    assert "^" in str(err.value)


def test_a_made_up_size_is_never_bound_to_one_through_a_common_factor():
    """k·n = n would make k = 1: a bare I would silently be a scalar."""
    u = Unifier()
    kk = u.fresh("q")
    assert not u.unify(kk * n, n)
    assert u.find(kk) == kk


def test_common_factor_of_sizes():
    assert without_common_factor(k * n, n * p) == (k, p)
    assert without_common_factor(2 * n, 6) == (n, 3)
    assert without_common_factor(n * n, n * k) == (n, k)
    assert without_common_factor(n, n) == (1, 1)


def test_messages_write_powers_of_sizes_as_powers_not_n_dot_dot_2():
    """'eye(n) ⊗ A (n··2×k·n)' in an error message: the square of n printed as n··2."""
    assert fmt_dim(n * n) == "n²" and fmt_dim(2 * n * k) == "2·k·n" and fmt_dim(n) == "n"
    with pytest.raises(matcalc.ShapeError) as err:
        parse("(eye(n) ⊗ A) B", "A: n×k, B: n×n")
    assert "n²×k·n" in str(err.value) and "··" not in str(err.value)

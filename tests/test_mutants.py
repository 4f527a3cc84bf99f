"""Tests that kill the survivors of the mutation run (tools/mutation/run.py, bench/MUTATION.md).

Every derivative here is compared with central finite differences of the ORIGINAL function,
written in this file's own NumPy (never matcalc's evaluator of the derivative), at random values
with a different size for every dimension name, and with exact shapes (no squeeze). Where a
derivative has a closed form in the literature, the test says so. Each test name says what a
user would have seen had the mutation (or bug) been in the code.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import matcalc
from matcalc import derive, parse
from matcalc.printing.code import identifier

SIZES = {"m": 2, "n": 3, "p": 4, "q": 5, "k": 6}


# ------------------------------------------------------------------------------------------------
# The oracle: our own NumPy function, differentiated numerically
# ------------------------------------------------------------------------------------------------

def draw(shapes: dict, sizes: dict, special: dict | None = None, seed: int = 0) -> dict:
    """Random values: 'pos' entries in (0.5, 1.5), 'spd' matrices AAᵀ + nI, 'inv' well-conditioned
    square matrices nI + noise; vectors are (n, 1) columns, scalars floats."""
    rng = np.random.default_rng(seed)
    special = special or {}
    env = {}
    for name, dims in shapes.items():
        shape = tuple(sizes[d] if isinstance(d, str) else d for d in dims)
        if len(shape) == 1:
            shape = (shape[0], 1)
        kind = special.get(name)
        if not shape:
            v = rng.uniform(0.5, 1.5) if kind == "pos" else rng.normal()
            env[name] = float(v)
            continue
        a = rng.normal(size=shape)
        if kind == "pos":
            a = rng.uniform(0.5, 1.5, size=shape)
        elif kind == "spd":
            a = a @ a.T + shape[0] * np.eye(shape[0])
        elif kind == "inv":
            a = shape[0] * np.eye(shape[0]) + 0.5 * a
        env[name] = a
    return env


def _as_array(v):
    return np.asarray(v, dtype=float)


def fd_jacobian(f, env, wrt, eps=1e-6):
    """d vec(f) / d vec(x)ᵀ by central differences (vec is column-major, as in matcalc)."""
    x = _as_array(env[wrt])
    f0 = _as_array(f(**env))
    cols = []
    for idx in _fortran_indices(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        fp = _as_array(f(**{**env, wrt: xp if x.ndim else float(xp)}))
        fm = _as_array(f(**{**env, wrt: xm if x.ndim else float(xm)}))
        cols.append(((fp - fm) / (2 * eps)).reshape(-1, order="F"))
    return np.stack(cols, axis=1), f0.shape, x.shape


def fd_hessian(f, env, wrt, eps=1e-4):
    """∂²f / ∂vec(x) ∂vec(x)ᵀ of a scalar f by second central differences."""
    x = _as_array(env[wrt])
    idx = _fortran_indices(x.shape)
    n = len(idx)
    H = np.zeros((n, n))

    def at(shift):
        y = x.copy()
        for i, s in shift:
            y[idx[i]] += s
        return float(_as_array(f(**{**env, wrt: y})).reshape(-1)[0])

    for i in range(n):
        for j in range(n):
            H[i, j] = (at([(i, eps), (j, eps)]) - at([(i, eps), (j, -eps)])
                       - at([(i, -eps), (j, eps)]) + at([(i, -eps), (j, -eps)])) / (4 * eps * eps)
    return H, x.shape


def _fortran_indices(shape):
    if not shape:
        return [()]
    rows, cols = shape
    return [(i, j) for j in range(cols) for i in range(rows)]


def expected_derivative(f, env, wrt, order=1):
    """What matcalc's numerator layout promises, built from finite differences of f:
    gradient (shape of x) for a scalar f, shape of f wrt a scalar, m×n Jacobian between vectors,
    d vec(f)/d vec(x)ᵀ otherwise; the Hessian of a scalar is ∂²f/∂vec(x)∂vec(x)ᵀ."""
    if order == 2:
        H, xs = fd_hessian(f, env, wrt)
        return H
    J, fs, xs = fd_jacobian(f, env, wrt)
    f_scalar = fs in ((), (1, 1))
    x_scalar = xs in ((), (1, 1))
    if f_scalar and x_scalar:
        return np.asarray(J.reshape(()), dtype=float)
    if f_scalar:
        return J.reshape(xs, order="F")
    if x_scalar:
        return J.reshape(fs, order="F")
    return J                                   # Jacobian (vectors) or vec form (tensor)


def load(source: str):
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)   # noqa: S102 - matcalc's own output
    return namespace[re.search(r"def (\w+)\(", source).group(1)]


def assert_same(got, want, what, rtol=1e-5, atol=1e-7):
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    if got.ndim == 0 or want.ndim == 0:          # a float against a 1×1: both must be one number
        assert got.size == 1 and want.size == 1, f"{what}: shape {got.shape}, want {want.shape}"
        got, want = got.reshape(()), want.reshape(())
    assert got.shape == want.shape, f"{what}: shape {got.shape}, want {want.shape}"
    atol = max(atol, 1e-6 * float(np.max(np.abs(want), initial=0.0)))   # differencing noise
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def read_back(r, shapes_text, shapes, env, sizes, want, expr):
    """The plain-text and LaTeX forms (the two that promise to read back; Unicode prints I and 𝟙
    without sizes), read back by the parser and evaluated, against the same finite differences:
    a printer that loses a bracket, a sign or a transpose gives a different number here."""
    from matcalc.core.dims import symbol
    from matcalc.numeric.evaluate import evaluate_tree
    named = {d for ds in shapes.values() for d in ds if isinstance(d, str)} if shapes_text else set()
    dims = {symbol(k): v for k, v in sizes.items() if k in named}
    from matcalc.core.shapes import canonical_name
    values = {canonical_name(k): np.asarray(v, dtype=float).reshape(np.shape(v) or (1, 1))
              for k, v in env.items()}
    for label, printed in (("text", r.text), ("LaTeX", r.latex)):
        node = parse(printed, shapes_text)
        # undeclared names print generated sizes (m_X) as a bare I or 𝟙: their sizes follow
        # from the shape the derivative must have
        for d, n in zip(node.shape, np.shape(want) if np.ndim(want) == 2 else ()):
            if d.is_Symbol and str(d) not in named:
                dims[d] = n
        assert_same(evaluate_tree(node, values, dims), want,
                    f"{label} form {printed!r} of the derivative of {expr}, read back")


def check(expr, wrt, shapes: dict, f, *, order=1, special=None, sizes=None, seed=0,
          code=True, layout="numerator", declare=True):
    """derive(expr) against finite differences of f (our NumPy), through r.evaluate and
    through the generated NumPy code with value=True (also comparing the value) and False."""
    sizes = sizes or SIZES
    names = shapes if declare is True else declare or ()
    declared = {n: d for n, d in shapes.items() if n in names}
    text = ", ".join(f"{n}: {'×'.join(map(str, d)) if d else 'scalar'}"
                     for n, d in declared.items()) or None
    r = derive(expr, wrt=wrt, shapes=text, order=order, layout=layout)
    env = draw(shapes, sizes, special, seed)
    want = expected_derivative(f, env, wrt, order)
    if layout == "denominator":
        want = want.T
    got = r.evaluate(env)
    if r.kind == "tensor":
        # evaluate() gives T[i, j, k, l] = ∂F_ij/∂X_kl, without the column axis of a vector
        xs = _as_array(env[wrt]).shape
        fs = _as_array(f(**env)).shape if order == 1 else xs
        tensor = want.reshape(fs[::-1] + xs[::-1]).transpose(1, 0, 3, 2)
        f_dims = r.source.shape if order == 1 else shapes[wrt]
        keep = [a for a, d in enumerate(f_dims) if str(d) != "1"] + \
               [2 + a for a in range(len(shapes[wrt])) if str(shapes[wrt][a]) != "1"]
        tensor = tensor.reshape([tensor.shape[a] for a in keep])
        assert_same(got, tensor, f"evaluate() of {expr} wrt {wrt} = {r}")
    else:
        assert_same(got, want, f"evaluate() of {expr} wrt {wrt} = {r}")
    read_back(r, text, declared, env, sizes, want, expr)
    if code:
        args = {identifier(k): v for k, v in env.items()}
        for value in (True, False):
            fn = load(r.code("numpy", value=value))
            names = fn.__code__.co_varnames[:fn.__code__.co_argcount]
            out = fn(**{a: args[a] for a in names})
            if value:
                val, der = out
                assert_same(val, f(**env), f"value from the code of {expr}")
            else:
                der = out
            assert_same(der, want, f"code(value={value}) of {expr} wrt {wrt} = {r}")
    return r


# ------------------------------------------------------------------------------------------------
# Code generation: every kind, value=True and value=False, against finite differences
# ------------------------------------------------------------------------------------------------

def test_code_for_a_transposed_square_argument_is_not_the_identity():
    # d vec(AXᵀ)/d vec(X)ᵀ = (I ⊗ A)K(n,n): K(n,n) is symmetric, so this holds either way round
    check("A*X^T", "X", {"A": ("p", "n"), "X": ("n", "n")}, lambda A, X: A @ X.T)


def test_code_for_a_transposed_argument_uses_the_commutation_matrix_K_m_n():
    # d vec(AXᵀ)/d vec(X)ᵀ = (I ⊗ A)K(m,n) for X m×n; K(n,m) = K(m,n)ᵀ gives wrong code
    check("A*X^T", "X", {"A": ("p", "n"), "X": ("m", "n")}, lambda A, X: A @ X.T)


def test_code_for_a_hadamard_with_a_matrix_variable_takes_vec_column_major():
    check("A .* X", "X", {"A": ("m", "n"), "X": ("m", "n")}, lambda A, X: A * X)


def test_code_divides_by_a_whole_inner_product():
    check("x / (a^T b)", "x", {"x": ("n",), "a": ("m",), "b": ("m",)},
          lambda x, a, b: x / (a.T @ b))


def test_code_divides_element_wise_by_a_whole_product():
    check("sum(x ./ (y .* z))", "x", {"x": ("n",), "y": ("n",), "z": ("n",)},
          lambda x, y, z: np.sum(x / (y * z)), special={"y": "pos", "z": "pos"})


def test_code_value_of_softplus_is_log_one_plus_exp():
    check("sum(softplus(x))", "x", {"x": ("n",)}, lambda x: np.sum(np.log1p(np.exp(x))))


def test_code_keeps_the_brackets_of_a_negated_sum():
    check("-(x+y)^T z", "z", {"x": ("n",), "y": ("n",), "z": ("n",)},
          lambda x, y, z: -(x + y).T @ z)


def test_code_scales_the_columns_for_a_diagonal_matrix_on_the_right():
    # ∂A(x ⊙ y)/∂x = A diag(y)
    check("A*(x .* y)", "x", {"A": ("m", "n"), "x": ("n",), "y": ("n",)},
          lambda A, x, y: A @ (x * y))


def test_code_keeps_the_brackets_of_a_scaled_split_sum():
    # ∇ 2xᵀAx = 2(A + Aᵀ)x, emitted as 2.0 * (A @ x + A.T @ x)
    check("2*x^T A x", "x", {"x": ("n",), "A": ("n", "n")}, lambda x, A: 2 * x.T @ A @ x)


def test_code_keeps_the_brackets_of_a_reciprocal_inner_product():
    check("(y + 1/(a^T b))^T x", "x", {"y": ("n",), "a": ("m",), "b": ("m",), "x": ("n",)},
          lambda y, a, b, x: (y + 1 / (a.T @ b)).T @ x)


def test_code_keeps_the_brackets_of_a_power_of_an_inner_product():
    # ∇ (xᵀx)³ = 6(xᵀx)²x
    check("(x^T x)^3", "x", {"x": ("n",)}, lambda x: (x.T @ x) ** 3)


def test_code_value_of_logdet_is_the_log_of_the_determinant():
    check("logdet(X)", "X", {"X": ("n", "n")}, lambda X: np.log(np.linalg.det(X)),
          special={"X": "spd"})


def test_code_for_a_hessian():
    check("x^T A x", "x", {"x": ("n",), "A": ("n", "n")}, lambda x, A: x.T @ A @ x, order=2)


def test_code_for_a_matrix_function_of_a_scalar():
    check("exp(t*A)", "t", {"t": (), "A": ("m", "n")}, lambda t, A: np.exp(t * A))


def test_code_for_a_jacobian_of_a_row_vector_function():
    check("x^T A", "x", {"x": ("m",), "A": ("m", "n")}, lambda x, A: x.T @ A)


def test_code_for_a_jacobian_in_denominator_layout():
    check("A*x", "x", {"A": ("m", "n"), "x": ("n",)}, lambda A, x: A @ x, layout="denominator")


def test_derivative_of_a_row_vector_function_wrt_a_scalar_is_a_row():
    # d exp(t xᵀ)/dt = exp(t xᵀ) ⊙ xᵀ, a 1×n row like the function
    check("exp(t*x^T)", "t", {"t": (), "x": ("n",)}, lambda t, x: np.exp(t * x.T))


# ------------------------------------------------------------------------------------------------
# The survivors the issue lists
# ------------------------------------------------------------------------------------------------

KRON_CASES = [("kron(A, X)", {"A": ("m", "n"), "X": ("p", "q")}, lambda A, X: np.kron(A, X)),
              ("kron(X, B)", {"X": ("m", "n"), "B": ("p", "q")}, lambda X, B: np.kron(X, B))]


@pytest.mark.parametrize("expr, shapes, f", KRON_CASES, ids=["A⊗X", "X⊗B"])
def test_kron_with_a_matrix_variable_rectangular_operands(expr, shapes, f):
    # d vec(A ⊗ B) = (Iₙ ⊗ K(q,m) ⊗ Iₚ)(d vec(A) ⊗ vec(B) + vec(A) ⊗ d vec(B)) for A m×n,
    # B p×q (Magnus & Neudecker, Matrix Differential Calculus, Thm 3.10); K(m,q) is wrong here
    check(expr, "X", shapes, f, code=False)


@pytest.mark.parametrize("expr, shapes, f", KRON_CASES, ids=["A⊗X", "X⊗B"])
def test_code_for_kron_with_a_matrix_variable_rectangular_operands(expr, shapes, f):
    check(expr, "X", shapes, f)


def test_det_times_a_matrix_wrt_the_matrix_keeps_det():
    # d vec(det(X)A) = vec(A) det(X) vec(X⁻ᵀ)ᵀ d vec(X)
    check("det(X)*A", "X", {"X": ("n", "n"), "A": ("m", "p")},
          lambda X, A: np.linalg.det(X) * A, special={"X": "inv"})


def test_hessian_of_det_keeps_det():
    check("det(X)", "X", {"X": ("n", "n")}, lambda X: np.linalg.det(X), order=2,
          special={"X": "inv"})


def test_inverse_transpose_times_matrix_is_not_the_identity():
    # ∂ tr(Aᵀ A⁻¹ X)/∂X = (AᵀA⁻¹)ᵀ = A⁻ᵀA, which is not I
    r = check("tr(A^T inv(A) X)", "X", {"A": ("n", "n"), "X": ("n", "n")},
              lambda A, X: np.trace(A.T @ np.linalg.inv(A) @ X), special={"A": "inv"})
    assert str(r) != "I"


def test_diag_of_a_scaled_outer_product_keeps_the_scalar():
    # ∇ₓ xᵀ diag(c·abᵀ) = c(a ⊙ b)
    check("x^T diag(c*a*b^T)", "x", {"x": ("n",), "c": (), "a": ("n",), "b": ("n",)},
          lambda x, c, a, b: x.T @ np.diag(c * a @ b.T).reshape(-1, 1))


def test_declared_name_that_extends_another_is_read_whole():
    # with Xtr and Xtrain both declared, `Xtrainw` is Xtrain·w (the longest declared name wins)
    check("Xtrainw", "w", {"Xtr": ("m", "k"), "Xtrain": ("m", "n"), "w": ("n",)},
          lambda Xtr, Xtrain, w: Xtrain @ w)


def test_declared_W12_is_not_W1_times_a_number():
    check("W12x", "x", {"W1": ("m", "n"), "W12": ("p", "n"), "x": ("n",)},
          lambda W1, W12, x: W12 @ x)


# ------------------------------------------------------------------------------------------------
# The engine
# ------------------------------------------------------------------------------------------------

def test_jacobian_through_a_transposed_variable_keeps_the_outer_product_order():
    # ∂ x(xᵀy)/∂x = (xᵀy)I + xyᵀ (product rule), not (xᵀy)I + yxᵀ
    check("x*(x^T y)", "x", {"x": ("n",), "y": ("n",)}, lambda x, y: x * (x.T @ y))


def test_scalar_broadcast_over_a_matrix_collects_the_sum():
    # d/ds sum(A ⊙ (X + s)) = sum(A)  (s broadcast over every entry)
    check("sum(A .* (X + s))", "s", {"A": ("m", "n"), "X": ("m", "n"), "s": ()},
          lambda A, X, s: np.sum(A * (X + s)))


def test_matrix_scaled_by_a_function_of_a_vector_takes_vec_column_major():
    # d vec((aᵀx)B)/dxᵀ = vec(B)aᵀ
    check("(a^T x)*B", "x", {"a": ("n",), "x": ("n",), "B": ("m", "p")},
          lambda a, x, B: (a.T @ x) * B)


def test_elementwise_division_by_a_matrix_variable_has_a_minus_sign():
    # d vec(A ⊘ X) = −diag(vec(A ⊘ X²)) d vec(X)
    check("A ./ X", "X", {"A": ("m", "n"), "X": ("m", "n")}, lambda A, X: A / X,
          special={"X": "pos"})


def test_gradient_wrt_a_row_vector_variable_is_a_row():
    # f = sum(a ⊗ r) = sum(a)·sum(r) for a row r: ∇ᵣ f = sum(a)𝟙ᵀ, a 1×n row like r
    check("sum(kron(a, r))", "r", {"a": ("m",), "r": (1, "n")},
          lambda a, r: np.sum(np.kron(a, r)))


def test_gradient_wrt_a_row_vector_through_vec_is_a_row():
    # vec(·) has no reverse rule, so this gradient takes the forward (vec-Jacobian) path:
    # f = Σᵢⱼ exp(aᵢrⱼ), ∂f/∂rⱼ = Σᵢ aᵢ exp(aᵢrⱼ): a 1×n row like r, not an n×1 column
    check("sum(exp(vec(a*r)))", "r", {"a": ("m",), "r": (1, "n")},
          lambda a, r: np.sum(np.exp(a @ r)))


def test_derivative_of_a_linear_row_vector_function_wrt_a_scalar_is_a_row():
    # d(t xᵀA)/dt = xᵀA, a 1×p row like the function
    check("t*x^T*A", "t", {"t": (), "x": ("n",), "A": ("n", "p")}, lambda t, x, A: t * x.T @ A)


# ------------------------------------------------------------------------------------------------
# The simplifier
# ------------------------------------------------------------------------------------------------

def test_inverse_of_a_product_of_rectangular_factors_is_not_symmetric():
    # ∂ tr((AX)⁻¹)/∂X = −Aᵀ((AX)⁻²)ᵀ; (AX)⁻ᵀ is not (AX)⁻¹
    check("tr(inv(A*X))", "X", {"A": ("m", "n"), "X": ("n", "m")},
          lambda A, X: np.trace(np.linalg.inv(A @ X)))


def test_gradient_of_det_of_XtAX_with_a_nonsymmetric_A():
    # ∂ det(XᵀAX)/∂X = det(XᵀAX)(AX(XᵀAX)⁻¹ + AᵀX(XᵀAᵀX)⁻¹)   (Matrix Cookbook eq. 52)
    check("det(X^T A X)", "X", {"X": ("n", "m"), "A": ("n", "n")},
          lambda X, A: np.linalg.det(X.T @ A @ X))


def test_transpose_of_a_hadamard_of_transposes_is_taken():
    # ∂ tr(C(Aᵀ ⊙ Xᵀ))/∂X = A ⊙ C  (square, so a lost transpose would not even change the shape)
    check("tr(C*(A^T .* X^T))", "X", {"X": ("n", "n"), "A": ("n", "n"), "C": ("n", "n")},
          lambda X, A, C: np.trace(C @ (A.T * X.T)))


def test_a_sum_with_a_nonsymmetric_term_is_not_symmetric():
    # ∂ logdet(A + XᵀX)/∂X = X((A + XᵀX)⁻¹ + (A + XᵀX)⁻ᵀ), A not symmetric
    check("logdet(A + X^T X)", "X", {"X": ("m", "n"), "A": ("n", "n")},
          lambda X, A: np.log(np.linalg.det(A + X.T @ X)), special={"A": "inv"})


def test_factoring_two_terms_keeps_the_third():
    # ∇ (xᵀAx + bᵀx) = (A + Aᵀ)x + b
    check("x^T A x + b^T x", "x", {"x": ("n",), "A": ("n", "n"), "b": ("n",)},
          lambda x, A, b: x.T @ A @ x + b.T @ x)


def test_two_plus_exp_is_not_the_logistic_denominator():
    # ∇ sum(log(2 + exp(x))) = exp(x) ⊘ (2 + exp(x)), which is not σ(x)
    check("sum(log(2 + exp(x)))", "x", {"x": ("n",)}, lambda x: np.sum(np.log(2 + np.exp(x))))


def test_power_of_a_power_multiplies_exponents():
    # ∂ tr((X²)³)/∂X = 6(Xᵀ)⁵
    check("tr((X^2)^3)", "X", {"X": ("n", "n")}, lambda X: np.trace(np.linalg.matrix_power(X, 6)))


def test_commutation_times_vec_is_vec_of_the_transpose():
    # d vec(((aᵀx)B)ᵀ)/dxᵀ = vec(Bᵀ)aᵀ
    check("((a^T x)*B)^T", "x", {"a": ("n",), "x": ("n",), "B": ("m", "p")},
          lambda a, x, B: ((a.T @ x) * B).T)


def test_kron_times_vec_is_vec_of_the_product():
    # d vec(A((aᵀx)C)B)/dxᵀ = vec(ACB)aᵀ,  (Bᵀ ⊗ A)vec(C) = vec(ACB)
    check("A*((a^T x)*C)*B", "x", {"A": ("p", "m"), "a": ("k",), "x": ("k",), "C": ("m", "n"),
                                   "B": ("n", "n")},
          lambda A, a, x, C, B: A @ ((a.T @ x) * C) @ B)


# The tensor path (forward vec rules): matrix-valued functions of a matrix, every operator,
# rectangular with distinct sizes.
TENSOR_CASES = [
    ("X .^ 3", {"X": ("m", "n")}, lambda X: X ** 3, None),
    ("X / sum(X)", {"X": ("m", "n")}, lambda X: X / np.sum(X), {"X": "pos"}),
    ("mean(X) * A", {"X": ("m", "n"), "A": ("p", "q")}, lambda X, A: np.mean(X) * A, None),
    ("‖X‖_F * A", {"X": ("m", "n"), "A": ("p", "q")},
     lambda X, A: np.linalg.norm(X) * A, None),
    ("logsumexp(X*a) * B", {"X": ("m", "n"), "a": ("n",), "B": ("p", "q")},
     lambda X, a, B: np.log(np.sum(np.exp(X @ a))) * B, None),
    ("diag(X*a)", {"X": ("m", "n"), "a": ("n",)}, lambda X, a: np.diag((X @ a).ravel()), None),
    ("X + sum(X)", {"X": ("m", "n")}, lambda X: X + np.sum(X), None),
    ("softmax(X*a) * b^T", {"X": ("m", "n"), "a": ("n",), "b": ("p",)},
     lambda X, a, b: np.exp(X @ a) / np.sum(np.exp(X @ a)) @ b.T, None),
    ("inv(X) * A", {"X": ("n", "n"), "A": ("n", "p")}, lambda X, A: np.linalg.inv(X) @ A,
     {"X": "inv"}),
    ("X ./ A", {"X": ("m", "n"), "A": ("m", "n")}, lambda X, A: X / A, {"A": "pos"}),
    ("A .* X^T", {"X": ("m", "n"), "A": ("n", "m")}, lambda X, A: A * X.T, None),
    ("exp(X) * B", {"X": ("m", "n"), "B": ("n", "p")}, lambda X, B: np.exp(X) @ B, None),
    ("X^3 * B", {"X": ("n", "n"), "B": ("n", "p")},
     lambda X, B: np.linalg.matrix_power(X, 3) @ B, None),
    ("tr(X) * A", {"X": ("n", "n"), "A": ("m", "p")}, lambda X, A: np.trace(X) * A, None),
    ("logdet(X) * A", {"X": ("n", "n"), "A": ("m", "p")},
     lambda X, A: np.log(np.linalg.det(X)) * A, {"X": "inv"}),     # not symmetric: X⁻ᵀ ≠ X⁻¹
    ("diag(X) * a^T", {"X": ("n", "n"), "a": ("p",)},
     lambda X, a: np.diag(X).reshape(-1, 1) @ a.T, None),
]


# (generated code for a rectangular K(m,n) is tested above)
K_RECTANGULAR = {"A .* X^T"}


@pytest.mark.parametrize("expr, shapes, f, special", TENSOR_CASES,
                         ids=[c[0] for c in TENSOR_CASES])
def test_matrix_function_of_a_matrix_against_finite_differences(expr, shapes, f, special):
    check(expr, "X", shapes, f, special=special, code=expr not in K_RECTANGULAR)


def test_trace_of_a_kronecker_product_is_the_product_of_traces():
    # ∂ x·tr(A ⊗ B)/∂x = tr(A)tr(B)·I
    check("x * tr(kron(A, B))", "x", {"x": ("n",), "A": ("m", "m"), "B": ("p", "p")},
          lambda x, A, B: x * np.trace(np.kron(A, B)))


def test_element_wise_algebra_reads_the_ones_vector_as_one():
    # ∂((𝟙 − x) ⊘ (𝟙 + x))/∂x = −diag(2 ⊘ (1 + x)²)
    check("(ones(n) - x) ./ (ones(n) + x)", "x", {"x": ("n",)}, lambda x: (1 - x) / (1 + x),
          special={"x": "pos"})


# ------------------------------------------------------------------------------------------------
# The printers (check() also reads the plain-text and LaTeX forms back)
# ------------------------------------------------------------------------------------------------

def test_decimal_exponents_print_in_full():
    # ∇ sum(x.^1.125) = 1.125 x.^0.125, not 1.1x.^0.12
    check("sum(x .^ 1.125)", "x", {"x": ("n",)}, lambda x: np.sum(x ** 1.125), special={"x": "pos"})


def test_scalar_power_with_a_long_decimal_exponent_prints_in_full():
    # ∇ₓ s^0.1234 aᵀx = s^0.1234 a, not s^0.123 a
    check("s^0.1234 * a^T x", "x", {"s": (), "a": ("n",), "x": ("n",)},
          lambda s, a, x: s ** 0.1234 * a.T @ x, special={"s": "pos"})


def test_a_fractional_number_prints_as_that_fraction_in_latex():
    # d(s/3 + s)/ds = 4/3
    check("s/3 + s", "s", {"s": ()}, lambda s: s / 3 + s)


def test_logdet_prints_as_log_det_in_latex():
    check("logdet(X) * a^T x", "x", {"X": ("n", "n"), "a": ("m",), "x": ("m",)},
          lambda X, a, x: np.log(np.linalg.det(X)) * a.T @ x, special={"X": "spd"})


def test_row_of_ones_prints_transposed_in_plain_text():
    # ∂ sum(x)y/∂x = y𝟙ᵀ (undeclared names: the ones row has no nameable size)
    r = check("sum(x) * y", "x", {"x": ("n",), "y": ("m",)}, lambda x, y: np.sum(x) * y,
              declare=False)
    assert str(r) == "y𝟙ᵀ" and r.text == "y*𝟙^T"


def test_unicode_elementwise_square_of_a_matrix_is_not_the_matrix_power():
    # ∇ sum(X.^3) = 3X.^2; printed 3X² it would read as 3·X·X
    r = check("sum(X .^ 3)", "X", {"X": ("n", "n")}, lambda X: np.sum(X ** 3))
    assert str(r) == "3X⊙²"
    env = draw({"X": ("n", "n")}, SIZES)
    from matcalc.core.dims import symbol
    from matcalc.numeric.evaluate import evaluate_tree
    back = evaluate_tree(parse(str(r), "X: n×n"), env, {symbol("n"): SIZES["n"]})
    assert_same(back, 3 * env["X"] ** 2, "Unicode form read back")


def test_unicode_keeps_a_space_after_a_long_declared_name():
    r = check("(Xtrain w - y)^T (Xtrain w - y)", "w", {"Xtrain": ("m", "n"), "w": ("n",),
                                                        "y": ("m",)},
              lambda Xtrain, w, y: (Xtrain @ w - y).T @ (Xtrain @ w - y))
    assert str(r) == "2Xtrainᵀ(Xtrain w − y)"


def test_frobenius_norm_of_a_matrix_prints_its_subscript():
    r = check("norm2(X) * a^T x", "x", {"X": ("m", "n"), "a": ("p",), "x": ("p",)},
              lambda X, a, x: np.linalg.norm(X) * a.T @ x)
    assert "‖X‖_F" in str(r) and r"\right\|_F" in r.latex


def read_back_unicode(r, shapes_text, env, sizes, want, expr):
    """The Unicode form (str(r)) read back and evaluated, for results without a bare I or 𝟙."""
    from matcalc.core.dims import symbol
    from matcalc.numeric.evaluate import evaluate_tree
    from matcalc.core.shapes import canonical_name
    values = {canonical_name(k): np.asarray(v, dtype=float).reshape(np.shape(v) or (1, 1))
              for k, v in env.items()}
    node = parse(str(r), shapes_text)
    assert_same(evaluate_tree(node, values, {symbol(k): v for k, v in sizes.items()}), want,
                f"Unicode form {str(r)!r} of the derivative of {expr}, read back")


def test_a_number_before_a_norm_inside_a_norm_keeps_its_dot():
    # ∇ₓ‖x + 2‖y‖z‖ = (x + 2‖y‖z)/‖x + 2‖y‖z‖. Inside a norm, a bar right after an operand
    # closes it: printed `‖x + 2‖y‖z‖` would read back as ‖x + 2‖·y·‖z‖, another function
    shapes = {"x": ("n",), "y": ("p",), "z": ("n",)}
    f = lambda x, y, z: np.linalg.norm(x + 2 * np.linalg.norm(y) * z)   # noqa: E731
    r = check("norm2(x + 2*norm2(y)*z)", "x", shapes, f)
    env = draw(shapes, SIZES)
    read_back_unicode(r, "x: n, y: p, z: n", env, SIZES, expected_derivative(f, env, "x"),
                      "‖x + 2‖y‖z‖")
    assert "2·‖y‖" in str(r)


def test_a_negated_left_operand_of_element_wise_division_keeps_its_brackets():
    # −x ⊘ y and (−x) ⊘ y are the same number, but the printed form is (−x) ⊘ y, as for (−2x) ⊘ y
    # and (−x) ⊙ y (a minus in front of an operator reads as applying to the whole term); the
    # form read back is −x/y elementwise
    from matcalc.core.dims import symbol
    from matcalc.numeric.evaluate import evaluate_tree
    env = draw({"x": ("n",), "y": ("n",)}, SIZES, {"y": "pos"})
    for text, want, form in (("(-x) ./ y", -env["x"] / env["y"], "(−x) ⊘ y"),
                             ("(-x) .* y", -env["x"] * env["y"], "(−x) ⊙ y"),
                             ("(-2*x) ./ y", -2 * env["x"] / env["y"], "(−2x) ⊘ y")):
        printed = str(parse(text, "x: n, y: n"))
        assert printed == form
        back = evaluate_tree(parse(printed, "x: n, y: n"), env, {symbol("n"): SIZES["n"]})
        assert_same(back, want, f"{printed!r} read back")


def test_unicode_commutation_matrix_names_the_shape_of_the_variable():
    # vec(Xᵀ) = K(m,n) vec(X) for X m×n (Magnus & Neudecker), so d vec(AXᵀ) = (I ⊗ A)K(m,n)
    r = check("A*X^T", "X", {"A": ("p", "n"), "X": ("m", "n")}, lambda A, X: A @ X.T,
              code=False)
    assert str(r) == "(eye(m) ⊗ A)K(m,n)"


# ------------------------------------------------------------------------------------------------
# The parser
# ------------------------------------------------------------------------------------------------

def test_subscript_belongs_to_the_last_letter_of_a_run():
    # `Ax_1` is A·x_1
    check("Ax_1", "x_1", {"A": ("m", "n"), "x_1": ("n",)}, lambda A, x_1: A @ x_1)


def test_transpose_after_a_bracket_applies_to_the_bracket():
    # `y(x)ᵀ` is y·xᵀ, an m×n outer product (as X(θ)ᵀ is X·θᵀ), not (yx)ᵀ; also after a
    # declared multi-letter name, which the lexer reads like a function call
    check("y(x)^T", "x", {"y": ("m",), "x": ("n",)}, lambda y, x: y @ x.T)
    check("ab(x)^T", "x", {"ab": ("m",), "x": ("n",)}, lambda ab, x: ab @ x.T)


def test_I_is_always_the_identity_and_a_declaration_only_gives_its_size():
    # `I` never becomes a variable (a user writing xᵀIx means xᵀx): declared square, it is the
    # identity of that size; declared rectangular, it is refused with a caret
    r = derive("x^T I x", wrt="x", shapes="I: n×n, x: n")
    x = np.random.default_rng(3).normal(size=(4, 1))
    h, fd = 1e-6, np.zeros((4, 1))
    for i in range(4):
        e = np.zeros((4, 1))
        e[i] = h
        fd[i] = ((x + e).T @ (x + e) - (x - e).T @ (x - e)).item() / (2 * h)
    np.testing.assert_allclose(r.evaluate({"x": x}), fd, rtol=1e-6, atol=1e-8)
    with pytest.raises(matcalc.ParseError, match="identity"):
        derive("I*x", wrt="x", shapes="I: m×n, x: n")


# ------------------------------------------------------------------------------------------------
# Shapes
# ------------------------------------------------------------------------------------------------

def test_sizes_of_a_kronecker_product_follow_a_later_unification():
    # x is unified with the declared size m only after x ⊗ y was built:
    # ∇ₓ (sum(x ⊗ y) + xᵀa) = sum(y)𝟙 + a
    check("sum(kron(x, y)) + x^T a", "x", {"x": ("m",), "y": ("n",), "a": ("m",)},
          lambda x, y, a: np.sum(np.kron(x, y)) + x.T @ a, declare=("a",))
    check("kron(x,y)^T z + x^T a", "z", {"x": ("m",), "y": ("n",), "z": ("k",), "a": ("m",)},
          lambda x, y, z, a: np.kron(x, y).T @ z + x.T @ a, declare=("a",),
          sizes={**SIZES, "k": SIZES["m"] * SIZES["n"]})


def test_spelled_out_greek_names_keep_their_digits():
    # theta1 and theta2 are θ1 and θ2, two different vectors
    check("theta1^T A theta2", "theta1", {"theta1": ("m",), "A": ("m", "n"), "theta2": ("n",)},
          lambda theta1, A, theta2: theta1.T @ A @ theta2)


@pytest.mark.parametrize("rows", ["n", 2], ids=["n×n", "2×n"])
def test_vec_of_a_matrix_has_a_size_that_is_a_product(rows):
    # d vec(X)/d vec(X)ᵀ = I of size n² (or 2n): printed eye(n*n), emitted np.eye(n * n)
    check("vec(X)", "X", {"X": (rows, "n")}, lambda X: X.reshape(-1, 1, order="F"))


def test_sympy_form_keeps_a_squared_size():
    import sympy
    n = sympy.Symbol("n", integer=True, positive=True)
    assert derive("vec(X)", wrt="X", shapes="X: n×n").sympy.shape == (n ** 2, n ** 2)


def _rational_exponents_parse() -> bool:
    from matcalc import MatcalcError
    try:
        parse("x .^ (1/3)")
    except MatcalcError:
        return False
    return True


@pytest.mark.skipif(not _rational_exponents_parse(),
                    reason="this grammar has no bracketed rational exponents (CONTRACT §1 lists "
                           "them); the printers can only meet a fraction exponent once it has")
def test_rational_exponents_print_with_their_brackets():
    # ∇ sum(x.^(4/3)) = (4/3) x.^(1/3): printed x.^1/3 it would read as (x.^1)/3
    check("sum(x .^ (4/3))", "x", {"x": ("n",)}, lambda x: np.sum(x ** (4 / 3)),
          special={"x": "pos"})
    check("s^(1/3) * a^T x", "x", {"s": (), "a": ("n",), "x": ("n",)},
          lambda s, a, x: s ** (1 / 3) * a.T @ x, special={"s": "pos"})


def test_a_scalar_divisor_that_is_a_product_prints_with_one_pair_of_brackets():
    # the Rayleigh quotient printed xᵀAx/((xᵀx)); the divisor still needs its brackets
    assert str(parse("(x^T A x)/(x^T x)")) == "xᵀAx/(xᵀx)"
    assert parse("(x^T A x)/(x^T x)").__class__ is parse(str(parse("(x^T A x)/(x^T x)"))).__class__
    assert str(parse("x/(a^T b)")) == "x/(aᵀb)"

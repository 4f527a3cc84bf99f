"""Formulas as textbooks, papers and tutorials write them, each compared with an explicit
spelling of the same formula (the same tree), or refused on purpose with a caret and a hint.
The gradients that depended on reading a name as a scalar are checked against central
differences of the original formula, written here in NumPy."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc import derive, parse
from matcalc.core.errors import MatcalcError

MC = "Matrix Cookbook"
DL = "Goodfellow et al., Deep Learning"
PRML = "Bishop, PRML"
BV = "Boyd & Vandenberghe, Convex Optimization"
ESL = "Hastie et al., Elements of Statistical Learning"
NW = "Nocedal & Wright, Numerical Optimization"
LS = "least-squares tutorial"
NEURON = "neuron tutorial"
NUMPY = "NumPy / PyTorch code"
ML = "ML papers (common notation)"

# (spelling, explicit form, shapes, source)
SAME = [
    # matrix functions (‖X‖₂ and A^0.5 of a matrix were refused before they existed)
    ("‖X‖₂", "sigma_max(X)", "X: m×n", BV),
    ("A^0.5", "sqrtm(A)", "A: n×n spd", ML),
    ("A \\ b", "solve(A, b)", "A: n×n, b: n", NUMPY),
    # least squares and ridge
    ("(Xθ − y)ᵀ(Xθ − y)", "(X*θ - y)^T*(X*θ - y)", None, LS),
    ("(Xθ - y)'(Xθ - y)", "(X*θ - y)^T*(X*θ - y)", None, LS),
    ("(X theta - y)^T (X theta - y)", "(X*θ - y)^T*(X*θ - y)", None, LS),
    ("‖Xθ − y‖²", "norm2(X*θ - y)^2", None, LS),
    ("||X θ - y||^2", "norm2(X*θ - y)^2", None, LS),
    ("(Xθ − y)ᵀ(Xθ − y) + λθᵀθ", "(X*θ - y)^T*(X*θ - y) + λ*θ^T*θ", "λ: scalar", ESL),
    ("(y − Xβ)ᵀ(y − Xβ) + λβᵀβ", "(y - X*β)^T*(y - X*β) + λ*β^T*β", "λ: scalar", ESL),
    ("‖y − Xβ‖² + λ‖β‖²", "norm2(y - X*β)^2 + λ*norm2(β)^2", "λ: scalar", ESL),
    ("‖y − Xβ‖² + λ‖β‖₁", "norm2(y - X*β)^2 + λ*sum(abs(β))", "λ: scalar", ESL),
    ("½‖Xw − y‖²", "0.5*norm2(X*w - y)^2", None, DL),
    ("0.5‖r‖²", "0.5*norm2(r)^2", None, DL),
    ("λ‖Lx‖²", "λ*norm2(L*x)^2", "λ: scalar", BV),
    ("‖Ax − b‖₂²", "norm2(A*x - b)^2", None, BV),
    ("‖x‖₁", "sum(abs(x))", None, BV),
    ("norm1(x)", "sum(abs(x))", None, BV),
    ("‖a‖‖b‖", "norm2(a)*norm2(b)", None, MC),
    ("X.T @ (X @ w - y)", "X^T*(X*w - y)", None, NUMPY),
    ("X.T y", "X^T*y", None, NUMPY),
    ("A @ B", "A*B", None, NUMPY),
    ("w.T @ x", "w^T*x", None, NUMPY),
    # quadratic forms and traces (Matrix Cookbook)
    ("xᵀAx", "x^T*A*x", None, MC),
    ("x'Ax", "x^T*A*x", None, MC),
    ("aᵀXb", "a^T*X*b", None, MC),
    ("aᵀXᵀb", "a^T*X^T*b", None, MC),
    ("bᵀXᵀXc", "b^T*X^T*X*c", None, MC),
    ("(Ax + b)ᵀC(Dx + d)", "(A*x + b)^T*C*(D*x + d)", None, MC),
    ("tr(AXB)", "tr(A*X*B)", None, MC),
    ("tr(XᵀAX)", "tr(X^T*A*X)", None, MC),
    ("tr(X⁻¹A)", "tr(inv(X)*A)", None, MC),
    ("tr(XAXᵀ)", "tr(X*A*X^T)", None, MC),
    ("aᵀX⁻¹b", "a^T*inv(X)*b", None, MC),
    ("log det(X)", "log(det(X))", None, MC),
    ("ln det(X)", "log(det(X))", None, MC),
    ("|det(X)|", "abs(det(X))", None, MC),
    ("det(X)⁻¹", "det(X)^-1", None, MC),
    ("X⁻ᵀ", "inv(X)^T", None, MC),
    ("(XᵀX)⁻¹Xᵀy", "inv(X^T*X)*X^T*y", None, MC),
    ("x ⊗ y", "kron(x, y)", None, MC),
    ("A ∘ B", "A .* B", None, MC),
    ("A ⊙ B", "A .* B", None, MC),
    ("A ⊘ B", "A ./ B", None, MC),
    ("x·y", "dot(x, y)", None, MC),
    ("eye(n) + A", "I + A", "A: n×n", MC),
    ("I + cA", "eye(n) + c*A", "A: n×n, c: scalar", MC),
    ("tr((I + cA)⁻¹)", "tr(inv(eye(n) + c*A))", "A: n×n, c: scalar", MC),
    ("𝟙ᵀx", "ones(n)^T*x", "x: n", MC),
    # Gaussians, PRML
    ("½(x − μ)ᵀΣ⁻¹(x − μ)", "0.5*(x - μ)^T*inv(Σ)*(x - μ)", None, PRML),
    ("(x - mu)^T Sigma^-1 (x - mu)", "(x - μ)^T*inv(Σ)*(x - μ)", None, PRML),
    ("−½ ln det(Σ) − ½(x − μ)ᵀΣ⁻¹(x − μ)",
     "-0.5*log(det(Σ)) - 0.5*(x - μ)^T*inv(Σ)*(x - μ)", None, PRML),
    ("logdet(Σ) + tr(Σ⁻¹S)", "logdet(Σ) + tr(inv(Σ)*S)", None, PRML),
    ("wᵀφ", "w^T*φ", None, PRML),
    ("½λwᵀw", "0.5*λ*w^T*w", "λ: scalar", PRML),
    ("σ(wᵀx)", "sigmoid(w^T*x)", None, PRML),
    ("tanh(Wx + b)", "tanh(W*x + b)", None, PRML),
    ("−yᵀlog(σ(Xw)) − (1 − y)ᵀlog(1 − σ(Xw))",
     "-y^T*log(sigmoid(X*w)) - (1 - y)^T*log(1 - sigmoid(X*w))", None, PRML),
    # neural networks
    ("max(0, w·x + b)", "relu(w^T*x + b)", "b: scalar", NEURON),
    ("max(w·x + b, 0)", "relu(w^T*x + b)", "b: scalar", NEURON),
    ("relu(Wx + b)", "relu(W*x + b)", None, DL),
    ("softmax(Wx + b)", "softmax(W*x + b)", None, DL),
    ("−yᵀlog softmax(z)", "-y^T*log(softmax(z))", None, DL),
    ("logsumexp(x)", "logsumexp(x)", None, DL),
    ("softplus(x)", "softplus(x)", None, DL),
    ("W₂σ(W₁x)", "W2*sigmoid(W1*x)", None, DL),
    ("W_2 tanh(W_1 x)", "W_2*tanh(W_1*x)", None, DL),
    ("θ₁ + θ₂", "θ1 + θ2", None, DL),
    ("min(x, 0)", "-relu(-x)", None, DL),
    ("max(x, c)", "c + relu(x - c)", "c: scalar", BV),
    ("min(x, c)", "x - relu(x - c)", "c: scalar", BV),
    ("|x|", "abs(x)", None, BV),
    ("sum(|x|)", "sum(abs(x))", None, BV),
    ("2|x|", "2*abs(x)", None, BV),
    ("√x", "sqrt(x)", None, ML),
    ("√(xᵀx)", "sqrt(x^T*x)", None, ML),
    ("(xᵀx)^(1/2)", "(x^T*x)^0.5", None, ML),
    ("(xᵀx)^½", "(x^T*x)^0.5", None, ML),
    ("x^0.5", "x^(1/2)", "x: scalar", ML),
    ("(xᵀx)^(3/2)", "(x^T*x)^1.5", None, ML),
    ("x.^(1/2)", "x .^ 0.5", None, ML),
    ("x .^ (−1)", "x .^ -1", None, ML),
    ("x⊙²", "x .^ 2", None, ML),
    ("arcsin(x) + arccos(x)", "asin(x) + acos(x)", None, ML),
    ("arctan(x)", "atan(x)", None, ML),
    ("sinh(x) + cosh(x)", "sinh(x) + cosh(x)", None, ML),
    ("sum(log1p(exp(x)))", "sum(log1p(exp(x)))", None, ML),
    ("expm1(x)", "expm1(x)", None, ML),
    # names the scalar rule reads as scalars
    ("a*x'*x", "a*x^T*x", "a: scalar", ML),
    ("α‖w‖²", "α*norm2(w)^2", "α: scalar", ML),
    ("λθᵀθ + C", "λ*θ^T*θ + C", "λ: scalar, C: scalar", ML),
    ("w·x + b", "w^T*x + b", "b: scalar", NEURON),
    ("xᵀx + c", "x^T*x + c", "c: scalar", NW),
    ("½xᵀAx − bᵀx", "0.5*x^T*A*x - b^T*x", None, NW),
    ("xᵀPx + qᵀx + r", "x^T*P*x + q^T*x + r", "r: scalar", BV),
    ("−log det(X)", "-log(det(X))", None, BV),
    ("tr(CX) − log det(X)", "tr(C*X) - log(det(X))", None, BV),
    ("(xᵀAx)/(xᵀx)", "(x^T*A*x)*inv(x^T*x)", None, MC),
    ("xᵀAx/(xᵀx)", "(x^T*A*x)/(x^T*x)", None, MC),
    ("AAᵀ", "A*A^T", None, MC),
    ("XXᵀ", "X*X^T", None, MC),
    ("cS⁻¹(μ − x)", "c*inv(S)*(μ - x)", "c: scalar", PRML),
    # LaTeX as typed in papers
    (r"\arcsin(x) + \sinh(x)", "arcsin(x) + sinh(x)", None, ML),
    (r"\lvert x \rvert", "abs(x)", None, BV),
    (r"\left| \det(X) \right|", "abs(det(X))", None, MC),
    (r"\sqrt{x^\top x}", "sqrt(x^T*x)", None, ML),
    (r"\|x\|_1", "sum(abs(x))", None, BV),
    (r"\frac{1}{2}\|X\theta - y\|^2 + \frac{\lambda}{2}\|\theta\|^2",
     "(1/2)*norm2(X*θ - y)^2 + (λ/2)*norm2(θ)^2", "λ: scalar", ESL),
    # names
    ("Sigma_inv x", "Σ_inv*x", None, PRML),
    ("mxn", "m*x*n", "m: scalar, n: scalar", ML),
]

# (spelling, shapes, what the message says, source): refused on purpose
REFUSED = [
    ("xᵀAx / xᵀx", None, "ambiguous", MC),
    ("1/2 x", None, "ambiguous", ML),
    ("x^a", None, "symbolic exponent", ML),
    ("x^(−a)", None, "symbolic exponent", ML),
    ("x .^ p", "p: scalar", "symbolic exponent", ML),
    ("|x||y|", None, "absolute-value bars from a norm", BV),
    ("|x", None, "missing closing `|`", BV),
    ("trace(X)", None, "did you mean `tr`", MC),
    ("log x", None, "is a function", DL),
    ("x y", "x: n, y: n", "inner product", MC),
    ("x^0.5", "x: n", "integer exponent", ML),
    ("λ_max(X)", "X: n×n", "needs a symmetric matrix", BV),
]


def _same(spelling, explicit, shapes):
    assert parse(spelling, shapes) == parse(explicit, shapes), (spelling, explicit)


@pytest.mark.parametrize("spelling, explicit, shapes, source", SAME,
                         ids=[r[0] for r in SAME])
def test_spelling_from_the_literature_builds_the_explicit_tree(spelling, explicit, shapes,
                                                               source):
    assert source
    _same(spelling, explicit, shapes)


def test_the_spelling_table_is_big_enough_and_names_its_sources():
    assert len(SAME) + len(REFUSED) >= 80
    assert all(row[-1] for row in SAME + REFUSED)


@pytest.mark.parametrize("spelling, shapes, message, source", REFUSED,
                         ids=[r[0] for r in REFUSED])
def test_spelling_refused_on_purpose_has_a_caret_and_a_hint(spelling, shapes, message, source):
    with pytest.raises(MatcalcError) as info:
        parse(spelling, shapes)
    err = info.value
    assert message in str(err)
    assert err.span is not None and "^" in str(err).splitlines()[-1]
    assert err.hint or "did you mean" in str(err)


# Gradients that need the scalar rule, against central differences of the formula -----------

def _grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_ridge_regression_without_declarations_is_a_gradient_not_a_jacobian():
    """Ridge once came back as the Jacobian 2(𝟙(Xθ − y)ᵀX + λθᵀ): λ was a vector."""
    r = derive("(Xθ − y)ᵀ(Xθ − y) + λθᵀθ", wrt="θ")
    assert r.kind == "gradient"
    assert any("λ is taken as a scalar" in n for n in r.notes)
    rng = np.random.default_rng(0)
    X, y, th, lam = rng.normal(size=(5, 3)), rng.normal(size=(5, 1)), rng.normal(size=(3, 1)), 0.7
    got = r.evaluate({"X": X, "y": y, "θ": th, "λ": lam})
    want = _grad(lambda t: ((X @ t - y).T @ (X @ t - y) + lam * t.T @ t).item(), th)
    assert got.shape == (3, 1)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got, 2 * X.T @ (X @ th - y) + 2 * lam * th, rtol=1e-10)


@pytest.mark.parametrize("text, wrt, numpy_f", [
    ("a*x'*x", "x", lambda v, s: s * (v.T @ v).item()),
    ("α‖w‖²", "w", lambda v, s: s * np.sum(v ** 2)),
    ("λθᵀθ + C", "θ", lambda v, s: s * (v.T @ v).item() + 1.5),
    ("(xᵀx)^(1/2)", "x", lambda v, s: np.sqrt((v.T @ v).item())),
])
def test_undeclared_scale_factor_is_a_scalar_and_the_result_a_gradient(text, wrt, numpy_f):
    r = derive(text, wrt=wrt)
    assert r.kind == "gradient" and r.node.shape[1] == 1
    rng = np.random.default_rng(1)
    v = rng.normal(size=(4, 1))
    env = {wrt: v}
    scalar_name = next((n for n in ("a", "α", "λ") if n in text), None)
    if scalar_name:
        env[scalar_name] = 0.8
    if "C" in text:
        env["C"] = 1.5
    got = r.evaluate(env)
    want = _grad(lambda u: numpy_f(u, 0.8), v)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_declared_scalar_still_broadcasts_and_says_so():
    r = derive("x + b", wrt="x", shapes="b: scalar, x: n")
    assert r.kind == "jacobian"
    assert any("broadcast" in n for n in r.notes)
    assert any("Jacobian" in n for n in r.notes)


def test_computed_scalar_plus_undeclared_name_reads_the_name_as_a_scalar():
    node = parse("w·x + b")
    assert node.shape == parse("w^T x").shape


def test_undeclared_vector_with_shared_size_stays_a_vector():
    assert parse("sum(exp(x))").shape[0] == 1
    assert parse("x + 1").shape[1] == 1 and parse("x + 1").shape[0] != 1
    assert parse("x xᵀx").shape[0] != 1           # x's size occurs elsewhere: a vector


def test_name_split_into_letters_is_a_note_with_how_to_declare():
    r = derive("sum(Xtrain w)", wrt="w")
    assert any("Xtrain" in n and "declare" in n for n in r.notes)
    whole = derive("sum(Xtrain w)", wrt="w", shapes="Xtrain: m×n")
    assert not any("Xtrain" in n for n in whole.notes)


def test_jacobian_note_suggests_the_scalar_declaration():
    r = derive("A x + b", wrt="x", shapes="A: m×n, x: n")
    assert r.kind == "jacobian"
    assert any(n.startswith("f is ") and "Jacobian" in n for n in r.notes)


def test_new_functions_have_derivatives_matching_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.uniform(-0.5, 0.5, size=(4, 1))
    table = {
        "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "sinh": np.sinh,
        "cosh": np.cosh, "log1p": np.log1p, "expm1": np.expm1,
    }
    c = rng.normal(size=(4, 1))
    for name, f in table.items():
        r = derive(f"c^T {name}(x)", wrt="x", shapes="c: n, x: n")
        got = r.evaluate({"x": x, "c": c})
        want = _grad(lambda v: (c.T @ f(v)).item(), x)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8, err_msg=name)


def test_max_and_min_with_a_scalar_match_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 1))
    x[np.abs(x - 0.2) < 0.05] += 0.3                 # away from the kink
    for text, f in (("sum(max(x, c))", lambda v: np.sum(np.maximum(v, 0.2))),
                    ("sum(min(x, c))", lambda v: np.sum(np.minimum(v, 0.2)))):
        r = derive(text, wrt="x", shapes="c: scalar, x: n")
        got = r.evaluate({"x": x, "c": 0.2})
        np.testing.assert_allclose(got, _grad(f, x), rtol=1e-6, atol=1e-8, err_msg=text)


def test_abs_bars_and_norm1_match_finite_differences():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 1)) + 0.1
    for text in ("‖x‖₁", "sum(|x|)", "norm1(x)"):
        r = derive(text, wrt="x")
        np.testing.assert_allclose(r.evaluate({"x": x}), _grad(lambda v: np.sum(np.abs(v)), x),
                                   rtol=1e-6, atol=1e-8, err_msg=text)


def test_equivalent_without_shapes_infers_one_shape_per_name():
    """Once a raw NumPy error: the two formulas' names were sized separately."""
    assert not matcalc.equivalent("sum(A x)", "sum(A^T x)")
    assert matcalc.equivalent("(Xθ − y)ᵀ(Xθ − y)", "θᵀXᵀXθ − 2yᵀXθ + yᵀy")
    assert matcalc.equivalent("x + y", "y + x")
    assert matcalc.equivalent("λθᵀθ", "λ*sum(θ.^2)")


def test_word_split_into_letters_that_does_not_fit_says_how_to_declare_it():
    """`Xtrain w − y` once read every letter but X as a scalar, y broadcast to a matrix."""
    with pytest.raises(MatcalcError) as info:
        parse("sum((Xtrain w - y).^2)")
    assert "Xtrain: m×n" in str(info.value)
    r = derive("sum((Xtrain w - y).^2)", wrt="w", shapes="Xtrain: m×n")
    rng = np.random.default_rng(5)
    X, y, w = rng.normal(size=(5, 3)), rng.normal(size=(5, 1)), rng.normal(size=(3, 1))
    got = r.evaluate({"Xtrain": X, "y": y, "w": w})
    np.testing.assert_allclose(got, _grad(lambda v: np.sum((X @ v - y) ** 2), w),
                               rtol=1e-6, atol=1e-7)


def test_a_name_made_scalar_is_never_only_broadcast():
    # `x + c`: both vectors of one size; neither is taken as a scalar to be broadcast
    node = parse("x + c")
    assert node.shape[1] == 1 and node.shape[0] != 1
    assert not any("scalar" in n for n in matcalc.language.parser.parse_with_shapes("x + c")[1].notes)

"""Derivatives as Python functions: r.to_function() and matcalc.gradient_function().

The table test runs every identity-table row through the NumPy, JAX and PyTorch callables with
vectors passed 1-D and as columns, at a random point with a different size for every dimension
name, and compares with r.evaluate (whose formulas test_identities checks against closed forms
from the literature and finite differences). The overflow tests compare with limits worked out
by hand; the autograd tests with central differences of the function written here in NumPy.
"""
from __future__ import annotations

import importlib.util
import inspect

import numpy as np
import pytest

import matcalc
from matcalc import ShapeError, derive, gradient_function
from matcalc.printing.function import compile_generated

from test_codegen import point
from test_identities import TABLE

ROWS = [pytest.param(*p.values, id=p.id) for p in TABLE if not p.marks]
BACKENDS = ["numpy", "jax", "torch"]


def backend_array(backend, a, dtype=np.float64):
    a = np.asarray(a, dtype=dtype)
    if backend == "jax":
        import jax.numpy as jnp
        return jnp.asarray(a)
    if backend == "torch":
        import torch
        return torch.from_numpy(a.copy())
    return a


def as_numpy(a):
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def tolerance(backend):
    """float64 everywhere except JAX when the user (or another test) left x64 off."""
    if backend == "jax":
        import jax
        if not jax.config.jax_enable_x64:
            return dict(rtol=2e-3, atol=2e-3)
    return dict(rtol=1e-8, atol=1e-10)


def inputs(fn, env, sizes, style, backend, dtype=np.float64):
    """Keyword arguments named like the signature: vectors 1-D (style "1d") or as drawn."""
    kwargs = {}
    names = {matcalc.printing.code.identifier(k): k for k in env}
    for name, par in inspect.signature(fn).parameters.items():
        if par.kind is par.KEYWORD_ONLY:
            kwargs[name] = int(sizes[name] if name in sizes else
                               next(v for k, v in sizes.items() if str(k) == name))
            continue
        value = np.asarray(env[name] if name in env else env[names[name]], dtype=dtype)
        if style == "1d" and value.ndim == 2 and 1 in value.shape and value.size > 1:
            value = value.reshape(-1)
        kwargs[name] = backend_array(backend, value, dtype)
    return kwargs


def expected(r, env, style):
    """r.evaluate's answer in the callable's convention: a vector result is 1-D when the
    vectors came 1-D, a gradient has the shape its variable was given."""
    want = np.asarray(r.evaluate(env))
    if r.kind == "tensor":
        return want
    if r.kind == "gradient" and r.node.shape == r.variable.shape:
        given = np.asarray(env[r.variable.name])
        if style == "1d" and given.ndim == 2 and 1 in given.shape and given.size > 1:
            return want.reshape(-1)
        return want.reshape(given.shape) if given.ndim else want
    if style == "1d" and want.ndim == 2 and 1 in want.shape and want.size > 1 and \
            1 in tuple(r.node.shape):
        return want.reshape(-1)
    return want


def run_row(expr, wrt, shapes, order, backend, style, dtype=np.float64, positional=False):
    """Called with keyword arguments, or (positional=True) with the arrays in the signature's
    order, the call the hot path takes."""
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    env, sizes = point(r)
    fn = r.to_function(backend)
    kwargs = inputs(fn, env, sizes, style, backend, dtype)
    if positional:
        params = inspect.signature(fn).parameters
        first = [kwargs.pop(k) for k, p in params.items() if p.kind is not p.KEYWORD_ONLY]
        value, got = fn(*first, **kwargs)
    else:
        value, got = fn(**kwargs)
    return r, env, value, got


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("expr, wrt, shapes, expected_text, order", ROWS)
def test_callable_equals_evaluate_with_1d_and_column_inputs(expr, wrt, shapes, expected_text,
                                                            order, backend):
    if backend != "numpy":
        pytest.importorskip(backend)
    for style in ("1d", "column"):
        for positional in (False, True):
            r, env, value, got = run_row(expr, wrt, shapes, order, backend, style,
                                         positional=positional)
            want = expected(r, env, style)
            got = as_numpy(got)
            assert got.shape == want.shape, (style, positional, got.shape, want.shape)
            np.testing.assert_allclose(got, want, **tolerance(backend))
            if r.function.shape == (1, 1) or all(d == 1 for d in r.function.shape):
                assert as_numpy(value).shape == ()
                if backend == "numpy":
                    assert isinstance(value, np.floating), type(value)


@pytest.mark.parametrize("expr, wrt, shapes, expected_text, order", ROWS)
def test_float32_in_float32_out(expr, wrt, shapes, expected_text, order):
    for backend in BACKENDS:
        if backend != "numpy":
            pytest.importorskip(backend)
        for positional in (False, True):
            r, env, value, got = run_row(expr, wrt, shapes, order, backend, "1d", np.float32,
                                         positional)
            assert str(as_numpy(got).dtype) == "float32", backend
            assert str(as_numpy(value).dtype) == "float32", backend
            want = expected(r, env, "1d")
            scale = max(1.0, float(np.max(np.abs(want))))
            np.testing.assert_allclose(as_numpy(got), want, rtol=2e-3, atol=2e-3 * scale)


# least squares against the closed form, sizes m=5, n=3 ----------------------------------------
def test_least_squares_gradient_is_1d_for_a_1d_theta_and_a_column_for_a_column():
    """The bug a new user met: a 1-D θ came back as an (n, 1) gradient, so θ − lr·g became
    n×n, and the value was a (1, 1) array."""
    rng = np.random.default_rng(1)
    X, θ, y = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5)
    f = gradient_function("(X θ - y)^T (X θ - y)", "θ", "X: m×n, θ: n, y: m")
    value, g = f(X=X, θ=θ, y=y)
    assert g.shape == (3,) and np.ndim(value) == 0 and isinstance(value, float)
    np.testing.assert_allclose(g, 2 * X.T @ (X @ θ - y), rtol=1e-12)
    np.testing.assert_allclose(value, np.sum((X @ θ - y) ** 2), rtol=1e-12)
    _, g2 = f(X=X, θ=θ.reshape(-1, 1), y=y.reshape(-1, 1))
    assert g2.shape == (3, 1)
    np.testing.assert_allclose(g2[:, 0], g, rtol=1e-12)
    assert (θ - 0.1 * g).shape == (3,)


def test_signature_names_the_variables_and_accepts_spelled_out_greek():
    r = derive("(X θ - y)^T (X θ - y)", "θ", "X: m×n, θ: n, y: m")
    f = r.to_function()
    assert list(inspect.signature(f).parameters) == ["X", "θ", "y"]
    rng = np.random.default_rng(2)
    X, θ, y = rng.normal(size=(4, 2)), rng.normal(size=2), rng.normal(size=4)
    np.testing.assert_array_equal(f(X, θ, y)[1], f(X=X, theta=θ, y=y)[1])
    with pytest.raises(TypeError):
        f(X=X, θ=θ, theta=θ, y=y)
    g = r.to_function(args="θ, X, y", value=False)
    assert list(inspect.signature(g).parameters) == ["θ", "X", "y"]
    np.testing.assert_allclose(g(θ, X, y), 2 * X.T @ (X @ θ - y))
    doc = f.__doc__
    assert "2Xᵀ(Xθ − y)" in doc and "θ: n×1" in doc and "X: m×n" in doc
    assert "def value_and_grad(X, theta, y)" in f.source


def test_args_naming_an_unknown_variable_is_refused():
    r = derive("x^T x", "x", "x: n")
    with pytest.raises(matcalc.MatcalcError, match="args must name the variables"):
        r.to_function(args=["z"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_dimensions_are_refused_with_a_shape_error(backend):
    if backend != "numpy":
        pytest.importorskip(backend)
    f = gradient_function("(X θ - y)^T (X θ - y)", "θ", "X: m×n, θ: n, y: m", backend=backend)
    X = backend_array(backend, np.ones((7, 5, 3)))
    with pytest.raises(ShapeError, match="batch dimensions are not supported"):
        f(X, backend_array(backend, np.ones(3)), backend_array(backend, np.ones(5)))
    with pytest.raises(ShapeError, match="batch"):
        f(backend_array(backend, np.ones((5, 3))), backend_array(backend, np.ones((3, 4))),
          backend_array(backend, np.ones(5)))
    with pytest.raises(ShapeError, match="m is 5 from X, but 4 here"):
        f(backend_array(backend, np.ones((5, 3))), backend_array(backend, np.ones(3)),
          backend_array(backend, np.ones(4)))


def test_matrix_gradient_has_the_matrix_shape():
    rng = np.random.default_rng(3)
    a, X, b = rng.normal(size=4), rng.normal(size=(4, 3)), rng.normal(size=3)
    f = gradient_function("a^T X b", "X", "a: m, X: m×n, b: n", value=False)
    np.testing.assert_allclose(f(a, X, b), np.outer(a, b))


# numerical stability at ±1000 ----------------------------------------------------------------
STABLE = [
    ("sum(log(1 + exp(X w)) - y .* (X w))", "logit form"),
    ("sum(softplus(X w)) - y^T X w", "softplus form"),
    ("-sum(y .* log(sigmoid(X w)) + (1 - y) .* log(1 - sigmoid(X w)))", "cross-entropy form"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("expr, label", STABLE)
def test_logistic_losses_at_plus_minus_1000_are_finite_and_match_the_limit(expr, label,
                                                                           backend):
    """z = Xw = (1000, −1000), y = (0, 1): each sample is wrong by 1000, so the loss is
    log(1 + e¹⁰⁰⁰) + log(1 + e¹⁰⁰⁰) → 2000, and the gradient Xᵀ(σ(z) − y) → 1·1 + (−1)(−1)
    = 2.
    Printed as written, log(1 + exp(1000)) is inf."""
    if backend != "numpy":
        pytest.importorskip(backend)
    f = gradient_function(expr, "w", "X: N×n, w: n, y: N", backend=backend)
    X = backend_array(backend, [[1.0], [-1.0]])
    w = backend_array(backend, [1000.0])
    y = backend_array(backend, [0.0, 1.0])
    value, g = f(X=X, w=w, y=y)
    assert np.isfinite(as_numpy(value)) and np.all(np.isfinite(as_numpy(g)))
    np.testing.assert_allclose(as_numpy(value), 2000.0, rtol=1e-6)
    np.testing.assert_allclose(as_numpy(g), [2.0], rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_cross_entropy_at_plus_minus_1000_is_finite_and_matches_the_limit(backend):
    """x = (1000, −1000, 0), y = e₂: loss = logsumexp(x) − x₂ → 1000 + 1000, gradient
    softmax(x) − y → (1, −1, 0)."""
    if backend != "numpy":
        pytest.importorskip(backend)
    f = gradient_function("-y^T log(softmax(x))", "x", "x: n, y: n", backend=backend)
    value, g = f(x=backend_array(backend, [1000.0, -1000.0, 0.0]),
                 y=backend_array(backend, [0.0, 1.0, 0.0]))
    np.testing.assert_allclose(as_numpy(value), 2000.0, rtol=1e-6)
    np.testing.assert_allclose(as_numpy(g), [1.0, -1.0, 0.0], atol=1e-12)
    h = gradient_function("logsumexp(x)", "x", "x: n", backend=backend)
    value, g = h(backend_array(backend, [1000.0, 999.0]))
    np.testing.assert_allclose(as_numpy(value), 1000 + np.log1p(np.exp(-1.0)), rtol=1e-6)
    np.testing.assert_allclose(as_numpy(g), [1 / (1 + np.exp(-1)), 1 / (1 + np.e)], rtol=1e-6)


# JAX leaves the user's configuration alone ---------------------------------------------------
def test_calling_a_generated_jax_function_leaves_jax_config_unchanged():
    jax = pytest.importorskip("jax")
    before = dict(jax.config.values)
    r = derive("(X θ - y)^T (X θ - y)", "θ", "X: m×n, θ: n, y: m")
    assert "config" not in r.code("jax")
    f = r.to_function("jax")
    import jax.numpy as jnp
    value, g = f(jnp.ones((3, 2), jnp.float32), jnp.ones(2, jnp.float32),
                 jnp.ones(3, jnp.float32))
    assert g.dtype == jnp.float32 and g.shape == (2,)
    assert dict(jax.config.values) == before


# autograd functions: 1-D, column and matrix parameters ------------------------------------------
def loss(X, w, y):
    """The test's own NumPy code of sum(softplus(X w)) − yᵀXw."""
    z = X @ w.reshape(-1)
    return np.sum(np.logaddexp(0.0, z)) - y.reshape(-1) @ z


def central(fun, a, h=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[i] = h
        g[i] = (fun(a + e) - fun(a - e)) / (2 * h)
    return g


@pytest.mark.parametrize("style", ["1d", "column"])
def test_torch_autograd_function_for_1d_column_and_matrix_parameters(style):
    torch = pytest.importorskip("torch")
    src = matcalc.autograd_function("sum(softplus(X w)) - y^T X w", "X: N×n, w: n, y: N")
    Op = compile_generated(src, "Op")
    rng = np.random.default_rng(4)
    X0, w0, y0 = rng.normal(size=(6, 4)), rng.normal(size=4), rng.normal(size=6)
    if style == "column":
        w0, y0 = w0.reshape(-1, 1), y0.reshape(-1, 1)
    X, w = torch.tensor(X0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    y = torch.tensor(y0, requires_grad=True)
    out = Op.apply(X, w, y)
    assert out.shape == ()
    out.backward()
    assert X.grad.shape == X0.shape and w.grad.shape == w0.shape and y.grad.shape == y0.shape
    np.testing.assert_allclose(out.item(), loss(X0, w0, y0), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), central(lambda a: loss(X0, a, y0), w0), atol=1e-6)
    np.testing.assert_allclose(X.grad.numpy(), central(lambda a: loss(a, w0, y0), X0), atol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), central(lambda a: loss(X0, w0, a), y0), atol=1e-6)


def test_torch_autograd_function_with_a_vector_output_keeps_1d():
    torch = pytest.importorskip("torch")
    Op = compile_generated(matcalc.autograd_function("W x", "W: m×n, x: n"), "Op")
    W = torch.ones(4, 3, dtype=torch.float32, requires_grad=True)
    x = torch.arange(3.0, requires_grad=True)
    out = Op.apply(W, x)
    assert out.shape == (4,)
    v = torch.arange(4.0)
    (out @ v).backward()
    np.testing.assert_allclose(W.grad.numpy(), np.outer(np.arange(4.0), np.arange(3.0)))
    np.testing.assert_allclose(x.grad.numpy(), np.ones((4, 3)).T @ np.arange(4.0))
    assert W.grad.dtype == torch.float32


@pytest.mark.parametrize("style", ["1d", "column"])
def test_jax_custom_vjp_for_1d_column_and_matrix_parameters(style):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    op = compile_generated(matcalc.autograd_function("sum(softplus(X w)) - y^T X w",
                                                     "X: N×n, w: n, y: N", backend="jax"), "op")
    rng = np.random.default_rng(5)
    X0, w0, y0 = rng.normal(size=(6, 4)), rng.normal(size=4), rng.normal(size=6)
    if style == "column":
        w0, y0 = w0.reshape(-1, 1), y0.reshape(-1, 1)
    gX, gw, gy = jax.grad(op, argnums=(0, 1, 2))(jnp.asarray(X0), jnp.asarray(w0),
                                                 jnp.asarray(y0))
    assert gX.shape == X0.shape and gw.shape == w0.shape and gy.shape == y0.shape
    tol = dict(atol=1e-6) if jax.config.jax_enable_x64 else dict(atol=2e-3, rtol=2e-3)
    np.testing.assert_allclose(np.asarray(gw), central(lambda a: loss(X0, a, y0), w0), **tol)
    np.testing.assert_allclose(np.asarray(gX), central(lambda a: loss(a, w0, y0), X0), **tol)


def test_every_elementwise_function_has_generated_code_for_every_backend():
    """A function the language knows but the code printer did not gave a KeyError traceback
    (arcsin, sinh, log1p, … added to the language)."""
    from matcalc.core.functions import FUNCTIONS
    from matcalc.printing.code import FUNCS
    missing = [name for name in FUNCTIONS if name not in FUNCS]
    assert not missing, missing


@pytest.mark.parametrize("fn, numpy_fn, low, high", [
    ("arcsin", np.arcsin, -0.9, 0.9), ("arccos", np.arccos, -0.9, 0.9),
    ("arctan", np.arctan, -3, 3), ("sinh", np.sinh, -3, 3), ("cosh", np.cosh, -3, 3),
    ("log1p", np.log1p, -0.5, 3), ("expm1", np.expm1, -3, 3)])
def test_new_elementwise_functions_give_callables_matching_numpy(fn, numpy_fn, low, high):
    from matcalc.core.functions import FUNCTIONS
    if fn not in FUNCTIONS:
        pytest.skip(f"{fn} is not in the language on this branch")
    x = np.linspace(low, high, 5)
    f = gradient_function(f"sum({fn}(x))", "x", "x: n")
    value, g = f(x)
    np.testing.assert_allclose(value, np.sum(numpy_fn(x)), rtol=1e-12)
    h = 1e-6
    np.testing.assert_allclose(g, (numpy_fn(x + h) - numpy_fn(x - h)) / (2 * h), rtol=1e-6)


def test_a_python_number_does_not_turn_float32_arrays_into_float64():
    f = gradient_function("λ * x^T x", "x", "λ: scalar, x: n", value=False)
    g = f(0.5, np.arange(3, dtype=np.float32))
    assert g.dtype == np.float32 and g.shape == (3,)
    np.testing.assert_allclose(g, [0.0, 1.0, 2.0])
    assert f(λ=2, x=[1, 2]).dtype == np.float64        # only numbers: float64


def test_a_scalar_variable_passed_as_a_number_gives_a_0d_derivative():
    f = gradient_function("sum(exp(t * a))", "t", "t: scalar, a: n")
    value, g = f(0.0, np.array([1.0, 2.0, 3.0]))
    assert np.ndim(value) == 0 and np.ndim(g) == 0
    np.testing.assert_allclose([value, g], [3.0, 6.0])


# how many n×n products the generated code does (structure, not timing) -----------------------
# value and gradient as an expert writes them: Xθ once, reused by the value (θᵀ(Xθ), yᵀ(Xθ)) and
# the gradient; Hessians: XᵀX once, Xθ and Xᵀ(s ⊙ X) once each, X + Xᵀ with no product.
PRODUCTS = [
    # problem, expression, shapes, hand-written value, gradient and Hessian, n×n products for
    # value + gradient, gradient alone, Hessian
    ("least squares", "(X θ - y)^T (X θ - y)", "X: n×n, θ: n, y: n",
     lambda X, t, y: (X @ t - y) @ (X @ t - y), lambda X, t, y: 2 * X.T @ (X @ t - y),
     lambda X, t, y: 2 * X.T @ X, 2, 2, 1),
    ("logistic regression", "sum(softplus(X θ)) - y^T X θ", "X: n×n, θ: n, y: n",
     lambda X, t, y: np.sum(np.log1p(np.exp(X @ t))) - y @ X @ t,
     lambda X, t, y: X.T @ (1 / (1 + np.exp(-X @ t)) - y),
     lambda X, t, y: X.T @ np.diag(np.exp(-X @ t) / (1 + np.exp(-X @ t)) ** 2) @ X, 2, 2, 2),
    ("xᵀAx", "θ^T X θ", "X: n×n, θ: n",
     lambda X, t: t @ X @ t, lambda X, t: X @ t + X.T @ t, lambda X, t: X + X.T, 2, 2, 0),
]


class _CountedMatrix(np.ndarray):
    """An n×n array that counts the matrix products it takes part in (its views, X.T, too)."""
    products = 0

    def __array_ufunc__(self, ufunc, method, *args, **kwargs):
        if ufunc is np.matmul:
            _CountedMatrix.products += 1
        plain = [a.view(np.ndarray) if isinstance(a, _CountedMatrix) else a for a in args]
        return getattr(ufunc, method)(*plain, **kwargs)


def _problem_point(shapes, n=6):
    rng = np.random.default_rng(11)
    X, t, y = rng.normal(size=(n, n)), rng.normal(size=n), rng.normal(size=n)
    return (X, t, y) if "y" in shapes else (X, t)


@pytest.mark.parametrize("problem, expr, shapes, f, grad, hess, both, alone, hessian", PRODUCTS,
                         ids=[p[0] for p in PRODUCTS])
def test_generated_numpy_code_does_as_few_matrix_products_as_hand_written(
        problem, expr, shapes, f, grad, hess, both, alone, hessian):
    """The value θᵀXθ and the gradient Xθ + Xᵀθ share Xθ (was three n×n products for two);
    yᵀXθ reuses Xθ from σ(Xθ) (was a third). Counted by calling the generated source with an
    X that counts the products it enters, and checked against the hand-written formulas."""
    args = _problem_point(shapes)
    names = ["X", "θ", "y"][:len(args)]
    for order, value, want in ((1, True, both), (1, False, alone), (2, False, hessian)):
        fn = derive(expr, "θ", shapes, order=order).to_function("numpy", value=value, args=names)
        assert fn.source_1d is not None or order == 2       # (diag(s) in a Hessian: columns)
        for source in filter(None, (fn.source, fn.source_1d)):   # column code, 1-D code
            inner = compile_generated(source, fn.__name__)
            counted = (args[0].view(_CountedMatrix),) + args[1:]
            _CountedMatrix.products = 0
            out = inner(*counted)
            assert _CountedMatrix.products == want, (problem, order, value, source)
        got = fn(*args)
        if order == 2:
            np.testing.assert_allclose(got, hess(*args), rtol=1e-10, atol=1e-12)
        elif value:
            np.testing.assert_allclose(got[0], f(*args), rtol=1e-10)
            np.testing.assert_allclose(got[1], grad(*args), rtol=1e-10, atol=1e-12)
            assert got[1].shape == args[1].shape and np.ndim(got[0]) == 0
        else:
            np.testing.assert_allclose(got, grad(*args), rtol=1e-10, atol=1e-12)
        assert out is not None


@pytest.mark.parametrize("problem, expr, shapes, f, grad, hess, both, alone, hessian", PRODUCTS,
                         ids=[p[0] for p in PRODUCTS])
def test_generated_jax_and_torch_code_share_the_same_products(
        problem, expr, shapes, f, grad, hess, both, alone, hessian):
    """The same sharing in the JAX code (counted in its jaxpr) and the PyTorch code (counted
    with a torch function mode)."""
    args = _problem_point(shapes)
    names = ["X", "θ", "y"][:len(args)]
    n = args[0].shape[0]
    if importlib.util.find_spec("jax"):
        import jax
        fn = derive(expr, "θ", shapes).to_function("jax", args=names)
        jaxpr = jax.make_jaxpr(fn)(*args)
        dots = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "dot_general" and
                any(tuple(v.aval.shape) == (n, n) for v in e.invars)]
        assert len(dots) == both, jaxpr
    if importlib.util.find_spec("torch"):
        import torch
        from torch.overrides import TorchFunctionMode

        class Count(TorchFunctionMode):
            products = 0

            def __torch_function__(self, func, types, a=(), kwargs=None):
                if getattr(func, "__name__", "") in ("matmul", "__matmul__", "__rmatmul__",
                                                     "mm", "mv") and \
                        any(torch.is_tensor(x) and tuple(x.shape) == (n, n) for x in a):
                    Count.products += 1
                return func(*a, **(kwargs or {}))

        fn = derive(expr, "θ", shapes).to_function("torch", args=names)
        targs = [torch.from_numpy(a) for a in args]
        with Count():
            v, g = fn(*targs)
        assert Count.products == both, fn.source
        np.testing.assert_allclose(g.numpy(), grad(*args), rtol=1e-10, atol=1e-12)


def test_positional_calls_of_mixed_dtypes_lists_and_bad_shapes_go_the_careful_way():
    """The hot path takes only arrays of one floating dtype; anything else is converted (or
    refused with a ShapeError), as with keywords. Checked against 2Xᵀ(Xθ − y) written here."""
    f = gradient_function("(X θ - y)^T (X θ - y)", "θ", "X: m×n, θ: n, y: m")
    rng = np.random.default_rng(8)
    X, θ, y = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5)
    want = 2 * X.T @ (X @ θ - y)
    value, g = f(X.astype(np.float32), θ, y)                 # float32 with float64: float64
    assert g.dtype == np.float64 and value.dtype == np.float64 and g.shape == (3,)
    np.testing.assert_allclose(g, 2 * X.astype(np.float32).T @ (X.astype(np.float32) @ θ - y),
                               rtol=1e-6)
    value, g = f(X.tolist(), list(θ), y)                      # lists
    np.testing.assert_allclose(g, want, rtol=1e-12)
    value, g = f(np.arange(15).reshape(5, 3), np.ones(3, dtype=int), np.zeros(5))   # integers
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2 * np.arange(15).reshape(5, 3).T @ np.arange(15).reshape(
        5, 3).sum(axis=1), rtol=1e-12)
    with pytest.raises(ShapeError, match="θ should be n×1"):
        f(X, np.ones((3, 2)), y)
    with pytest.raises(ShapeError, match="n is 3 from X, but 4 here"):
        f(X, np.ones(4), y)
    _, g = f(X, θ.reshape(-1, 1), y)                          # a column stays a column
    assert g.shape == (3, 1)
    np.testing.assert_allclose(g[:, 0], want, rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("expr, wrt, shapes, expected_text, order", ROWS)
def test_the_1d_code_itself_equals_evaluate_with_1d_shapes(expr, wrt, shapes, expected_text,
                                                           order, backend):
    """The code that runs when vectors come 1-D (no reshapes to columns), called directly: a
    vector output is 1-D, a scalar 0-d, and the numbers are r.evaluate's. Rows whose 1-D reading
    would differ (outer products, diag, vec, scalar variables) have no 1-D code."""
    if backend != "numpy":
        pytest.importorskip(backend)
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    fn = r.to_function(backend)
    if fn.source_1d is None:
        return
    assert ".reshape(-1, 1)" not in fn.source_1d
    env, sizes = point(r)
    kwargs = inputs(fn, env, sizes, "1d", backend)
    params = [k for k, p in inspect.signature(fn).parameters.items()
              if p.kind is not p.KEYWORD_ONLY]
    flat = compile_generated(fn.source_1d, fn.__name__)
    value, got = flat(*[kwargs[k] for k in params])
    want = expected(r, env, "1d")
    got = as_numpy(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, **tolerance(backend))
    if r.function.shape == (1, 1):
        assert as_numpy(value).shape == ()


def test_least_squares_and_xtax_have_1d_code_an_outer_product_and_diag_have_none():
    assert gradient_function("(X θ - y)^T (X θ - y)", "θ", "X: m×n, θ: n, y: m").source_1d
    assert gradient_function("θ^T X θ", "θ", "X: n×n, θ: n").source_1d
    assert derive("x y^T", "x", "x: n, y: m").to_function().source_1d is None
    assert derive("tanh(W x)", "x", "W: m×n, x: n").to_function().source_1d is None
    if importlib.util.find_spec("jax"):
        assert gradient_function("θ^T X θ", "θ", "X: n×n, θ: n", backend="jax").source_1d is None


@pytest.mark.parametrize("text, wrt, shapes, order", [
    ("x^T (A + I) x", "x", "A: n×n, x: n", 1),
    ("tr(X A X)", "X", "X: n×n, A: n×n", 2),
    ("sum(x)", "x", "x: n", 1),
    ("‖x‖^2", "x", "x: n", 2),
])
def test_torch_code_makes_its_constants_on_the_inputs_device(text, wrt, shapes, order):
    """The generated PyTorch code made I, zeros, ones and numbers on the CPU, so a CUDA input
    failed ("Tensor on device cpu is not on the expected device"); checked on the meta device,
    which every PyTorch build has."""
    torch = pytest.importorskip("torch")
    fn = derive(text, wrt=wrt, shapes=shapes, order=order).to_function("torch", value=True)
    given = {"A": torch.ones(4, 4, device="meta"), "x": torch.ones(4, device="meta"),
             "X": torch.ones(4, 4, device="meta")}
    value, derivative = fn(**{k: v for k, v in given.items()
                              if k in inspect.signature(fn).parameters})
    assert value.device.type == "meta" and derivative.device.type == "meta"

"""Symbolic vector–Jacobian, Jacobian–vector and Hessian–vector products.

vjp: vᵀ(∂f/∂x), one reverse sweep seeded with a new symbol v shaped like f.
jvp: (∂f/∂x)u, the gradient with respect to v of ⟨vjp(v), u⟩ (linear in v, so free of v).
hvp: (∇²f)u for scalar f, the gradient of ⟨∇f, u⟩.
The new symbol's shape is inferred from f or x; its name must be new to the expression.
"""
from __future__ import annotations

from ..core import build as B
from ..core import expr as E
from .derive import Derivation, find_variable, first_derivative, reverse
from ..core.errors import MatcalcError, UnsupportedError
from ..core.limits import deep
from ..core.expr import names_in
from ..language.parser import parse_with_shapes
from ..core.shapes import canonical_name, is_scalar
from ..simplify.rewrite import Context, simplify


def _setup(expr, wrt, shapes, extra):
    f, decls = parse_with_shapes(expr, shapes)
    name = canonical_name(wrt.strip()) if isinstance(wrt, str) else None
    if not name:
        raise MatcalcError("wrt must name a variable of the expression")
    x = find_variable(f, name)
    if x is None:
        if name not in decls.decls:
            raise MatcalcError(f"`{wrt}` does not occur in the expression and has no declared "
                               "shape", span=f.span, text=expr)
        x = E.Sym(name, decls.decls[name].shape)
    extra = canonical_name(extra)
    if extra in names_in(f) or extra == name:
        raise MatcalcError(f"the name `{extra}` is already used in the expression; choose "
                           "another for the new vector", span=f.span, text=expr)
    ctx = Context(symmetric=decls.symmetric_names)
    return f, decls, x, extra, ctx


def _result(expr, wrt, node, function, x, kind, decls, steps, checked=None, direction=None):
    return Derivation(expr, wrt, node, function, x, kind, "numerator", 1, decls, tuple(steps),
                      checked, direction)


@deep
def vjp(expr: str, wrt: str, cotangent: str = "v", shapes=None):
    """vᵀ(∂f/∂x) in closed form, shaped like x; v is a new symbol shaped like f."""
    f, decls, x, vname, ctx = _setup(expr, wrt, shapes, cotangent)
    v = E.Sym(vname, f.shape)
    steps: list = []
    g = reverse(f, x, v, steps)
    node = simplify(g if g is not None else B.zero(x.shape), ctx)
    return _result(expr, x.name, node, B.inner(v, f), x, "vjp", decls, steps)


@deep
def jvp(expr: str, wrt: str, tangent: str = "u", shapes=None):
    """(∂f/∂x)u in closed form, shaped like f; u is a new symbol shaped like x."""
    f, decls, x, uname, ctx = _setup(expr, wrt, shapes, tangent)
    u = E.Sym(uname, x.shape)
    V = E.Sym("∂V", f.shape)
    g = reverse(f, x, V, None)
    if g is None:
        return _result(expr, x.name, B.zero(f.shape), f, x, "jvp", decls, [], None, uname)
    d = reverse(simplify(B.inner(g, u), ctx), V, B.num(1), None)
    node = simplify(d if d is not None else B.zero(f.shape), ctx)
    assert "∂V" not in names_in(node), "⟨vjp(V), u⟩ is linear in V: V cannot survive"
    return _result(expr, x.name, node, f, x, "jvp", decls, [], None, uname)


@deep
def hvp(expr: str, wrt: str, vector: str = "u", shapes=None):
    """(∇²f)u for a scalar f: the Hessian applied to u (shaped like x) without forming it."""
    f, decls, x, uname, ctx = _setup(expr, wrt, shapes, vector)
    if not is_scalar(f.shape):
        raise UnsupportedError("a Hessian–vector product needs a scalar function", span=f.span,
                               text=expr)
    u = E.Sym(uname, x.shape)
    grad, _ = first_derivative(f, x, None)
    grad = simplify(grad)            # no declarations: the gradient is differentiated again
    d = reverse(simplify(B.inner(grad, u)), x, B.num(1), None)
    node = simplify(d if d is not None else B.zero(x.shape), ctx)
    return _result(expr, x.name, node, f, x, "hvp", decls, [], grad, uname)

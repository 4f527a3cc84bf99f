"""The public entry points: derive, vjp, jvp and hvp, each answering with a Result.

The calculus returns what it found as a plain Derivation; this module dresses it as a Result,
which knows the notations, the steps and the checks. Nothing below this module imports Result,
so the engine's imports point one way. No mathematics happens here.
"""
from __future__ import annotations

from typing import Union

from .calculus import products
from .calculus.derive import derivation
from .calculus.structured import apply_convention
from .result import Result

#: Shape declarations: "X: m×n, θ: n, λ: scalar, A: n×n spd" or {"X": "m×n", "θ": "n", "A": ("n", "n", "spd")}.
ShapesSpec = Union[str, dict, None]


def derive(expr: str, wrt: str | tuple[str, str], shapes: ShapesSpec = None, order: int = 1,
           layout: str = "numerator", simplify: bool = True,
           structure: str | None = None) -> Result:
    """The closed-form derivative of `expr` with respect to the variable `wrt` (docs/api.md).
    wrt=("x", "y") gives the mixed second derivative ∂/∂y (∂f/∂x). For a variable declared
    symmetric, spd, diagonal, skew, lower, upper or orthogonal, structure="structured" gives
    the gradient on the structured space and "entries" the derivative with respect to the
    independent entries (docs/structured.md); the default, "unconstrained", counts every
    entry as independent."""
    found = derivation(expr, wrt, shapes, order, layout, simplify)
    if structure is None:
        return Result.of(found)
    found, convention = apply_convention(found, structure, simplify)
    return Result.of(found, convention_info=convention)


def vjp(expr: str, wrt: str, cotangent: str = "v", shapes: ShapesSpec = None) -> Result:
    """vᵀ(∂f/∂x) in closed form, shaped like x; v is a new symbol shaped like f."""
    return Result.of(products.vjp(expr, wrt, cotangent, shapes))


def jvp(expr: str, wrt: str, tangent: str = "u", shapes: ShapesSpec = None) -> Result:
    """(∂f/∂x)u in closed form, shaped like f; u is a new symbol shaped like x."""
    return Result.of(products.jvp(expr, wrt, tangent, shapes))


def hvp(expr: str, wrt: str, vector: str = "u", shapes: ShapesSpec = None) -> Result:
    """(∇²f)u for a scalar f: the Hessian applied to u (shaped like x) without forming it."""
    return Result.of(products.hvp(expr, wrt, vector, shapes))


def gradient_function(expr: str, wrt: str, shapes: ShapesSpec = None, backend: str = "numpy",
                      value: bool = True, args=None):
    """derive(expr, wrt, shapes).to_function(backend, value, args): a Python function returning
    (value, gradient) — shapes in = shapes out, the inputs' dtype (docs/api.md)."""
    return derive(expr, wrt, shapes).to_function(backend, value, args)

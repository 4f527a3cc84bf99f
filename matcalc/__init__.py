"""matcalc: symbolic matrix calculus — parse, shape-check and differentiate matrix formulas."""
from __future__ import annotations

__version__ = "0.1.0"

from .api import derive, gradient_function, hvp, jvp, vjp
from .core.errors import (CheckError, DomainError, MatcalcError, ParseError, ShapeError,
                          UnsupportedError)
from .language.parser import parse
from .printing.code import autograd_function
from .result import Result

from .explain.cost import chain_cost
from .simplify.equivalence import equivalent
from .simplify import algebra  # noqa: F401  (registers its pass with the simplifier)
from .jupyter import register as _register_jupyter

_register_jupyter()

__all__ = ["chain_cost", "equivalent", "autograd_function", "derive", "gradient_function", "parse", "vjp", "jvp", "hvp", "Result", "MatcalcError", "ParseError", "ShapeError",
           "UnsupportedError", "CheckError", "DomainError"]

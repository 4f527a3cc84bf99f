"""matcalc: symbolic matrix calculus — parse, shape-check and differentiate matrix formulas."""
from __future__ import annotations

__version__ = "0.1.0"

from .derive import derive
from .errors import MatcalcError, ParseError, ShapeError, UnsupportedError
from .numeric import CheckError
from .parser import parse
from .products import hvp, jvp, vjp
from .result import Result

__all__ = ["derive", "parse", "vjp", "jvp", "hvp", "Result", "MatcalcError", "ParseError", "ShapeError",
           "UnsupportedError", "CheckError"]

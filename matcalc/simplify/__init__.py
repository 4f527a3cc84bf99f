"""simplify: named rewrites applied to a fixed point (`rewrite.py`, with the scalar normal form of
`scalars.py` and the identities of `identities.py` registered into its rules), the element-wise
algebra in lowest terms (`algebra.py`), shared subexpressions (`cse.py`) and whether two
formulas are equal (`equivalence.py`)."""
from __future__ import annotations

from . import algebra  # noqa: F401  (registers the element-wise pass)
from . import scalars, identities  # noqa: F401  (register their rules)
from .rewrite import Context, simplify, size  # matcalc.simplify.size (documented)

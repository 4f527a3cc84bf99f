"""simplify: named rewrites applied to a fixed point (`rewrite.py`), the element-wise algebra in
lowest terms (`algebra.py`), shared subexpressions (`cse.py`) and whether two formulas are equal
(`equivalence.py`)."""
from __future__ import annotations

from . import algebra  # noqa: F401  (registers the element-wise pass)
from .rewrite import Context, simplify, size  # matcalc.simplify.size (documented)

"""numeric: NumPy evaluation of a tree and the finite-difference checks, the oracle that matcalc's
answers are compared with; it knows nothing of the language."""
from __future__ import annotations

from ..core.errors import CheckError  # matcalc.numeric.CheckError (documented)

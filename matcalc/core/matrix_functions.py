"""The table of matrix functions and decompositions: one row per function of a whole matrix.

Data only (it imports nothing from the rest of the package): shapes.py reads the shape kinds,
the printers the spellings, the derivative rules and numeric evaluation the assumptions. The
constructor that builds these nodes in normal form is core/functions.py `matfn`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


# A row: the spelling in plain text (the name), the shape rule's kind (core/shapes.py), the
# Unicode and LaTeX forms ({0}, {1}, … are the printed arguments, {p} the exponent; `fill` puts
# them in), the sentences that state when a value or a derivative of it is valid ({0} is the
# first argument; results list them as r.assumptions) and the other spellings read.

@dataclass(frozen=True)
class MatrixFunction:
    name: str
    arity: int
    kind: str
    unicode: str
    latex: str
    assumptions: tuple = ()
    aliases: tuple = ()
    symmetric_arg: bool = False      # reads a symmetric matrix: (S + Sᵀ)/2 when given another


_NEG_AXIS = "{0} has no eigenvalue on the closed negative real axis"
_SIMPLE_EIG = "the eigenvalues of {0} are distinct (simple)"
_SYM = "{0} is symmetric"

MATRIX_FUNCTIONS: dict[str, MatrixFunction] = {f.name: f for f in (
    MatrixFunction("solve", 2, "solve", "solve({0}, {1})",
                   r"\operatorname{solve}\left({0}, {1}\right)", ("{0} is invertible",)),
    MatrixFunction("expm", 1, "square", "expm({0})", r"\operatorname{expm}\left({0}\right)"),
    MatrixFunction("logm", 1, "square", "logm({0})", r"\operatorname{logm}\left({0}\right)",
                   (_NEG_AXIS,)),
    MatrixFunction("sqrtm", 1, "square", "sqrtm({0})", r"\operatorname{sqrtm}\left({0}\right)",
                   (_NEG_AXIS,)),
    MatrixFunction("powm", 1, "square", "", "", (_NEG_AXIS,)),      # X^p: printed as a power
    MatrixFunction("L_exp", 2, "frechet", "L_exp({0}, {1})", r"L_{\exp}\left({0}, {1}\right)"),
    MatrixFunction("L_log", 2, "frechet", "L_log({0}, {1})", r"L_{\log}\left({0}, {1}\right)",
                   (_NEG_AXIS,)),
    MatrixFunction("L_sqrt", 2, "frechet", "L_sqrt({0}, {1})",
                   r"L_{\sqrt}\left({0}, {1}\right)", (_NEG_AXIS,)),
    MatrixFunction("L_pow", 2, "frechet", "L_pow({0}, {1}, {p})",
                   r"L_{\mathrm{pow}}\left({0}, {1}, {p}\right)", (_NEG_AXIS,)),
    MatrixFunction("L2_exp", 3, "frechet", "L2_exp({0}, {1}, {2})",
                   r"L^{(2)}_{\exp}\left({0}, {1}, {2}\right)"),
    MatrixFunction("L2_log", 3, "frechet", "L2_log({0}, {1}, {2})",
                   r"L^{(2)}_{\log}\left({0}, {1}, {2}\right)", (_NEG_AXIS,)),
    MatrixFunction("L2_sqrt", 3, "frechet", "L2_sqrt({0}, {1}, {2})",
                   r"L^{(2)}_{\sqrt}\left({0}, {1}, {2}\right)", (_NEG_AXIS,)),
    MatrixFunction("L2_pow", 3, "frechet", "L2_pow({0}, {1}, {2}, {p})",
                   r"L^{(2)}_{\mathrm{pow}}\left({0}, {1}, {2}, {p}\right)", (_NEG_AXIS,)),
    MatrixFunction("K_exp", 1, "kron", "K_exp({0})", r"K_{\exp}\left({0}\right)"),
    MatrixFunction("K_log", 1, "kron", "K_log({0})", r"K_{\log}\left({0}\right)", (_NEG_AXIS,)),
    MatrixFunction("K_sqrt", 1, "kron", "K_sqrt({0})", r"K_{\sqrt}\left({0}\right)",
                   (_NEG_AXIS,)),
    MatrixFunction("K_pow", 1, "kron", "K_pow({0}, {p})",
                   r"K_{\mathrm{pow}}\left({0}, {p}\right)", (_NEG_AXIS,)),
    MatrixFunction("K2_exp", 2, "kron", "K2_exp({0}, {1})",
                   r"K^{(2)}_{\exp}\left({0}, {1}\right)"),
    MatrixFunction("K2_log", 2, "kron", "K2_log({0}, {1})",
                   r"K^{(2)}_{\log}\left({0}, {1}\right)", (_NEG_AXIS,)),
    MatrixFunction("K2_sqrt", 2, "kron", "K2_sqrt({0}, {1})",
                   r"K^{(2)}_{\sqrt}\left({0}, {1}\right)", (_NEG_AXIS,)),
    MatrixFunction("K2_pow", 2, "kron", "K2_pow({0}, {1}, {p})",
                   r"K^{(2)}_{\mathrm{pow}}\left({0}, {1}, {p}\right)", (_NEG_AXIS,)),
    MatrixFunction("pinv", 1, "pinv", "pinv({0})", r"\operatorname{pinv}\left({0}\right)", ("{0} has full rank",)),
    MatrixFunction("chol", 1, "square", "chol({0})", r"\operatorname{chol}\left({0}\right)",
                   ("{0} is symmetric positive definite",), symmetric_arg=True),
    MatrixFunction("tril_half", 1, "square", "tril_half({0})",
                   r"\operatorname{tril\_half}\left({0}\right)"),
    MatrixFunction("eigvals", 1, "eigvals", "eigvals({0})",
                   r"\operatorname{eigvals}\left({0}\right)", (_SYM, _SIMPLE_EIG),
                   symmetric_arg=True),
    MatrixFunction("eigvecs", 1, "square", "eigvecs({0})",
                   r"\operatorname{eigvecs}\left({0}\right)", (_SYM, _SIMPLE_EIG),
                   symmetric_arg=True),
    MatrixFunction("eiggap_inv", 1, "square", "eiggap_inv({0})",
                   r"\operatorname{eiggap\_inv}\left({0}\right)", (_SYM, _SIMPLE_EIG),
                   symmetric_arg=True),
    MatrixFunction("lambda_max", 1, "scalar_sq", "λ_max({0})",
                   r"\lambda_{\max}\left({0}\right)",
                   (_SYM, "the largest eigenvalue of {0} is simple"), ("λ_max",),
                   symmetric_arg=True),
    MatrixFunction("lambda_min", 1, "scalar_sq", "λ_min({0})",
                   r"\lambda_{\min}\left({0}\right)",
                   (_SYM, "the smallest eigenvalue of {0} is simple"), ("λ_min",),
                   symmetric_arg=True),
    MatrixFunction("eigvec_max", 1, "vec_sq", "eigvec_max({0})",
                   r"\operatorname{eigvec\_max}\left({0}\right)",
                   (_SYM, "the largest eigenvalue of {0} is simple"), symmetric_arg=True),
    MatrixFunction("eigvec_min", 1, "vec_sq", "eigvec_min({0})",
                   r"\operatorname{eigvec\_min}\left({0}\right)",
                   (_SYM, "the smallest eigenvalue of {0} is simple"), symmetric_arg=True),
    MatrixFunction("eigres_max", 1, "square", "eigres_max({0})",
                   r"\operatorname{eigres\_max}\left({0}\right)",
                   (_SYM, "the largest eigenvalue of {0} is simple"), symmetric_arg=True),
    MatrixFunction("eigres_min", 1, "square", "eigres_min({0})",
                   r"\operatorname{eigres\_min}\left({0}\right)",
                   (_SYM, "the smallest eigenvalue of {0} is simple"), symmetric_arg=True),
    MatrixFunction("svdvals", 1, "svdvals", "svdvals({0})",
                   r"\operatorname{svdvals}\left({0}\right)",
                   ("the singular values of {0} are distinct and nonzero",)),
    MatrixFunction("svd_U", 1, "svd_U", "svd_U({0})", r"\operatorname{svd\_U}\left({0}\right)",
                   ("the singular values of {0} are distinct and nonzero",)),
    MatrixFunction("svd_V", 1, "svd_V", "svd_V({0})", r"\operatorname{svd\_V}\left({0}\right)",
                   ("the singular values of {0} are distinct and nonzero",)),
    MatrixFunction("svdgap_inv", 1, "svd_kk", "svdgap_inv({0})",
                   r"\operatorname{svdgap\_inv}\left({0}\right)",
                   ("the singular values of {0} are distinct and nonzero",)),
    MatrixFunction("sigma_max", 1, "scalar_any", "‖{0}‖₂", r"\left\| {0} \right\|_2",
                   ("the largest singular value of {0} is simple",), ("σ_max", "norm_2")),
    MatrixFunction("svd_u1", 1, "svd_u1", "svd_u1({0})",
                   r"\operatorname{svd\_u1}\left({0}\right)",
                   ("the largest singular value of {0} is simple",)),
    MatrixFunction("svd_v1", 1, "svd_v1", "svd_v1({0})",
                   r"\operatorname{svd\_v1}\left({0}\right)",
                   ("the largest singular value of {0} is simple",)),
    MatrixFunction("nuclear", 1, "scalar_any", "‖{0}‖_*", r"\left\| {0} \right\|_*",
                   ("{0} has full rank",)),
)}

MATRIX_ALIASES = {alias: f.name for f in MATRIX_FUNCTIONS.values()
                  for alias in (f.name, *f.aliases)}
MATRIX_ALIASES.pop("powm")                    # written X^p, never called by name

def fill(template: str, args, p: str = "") -> str:
    """A MATRIX_FUNCTIONS template with the printed arguments in place of {0}, {1}, … and
    the exponent in place of {p} (LaTeX braces are left alone)."""
    return re.sub(r"\{(\d|p)\}", lambda m: p if m.group(1) == "p" else args[int(m.group(1))],
                  template)

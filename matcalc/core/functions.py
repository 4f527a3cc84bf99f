"""Element-wise scalar functions: one row per function, with everything matcalc needs of it.

A row holds the name, the spellings accepted, the derivative as an expression of the argument
(built from this package's nodes, so it prints and simplifies like any result), the NumPy
implementation, the LaTeX name and the SymPy function. The derivative rows are cross-checked
against SymPy's scalar diff in tests/test_functions.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from . import build as B


@dataclass(frozen=True)
class Function:
    name: str
    aliases: tuple
    deriv: Callable          # arg node -> node f′(arg), element-wise
    numpy: Callable
    latex: str
    sympy: Callable
    unicode: str = ""

    @property
    def pretty(self) -> str:
        return self.unicode or self.name


def _np(name):
    """NumPy's function `name`, looked up when first evaluated (NumPy is imported only when
    something is evaluated, so the command line answers without loading it)."""
    def call(x):
        import numpy
        return getattr(numpy, name)(x)
    call.__name__ = name
    return call


def _sigmoid(x):
    import numpy as np
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _relu(x):
    import numpy as np
    return np.maximum(x, 0.0)


def _softplus(x):
    import numpy as np
    return np.logaddexp(0.0, x)


def _sympy_fn(name):
    """SymPy's function `name`, imported only when a SymPy translation is asked for."""
    def call(x):
        import sympy
        return getattr(sympy, name)(x)
    call.__name__ = name
    return call


def _sympy_sigmoid(x):
    import sympy
    return 1 / (1 + sympy.exp(-x))


def _sympy_relu(x):
    import sympy
    return sympy.Max(0, x)


def _sympy_softplus(x):
    import sympy
    return sympy.log(1 + sympy.exp(x))


def _heaviside(x):
    import sympy
    return sympy.Piecewise((0, x < 0), (1, True))


def _d_tan(x):
    return B.add(B.num(1), B.hpow(B.apply("tan", x), 2))


def _d_tanh(x):
    return B.sub(B.num(1), B.hpow(B.apply("tanh", x), 2))


def _d_sigmoid(x):
    s = B.apply("sigmoid", x)
    return B.hadamard(s, B.sub(B.num(1), s))


def _d_sqrt(x):
    return B.hdiv(B.num(Fraction(1, 2)), B.apply("sqrt", x))

def _d_arcsin(x):
    return B.hdiv(B.num(1), B.apply("sqrt", B.sub(B.num(1), B.hpow(x, 2))))


def _d_arccos(x):
    return B.neg(_d_arcsin(x))


def _d_arctan(x):
    return B.hdiv(B.num(1), B.add(B.num(1), B.hpow(x, 2)))


def _d_log1p(x):
    return B.hdiv(B.num(1), B.add(B.num(1), x))


def _sympy_log1p(x):
    import sympy
    return sympy.log(1 + x)


def _sympy_expm1(x):
    import sympy
    return sympy.exp(x) - 1


FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("exp", (), lambda x: B.apply("exp", x), _np("exp"), r"\exp", _sympy_fn("exp")),
    Function("log", ("ln",), lambda x: B.hdiv(B.num(1), x), _np("log"), r"\log", _sympy_fn("log")),
    Function("sin", (), lambda x: B.apply("cos", x), _np("sin"), r"\sin", _sympy_fn("sin")),
    Function("cos", (), lambda x: B.neg(B.apply("sin", x)), _np("cos"), r"\cos", _sympy_fn("cos")),
    Function("tan", (), _d_tan, _np("tan"), r"\tan", _sympy_fn("tan")),
    Function("tanh", (), _d_tanh, _np("tanh"), r"\tanh", _sympy_fn("tanh")),
    Function("sigmoid", ("σ",), _d_sigmoid, _sigmoid, r"\sigma",
             _sympy_sigmoid, "σ"),
    Function("relu", (), lambda x: B.apply("step", x), _relu,
             r"\operatorname{relu}", _sympy_relu),
    Function("softplus", (), lambda x: B.apply("sigmoid", x), _softplus,
             r"\operatorname{softplus}", _sympy_softplus),
    Function("abs", (), lambda x: B.apply("sign", x), _np("abs"), r"\operatorname{abs}", _sympy_fn("Abs")),
    Function("sqrt", (), _d_sqrt, _np("sqrt"), r"\sqrt", _sympy_fn("sqrt")),
    Function("sign", ("sgn",), lambda x: B.zero(x.shape), _np("sign"), r"\operatorname{sign}",
             _sympy_fn("sign")),
    Function("step", ("heaviside",), lambda x: B.zero(x.shape),
             lambda x: (x > 0).astype(float), r"\operatorname{step}", _heaviside),
    Function("arcsin", ("asin",), _d_arcsin, _np("arcsin"), r"\arcsin", _sympy_fn("asin")),
    Function("arccos", ("acos",), _d_arccos, _np("arccos"), r"\arccos", _sympy_fn("acos")),
    Function("arctan", ("atan",), _d_arctan, _np("arctan"), r"\arctan", _sympy_fn("atan")),
    Function("sinh", (), lambda x: B.apply("cosh", x), _np("sinh"), r"\sinh", _sympy_fn("sinh")),
    Function("cosh", (), lambda x: B.apply("sinh", x), _np("cosh"), r"\cosh", _sympy_fn("cosh")),
    Function("log1p", (), _d_log1p, _np("log1p"), r"\operatorname{log1p}", _sympy_log1p),
    Function("expm1", (), lambda x: B.apply("exp", x), _np("expm1"), r"\operatorname{expm1}",
             _sympy_expm1),
)}

ALIASES = {alias: f.name for f in FUNCTIONS.values() for alias in (f.name, *f.aliases)}


# Matrix functions and decompositions ---------------------------------------------------------
# One row per function of a whole matrix (not entry by entry): its spelling in plain text (the
# name), the other spellings read, the shape rule's kind (core/shapes.py), the Unicode and LaTeX
# forms ({0}, {1}, … are the printed arguments, {p} the exponent; `fill` puts them in) and the sentences that state when a value or a
# derivative of it is valid ({0} is the first argument), which results list as r.assumptions.

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

# The scalar functions whose matrix versions have Fréchet derivatives here, with the name of
# their Fréchet node, and f′(X) (what the Fréchet derivative gives at the direction I).
FRECHET = {"expm": "L_exp", "logm": "L_log", "sqrtm": "L_sqrt", "powm": "L_pow"}
FRECHET2 = {"L_exp": "L2_exp", "L_log": "L2_log", "L_sqrt": "L2_sqrt", "L_pow": "L2_pow"}
PRIMARY = {"expm", "logm", "sqrtm", "powm"}    # f(Xᵀ) = f(X)ᵀ


def _primary_prime(fn: str, x, exponent):
    """f′(X) for the primary matrix functions: d tr f(X) = tr(f′(X) dX)."""
    if fn == "expm":
        return matfn("expm", x)
    if fn == "logm":
        return B.inverse(x)
    if fn == "sqrtm":
        return B.mul(B.num(Fraction(1, 2)), B.inverse(matfn("sqrtm", x)))
    return B.mul(B.num(exponent), matpow(x, exponent - 1))


def matpow(x, p):
    """X^p for a real p: an integer power is the ordinary matrix power, ½ the square root."""
    p = Fraction(p)
    if p.denominator == 1:
        return B.power(x, p)
    if p < 0:
        return matpow(B.inverse(x), -p)
    if p == Fraction(1, 2):
        return matfn("sqrtm", x)
    return matfn("powm", x, exponent=p)


def matfn(fn: str, *args, exponent=None):
    """The node fn(args) in a light normal form: transposes come out of primary functions,
    f(Xᵀ) = f(X)ᵀ and L_f(Xᵀ, E) = L_f(X, Eᵀ)ᵀ (real power series), and the Fréchet
    derivative in the direction I is f′(X), L_f(X, c·I) = c·f′(X)."""
    from . import expr as E
    if fn in PRIMARY and type(args[0]) is E.Transpose:
        return B.transpose(matfn(fn, args[0].arg, exponent=exponent))
    if fn in FRECHET.values() or fn in FRECHET2.values():
        x, rest = args[0], args[1:]
        if any(B.is_zero(r) for r in rest):
            return B.zero(x.shape)
        if type(x) is E.Transpose:
            flipped = [B.transpose(r) for r in rest]
            return B.transpose(matfn(fn, x.arg, *flipped, exponent=exponent))
        if fn in FRECHET.values():
            c = _identity_multiple(rest[0])
            if c is not None:
                base = next(k for k, v in FRECHET.items() if v == fn)
                return B.mul(c, _primary_prime(base, x, exponent))
    return B.make(E.MatFn, fn, tuple(args), exponent)


def _identity_multiple(node):
    """c when node is c·I (c a scalar expression), else None."""
    from . import expr as E
    if type(node) is E.Identity:
        return B.num(1)
    if type(node) is E.MatMul:
        mats = [a for a in node.args if not (a.shape[0] == 1 and a.shape[1] == 1)]
        if len(mats) == 1 and type(mats[0]) is E.Identity:
            scal = [a for a in node.args if a is not mats[0]]
            return B.mul(*scal)
    return None


def fill(template: str, args, p: str = "") -> str:
    """A MATRIX_FUNCTIONS template with the printed arguments in place of {0}, {1}, … and
    the exponent in place of {p} (LaTeX braces are left alone)."""
    import re
    return re.sub(r"\{(\d|p)\}", lambda m: p if m.group(1) == "p" else args[int(m.group(1))],
                  template)

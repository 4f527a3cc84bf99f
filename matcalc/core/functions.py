"""Element-wise scalar functions: one row per function, with everything matcalc needs of it.

A row holds the name, the spellings accepted, the derivative as an expression of the argument
(built from this package's nodes, so it prints and simplifies like any result), the NumPy
implementation, the LaTeX name and the SymPy function. The derivative rows are cross-checked
against SymPy's scalar diff in tests/test_functions.py. Also the constructor `matfn` of the
matrix functions (their table is core/matrix_functions.py), which keeps them in a normal form.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

from . import build as B
from .matrix_functions import MATRIX_FUNCTIONS, fill  # noqa: F401  (one import for both tables)


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


# Matrix functions (the table is core/matrix_functions.py) -------------------------------------

# The scalar functions whose matrix versions have Fréchet derivatives here, with the name of
# their Fréchet node, and f′(X) (what the Fréchet derivative gives at the direction I).
FRECHET = {"expm": "L_exp", "logm": "L_log", "sqrtm": "L_sqrt", "powm": "L_pow"}
FRECHET2 = {"L_exp": "L2_exp", "L_log": "L2_log", "L_sqrt": "L2_sqrt", "L_pow": "L2_pow"}
# Kronecker forms: vec L_f(X, E) = K_f(X) vec E, vec L²_f(X, E, H) = K2_f(X, E) vec H
KRON = {"expm": "K_exp", "logm": "K_log", "sqrtm": "K_sqrt", "powm": "K_pow"}
KRON2 = {"L_exp": "K2_exp", "L_log": "K2_log", "L_sqrt": "K2_sqrt", "L_pow": "K2_pow"}
PRIMARY = {"expm", "logm", "sqrtm", "powm"}    # f(Xᵀ) = f(X)ᵀ


def primary_prime(fn: str, x, exponent):
    """f′(X) for the primary matrix functions: d tr f(X) = tr(f′(X) dX)."""
    if fn == "expm":
        return matfn("expm", x)
    if fn == "logm":
        return B.inverse(x)
    if fn == "sqrtm":
        return B.mul(B.num(Fraction(1, 2)), B.inverse(matfn("sqrtm", x)))
    return B.mul(B.num(exponent), matpow(x, Fraction(exponent) - 1))


def matpow(x, p):
    """X^p for a real p: an integer power is the ordinary matrix power, ½ the square root."""
    p = Fraction(p)
    if p.denominator == 1:
        return B.power(x, p)
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
                return B.mul(c, primary_prime(base, x, exponent))
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

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

import numpy as np
import sympy

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


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _heaviside(x):
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

FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("exp", (), lambda x: B.apply("exp", x), np.exp, r"\exp", sympy.exp),
    Function("log", ("ln",), lambda x: B.hdiv(B.num(1), x), np.log, r"\log", sympy.log),
    Function("sin", (), lambda x: B.apply("cos", x), np.sin, r"\sin", sympy.sin),
    Function("cos", (), lambda x: B.neg(B.apply("sin", x)), np.cos, r"\cos", sympy.cos),
    Function("tan", (), _d_tan, np.tan, r"\tan", sympy.tan),
    Function("tanh", (), _d_tanh, np.tanh, r"\tanh", sympy.tanh),
    Function("sigmoid", ("σ",), _d_sigmoid, _sigmoid, r"\sigma",
             lambda x: 1 / (1 + sympy.exp(-x)), "σ"),
    Function("relu", (), lambda x: B.apply("step", x), lambda x: np.maximum(x, 0.0),
             r"\operatorname{relu}", lambda x: sympy.Max(0, x)),
    Function("softplus", (), lambda x: B.apply("sigmoid", x), lambda x: np.logaddexp(0.0, x),
             r"\operatorname{softplus}", lambda x: sympy.log(1 + sympy.exp(x))),
    Function("abs", (), lambda x: B.apply("sign", x), np.abs, r"\operatorname{abs}", sympy.Abs),
    Function("sqrt", (), _d_sqrt, np.sqrt, r"\sqrt", sympy.sqrt),
    Function("sign", ("sgn",), lambda x: B.zero(x.shape), np.sign, r"\operatorname{sign}",
             sympy.sign),
    Function("step", ("heaviside",), lambda x: B.zero(x.shape),
             lambda x: (x > 0).astype(float), r"\operatorname{step}", _heaviside),
)}

ALIASES = {alias: f.name for f in FUNCTIONS.values() for alias in (f.name, *f.aliases)}

"""Expression tree → SymPy matrix expression (r.sympy), for users who continue in SymPy.

Only a translation: no differentiation happens here. 1×1 products become scalars through
Trace, because SymPy keeps 1×1 matrix expressions apart from scalars.
"""
from __future__ import annotations

import sympy
from sympy import (Determinant, HadamardPower, HadamardProduct, Identity, Inverse,
                   KroneckerProduct, MatrixSymbol, OneMatrix, Trace, Transpose, ZeroMatrix)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf

from ..core import expr as E
from ..core.functions import FUNCTIONS
from ..core.shapes import is_scalar


def _dim(d):
    return d.to_sympy() if hasattr(d, "to_sympy") else d


def to_sympy(node):
    memo: dict = {}

    def scalarize(v, n):
        if is_scalar(n.shape) and isinstance(v, sympy.MatrixExpr):
            return Trace(v)
        return v

    def go(n):
        if n in memo:
            return memo[n]
        t = type(n)
        r, c = (_dim(d) for d in n.shape)
        kids = [go(k) for k in n.children]
        if t is E.Sym:
            out = sympy.Symbol(n.name) if is_scalar(n.shape) else MatrixSymbol(n.name, r, c)
        elif t is E.Num:
            out = sympy.Rational(n.value.numerator, n.value.denominator)
        elif t is E.Size:
            out = _dim(n.dim)
        elif t is E.Identity:
            out = Identity(r)
        elif t is E.Zero:
            out = ZeroMatrix(r, c)
        elif t is E.Ones:
            out = OneMatrix(r, c)
        elif t is E.Add:
            out = None
            for k, v in zip(n.children, kids):
                v = scalarize(v, k)
                if is_scalar(k.shape) and not is_scalar(n.shape):
                    v = v * OneMatrix(r, c)
                out = v if out is None else out + v
        elif t is E.MatMul:
            scal, chain = sympy.Integer(1), []
            for k, v in zip(n.children, kids):
                if is_scalar(k.shape):
                    scal = scal * scalarize(v, k)
                else:
                    chain.append(v)
            out = scal
            if chain:
                prod = chain[0]
                for v in chain[1:]:
                    prod = prod * v
                out = scalarize(prod, n) * scal if is_scalar(n.shape) else scal * prod
        elif t is E.Hadamard:
            # a scalar operand broadcasts: it scales the element-wise product of the others
            scal = [k for k, c in zip(kids, n.children) if is_scalar(c.shape)]
            mats = [k for k, c in zip(kids, n.children) if not is_scalar(c.shape)]
            if is_scalar(n.shape) or not mats:
                out = sympy.Mul(*kids)
            else:
                prod = HadamardProduct(*mats) if len(mats) > 1 else mats[0]
                out = sympy.Mul(*scal) * prod if scal else prod
        elif t is E.HadamardDiv:
            left_scalar, right_scalar = (is_scalar(c.shape) for c in n.children)
            if is_scalar(n.shape):
                out = kids[0] / kids[1]
            elif right_scalar:                 # X ⊘ c = X/c
                out = kids[0] * (1 / kids[1])
            elif left_scalar:                  # c ⊘ X = c·(X with every entry inverted)
                out = kids[0] * HadamardPower(kids[1], -1)
            else:
                out = HadamardProduct(kids[0], HadamardPower(kids[1], -1))
        elif t is E.HadamardPower:
            out = HadamardPower(kids[0], n.exponent)
        elif t is E.Kron:
            out = KroneckerProduct(*kids)
        elif t is E.Transpose:
            out = Transpose(kids[0])
        elif t is E.Inverse:
            out = 1 / kids[0] if is_scalar(n.shape) else Inverse(kids[0])
        elif t is E.Power:
            out = kids[0] ** n.exponent
        elif t is E.Apply:
            f = FUNCTIONS[n.fn].sympy
            if is_scalar(n.shape):
                out = f(scalarize(kids[0], n.arg))
            else:
                d = sympy.Dummy("t")
                out = ElementwiseApplyFunction(sympy.Lambda(d, f(d)), kids[0])
        elif t in (E.Sum, E.Mean):
            a = n.arg
            ar, ac = _dim(a.shape[0]), _dim(a.shape[1])
            total = Trace(OneMatrix(1, ar) * kids[0] * OneMatrix(ac, 1))
            out = total if t is E.Sum else total / (ar * ac)
        elif t is E.Trace:
            out = Trace(kids[0])
        elif t is E.Det:
            out = Determinant(kids[0])
        elif t is E.LogDet:
            out = sympy.log(Determinant(kids[0]))
        elif t is E.Norm:
            out = sympy.sqrt(Trace(Transpose(kids[0]) * kids[0]))
        elif t in (E.LogSumExp, E.Softmax):
            d = sympy.Dummy("t")
            ex = ElementwiseApplyFunction(sympy.Lambda(d, sympy.exp(d)), kids[0])
            total = Trace(OneMatrix(1, _dim(n.arg.shape[0])) * ex)
            out = sympy.log(total) if t is E.LogSumExp else ex / total
        elif t is E.DiagMat:
            out = DiagMatrix(kids[0])
        elif t is E.DiagVec:
            out = DiagonalOf(kids[0])
        elif t is E.Vec:
            from sympy.matrices.expressions.special import OneMatrix as _O  # noqa: F401
            from sympy import Matrix
            a = n.arg
            out = sympy.Function("vec")(kids[0]) if not (a.shape[0].is_Integer and
                                                         a.shape[1].is_Integer) \
                else Matrix(kids[0].as_explicit().T.reshape(int(a.shape[0]) * int(a.shape[1]), 1))
        elif t is E.Commutation:
            out = sympy.Function("K")(_dim(n.rows), _dim(n.cols))
        elif t is E.MatFn:
            from ..core.errors import UnsupportedError
            raise UnsupportedError(f"SymPy's matrix expressions have no {n.fn}; the result has "
                                   "no SymPy form", hint="r.text, r.latex and r.code() have it")
        else:
            raise TypeError(f"no SymPy translation for {t.__name__}")
        memo[n] = out
        return out

    return go(node)

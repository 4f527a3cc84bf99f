"""Pretty Unicode, the way a textbook prints: juxtaposed products, ᵀ, ⁻¹, ⊙, ‖x‖."""
from __future__ import annotations

from .. import expr as E
from ..errors import register_node_printer
from ..functions import FUNCTIONS
from .base import Printer

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class UnicodePrinter(Printer):
    minus = "−"
    binary_minus = " − "
    hadamard_op = " ⊙ "
    hdiv_op = " ⊘ "
    times = ""
    t_suffix = "ᵀ"
    inv_suffix = "⁻¹"
    inv_t_suffix = "⁻ᵀ"

    def pow_suffix(self, e):
        if e.denominator == 1:
            return str(e.numerator).translate(_SUP)
        return "^" + self.number(e)

    def join_factors(self, parts, nodes):
        """Juxtapose, with a space only where two words would run together: after or before a
        multi-letter name, and before a function name (W1 x, Xtrain w, x tanh(Wx))."""
        out, prev = "", None
        for p, n in zip(parts, nodes):
            if out and _word(out[-1]) and _word(p[:1]) and (
                    _long_sym(n) or _long_sym(prev) or isinstance(n, _CALLS)):
                out += " "
            out += p
            prev = n
        return out

    def scale(self, coef, body, num):
        if body and body[0] in "0123456789.":
            return coef + "·" + body
        return coef + body

    def hadamard_power(self, node):
        e = node.exponent
        if e.denominator == 1 and e > 0 and node.shape and node.shape[1] == 1:
            return self.operand(node.arg, node) + str(e.numerator).translate(_SUP)
        return self.operand(node.arg, node) + ".^" + self.exponent(e)

    def apply(self, node):
        return f"{FUNCTIONS[node.fn].pretty}({self(node.arg)})"

    def norm(self, node):
        a = node.arg
        sub = "_F" if a.shape and a.shape[0] != 1 and a.shape[1] != 1 else ""
        return f"‖{self(a)}‖{sub}"

    def ones(self, node):
        return "𝟙ᵀ" if node.shape[0] == 1 and node.shape[1] != 1 else "𝟙"

    def zero(self, node):
        return "0"

    def commutation(self, node):
        from .base import size_text
        r, c = (size_text(d) or str(d) for d in (node.rows, node.cols))
        return f"K({r.replace('*', '')},{c.replace('*', '')})"


def _word(c: str) -> bool:
    return bool(c) and (c.isalnum() or c == "_") and c not in "ᵀ⁻¹²³⁴⁵⁶⁷⁸⁹⁰"


def _long(name: str) -> bool:
    return len(name) > 1 and not name[1:].isdigit() and "_" not in name


def _long_sym(n) -> bool:
    return isinstance(n, E.Sym) and _long(n.name)


_CALLS = (E.Apply, E.Sum, E.Trace, E.Det, E.LogDet, E.Mean, E.LogSumExp, E.Softmax, E.DiagMat,
          E.DiagVec)


_PRINTER = UnicodePrinter()


def to_unicode(node: E.Node) -> str:
    return _PRINTER(node)


register_node_printer(to_unicode)    # error messages from the layers below name nodes with it

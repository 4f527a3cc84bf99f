"""The printer skeleton shared by text, Unicode and LaTeX: one method per node type, chosen
from a table, with parentheses decided by precedence. Subclasses set the symbols."""
from __future__ import annotations

from fractions import Fraction

from ..core import expr as E
from ..core.shapes import is_scalar

PRODUCT_LEVEL = (E.MatMul, E.Hadamard, E.HadamardDiv, E.Kron, E.Dot, E.Div)
POSTFIX_LEVEL = (E.Transpose, E.Inverse, E.Power, E.HadamardPower)


def negative_coefficient(node) -> bool:
    return (isinstance(node, E.MatMul) and isinstance(node.args[0], E.Num)
            and node.args[0].value < 0) or (isinstance(node, E.Num) and node.value < 0)


def negate(node):
    """The same term with its sign flipped (only for terms with a negative coefficient)."""
    if isinstance(node, E.Num):
        return E.Num(-node.value, node.shape)
    first = node.args[0]
    rest = node.args[1:]
    if first.value == -1:
        return rest[0] if len(rest) == 1 else E.MatMul(rest, node.shape)
    return E.MatMul((E.Num(-first.value, first.shape),) + rest, node.shape)


def size_text(d) -> str | None:
    """A size as parse() reads it back (n, 3, n*n, m*n), or None for generated sizes."""
    text = str(d)
    if d.is_Integer or (d.is_Symbol and "_" not in text and text.isidentifier()):
        return text
    if d.is_Symbol and text.startswith("min("):           # the length of svdvals(A)
        inner = text[4:-1].split(",")
        return text if all("_" not in a and a.isidentifier() or a.isdigit()
                           for a in inner) else None
    factors = d.flat_factors()
    if any(isinstance(f, str) and ("_" in f or not f.isidentifier()) for f in factors):
        return None
    return "*".join(map(str, factors))


def _flat(node, has_matrix=False):
    """The factors of a product, nested products opened — except a scalar product of vectors
    among matrices: A(c·xᵀAx) must not print as AcxᵀAx (xᵀ would follow A)."""
    has_matrix = has_matrix or any(f.shape and not is_scalar(f.shape) for f in node.args)
    for f in node.args:
        if isinstance(f, E.MatMul) and not (has_matrix and f.shape and is_scalar(f.shape) and
                                            _holds_vector(f)):
            yield from _flat(f, has_matrix)
        else:
            yield f


def _holds_vector(node) -> bool:
    return any(not is_scalar(g.shape) or (isinstance(g, E.MatMul) and _holds_vector(g))
               for g in node.args)


class Printer:
    minus = "-"
    plus = " + "
    binary_minus = " - "
    hadamard_op = " .* "
    hdiv_op = " ./ "
    kron_op = " ⊗ "
    times = "*"

    def __init__(self):
        self.table = {
            E.Sym: self.sym, E.Num: self.num, E.Size: self.size, E.Identity: self.identity,
            E.Zero: self.zero, E.Ones: self.ones, E.Add: self.add, E.MatMul: self.mat_mul,
            E.Hadamard: self.hadamard, E.HadamardDiv: self.hadamard_div,
            E.HadamardPower: self.hadamard_power, E.Kron: self.kron,
            E.Transpose: self.transpose, E.Inverse: self.inverse, E.Power: self.power,
            E.Apply: self.apply, E.Sum: self.call("sum"), E.Mean: self.call("mean"),
            E.Trace: self.call("tr"), E.Det: self.call("det"), E.LogDet: self.call("logdet"),
            E.Norm: self.norm, E.LogSumExp: self.call("logsumexp"),
            E.Softmax: self.call("softmax"), E.DiagMat: self.call("diag"),
            E.DiagVec: self.call("diag"), E.Dot: self.dot, E.Diag: self.call("diag"),
            E.Div: self.div, E.Vec: self.call("vec"), E.Commutation: self.commutation,
            E.MatFn: self.matfn,
        }

    def __call__(self, node) -> str:
        return self.table[type(node)](node)

    # helpers ------------------------------------------------------------------------------
    def paren(self, s: str) -> str:
        return f"({s})"

    def operand(self, node, parent) -> str:
        """Print a child of a product-level or postfix operator, in parentheses where needed."""
        s = self(node)
        if isinstance(node, E.Add) or negative_coefficient(node):
            return self.paren(s)
        if isinstance(parent, E.MatMul) and isinstance(node, E.MatMul) and len(parent.args) > 1:
            return self.paren(s)
        if isinstance(parent, POSTFIX_LEVEL) and (isinstance(node, PRODUCT_LEVEL + POSTFIX_LEVEL)
                                                  and not self.postfix_ok(node, parent)):
            return self.paren(s)
        if isinstance(parent, E.HadamardDiv) and node is parent.left and \
                isinstance(node, E.MatMul) and len(node.args) == 2 and \
                isinstance(node.args[0], E.Num):
            return s                      # 2x ⊘ y: a number in front scales either way
        if isinstance(parent, PRODUCT_LEVEL) and isinstance(node, PRODUCT_LEVEL) \
                and type(node) is not type(parent):
            return self.paren(s)
        if isinstance(parent, POSTFIX_LEVEL) and isinstance(node, E.Num) and \
                (node.value.denominator != 1):
            return self.paren(s)
        return s

    def postfix_ok(self, node, parent) -> bool:
        return isinstance(parent, E.Transpose) and isinstance(node, E.Inverse)

    def number(self, v: Fraction) -> str:
        if v.denominator == 1:
            return str(v.numerator)
        d = v.denominator
        while d % 2 == 0:
            d //= 2
        while d % 5 == 0:
            d //= 5
        if d == 1:
            return format(float(v), ".12g")
        return f"{v.numerator}/{v.denominator}"

    # leaves -------------------------------------------------------------------------------
    def sym(self, node):
        return node.name

    def num(self, node):
        return self.number(node.value)

    def size(self, node):
        d = node.dim
        if d.is_Symbol or d.is_Integer:
            return str(d)
        t = size_text(d) or str(d)
        return self.paren(t.replace("*", self.times or "·"))

    def identity(self, node):
        return "I"

    def zero(self, node):
        return "0"

    def ones(self, node):
        return "𝟙"

    # operators ----------------------------------------------------------------------------
    def add(self, node):
        out = []
        for i, t in enumerate(node.args):
            if i and negative_coefficient(t):
                out.append(self.binary_minus + self.term(negate(t)))
            elif i:
                out.append(self.plus + self.term(t))
            else:
                out.append(self.term(t))
        return "".join(out)

    def term(self, node):
        """A term of a sum; after a minus sign a sum needs its parentheses: a − (b + c)."""
        return self.paren(self(node)) if isinstance(node, E.Add) else self(node)

    def factors(self, node):
        """Split a product into (coefficient, numerator factors, scalar divisors)."""
        coef, num, den = None, [], []
        for f in _flat(node):
            if isinstance(f, E.Num):
                coef = f.value if coef is None else coef * f.value
            elif isinstance(f, E.Inverse) and is_scalar(f.shape or (2, 2)) and f.shape:
                den.append(f.arg)
            else:
                num.append(f)
        return coef, num, den

    def mat_mul(self, node):
        coef, num, den = self.factors(node)
        if coef is not None and coef.denominator != 1 and num:    # 1/3·A/c is A/(3c)
            den_num = Fraction(coef.denominator)
            coef = Fraction(coef.numerator)
            den = [E.Num(den_num)] + den
        sign = ""
        if coef is not None and coef < 0:
            sign, coef = self.minus, -coef
        parts = [self.operand(f, node) for f in num]
        body = self.join_factors(parts, num)
        if coef is not None and coef != 1:
            body = self.scale(self.number(coef), body, num)
        elif not num:
            body = "1"
        if den:
            den = sorted(den, key=lambda x: not isinstance(x, E.Num))     # A/(2c), not A/(c·2)
            body = self.divide(body, den, node, num)
        return sign + body

    def scale(self, coef, body, num):
        return coef + (self.times + body if body else "")

    def join_factors(self, parts, nodes):
        return self.times.join(parts)

    def divide(self, body, den, node, num):
        d = [self.operand(x, node) for x in den]
        if len(d) > 1:
            dd = self.paren(self.join_factors(d, den))
        else:
            dd = d[0]
            if isinstance(den[0], PRODUCT_LEVEL) and dd != self.paren(self(den[0])):
                dd = self.paren(dd)                    # not twice: a/((bᵀx)) read badly
        return f"{body}/{dd}"

    def hadamard(self, node):
        return self.hadamard_op.join(self.operand(a, node) for a in node.args)

    def hadamard_div(self, node):
        right = self.operand(node.right, node)
        if isinstance(node.right, PRODUCT_LEVEL) and right != self.paren(self(node.right)):
            right = self.paren(right)        # a ⊘ (b ⊘ c): division does not associate
        return self.operand(node.left, node) + self.hdiv_op + right

    def kron(self, node):
        return self.operand(node.left, node) + self.kron_op + self.operand(node.right, node)

    def dot(self, node):
        return self.operand(node.left, node) + "·" + self.operand(node.right, node)

    def div(self, node):
        return self.operand(node.left, node) + "/" + self.operand(node.right, node)

    def transpose(self, node):
        if isinstance(node.arg, E.Inverse):
            return self.operand(node.arg.arg, node.arg) + self.inv_t_suffix
        return self.operand(node.arg, node) + self.t_suffix

    def inverse(self, node):
        return self.operand(node.arg, node) + self.inv_suffix

    def power(self, node):
        return self.operand(node.arg, node) + self.pow_suffix(node.exponent)

    def hadamard_power(self, node):
        base = self.operand(node.arg, node)
        gap = " " if base[-1:].isdigit() else ""          # 2 .^2: `2.` would be a number
        return base + gap + ".^" + self.exponent(node.exponent)

    def exponent(self, e):
        s = self.number(e)
        return s if e >= 0 and e.denominator == 1 else "(" + s + ")" if "/" in s else s

    def apply(self, node):
        return f"{node.fn}({self(node.arg)})"

    def call(self, name):
        return lambda node: f"{name}({self(node.arg)})"

    def norm(self, node):
        return f"norm2({self(node.arg)})"

    def matfn(self, node):
        """A matrix function (core/functions.py): X^p as a power, the rest by their template."""
        if node.fn == "powm":
            return self.power(E.Power(node.args[0], node.exponent, node.shape))
        args = [self(a) for a in node.args]
        p = self.number(node.exponent) if node.exponent is not None else ""
        from ..core.matrix_functions import fill
        return fill(self.matfn_template(node), args, p)

    def matfn_template(self, node) -> str:
        """Plain text: the name and the arguments, the exponent of L_pow last."""
        from ..core.matrix_functions import MATRIX_FUNCTIONS
        n = MATRIX_FUNCTIONS[node.fn].arity
        body = ", ".join("{%d}" % i for i in range(n))
        return f"{node.fn}({body}{', {p}' if node.exponent is not None else ''})"

    def commutation(self, node):
        r, c = (size_text(d) or str(d) for d in (node.rows, node.cols))
        return f"commutation({r}, {c})"

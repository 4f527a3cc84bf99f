"""Named rewrites that make results readable, and the strategy that applies them.

Each rule is a pure function (node, ctx) → node, returning the same node when it does not
apply; its docstring is its identity. The strategy rebuilds every node bottom-up through the
constructors in build.py (flattening, folding numbers, dropping 0, 1 and I), then applies RULES
until none fires, with a global bound on rewrites so that it always terminates. Canonical
ordering of terms and trace cycling are not here yet (issue 4).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from math import gcd

from . import build as B
from . import expr as E
from .shapes import is_scalar

MAX_REWRITES = 2000


@dataclass
class Context:
    """Side conditions the rules may use: names declared symmetric (spd and diagonal imply it)."""
    symmetric: frozenset = frozenset()
    budget: int = MAX_REWRITES
    log: list = field(default_factory=list)


# Rebuilding through the constructors ----------------------------------------------------------

def rebuild(node, kids):
    t = type(node)
    if t is E.Add:
        return B.add(*kids, shape=node.shape)
    if t is E.MatMul:
        return B.mul(*kids)
    if t is E.Hadamard:
        return B.hadamard(*kids)
    if t is E.HadamardDiv:
        return B.hdiv(*kids)
    if t is E.HadamardPower:
        return B.hpow(kids[0], node.exponent)
    if t is E.Power:
        return B.power(kids[0], node.exponent)
    if t is E.Kron:
        return B.kron(*kids)
    if t is E.Transpose:
        return B.transpose(kids[0])
    if t is E.Inverse:
        return B.inverse(kids[0])
    if t is E.Apply:
        return B.apply(node.fn, kids[0])
    if t is E.Sum:
        return B.summ(kids[0])
    if t is E.Trace:
        return B.trace(kids[0])
    if t is E.DiagMat:
        return B.diag_mat(kids[0])
    if t is E.DiagVec:
        return B.diag_vec(kids[0])
    if not kids:
        return node
    return B.unary(t, kids[0])


# Helpers ---------------------------------------------------------------------------------------

def split_term(term):
    """term = coef · (scalar factors) · (matrix chain): returns (coef, scalars, chain)."""
    if isinstance(term, E.Num):
        return term.value, [], []
    factors = term.args if isinstance(term, E.MatMul) else (term,)
    coef, scalars, chain = Fraction(1), [], []
    for f in factors:
        if isinstance(f, E.Num):
            coef *= f.value
        elif is_scalar(f.shape):
            scalars.append(f)
        else:
            chain.append(f)
    return coef, scalars, chain


def _product(coef, scalars, chain, rows):
    if not chain:
        base = B.identity(rows) if rows != 1 else B.num(1)
        return B.mul(B.num(coef), *scalars, base)
    return B.mul(B.num(coef), *scalars, *chain)


# Rules -----------------------------------------------------------------------------------------

def transpose_of_product(node, ctx):
    """(c·ABC)ᵀ → c·CᵀBᵀAᵀ"""
    if isinstance(node, E.Transpose) and isinstance(node.arg, E.MatMul):
        return B.mul(*(B.transpose(f) for f in reversed(node.arg.args)))
    return node


def is_symmetric(node, ctx) -> bool:
    """Whether node equals its transpose by structure: declared symmetric names, I, diag(v),
    XᵀX, XᵀAX with A symmetric, sums and inverses of those."""
    if is_scalar(node.shape) or isinstance(node, (E.Identity, E.DiagMat)):
        return True
    if isinstance(node, E.Sym):
        return node.name in ctx.symmetric
    if node.shape[0] != node.shape[1]:
        return False
    if isinstance(node, (E.Inverse, E.Power, E.Apply)) and not isinstance(node, E.Apply):
        return is_symmetric(node.arg, ctx)
    if isinstance(node, E.Add):
        return all(is_symmetric(t, ctx) for t in node.args)
    if isinstance(node, E.MatMul):
        fs = [f for f in node.args if not is_scalar(f.shape)]
        n = len(fs)
        for i in range(n // 2 + n % 2):
            a, b = fs[i], fs[n - 1 - i]
            if i == n - 1 - i:
                if not is_symmetric(a, ctx):
                    return False
            elif _plain_transpose(a, ctx) != b:
                return False
        return True
    return False


def _plain_transpose(node, ctx):
    if isinstance(node, E.Transpose):
        return node.arg
    if isinstance(node, E.Sym) and node.name in ctx.symmetric:
        return node
    return B.transpose(node)


def transpose_of_symmetric(node, ctx):
    """Aᵀ → A and (A⁻¹)ᵀ → A⁻¹ when A is symmetric (declared, or by structure like XᵀX)"""
    if isinstance(node, E.Transpose):
        inner = node.arg.arg if isinstance(node.arg, E.Inverse) else node.arg
        if is_symmetric(inner, ctx):
            return node.arg
    return node


def transpose_of_elementwise(node, ctx):
    """(A ⊙ B)ᵀ → Aᵀ ⊙ Bᵀ and (A + B)ᵀ → Aᵀ + Bᵀ when every operand is itself a transpose"""
    if isinstance(node, E.Transpose) and isinstance(node.arg, (E.Hadamard, E.Add)):
        if all(isinstance(a, E.Transpose) or is_scalar(a.shape) for a in node.arg.args):
            parts = [B.transpose(a) for a in node.arg.args]
            return B.hadamard(*parts) if isinstance(node.arg, E.Hadamard) else B.add(*parts)
    return node


def collect_like_terms(node, ctx):
    """a·T + b·T → (a + b)·T"""
    if not isinstance(node, E.Add):
        return node
    groups: dict = {}
    order = []
    for t in node.args:
        coef, scalars, chain = split_term(t)
        key = B.mul(*scalars, *chain) if (scalars or chain) else B.num(1)
        if key not in groups:
            groups[key] = Fraction(0)
            order.append(key)
        groups[key] += coef
    if len(order) == len(node.args):
        return node
    terms = [B.mul(B.num(groups[k]), k) for k in order if groups[k] != 0]
    return B.add(*terms, shape=node.shape)


def common_coefficient(node, ctx):
    """a·g·X + b·g·Y → g·(a·X + b·Y) for the greatest common numeric factor g ≠ 1"""
    if not isinstance(node, E.Add) or len(node.args) < 2:
        return node
    coefs = [split_term(t)[0] for t in node.args]
    if any(c.denominator != 1 for c in coefs):
        return node
    g = 0
    for c in coefs:
        g = gcd(g, int(c))
    if all(c < 0 for c in coefs):
        g = -g
    if g in (0, 1):
        return node
    return B.mul(B.num(g), B.add(*(B.mul(B.num(Fraction(1, g)), t) for t in node.args),
                                 shape=node.shape))


def factor_common(node, ctx):
    """AX + AY → A(X + Y) and XA + YA → (X + Y)A, for the most widely shared outer factor"""
    if not isinstance(node, E.Add) or len(node.args) < 2:
        return node
    split = [split_term(t) for t in node.args]
    for side in (-1, 0):
        counts: dict = {}
        for (c, s, chain), t in zip(split, node.args):
            if chain and t.shape == node.shape and len(chain) + len(s) > 0:
                counts.setdefault(chain[side], []).append(t)
        best = max(counts.items(), key=lambda kv: len(kv[1]), default=(None, []))
        factor, members = best
        if len(members) < 2 or all(len(split_term(t)[2]) == 1 for t in members):
            continue
        rest, inner = [t for t in node.args if t not in members], []
        for t in members:
            c, s, chain = split_term(t)
            others = chain[:-1] if side == -1 else chain[1:]
            rows = factor.shape[0] if side == -1 else factor.shape[1]
            inner.append(_product(c, s, others, rows))
        inner.sort(key=transposes)          # (A + Aᵀ)x rather than (Aᵀ + A)x
        total = B.add(*inner)
        grouped = B.mul(total, factor) if side == -1 else B.mul(factor, total)
        return B.add(grouped, *rest, shape=node.shape)
    return node


def diag_times_vector(node, ctx):
    """diag(v)w → v ⊙ w for a column vector w"""
    if not isinstance(node, E.MatMul):
        return node
    fs = list(node.args)
    for i in range(len(fs) - 1):
        nxt = fs[i + 1]
        if isinstance(fs[i], E.DiagMat) and not is_scalar(nxt.shape) and nxt.shape[1] == 1 \
                and i + 2 == len(fs):
            return B.mul(*fs[:i], B.hadamard(fs[i].arg, fs[i + 1]))
    return node


def hadamard_repeat(node, ctx):
    """x ⊙ x → x.^2, x ⊙ x.^k → x.^(k+1)"""
    if not isinstance(node, E.Hadamard):
        return node
    powers: dict = {}
    order = []
    for a in node.args:
        base, e = (a.arg, a.exponent) if isinstance(a, E.HadamardPower) else (a, Fraction(1))
        if base not in powers:
            order.append(base)
            powers[base] = Fraction(0)
        powers[base] += e
    if len(order) == len(node.args):
        return node
    return B.hadamard(*(B.hpow(b, powers[b]) for b in order))


def scalar_power_repeat(node, ctx):
    """c·c → c², c·c⁻¹ → 1 for scalar factors of a product"""
    if not isinstance(node, E.MatMul):
        return node
    powers: dict = {}
    order, others = [], []
    for f in node.args:
        if is_scalar(f.shape) and not isinstance(f, E.Num):
            base, e = (f.arg, f.exponent) if isinstance(f, E.Power) else \
                (f.arg, Fraction(-1)) if isinstance(f, E.Inverse) else (f, Fraction(1))
            if base not in powers:
                order.append(base)
                powers[base] = Fraction(0)
            powers[base] += e
        else:
            others.append(f)
    if len(order) == len(node.args) - len(others):
        return node
    return B.mul(*(B.power(b, powers[b]) for b in order), *others)


def transposes(node) -> int:
    """How many Transpose nodes a tree holds (a cost used to pick the simpler form)."""
    return (type(node) is E.Transpose) + sum(transposes(c) for c in node.children)


def transpose_of_sum(node, ctx):
    """(A + B)ᵀ → Aᵀ + Bᵀ when that leaves fewer transposes, e.g. (diag(s) − ssᵀ)ᵀ"""
    if not (isinstance(node, E.Transpose) and isinstance(node.arg, E.Add)):
        return node
    parts = [transpose_of_symmetric(transpose_of_product(B.transpose(t), ctx), ctx)
             for t in node.arg.args]
    candidate = B.add(*parts)
    return candidate if transposes(candidate) < transposes(node) else node


def scalars_first(node, ctx):
    """A·s·x → s·A·x: scalar factors of a product stand in front of the matrices"""
    if not isinstance(node, E.MatMul):
        return node
    scal = [f for f in node.args if is_scalar(f.shape)]
    rest = [f for f in node.args if not is_scalar(f.shape)]
    nums = [f for f in scal if isinstance(f, E.Num)]
    order = nums + [f for f in scal if not isinstance(f, E.Num)] + rest
    if order == list(node.args):
        return node
    return B.mul(*order)


def order_terms(node, ctx):
    """Σ: positive terms before negative ones, a term before its transpose (stable otherwise):
    −a + b → b − a, Aᵀ + A → A + Aᵀ"""
    if not isinstance(node, E.Add):
        return node
    args = list(node.args)
    for i in range(len(args)):
        for j in range(i + 1, len(args)):
            if isinstance(args[i], E.Transpose) and args[i].arg == args[j]:
                args[i], args[j] = args[j], args[i]
    key = [split_term(t)[0] < 0 for t in args]
    order = [t for _, t in sorted(zip(key, args), key=lambda kt: kt[0])]
    if order == list(node.args):
        return node
    return B.add(*order, shape=node.shape)


def hadamard_scalars_out(node, ctx):
    """(cA) ⊙ B → c(A ⊙ B) for scalar factors c"""
    if not isinstance(node, E.Hadamard):
        return node
    outside, inside = [], []
    for a in node.args:
        if isinstance(a, E.MatMul) and any(is_scalar(f.shape) for f in a.args):
            outside.extend(f for f in a.args if is_scalar(f.shape))
            inner = [f for f in a.args if not is_scalar(f.shape)]
            inside.append(B.mul(*inner))
        else:
            inside.append(a)
    if not outside:
        return node
    return B.mul(*outside, B.hadamard(*inside))


def hadamard_reciprocal(node, ctx):
    """A ⊙ (1 ⊘ B) → A ⊘ B"""
    if not isinstance(node, E.Hadamard):
        return node
    for i, a in enumerate(node.args):
        if isinstance(a, E.HadamardDiv) and B.is_one(a.left):
            rest = [b for k, b in enumerate(node.args) if k != i]
            num = B.hadamard(*rest)
            if num.shape == node.shape:
                return B.hdiv(num, a.right)
    return node


def _one_plus_exp(node):
    """a when node is 1 + exp(a), else None"""
    if isinstance(node, E.Add) and len(node.args) == 2 and any(B.is_one(t) for t in node.args):
        e = [t for t in node.args if isinstance(t, E.Apply) and t.fn == "exp"]
        return e[0].arg if e else None
    return None


def sigmoid_of_exp(node, ctx):
    """exp(a) ⊘ (1 + exp(a)) → σ(a) and 1 ⊘ (1 + exp(a)) → σ(−a), also inside ⊙ and for scalars"""
    if isinstance(node, E.HadamardDiv):
        a = _one_plus_exp(node.right)
        if a is None:
            return node
        left = node.left.args if isinstance(node.left, E.Hadamard) else (node.left,)
        e = B.apply("exp", a)
        if e in left:
            rest = list(left)
            rest.remove(e)
            return B.hadamard(*rest, B.apply("sigmoid", a))
        if B.is_one(node.left):
            return B.apply("sigmoid", B.neg(a))
        return node
    if isinstance(node, E.Hadamard):             # exp(a) ⊙ σ(−a) → σ(a)
        for f in node.args:
            if isinstance(f, E.Apply) and f.fn == "sigmoid":
                e = B.apply("exp", B.neg(f.arg))
                if e in node.args:
                    rest = [g for g in node.args if g is not f]
                    rest.remove(e)
                    return B.hadamard(*rest, B.apply("sigmoid", B.neg(f.arg)))
    if isinstance(node, E.MatMul):
        for i, f in enumerate(node.args):
            a = _one_plus_exp(f.arg) if isinstance(f, E.Inverse) else None
            if a is not None and B.apply("exp", a) in node.args:
                rest = [g for k, g in enumerate(node.args) if k != i]
                rest.remove(B.apply("exp", a))
                return B.mul(*rest, B.apply("sigmoid", a))
    return node


def absorb_sign(node, ctx):
    """−c·A(u − v) → c·A(v − u): a minus sign is absorbed by a two-term difference"""
    if not (isinstance(node, E.MatMul) and isinstance(node.args[0], E.Num)
            and node.args[0].value < 0):
        return node
    for i, f in enumerate(node.args):
        if isinstance(f, E.Add) and len(f.args) == 2 and \
                sum(split_term(t)[0] < 0 for t in f.args) == 1:
            flipped = B.add(*(B.neg(t) for t in reversed(f.args)), shape=f.shape)
            args = list(node.args)
            args[0] = B.num(-args[0].value)
            args[i] = flipped
            return B.mul(*args)
    return node


def ones_row_is_sum(node, ctx):
    """𝟙ᵀv → sum(v) for a column vector v"""
    if not isinstance(node, E.MatMul):
        return node
    fs = list(node.args)
    for i in range(len(fs) - 1):
        a, b = fs[i], fs[i + 1]
        if isinstance(a, E.Ones) and a.shape[0] == 1 and b.shape[1] == 1:
            return B.mul(*fs[:i], B.summ(b), *fs[i + 2:])
    return node


def kron_mixed_product(node, ctx):
    """(A ⊗ B)(C ⊗ D) → AC ⊗ BD when the products are defined"""
    if not isinstance(node, E.MatMul):
        return node
    fs = list(node.args)
    for i in range(len(fs) - 1):
        p, q = fs[i], fs[i + 1]
        if isinstance(p, E.Kron) and isinstance(q, E.Kron) and \
                p.left.shape[1] == q.left.shape[0] and p.right.shape[1] == q.right.shape[0]:
            merged = B.kron(B.mul(p.left, q.left), B.mul(p.right, q.right))
            return B.mul(*fs[:i], merged, *fs[i + 2:])
    return node


def transpose_of_kron(node, ctx):
    """(A ⊗ B)ᵀ → Aᵀ ⊗ Bᵀ"""
    if isinstance(node, E.Transpose) and isinstance(node.arg, E.Kron):
        return B.kron(B.transpose(node.arg.left), B.transpose(node.arg.right))
    return node


def kron_scalars_out(node, ctx):
    """(cA) ⊗ B → c(A ⊗ B) and A ⊗ (cB) → c(A ⊗ B)"""
    if not isinstance(node, E.Kron):
        return node
    out, sides = [], []
    for side in (node.left, node.right):
        if isinstance(side, E.MatMul) and any(is_scalar(f.shape) for f in side.args):
            out.extend(f for f in side.args if is_scalar(f.shape))
            side = B.mul(*(f for f in side.args if not is_scalar(f.shape)))
        sides.append(side)
    if not out:
        return node
    return B.mul(*out, B.kron(*sides))


def _square(node):
    return node.shape[0] == node.shape[1] and not is_scalar(node.shape)


def inverse_of_product(node, ctx):
    """(ABC)⁻¹ → C⁻¹B⁻¹A⁻¹ when every factor is square"""
    if isinstance(node, E.Inverse) and isinstance(node.arg, E.MatMul):
        fs = node.arg.args
        if all(_square(f) or is_scalar(f.shape) for f in fs) and \
                sum(not is_scalar(f.shape) for f in fs) > 1:
            return B.mul(*(B.inverse(f) for f in reversed(fs)))
    return node


def _inverse_pair(a, b) -> bool:
    """a·b = I: A⁻¹A, AA⁻¹, A⁻ᵀAᵀ, AᵀA⁻ᵀ"""
    def parts(n):
        if isinstance(n, E.Transpose) and isinstance(n.arg, E.Inverse):
            return ("T", n.arg.arg, True)
        if isinstance(n, E.Transpose):
            return ("T", n.arg, False)
        if isinstance(n, E.Inverse):
            return ("", n.arg, True)
        return ("", n, False)
    ta, ma, ia = parts(a)
    tb, mb, ib = parts(b)
    return ta == tb and ma == mb and ia != ib


def inverse_cancel(node, ctx):
    """A⁻¹A → I, AA⁻¹ → I, A⁻ᵀAᵀ → I, AᵀA⁻ᵀ → I inside a product"""
    if not isinstance(node, E.MatMul):
        return node
    fs = list(node.args)
    for i in range(len(fs) - 1):
        a, b = fs[i], fs[i + 1]
        if not is_scalar(a.shape) and _inverse_pair(a, b):
            rest = fs[:i] + fs[i + 2:]
            if not any(not is_scalar(f.shape) for f in rest):
                rest.append(B.identity(a.shape[0]))
            return B.mul(*rest)
    return node


def diag_of_outer(node, ctx):
    """diag(abᵀ) → a ⊙ b for column vectors a, b"""
    if isinstance(node, E.DiagVec) and isinstance(node.arg, E.MatMul):
        chain = [f for f in node.arg.args if not is_scalar(f.shape)]
        scal = [f for f in node.arg.args if is_scalar(f.shape)]
        if len(chain) == 2 and chain[0].shape[1] == 1 and chain[1].shape[0] == 1:
            return B.mul(*scal, B.hadamard(chain[0], B.transpose(chain[1])))
    return node


def diag_product(node, ctx):
    """diag(u)diag(v) → diag(u ⊙ v)"""
    if not isinstance(node, E.MatMul):
        return node
    fs = list(node.args)
    for i in range(len(fs) - 1):
        if isinstance(fs[i], E.DiagMat) and isinstance(fs[i + 1], E.DiagMat):
            merged = B.diag_mat(B.hadamard(fs[i].arg, fs[i + 1].arg))
            return B.mul(*fs[:i], merged, *fs[i + 2:])
    return node


RULES = (transpose_of_product, transpose_of_sum, transpose_of_symmetric, transpose_of_elementwise,
         collect_like_terms, common_coefficient, factor_common, inverse_cancel,
         diag_times_vector, hadamard_repeat, scalar_power_repeat, scalars_first, order_terms,
         hadamard_scalars_out, hadamard_reciprocal, sigmoid_of_exp, absorb_sign,
         ones_row_is_sum, kron_mixed_product, transpose_of_kron, kron_scalars_out,
         inverse_of_product, diag_of_outer, diag_product)


# Strategy ---------------------------------------------------------------------------------------

def rebuild_all(node):
    """node rebuilt bottom-up through the constructors only (flattened, no rules applied)."""
    if not node.children:
        return node
    return rebuild(node, [rebuild_all(c) for c in node.children])


def simplify(node, ctx: Context | None = None):
    """Apply RULES bottom-up to a fixed point (or until the rewrite budget is spent)."""
    ctx = ctx or Context()
    memo: dict = {}

    def go(n):
        hit = memo.get(n)
        if hit is not None:
            return hit
        m = rebuild(n, [go(c) for c in n.children]) if n.children else n
        changed = True
        while changed and ctx.budget > 0:
            changed = False
            for rule in RULES:
                r = rule(m, ctx)
                if r is not m and r != m:
                    if tuple(r.shape) != tuple(m.shape):   # a rewrite must keep the shape
                        raise AssertionError(f"{rule.__name__} changed shape {m.shape} → "
                                             f"{r.shape}")
                    ctx.budget -= 1
                    ctx.log.append((rule.__name__, m, r))
                    m = go(r)
                    changed = True
                    break
        memo[n] = m
        return m

    return go(node)

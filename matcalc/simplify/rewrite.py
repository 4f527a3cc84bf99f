"""Named rewrites that make results readable, and the strategy that applies them.

Each rule is a pure function (node, ctx) → node, returning the same node when it does not
apply; its docstring is its identity. The strategy (`simplify`) has three stages:

1. `normalise`: every node is rebuilt bottom-up through the constructors in core/build.py
   (flattening, folding numbers, dropping 0, 1 and I), then RULES are applied until none fires,
   under a global bound on rewrites so that it always terminates. Transposes sit at the leaves.
2. `algebra.compact_algebra`: each maximal element-wise subexpression that divides is put in lowest
   terms as a rational function of its atoms (SymPy's scalar cancel/factor), kept only when
   strictly smaller; then stage 1 again.
3. `transposes_out`: a transpose is taken out of a product or a sum when that saves two.

`canonical` spells equal scalars and traces one way (aᵀb = bᵀa, tr(AB) = tr(BA)); like terms
are collected through it and matcalc.equivalent compares with it. Every rewrite is logged in
ctx.log (the derivation lists them) and must keep the node's shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from math import gcd

from ..core import build as B
from ..core import expr as E
from ..core.dims import Dim
from ..core.shapes import ONE, is_scalar

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
    if t in (E.Tril, E.Triu):
        return B.triangle(t, kids[0])
    if t is E.MatFn:
        from ..core.functions import matfn
        return matfn(node.fn, *kids, exponent=node.exponent)
    if not kids:
        return node
    return B.unary(t, kids[0])


# Helpers ---------------------------------------------------------------------------------------

_ONE = Fraction(1)
_ZERO = Fraction(0)
_MINUS_ONE = Fraction(-1)       # (constants: Fractions are immutable, and building one is slow)


def split_term(term):
    """term = coef · (scalar factors) · (matrix chain): returns (coef, scalars, chain), the
    last two as tuples (memoised: the rules for sums split each term several times)."""
    if type(term) is E.Num:
        return term.value, (), ()
    if type(term) is not E.MatMul:
        return (_ONE, (term,), ()) if is_scalar(term.shape) else (_ONE, (), (term,))
    return _split_product(term)


def _split_product(term):
    coef, scalars, chain = _ONE, [], []
    for f in term.args:
        if type(f) is E.Num:
            v = f.value      # (the constructors leave at most one number, in front: no product)
            coef = v if coef is _ONE and type(v) is Fraction else coef * v
            continue
        r, c = f.shape       # (is_scalar, written out)
        if (r is ONE or type(r) is not Dim and r == 1) and \
                (c is ONE or type(c) is not Dim and c == 1):
            scalars.append(f)
        else:
            chain.append(f)
    return coef, tuple(scalars), tuple(chain)


def _product(coef, scalars, chain, rows):
    if not chain:
        base = B.identity(rows) if rows != 1 else B.num(1)
        return B.mul(B.num(coef), *scalars, base)
    return B.mul(B.num(coef), *scalars, *chain)


# Canonical key: one spelling for equal scalars and traces -------------------------------------

# Memoised: trees are shared DAGs and the rules ask about the same subtrees again and again.
_MEMO = lru_cache(maxsize=100_000)


_split_product = _MEMO(_split_product)


@_MEMO
def _sort_key(node) -> str:
    head = type(node).__name__
    for attr in ("name", "value", "exponent", "fn", "rows", "cols"):
        if hasattr(node, attr):
            head += f":{getattr(node, attr)}"
    key = head + "(" + ",".join(_sort_key(c) for c in node.children) + ")"
    if len(key) > 10_000:    # a key as long as the tree is exponential in a shared tree: digest it
        import hashlib
        key = head + "#" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    return key


def _orient(chain):
    """The chain read backwards and transposed: (ABC)ᵀ = CᵀBᵀAᵀ."""
    return [f.arg if type(f) is E.Transpose else B.transpose(f) for f in reversed(chain)]


def _best(candidates):
    return min(candidates, key=lambda c: (transposes(c), _sort_key(c)))


@_MEMO
def canonical(node):
    """node with every 1×1 product and every trace spelt one way (aᵀb = bᵀa, tr(AB) = tr(BA) =
    tr(BᵀAᵀ)) and the terms of sums and ⊙ sorted: equal keys mean equal expressions. Used to
    collect like terms and by matcalc.equivalent; never printed."""
    out = node
    if node.children:
        kids = [canonical(c) for c in node.children]
        t = type(node)
        if t in (E.Add, E.Hadamard):
            kids.sort(key=_sort_key)
        elif t is E.MatMul:                        # scalars commute with everything
            scal = sorted((k for k in kids if is_scalar(k.shape)), key=_sort_key)
            kids = scal + [k for k in kids if not is_scalar(k.shape)]
        out = rebuild(node, kids)
        t = type(out)
        if t is E.Transpose and type(out.arg) in (E.MatMul, E.Add):
            inner = out.arg
            out = canonical(B.mul(*_orient(inner.args)) if type(inner) is E.MatMul else
                            B.add(*(B.transpose(a) for a in inner.args)))
        elif t is E.MatMul and is_scalar(out.shape):
            chain = [f for f in out.args if not is_scalar(f.shape)]
            if len(chain) >= 2:
                coef = [f for f in out.args if is_scalar(f.shape)]
                best = _best([B.mul(*chain), B.mul(*_orient(chain))])
                out = B.mul(*coef, best)
        elif t is E.Trace:
            c, scal, chain = split_term(out.arg)
            if len(chain) >= 2:
                options = []
                for seq in (chain, _orient(chain)):
                    options += [B.mul(*seq[i:], *seq[:i]) for i in range(len(seq))
                                if seq[i].shape[0] == seq[i - 1].shape[1]]
                out = B.mul(B.num(c), *scal, B.trace(_best(options)))
    return out


# Rules -----------------------------------------------------------------------------------------

def transpose_of_product(node, ctx):
    """(c·ABC)ᵀ → c·CᵀBᵀAᵀ"""
    if isinstance(node, E.Transpose) and isinstance(node.arg, E.MatMul):
        scal = [f for f in node.arg.args if is_scalar(f.shape)]       # scalars keep their order
        chain = [f for f in node.arg.args if not is_scalar(f.shape)]
        return B.mul(*scal, *(B.transpose(f) for f in reversed(chain)))
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
    if isinstance(node, E.MatFn):          # f(S) of a symmetric S; V Λ Vᵀ forms are symmetric
        return node.fn in ("expm", "logm", "sqrtm", "powm", "eigres_max", "eigres_min") and \
            is_symmetric(node.args[0], ctx)
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
    """(A ⊙ B)ᵀ → Aᵀ ⊙ Bᵀ and (A + B)ᵀ → Aᵀ + Bᵀ when every operand is itself a transpose;
    (A ⊙ B)ᵀ → Aᵀ ⊙ Bᵀ also when that leaves fewer transposes ((exp(txᵀ)ᵀ ⊙ x)ᵀ → exp(txᵀ) ⊙ xᵀ)"""
    if isinstance(node, E.Transpose) and isinstance(node.arg, (E.Hadamard, E.Add)):
        if all(isinstance(a, E.Transpose) or is_scalar(a.shape) for a in node.arg.args):
            parts = [B.transpose(a) for a in node.arg.args]
            return B.hadamard(*parts) if isinstance(node.arg, E.Hadamard) else B.add(*parts)
        if isinstance(node.arg, E.Hadamard):     # (Aᵀ ⊙ x)ᵀ → A ⊙ xᵀ: one transpose fewer
            candidate = B.hadamard(*(B.transpose(a) for a in node.arg.args))
            if transposes(candidate) < transposes(node):
                return candidate
    return node


@_MEMO
def _names(node) -> frozenset:
    """The variable names in a tree. `canonical` only reorders, transposes and regroups, so
    two trees with equal canonical forms hold the same names: a term whose names no other term
    of a sum has is like no other, and its canonical form is not needed."""
    if type(node) is E.Sym:
        return frozenset((node.name,))
    out = _NO_NAMES
    for c in node.children:
        t = type(c)             # (a leaf's names are read here, not memoised: one lookup less)
        more = frozenset((c.name,)) if t is E.Sym else _NO_NAMES if t in _LEAF_TYPES else \
            _names(c)
        if not more <= out:     # (a child's names often are among the others', or the others'
            out = more if out <= more else out | more   # among its: no new set)
    return out


_NO_NAMES = frozenset()


def _like_keys(bodies) -> list:
    """A key per body, equal for like bodies: canonical(body), or the body's position when its
    names are not those of any other body (collecting a long sum of unlike terms then costs no
    canonical forms)."""
    if len(bodies) < 2:
        return [canonical(b) for b in bodies]
    names = [_names(b) for b in bodies]
    seen: dict = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    return [canonical(b) if seen[n] > 1 else ("alone", i)
            for i, (b, n) in enumerate(zip(bodies, names))]


def collect_like_terms(node, ctx):
    """a·T + b·T → (a + b)·T"""
    if not isinstance(node, E.Add):
        return node
    groups: dict = {}
    order = []
    split = [split_term(t) for t in node.args]
    names = [_names(t) for t in node.args]     # a term's names are its body's (numbers have none)
    if len(set(names)) == len(names):          # no two terms alike (see _like_keys): no bodies
        if all(not scalars for _, scalars, _ in split):
            return node        # nor two chains alike: a chain's names are then its term's
        return _collect_scalar_coefficients(node, split)
    bodies = [t if coef == 1 and _is_own_body(t, scalars, chain) else
              B.mul(*scalars, *chain) if (scalars or chain) else B.num(1)
              for t, (coef, scalars, chain) in zip(node.args, split)]
    for (coef, scalars, chain), body, key in zip(split, bodies, _like_keys(bodies)):
        if key not in groups:
            groups[key] = [_ZERO, body]
            order.append(key)
        groups[key][0] += coef
    if len(order) == len(node.args):
        return _collect_scalar_coefficients(node, split)
    terms = [B.mul(B.num(groups[k][0]), groups[k][1]) for k in order if groups[k][0] != 0]
    return B.add(*terms, shape=node.shape)


def _is_own_body(term, scalars, chain) -> bool:
    """Whether term is already B.mul(*scalars, *chain) (no number, scalars in front)."""
    if type(term) is not E.MatMul:
        return len(scalars) + len(chain) == 1
    k = len(scalars)
    return len(term.args) == k + len(chain) and term.args[:k] == scalars


def _collect_scalar_coefficients(node, split):
    """a·T + b·T → (a + b)·T for scalar expressions a, b and one matrix chain T (the terms
    differ only in their scalar factors): Σ cᵢAx → (c₀ + … + cₙ)Ax in one pass. `split` is
    split_term of each term."""
    groups: dict = {}
    order = []
    if any(not chain for _, _, chain in split):
        return node
    names = [_names(chain[0]) if len(chain) == 1 else
             frozenset().union(*(_names(f) for f in chain)) for _, _, chain in split]
    if len(set(names)) == len(names):      # no two chains alike (see _like_keys)
        return node
    chains: dict = {}                # one product per distinct chain (Σ cᵢAx: one Ax)
    for t, (coef, scalars, chain) in zip(node.args, split):
        if chain not in chains:
            chains[chain] = t if coef == 1 and not scalars else B.mul(*chain)
    keys = _like_keys([chains[chain] for _, _, chain in split])
    for (coef, scalars, chain), key in zip(split, keys):
        if key not in groups:
            groups[key] = (chain, [])
            order.append(key)
        groups[key][1].append(B.mul(B.num(coef), *scalars) if scalars else B.num(coef))
    if len(order) == len(node.args):
        return node
    terms = []
    for k in order:
        chain, coefs = groups[k]
        terms.append(B.mul(B.add(*coefs), *chain) if len(coefs) > 1 else B.mul(coefs[0], *chain))
    return B.add(*terms, shape=node.shape)


def common_coefficient(node, ctx):
    """a·g·X + b·g·Y → g·(a·X + b·Y) for the greatest common numeric factor g ≠ 1"""
    if not isinstance(node, E.Add) or len(node.args) < 2:
        return node
    split = [split_term(t) for t in node.args]
    shared = _common_scalar(split, node)
    if shared is not None:
        return shared
    coefs = [c for c, _, _ in split]
    g = _common_whole(coefs)
    if g in (0, 1):
        return node
    return B.mul(B.num(g), B.add(*(_divided(t, c, g) for t, c in zip(node.args, coefs)),
                                 shape=node.shape))


def _common_whole(coefs) -> int:
    """The number common_coefficient takes out of the coefficients of a sum: the greatest
    common divisor of whole ones, negative when all of them are; 0 or 1 when there is none
    (some coefficient is not whole, or they are coprime and not all negative)."""
    g = 0
    negative = True
    for c in coefs:
        if c.denominator != 1:
            return 0
        k = c.numerator                 # (= int(c): the denominator is 1)
        g = gcd(g, k)
        if k >= 0:
            if g == 1:
                return 1                # (whatever follows: 1, or 0 for a fraction)
            negative = False
    return -g if negative else g


def _divided(term, coef, g):
    """term / g for a whole coefficient coef of term that g divides: the same product as
    B.mul(B.num(Fraction(1, g)), term), without Fraction arithmetic."""
    if type(term) is E.MatMul and type(term.args[0]) is E.Num and \
            type(term.args[0].value) is Fraction and \
            not any(type(f) is E.Num for f in term.args[1:]):    # coef is that one number
        k = coef.numerator // g                     # (a factor 1 is dropped: not given)
        return B.mul(*term.args[1:]) if k == 1 else B.mul(B.num(k), *term.args[1:])
    return B.mul(B.num(Fraction(1, g)), term)


def _common_scalar(split, node):
    """s·X + s·Y → s·(X + Y) for a scalar factor s (not a number) of every term of a matrix
    sum: (c₀ + c₁)A + (c₀ + c₁)Aᵀ → (c₀ + c₁)(A + Aᵀ)."""
    if is_scalar(node.shape) or any(not chain for _, _, chain in split):
        return None
    for f in split[0][1]:
        if all(f in s for _, s, _ in split[1:]):
            rest = []
            for c, s, chain in split:
                s = list(s)
                s.remove(f)
                rest.append(B.mul(B.num(c), *s, *chain))
            return B.mul(f, B.add(*rest, shape=node.shape))
    return None


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
        chosen = {id(t) for t in members}
        rest = [t for t in node.args if id(t) not in chosen]
        parts = [split_term(t) for t in members]
        chains = [chain if side == -1 else chain[::-1] for _, _, chain in parts]
        # The run of outer factors every member shares is taken out at once: one factor at a
        # time, the same sum would be rebuilt once per factor (quadratic in a long chain, as
        # in a deep network's Hessian). Orders as if taken one at a time (see _peel_order).
        k = 1                # (on the right only: one at a time, the right side is tried first)
        while side == -1 and all(len(ch) > k for ch in chains) and \
                all(ch[-1 - k] == chains[0][-1 - k] for ch in chains) and \
                not all(len(ch) == k + 1 for ch in chains):
            k += 1
        shared = chains[0][-k:]
        rows = shared[0].shape[0] if side == -1 else shared[0].shape[1]
        inner = [_product(c, s, (ch[:-k] if side == -1 else ch[:-k][::-1]), rows)
                 for (c, s, _), ch in zip(parts, chains)]
        order = _peel_order(parts, chains, k)
        total = B.add(*(inner[i] for i in order))
        outer = shared if side == -1 else shared[::-1]
        grouped = B.mul(total, *outer) if side == -1 else B.mul(*outer, total)
        return B.add(grouped, *rest, shape=node.shape)
    return node


def _peel_order(parts, chains, k):
    """The order of the inner terms when k shared outer factors are taken out: the one a
    stable sort by transposes after each single factor would give ((A + Aᵀ)x rather than
    (Aᵀ + A)x), from the transposes left after each one, last first."""
    def key(i):
        c, s, _ = parts[i]
        ch = chains[i]
        base = sum(transposes(f) for f in s)
        counts = [transposes(f) for f in ch]
        left = base + sum(counts[:len(ch) - k])
        stages = [left]
        for j in range(k - 1, 0, -1):            # after j factors: those of the inner part
            left += counts[len(ch) - j - 1]
            stages.append(left)
        return stages
    return sorted(range(len(parts)), key=key)


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
        base, e = (a.arg, a.exponent) if isinstance(a, E.HadamardPower) else (a, _ONE)
        if base not in powers:
            order.append(base)
            powers[base] = _ZERO
        powers[base] += e
    if len(order) == len(node.args):
        return node
    return B.hadamard(*(B.hpow(b, powers[b]) for b in order))


def scalar_power_repeat(node, ctx):
    """c·c → c², c·c⁻¹ → 1 for scalar factors of a product"""
    if not isinstance(node, E.MatMul):
        return node
    bases = [f.arg if type(f) in (E.Power, E.Inverse) else f for f in node.args
             if type(f) is not E.Num and is_scalar(f.shape)]
    if len(set(bases)) == len(bases):        # no base occurs twice: nothing to merge
        return node
    powers: dict = {}
    order, others = [], []
    for f in node.args:
        if is_scalar(f.shape) and not isinstance(f, E.Num):
            base, e = (f.arg, f.exponent) if isinstance(f, E.Power) else \
                (f.arg, _MINUS_ONE) if isinstance(f, E.Inverse) else (f, _ONE)
            if base not in powers:
                order.append(base)
                powers[base] = _ZERO
            powers[base] += e
        else:
            others.append(f)
    if len(order) == len(node.args) - len(others):
        return node
    return B.mul(*(B.power(b, powers[b]) for b in order), *others)


@_MEMO
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


def _negative(c) -> bool:
    return c.numerator < 0 if type(c) is Fraction else c < 0     # (Fraction < 0 is Python code)


def _transpose_pairs(terms) -> bool:
    """Whether some term is the transpose of another."""
    for t in terms:
        if type(t) is E.Transpose:
            present = set(terms)
            return any(type(a) is E.Transpose and a.arg in present for a in terms)
    return False


def order_terms(node, ctx):
    """Σ: positive terms before negative ones, a term before its transpose (stable otherwise):
    −a + b → b − a, Aᵀ + A → A + Aᵀ"""
    if not isinstance(node, E.Add):
        return node
    args = list(node.args)
    pairs = _transpose_pairs(args)      # the pairwise pass only when some Aᵀ meets its A
    for i in range(len(args) if pairs else 0):
        for j in range(i + 1, len(args)):
            if isinstance(args[i], E.Transpose) and args[i].arg == args[j]:
                args[i], args[j] = args[j], args[i]
    key = [_negative(split_term(t)[0]) for t in args]
    if not pairs and all([b or not a for a, b in zip(key, key[1:])]):
        return node                     # no negative term before a positive one: in order
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
    """−c·A(u − v) → c·A(v − u): a minus sign is absorbed by a two-term difference (not one
    that occurs again in the product: −(x − μ)ᵀ(x − μ) stays, rather than (x − μ)ᵀ(μ − x))"""
    if not (isinstance(node, E.MatMul) and isinstance(node.args[0], E.Num)
            and _negative(node.args[0].value)):
        return node
    for i, f in enumerate(node.args):
        if not (isinstance(f, E.Add) and len(f.args) == 2 and
                sum(split_term(t)[0] < 0 for t in f.args) == 1):
            continue
        again = any(g == f or (type(g) is E.Transpose and g.arg == f)
                    for k, g in enumerate(node.args) if k != i)
        if not again:
            flipped = B.add(*(B.neg(t) for t in reversed(f.args)), shape=f.shape)
            args = list(node.args)
            args[0] = B.num(-args[0].value)
            args[i] = flipped
            return B.mul(*args)
    return node


def _pairwise(node, fn):
    """Rewrite the first adjacent pair of factors of a product for which fn(a, b) gives a
    replacement (a node, or None to pass): the shape of most product rules."""
    if type(node) is not E.MatMul:
        return node
    fs = node.args
    for i in range(len(fs) - 1):
        r = fn(fs[i], fs[i + 1])
        if r is not None:
            return B.mul(*fs[:i], r, *fs[i + 2:])
    return node


def ones_row_is_sum(node, ctx):
    """𝟙ᵀv → sum(v) for a column vector v"""
    return _pairwise(node, lambda a, b: B.summ(b) if type(a) is E.Ones and a.shape[0] == 1
                     and b.shape[1] == 1 else None)


def kron_mixed_product(node, ctx):
    """(A ⊗ B)(C ⊗ D) → AC ⊗ BD when the products are defined"""
    def merge(p, q):
        if type(p) is E.Kron and type(q) is E.Kron and \
                p.left.shape[1] == q.left.shape[0] and p.right.shape[1] == q.right.shape[0]:
            return B.kron(B.mul(p.left, q.left), B.mul(p.right, q.right))
        return None
    return _pairwise(node, merge)


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
    return _pairwise(node, lambda a, b: B.identity(a.shape[0])
                     if not is_scalar(a.shape) and _inverse_pair(a, b) else None)


def diag_of_outer(node, ctx):
    """diag(abᵀ) → a ⊙ b for column vectors a, b"""
    if isinstance(node, E.DiagVec) and isinstance(node.arg, E.MatMul):
        chain = [f for f in node.arg.args if not is_scalar(f.shape)]
        scal = [f for f in node.arg.args if is_scalar(f.shape)]
        if len(chain) == 2 and chain[0].shape[1] == 1 and chain[1].shape[0] == 1:
            return B.mul(*scal, B.hadamard(chain[0], B.transpose(chain[1])))
    return node


def diag_sign_out(node, ctx):
    """diag(−c·v) → −diag(c·v): a minus sign stands in front of diag, as textbooks print it"""
    if type(node) is E.DiagMat and type(node.arg) is E.MatMul and \
            type(node.arg.args[0]) is E.Num and node.arg.args[0].value < 0:
        return B.neg(B.diag_mat(B.neg(node.arg)))
    return node


def diag_product(node, ctx):
    """diag(u)diag(v) → diag(u ⊙ v)"""
    return _pairwise(node, lambda a, b: B.diag_mat(B.hadamard(a.arg, b.arg))
                     if type(a) is E.DiagMat and type(b) is E.DiagMat else None)


# Powers, inverses and transposes of one square matrix ---------------------------------------------

def _peel(f):
    """f = baseᵉ with base a plain matrix M or Mᵀ: (base, e), for square non-scalar f."""
    t = type(f)
    if t is E.Transpose:
        inner = f.arg
        if type(inner) is E.Inverse:
            return B.transpose(inner.arg), _MINUS_ONE
        if type(inner) is E.Power:
            return B.transpose(inner.arg), inner.exponent
        return f, _ONE
    if t is E.Inverse:
        base, e = _peel(f.arg)
        return base, -e
    if t is E.Power:
        base, e = _peel(f.arg)
        return base, e * f.exponent
    return f, _ONE


def _peels(f) -> bool:
    """Whether _peel(f) finds a base other than f itself."""
    t = type(f)
    return t is E.Inverse or t is E.Power or \
        t is E.Transpose and (type(f.arg) is E.Inverse or type(f.arg) is E.Power)


def _unpeel(base, e):
    if e == 0:
        return B.identity(base.shape[0])
    if e == 1:
        return base
    if type(base) is E.Transpose and e == -1:
        return B.transpose(B.inverse(base.arg))
    return B.power(base, e)


def inverse_of_transpose(node, ctx):
    """(Aᵀ)⁻¹ → (A⁻¹)ᵀ, written A⁻ᵀ"""
    if type(node) is E.Inverse and type(node.arg) is E.Transpose:
        return B.transpose(B.inverse(node.arg.arg))
    return node


def inverse_of_power(node, ctx):
    """(Aᵏ)⁻¹ → A⁻ᵏ and (A⁻¹)ᵏ → A⁻ᵏ"""
    if type(node) is E.Inverse and type(node.arg) is E.Power and not is_scalar(node.shape):
        return _unpeel(*_peel(node))
    if type(node) is E.Power and type(node.arg) is E.Inverse and not is_scalar(node.shape):
        return _unpeel(*_peel(node))
    return node


def transpose_of_power(node, ctx):
    """(Aᵏ)ᵀ → (Aᵀ)ᵏ"""
    if type(node) is E.Transpose and type(node.arg) is E.Power:
        return _unpeel(*_peel(node))
    return node


def product_powers(node, ctx):
    """AᵏAˡ → Aᵏ⁺ˡ for adjacent factors with the same base: XX → X², X²X⁻¹ → X, X⁻ᵀXᵀ → I"""
    if type(node) is not E.MatMul or not node.args:
        return node
    fs = node.args
    a = fs[0]
    ka = type(a)
    for i in range(1, len(fs)):         # (_pairwise, with _merged_powers's first tests
        b = fs[i]                       # written out: most pairs fail them)
        kb = type(b)
        if ka is kb:
            may = ka is not E.Sym or a.name == b.name
        else:
            may = ka in _POWERED or kb in _POWERED or \
                ka is E.Transpose and type(a.arg) in _POWERED or \
                kb is E.Transpose and type(b.arg) in _POWERED
        if may:
            r = _merged_powers(a, b)
            if r is not None:
                return B.mul(*fs[:i - 1], r, *fs[i + 1:])
        a, ka = b, kb
    return node


_POWERED = frozenset((E.Inverse, E.Power))     # (what _peels looks for)


def _merged_powers(a, b):
    """product_powers for one pair of adjacent factors: their merged power, or None."""
    ka, kb = type(a), type(b)
    if ka is kb:
        if ka is E.Sym and a.name != b.name:
            return None                 # two matrices, each its own base (or scalars)
    elif not _peels(a) and not _peels(b):
        return None                     # each its own base, of two types (or scalars)
    if is_scalar(a.shape) or is_scalar(b.shape) or not _square(a):
        return None
    (ba, ea), (bb, eb) = _peel(a), _peel(b)
    return _unpeel(ba, ea + eb) if ba == bb and ba.shape == bb.shape else None


# More structure: sums of diagonals, Kronecker products and vec -------------------------------------

def sum_of_diags(node, ctx):
    """a·diag(u) + b·diag(v) → diag(a·u + b·v)"""
    if type(node) is not E.Add:
        return node
    diags, rest = [], []
    for t in node.args:
        c, s, chain = split_term(t)
        if len(chain) == 1 and type(chain[0]) is E.DiagMat:
            diags.append(B.mul(B.num(c), *s, chain[0].arg))
        else:
            rest.append(t)
    if len(diags) < 2:
        return node
    return B.add(B.diag_mat(B.add(*diags)), *rest, shape=node.shape)


def kron_times_ones(node, ctx):
    """(A ⊗ B)𝟙 → A𝟙 ⊗ B𝟙 (the ones vector of length pq is 𝟙ₚ ⊗ 𝟙_q)"""
    def split(k, o):
        if type(k) is E.Kron and type(o) is E.Ones and o.shape[1] == 1:
            return B.kron(B.mul(k.left, B.ones((k.left.shape[1], ONE))),
                          B.mul(k.right, B.ones((k.right.shape[1], ONE))))
        return None
    return _pairwise(node, split)


def row_times_ones(node, ctx):
    """rᵀ𝟙 → sum(r): a row vector times the ones column is the sum of its entries"""
    def total(r, o):
        if type(o) is E.Ones and o.shape[1] == 1 and r.shape[0] == 1 and not is_scalar(r.shape):
            return B.summ(r.arg if type(r) is E.Transpose else r)
        return None
    return _pairwise(node, total)


def commutation_of_vec(node, ctx):
    """K(m,n)vec(A) → vec(Aᵀ) and K(m,n)ᵀvec(Aᵀ) → vec(A), for A of m×n (K(n,m)vec(A) is a
    different vector when m ≠ n, although the sizes fit)"""
    def permute(k, v):
        if type(v) is not E.Vec:
            return None
        if type(k) is E.Commutation:
            dims = (k.rows, k.cols)
        elif type(k) is E.Transpose and type(k.arg) is E.Commutation:
            dims = (k.arg.cols, k.arg.rows)               # K(m,n)ᵀ = K(n,m)
        else:
            return None
        if tuple(v.arg.shape) == dims:
            return B.vec(B.transpose(v.arg))
        return None
    return _pairwise(node, permute)


def kron_of_vec(node, ctx):
    """(Bᵀ ⊗ A)vec(X) → vec(AXB)"""
    def trick(k, v):
        if type(k) is E.Kron and type(v) is E.Vec and k.right.shape[1] == v.arg.shape[0] and \
                k.left.shape[1] == v.arg.shape[1]:
            return B.vec(B.mul(k.right, v.arg, B.transpose(k.left)))
        return None
    return _pairwise(node, trick)


def softmax_of_exp(node, ctx):
    """exp(x)·sum(exp(x))⁻¹ → softmax(x) for a column vector x"""
    if type(node) is not E.MatMul:
        return node
    fs = list(node.args)
    for i, f in enumerate(fs):
        if type(f) is E.Apply and f.fn == "exp" and f.shape[1] == 1:
            inv = B.inverse(B.summ(f))
            if inv in fs:
                rest = [g for k, g in enumerate(fs) if k != i]
                rest.remove(inv)
                return B.mul(*rest, B.unary(E.Softmax, f.arg))
    return node


def hadamard_of_krons(node, ctx):
    """(A ⊗ B) ⊙ (C ⊗ D) → (A ⊙ C) ⊗ (B ⊙ D) when A, C and B, D have equal shapes"""
    if type(node) is not E.Hadamard:
        return node
    fs = list(node.args)
    for i in range(len(fs)):
        for j in range(i + 1, len(fs)):
            p, q = fs[i], fs[j]
            if type(p) is E.Kron and type(q) is E.Kron and \
                    tuple(p.left.shape) == tuple(q.left.shape) and \
                    tuple(p.right.shape) == tuple(q.right.shape):
                merged = B.kron(B.hadamard(p.left, q.left), B.hadamard(p.right, q.right))
                rest = [f for k, f in enumerate(fs) if k not in (i, j)]
                return B.hadamard(merged, *rest)
    return node


def kron_absorbs_factor(node, ctx):
    """(P ⊗ u)M → PM ⊗ u for a column u, and M(P ⊗ vᵀ) → MP ⊗ vᵀ for a row vᵀ (M = M ⊗ 1 in
    the mixed-product rule): (I ⊗ 𝟙)A(I ⊗ 𝟙ᵀ) → A ⊗ 𝟙𝟙ᵀ"""
    def absorb(a, b):
        if is_scalar(a.shape) or is_scalar(b.shape):
            return None
        if type(a) is E.Kron and type(b) not in (E.Kron, E.Vec) and a.right.shape[1] == 1 \
                and a.left.shape[1] == b.shape[0]:
            return B.kron(B.mul(a.left, b), a.right)
        if type(b) is E.Kron and type(a) not in (E.Kron, E.Vec) and b.right.shape[0] == 1 \
                and a.shape[1] == b.left.shape[0]:
            return B.kron(B.mul(a, b.left), b.right)
        return None
    return _pairwise(node, absorb)


def ones_outer(node, ctx):
    """𝟙ₚ𝟙_qᵀ → 𝟙ₚₓ_q, the matrix of ones"""
    return _pairwise(node, lambda a, b: E.Ones((a.shape[0], b.shape[1]))
                     if type(a) is E.Ones and type(b) is E.Ones and a.shape[1] == 1
                     and b.shape[0] == 1 and not is_scalar((a.shape[0], b.shape[1])) else None)


def softmax_sums_to_one(node, ctx):
    """sum(softmax(x)) → 1"""
    if type(node) is E.Sum and type(node.arg) is E.Softmax:
        return B.num(1)
    return node


def trace_of_kron(node, ctx):
    """tr(A ⊗ B) → tr(A)tr(B) for square A and B (A ⊗ B can be square when they are not)"""
    if type(node) is E.Trace and type(node.arg) is E.Kron and _square(node.arg.left) and \
            _square(node.arg.right):
        return B.mul(B.trace(node.arg.left), B.trace(node.arg.right))
    return node


RULES = (transpose_of_product, transpose_of_sum, transpose_of_symmetric, transpose_of_elementwise,
         collect_like_terms, common_coefficient, factor_common, inverse_cancel,
         diag_times_vector, hadamard_repeat, scalar_power_repeat, scalars_first, order_terms,
         hadamard_scalars_out, hadamard_reciprocal, sigmoid_of_exp, absorb_sign,
         ones_row_is_sum, kron_mixed_product, transpose_of_kron, kron_scalars_out,
         inverse_of_product, diag_of_outer, diag_product, inverse_of_transpose, inverse_of_power,
         transpose_of_power, product_powers, sum_of_diags, kron_times_ones, row_times_ones,
         commutation_of_vec, kron_of_vec, trace_of_kron, softmax_of_exp, diag_sign_out,
         hadamard_of_krons, kron_absorbs_factor, ones_outer, softmax_sums_to_one)

# The node types each rule looks at (a rule returns every other node unchanged): the strategy
# tries only these, which keeps the fixed-point loop cheap.
_T, _M, _A = E.Transpose, E.MatMul, E.Add
RULE_TYPES = {
    transpose_of_product: (_T,), transpose_of_sum: (_T,), transpose_of_symmetric: (_T,),
    transpose_of_elementwise: (_T,), collect_like_terms: (_A,), common_coefficient: (_A,),
    factor_common: (_A,), inverse_cancel: (_M,), diag_times_vector: (_M,),
    hadamard_repeat: (E.Hadamard,), scalar_power_repeat: (_M,), scalars_first: (_M,),
    order_terms: (_A,), hadamard_scalars_out: (E.Hadamard,), hadamard_reciprocal: (E.Hadamard,),
    sigmoid_of_exp: (E.HadamardDiv, E.Hadamard, _M), absorb_sign: (_M,), ones_row_is_sum: (_M,),
    kron_mixed_product: (_M,), transpose_of_kron: (_T,), kron_scalars_out: (E.Kron,),
    inverse_of_product: (E.Inverse,), diag_of_outer: (E.DiagVec,), diag_product: (_M,),
    inverse_of_transpose: (E.Inverse,), inverse_of_power: (E.Inverse, E.Power),
    transpose_of_power: (_T,), product_powers: (_M,), sum_of_diags: (_A,),
    kron_times_ones: (_M,), row_times_ones: (_M,), commutation_of_vec: (_M,), kron_of_vec: (_M,),
    trace_of_kron: (E.Trace,), softmax_of_exp: (_M,), diag_sign_out: (E.DiagMat,),
    hadamard_of_krons: (E.Hadamard,), kron_absorbs_factor: (_M,),
    ones_outer: (_M,), softmax_sums_to_one: (E.Sum,),
}
RULES_FOR = {t: tuple(r for r in RULES if t in RULE_TYPES[r]) for t in E.NODE_TYPES}

# Product rules that can only fire when a factor of one of these types is present: for a
# product with none of them the strategy does not try them (a rule missing here is always tried).
PRODUCT_NEEDS = {
    inverse_cancel: (E.Inverse, E.Transpose), diag_times_vector: (E.DiagMat,),
    kron_mixed_product: (E.Kron,), ones_row_is_sum: (E.Ones,), diag_product: (E.DiagMat,),
    kron_times_ones: (E.Kron,), row_times_ones: (E.Ones,), commutation_of_vec: (E.Vec,),
    kron_of_vec: (E.Vec,), softmax_of_exp: (E.Apply,), kron_absorbs_factor: (E.Kron,),
    ones_outer: (E.Ones,), sigmoid_of_exp: (E.Inverse,), absorb_sign: (E.Add,),
}
_PRODUCT_RULES: dict = {}


class Signature:
    """What the product rules' idle tests ask of a product, read once from its signature (each
    factor's type and whether it is 1×1, in order): the kinds of factors, the types of its
    scalar factors other than numbers (atoms), its adjacent pairs of matrices (as pairs of
    types), whether numbers, other scalars and matrices already stand in that order, and the
    type of the first factor."""
    __slots__ = ("kinds", "atoms", "pairs", "in_order", "lead")

    def __init__(self, sig):
        self.lead = sig[0][0] if sig else None
        self.kinds = {t for t, _ in sig}
        self.atoms = [t for t, scalar in sig if scalar and t is not E.Num]
        self.pairs = [(a[0], b[0]) for a, b in zip(sig, sig[1:]) if not a[1] and not b[1]]
        cats = [0 if t is E.Num else 1 if scalar else 2 for t, scalar in sig]
        self.in_order = all(a <= b for a, b in zip(cats, cats[1:]))


_PEELED = (E.Inverse, E.Power, E.Transpose)


def _same_bases_may(a, b) -> bool:
    """Whether factors of types a and b (adjacent matrices) may have one base as _peel finds
    it: the base of a power, an inverse or a transpose (of a power or an inverse) may be of
    any type; any other factor is its own base."""
    return a is b or a in _PEELED or b in _PEELED


def _cancel_may(a, b) -> bool:
    """Whether adjacent matrices of types a and b may be an _inverse_pair: one of them is an
    inverse, or both are transposes (A⁻ᵀAᵀ)."""
    return a is E.Inverse or b is E.Inverse or (a is E.Transpose and b is E.Transpose)


# Product rules that cannot fire on a product with this Signature, read off the rule: they
# return every such product unchanged.
PRODUCT_IDLE = {
    scalars_first: lambda s: s.in_order,
    scalar_power_repeat: lambda s: len(s.atoms) < 2,       # no base can occur twice
    product_powers: lambda s: not any(_same_bases_may(a, b) for a, b in s.pairs),
    inverse_cancel: lambda s: not any(_cancel_may(a, b) for a, b in s.pairs),
    absorb_sign: lambda s: s.lead is not E.Num,             # a negative number in front
}


def _rules_for_product(node) -> tuple:
    """RULES_FOR[MatMul] less the rules whose factor types are absent (PRODUCT_NEEDS) and those
    that cannot fire on a product of these kinds of factors (PRODUCT_IDLE), memoised by the
    product's signature: each factor's type and whether it is 1×1, in order."""
    sig = tuple([(type(f), (r is ONE or type(r) is not Dim and r == 1) and   # (is_scalar,
                  (c is ONE or type(c) is not Dim and c == 1))                # written out)
                 for f in node.args for r, c in (f.shape,)])
    rules = _PRODUCT_RULES.get(sig)
    if rules is None:
        facts = Signature(sig)
        kinds = facts.kinds
        out = []
        for r, needs, idle in _product_plan():
            if (needs is None or not needs.isdisjoint(kinds)) and not (idle and idle(facts)):
                out.append(r)
        rules = _PRODUCT_RULES[sig] = tuple(out)
    return rules


_PLAN: list = [None, ()]        # [the product rules it was made from, (rule, needs, idle) …]


def _product_plan():
    """Each product rule with its PRODUCT_NEEDS (a set) and PRODUCT_IDLE test, made once for
    the rules registered (not a memo of any input)."""
    rules = RULES_FOR[E.MatMul]
    if _PLAN[0] is not rules:
        _PLAN[:] = [rules, tuple((r, frozenset(PRODUCT_NEEDS[r]) if r in PRODUCT_NEEDS else None,
                                  PRODUCT_IDLE.get(r)) for r in rules)]
    return _PLAN[1]


# Rules for sums that can only fire when one of these kinds is among the terms: a type of a
# term, or ("in", type) for a factor of a product term. For a sum with none of them the
# strategy does not try them; SUM_IDLE: rules that cannot fire on a sum with these kinds.
SUM_NEEDS = {
    factor_common: (E.MatMul,),                  # a shared outer factor of a longer chain
    sum_of_diags: (E.DiagMat, ("in", E.DiagMat)),
}
SUM_IDLE: dict = {}
_SUM_RULES: dict = {}


class Terms:
    """What the sum rules' idle tests ask of one sum, each read at most once (from split_term
    of every term): `plain`: no term has a scalar factor other than its number; `apart`: the
    terms' names are pairwise distinct sets, so no two terms are alike (see _like_keys);
    `ends`: among the terms with a matrix chain, the first factors are pairwise distinct, and
    so are the last ones; `whole`: _common_whole of the coefficients; `powers`: how many terms
    are powers or inverses."""
    __slots__ = ("node", "split", "plain", "_apart", "_ends")

    def __init__(self, node):
        self.node = node
        product, split_product = E.MatMul, _split_product
        self.split = split = [split_product(t) if type(t) is product else split_term(t)
                              for t in node.args]
        self.plain = not any([s for _, s, _ in split])
        self._apart = self._ends = None

    @property
    def apart(self) -> bool:
        if self._apart is None:
            names = [_names(t) for t in self.node.args]
            if len(names) == 2:         # (two sets: compared, not hashed into a third)
                self._apart = names[0] != names[1]
            else:
                self._apart = len(set(names)) == len(names)
        return self._apart

    @property
    def ends(self) -> bool:
        if self._ends is None:
            chains = [chain for _, _, chain in self.split if chain]
            if len(chains) == 2:        # (as the sets below tell it, without building them)
                a, b = chains
                self._ends = _distinct(a[0], b[0]) and _distinct(a[-1], b[-1])
            else:
                self._ends = len({ch[0] for ch in chains}) == len(chains) and \
                    len({ch[-1] for ch in chains}) == len(chains)
        return self._ends

    @property
    def whole(self) -> int:
        return _common_whole([c for c, _, _ in self.split])

    @property
    def powers(self) -> int:
        n = 0
        for t in self.node.args:
            k = type(t)
            if k is E.Power or k is E.Inverse:
                n += 1
        return n

    @property
    def in_order(self) -> bool:
        """No negative term before a positive one, and no term's transpose among the terms
        (order_terms's test for a sum it leaves as it is)."""
        before = False                  # (a negative term met)
        for c, _, _ in self.split:
            if type(c) is Fraction:     # (_negative, written out)
                negative = c.numerator < 0
            else:
                negative = c < 0
            if before and not negative:
                return False
            before = negative
        return not _transpose_pairs(self.node.args)


def _distinct(a, b) -> bool:
    """len({a, b}) == 2 for nodes a and b, without building the set (it asks the same:
    identity, then the hash, then equality)."""
    return a is not b and (hash(a) != hash(b) or a != b)


# Sum rules that cannot fire on a sum with these Terms: they return every such sum unchanged
# (read off the rule; tried in this order, the cheap tests first).
SUM_TERMS_IDLE = {
    collect_like_terms: lambda f: f.plain and f.apart,         # its first test
    factor_common: lambda f: f.ends,                           # no outer factor shared
    common_coefficient: lambda f: f.plain and f.whole in (0, 1),   # (plain: no scalar s)
    order_terms: lambda f: f.in_order,
}


class _Inside(dict):
    """type → ("in", type), the kind SUM_NEEDS names a factor of a product term by."""
    def __missing__(self, t):
        self[t] = out = ("in", t)
        return out


_INSIDE = _Inside()


def _rules_for_sum(node) -> tuple:
    """RULES_FOR[Add] less the rules SUM_NEEDS and SUM_IDLE rule out for this sum's kinds of
    terms (memoised by those kinds), less those SUM_TERMS_IDLE rules out for its terms."""
    kinds = set()
    inside = _INSIDE.__getitem__
    for t in node.args:
        kinds.add(type(t))
        if type(t) is E.MatMul:
            kinds.update(map(inside, map(type, t.args)))
    kinds = frozenset(kinds)
    entry = _SUM_RULES.get(kinds)
    if entry is None:
        rules = tuple(r for r in RULES_FOR[E.Add]
                      if (r not in SUM_NEEDS or not kinds.isdisjoint(SUM_NEEDS[r]))
                      and not (r in SUM_IDLE and SUM_IDLE[r](kinds)))
        plan = [(r, SUM_TERMS_IDLE[r]) for r in SUM_TERMS_IDLE if r in rules]
        entry = _SUM_RULES[kinds] = (rules, plan, {})     # (… and the rules left, by idle)
    rules, plan, left = entry
    if not plan or len(node.args) < 2:
        return rules
    facts = Terms(node)
    idle = tuple([r for r, test in plan if test(facts)])
    if not idle:
        return rules
    out = left.get(idle)
    if out is None:
        out = left[idle] = tuple(r for r in rules if r not in idle)
    return out


# Rules for a node with one operand (node.arg) that can only fire when the operand is of one
# of these types (a rule missing here is always tried); memoised by (node type, operand type).
OPERAND_NEEDS = {
    transpose_of_product: (E.MatMul,), transpose_of_sum: (E.Add,),
    transpose_of_elementwise: (E.Hadamard, E.Add), transpose_of_kron: (E.Kron,),
    transpose_of_power: (E.Power,),
}
_OPERAND_RULES: dict = {}
_ONE_OPERAND = frozenset(t for t in E.NODE_TYPES if "arg" in t._fields)


def _rules_for_operand(node) -> tuple:
    """RULES_FOR[type(node)] less the rules OPERAND_NEEDS rules out for its operand's type."""
    key = (type(node), type(node.arg))
    rules = _OPERAND_RULES.get(key)
    if rules is None:
        rules = _OPERAND_RULES[key] = tuple(
            r for r in RULES_FOR[key[0]] if r not in OPERAND_NEEDS or key[1] in OPERAND_NEEDS[r])
    return rules


def register(rules, types: dict) -> None:
    """Rules of other modules of this package (scalars.py, identities.py), appended to RULES:
    they build on the helpers here, so they register themselves rather than being imported."""
    global RULES, RULES_FOR
    RULES = RULES + tuple(r for r in rules if r not in RULES)
    RULE_TYPES.update(types)
    RULES_FOR = {t: tuple(r for r in RULES if t in RULE_TYPES[r]) for t in E.NODE_TYPES}
    _PLAN[0] = None
    _PRODUCT_RULES.clear()
    _SUM_RULES.clear()
    _OPERAND_RULES.clear()


# Size ------------------------------------------------------------------------------------------

def size(node) -> int:
    """Operators and function applications in a tree (an n-ary sum or product counts n − 1):
    the measure by which a result is compared with its textbook form."""
    total, stack = 0, [node]
    while stack:
        x = stack.pop()
        if not isinstance(x, E.LEAVES):
            total += max(1, len(x.children) - 1) if type(x) in (E.Add, E.MatMul, E.Hadamard) \
                else 1
        stack.extend(x.children)
    return total


def rebuilt(node, kids):
    """node with new children, or node itself when none changed (no constructor work)."""
    for a, b in zip(kids, node.children):
        if a is not b:
            return rebuild(node, kids)
    return node


_LEAF_TYPES = frozenset(E.LEAVES)


# Compaction: transposes taken out -------------------------------------------------------------

def _flip(f, ctx):
    """fᵀ with the transpose pushed as far in as one step allows."""
    if type(f) is E.Transpose:
        return f.arg
    if type(f) is E.Power and type(f.arg) is E.Transpose:
        return B.power(f.arg.arg, f.exponent)
    if type(f) is E.Sym and f.name in ctx.symmetric:
        return f
    return B.transpose(f)


def _top(f) -> int:
    """Transposes at the top of one factor: Aᵀ and (Aᵀ)ᵏ count one."""
    return int(type(f) is E.Transpose or (type(f) is E.Power and type(f.arg) is E.Transpose))


def _chain_top(term) -> int:
    if type(term) is E.Transpose:
        return 1
    n = 0
    for f in split_term(term)[2]:       # (_top of each, written out)
        t = type(f)
        if t is E.Transpose or t is E.Power and type(f.arg) is E.Transpose:
            n += 1
    return n


def _flipped_top(term, ctx) -> int:
    """At least _chain_top of term's inner flip (below), without building it: each factor
    that _flip wraps in a transpose keeps that transpose on top (the product is zero only with
    a zero factor); a factor that loses one may bring up those of a product inside it (not
    counted). 0 when a scalar factor might hide a zero."""
    c, scalars, chain = split_term(term)
    if not c or any(type(f) is E.Zero or type(f) is E.MatMul for f in scalars):
        return 0
    n = 0
    for f in chain:
        t = type(f)
        if t is E.Zero:
            return 0
        if not (t is E.Transpose or t is E.Identity or t is E.DiagMat or t is E.Ones or
                t is E.Power and type(f.arg) is E.Transpose or
                t is E.Sym and f.name in ctx.symmetric):
            n += 1
    return n


def transposes_out(node, ctx):
    """c·AᵀBᵀCᵀ → c·(CBA)ᵀ and AᵀBᵀ + CᵀDᵀ → (BA + DC)ᵀ when that saves at least two
    transposes (one saved is not worth the brackets: AᵀBᵀ stays as printed in the Cookbook).
    Only the transposes at the top of each factor change, so only those are counted."""
    def inner_flip(term):
        c, s, chain = split_term(term)
        return B.mul(B.num(c), *s, *(_flip(f, ctx) for f in reversed(chain)))

    memo: dict = {}
    leaf_types = _LEAF_TYPES

    def go(n):
        """(what n becomes, how many transposes that holds, counted as `transposes` does)"""
        kids = n.children
        if not kids:            # a leaf is itself (the memo would hand back an equal leaf
            return n, 0         # from elsewhere, and every parent would look changed)
        hit = memo.get(n)
        if hit is not None:
            return hit
        k = type(n) is E.Transpose
        new = None
        for i, c in enumerate(kids):
            if type(c) in leaf_types:       # (a leaf is itself, and holds no transpose)
                continue
            mc, kc = go(c)
            k += kc
            if mc is not c:
                if new is None:
                    new = list(kids)
                new[i] = mc
        m = n
        if new is not None:
            m = rebuild(n, new)
            k = transposes(m)               # (the constructor may have moved some)
        # saving two needs at least three transposes on top now, and those are among the
        # transposes the tree holds: count before building
        if k >= 3:
            if type(m) is E.MatMul and len(m.args) >= 3 and not is_scalar(m.shape) and \
                    _chain_top(m) >= 3:
                c, s, chain = split_term(m)
                flipped = [_flip(f, ctx) for f in reversed(chain)]
                if len(chain) > 1 and 1 + sum(_top(f) for f in flipped) <= _chain_top(m) - 2:
                    cand = B.mul(B.num(c), *s, B.transpose(B.mul(*flipped)))
                    record(ctx, "transposes_out", m, cand)
                    m = cand
                    k = transposes(m)
            elif type(m) is E.Add and not is_scalar(m.shape) and \
                    all(tuple(t.shape) == tuple(m.shape) for t in m.args) and \
                    (on_top := sum(_chain_top(t) for t in m.args)) >= 3 and \
                    1 + sum(_flipped_top(t, ctx) for t in m.args) <= on_top - 2:
                inner = [inner_flip(t) for t in m.args]
                if 1 + sum(_chain_top(t) for t in inner) <= on_top - 2:
                    cand = B.transpose(B.add(*inner))
                    record(ctx, "transposes_out", m, cand)
                    m = cand
                    k = transposes(m)
        memo[n] = out = (m, k)
        return out

    return go(node)[0]


# Strategy ---------------------------------------------------------------------------------------

_FLAT = (E.Add, E.MatMul, E.Hadamard)


def _splices(parent_type, child) -> bool:
    """Whether the constructor of parent_type takes child's operands as its own: nested sums,
    products and ⊙ are one n-ary node (a 1×1 product such as aᵀb stays one factor)."""
    if type(child) is not parent_type:
        return False
    if parent_type is E.MatMul and is_scalar(child.shape):
        return all(is_scalar(f.shape) for f in child.args)
    return True


def _rebuilds_as_itself(n) -> bool:
    """Whether the constructor of n, given n's own children, would build a node equal to n
    (the cases of B.mul, B.add and B.transpose that keep their operands as given): a parser's
    Ax, −b, Ax − b, Aᵀ. False when unsure."""
    t = type(n)
    if t is E.MatMul:
        args = n.args
        if not args:
            return False
        lead = args[0]
        if type(lead) is E.Num:
            v = lead.value
            if type(v) is not Fraction or v.numerator == 0 or len(args) < 2 or \
                    v.numerator == 1 and v.denominator == 1 or \
                    (lead.shape is not B.SCALAR and tuple(lead.shape) != B.SCALAR):
                return False
            rest = args[1:]
        elif len(args) < 2:
            return False
        else:
            rest = args
        for f in rest:
            k = type(f)
            if k is E.MatMul or k is E.Num or k is E.Zero or k is E.Identity:
                return False
        shape = B.chain_shape(rest)
        return shape is not None and shape == tuple(n.shape)
    if t is E.Add:
        terms = n.args
        if len(terms) < 2:
            return False
        matrix = False
        for f in terms:
            k = type(f)
            if k is E.Add or k is E.Num or k is E.Zero:
                return False
            if not matrix:
                r, c = f.shape       # (is_scalar, written out)
                if not ((r is ONE or type(r) is not Dim and r == 1) and
                        (c is ONE or type(c) is not Dim and c == 1)):
                    matrix = True
        return matrix or is_scalar(n.shape)
    if t is E.Transpose:
        x = n.arg
        k = type(x)
        if is_scalar(x.shape) or k is E.Transpose or k is E.Identity or k is E.DiagMat or \
                k is E.Zero or k is E.Ones:
            return False
        return tuple(n.shape) == (x.shape[1], x.shape[0])
    return False


def rebuild_all(node, long: int = 0, share_leaves: bool = False, only=None, memo=None):
    """node rebuilt through the constructors only (flattened, no rules applied). A chain of
    nested binary products (((AB)C)D… as a parser or a user builds it) is gathered into one
    n-ary node with one constructor call, so a chain of n factors costs O(n), not O(n²).
    With `long`, only chains of at least that many operands are gathered (the rest keep
    their grouping and are not rebuilt). With `share_leaves`, equal leaves become one object
    (the parser makes one per occurrence), so that every memo keyed by equality hands back the
    very node it was given and rebuilding stops at `is`. With `only` (a set of ids, with
    `long`), a node whose id is not in it is known to hold no long chain and is not walked;
    `memo` (id of a node walked → what it became) may be passed in to be read afterwards
    (without `long`, a node rebuilt into an equal one may be found there as itself)."""
    memo = {} if memo is None else memo   # by identity: an unchanged subtree comes back as is
    leaves: dict = {}
    # Without `long`: a node that is not a constructor's own (a parser's Ax − b, which carries
    # its source span) but that _rebuilds_as_itself from children that came back unchanged
    # would be rebuilt into an equal node. It comes back as itself, its id → its children in
    # `pending`, and is rebuilt (`copy`) only when a parent that is rebuilt, or the caller,
    # takes it: the parent a constructor made from it is itself (rebuilding it would only find
    # it in the hash-consing table), and so is every ancestor made the same way.
    pending: dict = {}
    copies: dict = {}

    def copy(k):
        c = copies.get(id(k))
        if c is None:
            c = copies[id(k)] = rebuild(k, taken(pending[id(k)]))
        return c

    def taken(kids):
        """kids as a rebuilt parent takes them: the pending ones rebuilt."""
        if not pending:
            return kids
        return [copy(k) if id(k) in pending else k for k in kids]

    is_normal = B.is_normal
    share = leaves.setdefault
    leaf_types = _LEAF_TYPES

    def go(n):
        children = n.children
        if not children:
            return share(n, n) if share_leaves else n
        hit = memo.get(id(n))
        if hit is not None:
            return hit
        if only is not None and id(n) not in only:
            return n
        t = type(n)
        operands = children
        if t in _FLAT:
            for c in children:
                if type(c) is t:        # (without a nested one, the operands are the children)
                    operands, stack = [], list(reversed(children))
                    while stack:
                        c = stack.pop()
                        if _splices(t, c):
                            stack.extend(reversed(c.children))
                        else:
                            operands.append(c)
                    break
            if len(operands) < long:
                operands = children
            elif long:                  # a long chain: gathered into one node
                out = memo[id(n)] = rebuild(n, [go(c) for c in operands])
                return out
        # (a leaf is walked here: go would only look it up)
        kids = [share(c, c) if type(c) in leaf_types else go(c) for c in operands] \
            if share_leaves else [c if type(c) in leaf_types else go(c) for c in operands]
        out = None
        if len(kids) == len(children):
            for a, b in zip(kids, children):
                if a is not b:
                    break
            else:
                if long or is_normal(n):
                    out = n             # a constructor made it from these very children
                elif _rebuilds_as_itself(n):
                    pending[id(n)] = kids       # (see `pending`)
                    out = n
        if out is None:
            out = rebuild(n, kids if long else taken(kids))
        memo[id(n)] = out
        return out

    out = go(node)
    return copy(out) if id(out) in pending else out


def _rebuilt_already(node) -> bool:
    """Whether rebuild_all(node, share_leaves=True) is node itself, told by one walk without
    recursion that builds nothing: node is a constructor's own (B.is_normal), every operator
    node below is one or _rebuilds_as_itself (a parser's), none has an operand it would splice
    in, and no two of its leaves are equal but distinct objects. A node is asked once, in any
    order: one whose hash is not kept yet is no constructor's own (the hash-consing table
    keeps the hash of every node it holds), so the table is asked only with a hash at hand and
    hashing never recurses down a deep tree; a node with a source span is a parser's, never
    the table's."""
    if type(node) in _LEAF_TYPES or not node.children or not _in_table(node):
        return False
    leaves: dict = {}
    share = leaves.setdefault
    leaf_types = _LEAF_TYPES
    met: set = {id(node)}
    meet = met.add
    table = B.interned
    as_itself, splices = _rebuilds_as_itself, _splices
    stack = [node]
    push, pop = stack.append, stack.pop
    while stack:
        n = pop()
        t = type(n)
        for c in n.children:
            k = type(c)
            if k is t and splices(t, c):
                return False
            i = id(c)
            if i in met:                # (a leaf or a node met before: asked already)
                continue
            meet(i)
            if k in leaf_types or not c.children:
                if share(c, c) is not c:
                    return False
                continue
            if c.span is None:          # (_in_table, written out)
                try:
                    c._h
                except AttributeError:
                    normal = False
                else:
                    normal = table(c) is c
                if not normal and not as_itself(c):
                    return False
            elif not as_itself(c):
                return False
            push(c)
    return True


def _in_table(n) -> bool:
    """B.is_normal(n), asked only when n's hash is kept (see _rebuilt_already)."""
    try:
        n._h
    except AttributeError:
        return False
    return B.is_normal(n)


def shared_and_gathered(node, long: int):
    """share_equal(rebuild_all(node, long=long)) with fewer walks: the operands of each sum,
    product and ⊙ (as rebuild_all gathers them) are counted while equal subtrees are shared;
    rebuild_all runs only when some chain has `long` operands, and then walks only the nodes
    that hold one; the second sharing meets only the nodes it built (the whole tree again, as
    before, only when one of those equals a node met before). The sharing is E.Sharer's (the
    parser's tree is fresh), or share_equal's where Sharer cannot tell nodes apart."""
    operands: dict = {}
    holds: dict = {}                   # id → shared node, for the nodes that hold a long chain

    product = E.MatMul

    def visit(n):
        t = type(n)
        if t in _FLAT:
            kids = n.args
            k = len(kids)
            for c in kids:
                if type(c) is t and (t is not product or _splices(t, c)):
                    k += operands.get(id(c), 1) - 1
            operands[id(n)] = k
            if k >= long:
                holds[id(n)] = n
                return
            if holds:
                for c in kids:
                    if id(c) in holds:
                        holds[id(n)] = n
                        return
        elif holds:
            for c in n.children:
                if id(c) in holds:
                    holds[id(n)] = n
                    return

    sharer = E.Sharer()
    try:
        shared = sharer.share(node, visit, fresh=True)
    except E.Unshared:                 # (what it cannot tell apart: compared whole)
        operands.clear()
        holds.clear()
        sharer = None
        table: dict = {}
        shared = E.share_equal(node, visit, table, fresh=True)
    if not holds:
        return shared
    became: dict = {}
    gathered = rebuild_all(shared, long=long, only=holds, memo=became)
    if gathered is shared:             # (nothing rebuilt)
        return shared
    if sharer is not None:
        met = len(sharer.nodes)
        try:
            for i, n in holds.items():
                if became.get(i) is not n:
                    sharer.forget(n)
            again = sharer.share(gathered)
        except E.Unshared:
            again = None
        if again is not None:
            return gathered if again is gathered else E.share_equal(gathered)
        table = {n: n for n in sharer.nodes[:met]}
    for i, n in holds.items():         # what was rebuilt is no longer in the tree: a node
        if became.get(i) is not n:     # built now that equals it is not a repeat
            del table[n]
    again = E.share_equal(gathered, table=table, done={id(v): v for v in table.values()})
    if again is gathered:              # nothing it built equals anything else: shared as it is
        return gathered
    return E.share_equal(gathered)


def normalise(node, ctx: Context | None = None, kinds: set | None = None):
    """Apply RULES bottom-up to a fixed point (or until the rewrite budget is spent); nested
    sums and products are flattened first, so rules see each n-ary node once, not once per
    level of nesting. `kinds`, when given, receives the type of every node the result holds
    other than leaves, and None when it cannot tell them all."""
    ctx = ctx or Context()
    if not _rebuilt_already(node):      # (the derivative sweep's trees mostly are)
        node = rebuild_all(node, share_leaves=True)
    memo: dict = {}
    # Every operator node of the result is a result of go below (the rules' results are
    # walked by go too), or a node a constructor made while go rebuilt a parent (None: the
    # kinds are then not known).
    seen = (set() if kinds is None else kinds).add

    rules_for = RULES_FOR
    known = memo.get
    product, total = E.MatMul, E.Add
    one_operand = _ONE_OPERAND
    plain = frozenset(t for t in E.LEAVES if not rules_for.get(t))  # leaves no rule looks at

    def go(n):
        kids = n.children
        if not kids and not rules_for.get(type(n)):
            return n            # a leaf is itself, not an equal leaf from elsewhere in the tree
        hit = memo.get(n)
        if hit is not None:
            return hit
        # the tree was rebuilt through the constructors above: a node none of whose
        # children changed is already in constructor form and is not rebuilt again
        m = n
        if kids:
            new = [c if type(c) in plain else     # (a child met before: its answer read
                   done if (done := known(c)) is not None else go(c)  # here, without a call)
                   for c in kids]
            for a, b in zip(new, kids):
                if a is not b:
                    m = rebuild(n, new)
                    seen(None)
                    break
        changed = True
        while changed and ctx.budget > 0:
            changed = False
            t = type(m)
            for rule in (_rules_for_product(m) if t is product else
                         _rules_for_sum(m) if t is total else
                         _rules_for_operand(m) if t in one_operand else
                         rules_for.get(t, ())):
                r = rule(m, ctx)
                if r is not m and r != m:
                    record(ctx, rule.__name__, m, r)
                    m = go(r)
                    changed = True
                    break
        memo[n] = m
        if m is not n:          # a normal form is its own: a rewrite's unchanged parts are
            memo[m] = m         # not normalised again (that made deep results quadratic)
        seen(type(m))
        return m

    return go(node)


def record(ctx, name, before, after):
    if tuple(after.shape) != tuple(before.shape):   # a rewrite must keep the shape
        raise AssertionError(f"{name} changed shape {before.shape} → {after.shape}")
    ctx.budget -= 1
    ctx.log.append((name, before, after))


def clear_caches() -> None:
    """Empty every process-wide memo of the simplifier (the canonical keys, transpose counts and
    the element-wise algebra's answers), so that a benchmark measures a cold call."""
    for fn in (_sort_key, canonical, transposes, _names, _split_product):
        fn.cache_clear()
    _PRODUCT_RULES.clear()
    _SUM_RULES.clear()
    _OPERAND_RULES.clear()
    B.clear_intern()
    for compact in COMPACTIONS:
        memo = getattr(__import__(compact.__module__, fromlist=["_MEMO"]), "_MEMO", None)
        if isinstance(memo, dict):
            memo.clear()


# Whole-tree passes run after the rules, each node -> node: the element-wise algebra (algebra.py,
# which builds on this module's helpers, so it registers itself rather than being imported here;
# the package imports it). A pass with a `needs` attribute (node types) returns every tree that
# holds no node of those types unchanged, and is not run on one.
COMPACTIONS: list = []


def simplify(node, ctx: Context | None = None):
    """The printed form: RULES to a fixed point, then element-wise algebra in lowest terms (and
    the rules again if it changed anything), then transposes taken out where that saves two."""
    ctx = ctx or Context()
    kinds: set = set()
    m = normalise(node, ctx, kinds)
    for compact in COMPACTIONS:
        if ctx.budget <= 0:
            break
        needs = getattr(compact, "needs", None)
        if needs is not None and None not in kinds and kinds.isdisjoint(needs):
            continue            # m holds no node of the kinds it starts from
        reduced = compact(m, ctx)
        if reduced != m:
            kinds = set()
            m = normalise(reduced, ctx, kinds)
    return transposes_out(m, ctx)

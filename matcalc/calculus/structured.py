"""Gradients with respect to structured matrices: which convention, in closed form, and why.

By default every entry of a matrix variable is independent (docs/api.md), also when it is
declared symmetric: the result is the unconstrained gradient G. This module turns G, or the
vec-form Hessian H = d vec(G)/d vec(X)ᵀ, into one of the structured answers (docs/structured.md):

- "structured": the gradient on the space of structured matrices under the Frobenius inner
  product — the orthogonal projection of G onto it (sym(G), G ∘ I, skew(G)), or on the
  orthogonal group / Stiefel manifold the Riemannian gradient G − X sym(XᵀG);
- "entries": the derivative with respect to the independent entries (the lower triangle of a
  symmetric X: G + Gᵀ − G ∘ I, whose lower triangle is vech = D_nᵀ vec G).

Everything is written with operators the language already has ((G + Gᵀ)/2, G ⊙ I, K(n,n),
diag(vec(I))), so what is printed reads back. The numeric checks along structured directions
live in numeric/structured.py; the Result states the convention (result.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction

from ..core import build as B
from ..core import expr as E
from ..core.errors import MatcalcError, UnsupportedError

#: the conventions derive(..., structure=...) accepts; the first is the default
CONVENTIONS = ("unconstrained", "structured", "entries")

#: declaration → the structure it imposes (diagonal first: a diagonal matrix is also symmetric)
_STRUCTURE_OF = (("diagonal", "diagonal"), ("spd", "symmetric"), ("symmetric", "symmetric"),
                 ("skew", "skew"), ("orthogonal", "orthogonal"), ("lower", "lower"),
                 ("upper", "upper"))
_ONE_HALF = Fraction(1, 2)
_PROBE_ENTRIES = 250_000       # the largest array the symmetry test of G evaluates


@dataclass(frozen=True)
class Convention:
    """Which answer a Result gives: `name` (one of CONVENTIONS), the variable's `structure`
    (symmetric, diagonal, skew, orthogonal, or None) and the sentence that explains it."""
    name: str = "unconstrained"
    structure: str | None = None
    sentence: str = ""
    unconstrained: object = field(default=None, compare=False, repr=False)  # G (or H) itself

    @property
    def label(self) -> str:
        """A short name of the operation, for the steps: `structured gradient sym(G)`."""
        return LABELS.get((self.name, self.structure), self.name)

    def __str__(self) -> str:
        return self.name


def structure_of(modifiers) -> str | None:
    """The structure a set of declared modifiers imposes on a variable (None: a general matrix)."""
    for word, structure in _STRUCTURE_OF:
        if word in modifiers:
            return structure
    return None


# The sentences a Result carries --------------------------------------------------------------

_SENTENCES = {
    ("unconstrained", None): "unconstrained gradient G: every entry of {x} counts as "
    "independent (the Matrix Cookbook and autodiff convention), so ⟨G, E⟩ is the directional "
    "derivative along every direction E, structured or not",
    ("structured", "symmetric"): "structured gradient sym(G) = (G + Gᵀ)/2: the gradient on the "
    "space of symmetric matrices under the Frobenius inner product; it is symmetric and ⟨sym(G), "
    "E⟩ is the directional derivative along every symmetric E",
    ("entries", "symmetric"): "derivative with respect to the independent entries of {x} (its "
    "lower triangle): G + Gᵀ − G ∘ I, whose entry (i, j) with i ≥ j is ∂f/∂x_ij when x_ij = x_ji "
    "move together; off the diagonal it is twice the structured gradient, and its lower "
    "triangle read column by column is the vech form D_nᵀ vec(G)",
    ("structured", "diagonal"): "structured gradient G ∘ I: the gradient on the space of "
    "diagonal matrices (the derivative with respect to the diagonal entries, so the entries "
    "convention gives the same)",
    ("entries", "diagonal"): "derivative with respect to the diagonal entries of {x}: G ∘ I "
    "(the same as the structured gradient)",
    ("structured", "skew"): "structured gradient skew(G) = (G − Gᵀ)/2: the gradient on the "
    "space of skew-symmetric matrices under the Frobenius inner product; ⟨skew(G), E⟩ is the "
    "directional derivative along every skew-symmetric E",
    ("entries", "skew"): "derivative with respect to the independent entries of {x} (its "
    "strictly lower triangle, x_ji = −x_ij): G − Gᵀ, whose entry (i, j) with i > j is ∂f/∂x_ij; "
    "it is twice the structured gradient",
    ("structured", "lower"): "structured gradient tril(G): the gradient on the space of "
    "lower-triangular matrices, which is also the derivative with respect to their entries "
    "(the entries convention gives the same)",
    ("entries", "lower"): "derivative with respect to the entries of the lower triangle of {x}: "
    "tril(G) (the same as the structured gradient)",
    ("structured", "upper"): "structured gradient triu(G): the gradient on the space of "
    "upper-triangular matrices, which is also the derivative with respect to their entries "
    "(the entries convention gives the same)",
    ("entries", "upper"): "derivative with respect to the entries of the upper triangle of {x}: "
    "triu(G) (the same as the structured gradient)",
    ("structured", "orthogonal"): "Riemannian gradient G − {x} sym({x}ᵀG) on the orthogonal group / "
    "Stiefel manifold ({x}ᵀ{x} = I) with the Euclidean metric: it is tangent at {x} and ⟨result, "
    "ξ⟩ is the directional derivative along every tangent direction ξ = {x}Ω + {x}⊥B (Ω skew)",
}


#: what a second derivative in each convention means (added to the sentence for order=2)
HESSIAN_SENTENCES = {
    "structured": "; as a second derivative: the Hessian in vec form projected onto the "
    "structure, P H P, so vec(E)ᵀ(result)vec(F) = D²f(X)[E, F] for E, F in the structure",
    "entries": "; as a second derivative: P H P in vec form, whose rows and columns at the "
    "independent entries are ∂²f/∂x_ij∂x_kl (D_nᵀ H D_n for a symmetric variable)",
    "orthogonal": "; as a second derivative: the Riemannian Hessian P_X(∇²f[ξ] − ξ sym(XᵀG)) "
    "in vec form, P_X the projection onto the tangent space",
}


LABELS = {
    ("structured", "symmetric"): "structured gradient sym(G) = (G + Gᵀ)/2",
    ("entries", "symmetric"): "independent entries G + Gᵀ − G ∘ I",
    ("structured", "diagonal"): "structured gradient G ∘ I",
    ("entries", "diagonal"): "independent entries G ∘ I",
    ("structured", "skew"): "structured gradient skew(G) = (G − Gᵀ)/2",
    ("entries", "skew"): "independent entries G − Gᵀ",
    ("structured", "orthogonal"): "Riemannian gradient G − X sym(XᵀG)",
    ("structured", "lower"): "structured gradient tril(G)",
    ("entries", "lower"): "independent entries tril(G)",
    ("structured", "upper"): "structured gradient triu(G)",
    ("entries", "upper"): "independent entries triu(G)",
}


#: LABELS in Chinese (the steps rendered with lang="zh"), and each convention's own name
LABELS_ZH = {
    ("structured", "symmetric"): "结构化梯度 sym(G) = (G + Gᵀ)/2",
    ("entries", "symmetric"): "对独立元素求导 G + Gᵀ − G ∘ I",
    ("structured", "diagonal"): "结构化梯度 G ∘ I",
    ("entries", "diagonal"): "对独立元素求导 G ∘ I",
    ("structured", "skew"): "结构化梯度 skew(G) = (G − Gᵀ)/2",
    ("entries", "skew"): "对独立元素求导 G − Gᵀ",
    ("structured", "orthogonal"): "黎曼梯度 G − X sym(XᵀG)",
    ("structured", "lower"): "结构化梯度 tril(G)",
    ("entries", "lower"): "对独立元素求导 tril(G)",
    ("structured", "upper"): "结构化梯度 triu(G)",
    ("entries", "upper"): "对独立元素求导 triu(G)",
    "unconstrained": "无约束梯度", "structured": "结构化梯度", "entries": "对独立元素求导",
}


def label_in(label: str, lang: str) -> str:
    """A Convention.label said in `lang` ("en" or "zh")."""
    if lang != "zh":
        return label
    keys = {v: k for k, v in LABELS.items()}
    return LABELS_ZH.get(keys.get(label, label), label)


def sentence(name: str, structure: str | None, x: str) -> str:
    """The sentence a Result carries for this convention."""
    key = (name, structure) if name != "unconstrained" else ("unconstrained", None)
    text = _SENTENCES[key].format(x=x)
    if name == "unconstrained" and structure is not None:
        text += (f"; {x} is declared {structure}: structure='structured' or 'entries' give the "
                 "answers that use it")
    return text


# Projections in closed form ------------------------------------------------------------------

def same_as_transpose(G, decls, sign: int, points: int = 3) -> bool:
    """Whether Gᵀ = sign·G wherever the declarations hold: already so after simplification,
    or at `points` random points with a different size for every dimension name (G is a
    rational function of the entries: equal at random points means equal, and the result's
    check compares with finite differences anyway)."""
    import numpy as np
    from ..simplify.rewrite import Context, simplify as run_simplify
    from ..numeric.evaluate import draw_sizes, draw_value, evaluate_tree, names_in
    ctx = Context(symmetric=decls.symmetric_names)
    if run_simplify(B.transpose(G), ctx) == run_simplify(B.mul(B.num(sign), G), ctx):
        return True
    syms, dims = names_in(G), set()
    for n in list(syms.values()) + [G]:
        for d in n.shape:
            dims |= d.free_symbols
    rng, agreed = np.random.default_rng(0), 0
    for attempt in range(4 * points):
        sizes = {k: v + 1 for k, v in draw_sizes(dims, rng).items()}
        try:              # declared sizes may be large: this test is only worth small arrays
            if _largest(G, sizes) > _PROBE_ENTRIES:
                return False
            env = {k: draw_value(n, sizes, decls.modifiers(k), rng, attempt % 2 == 1)
                   for k, n in syms.items()}
            with np.errstate(all="ignore"):
                g = evaluate_tree(G, env, sizes)
        except MatcalcError:
            return False
        if not np.all(np.isfinite(g)):
            continue
        if not np.allclose(g.T, sign * g, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(g).max())):
            return False
        agreed += 1
        if agreed == points:
            return True
    return False


def _transpose_terms(G):
    """Gᵀ with the transpose taken into sums, (cA + B)ᵀ = cAᵀ + Bᵀ, so that the simplifier can
    collect like terms of G + Gᵀ (2(X − A) gives 2X − A − Aᵀ, not X + (X − A)ᵀ − A)."""
    if type(G) is E.Add:
        return B.add(*[_transpose_terms(t) for t in G.args])
    if type(G) is E.MatMul and len(G.args) == 2 and type(G.args[0]) is E.Num:
        return B.mul(G.args[0], _transpose_terms(G.args[1]))
    return B.transpose(G)


def _largest(node, sizes) -> int:
    """The most entries any subexpression of node has at these sizes."""
    out, stack, seen = 0, [node], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        r, c = (d.subs(sizes) if d.free_symbols else d for d in n.shape)
        out = max(out, int(r * c) if (r * c).is_Integer else 0)
        stack.extend(n.children)
    return out


def _diagonal_part(G, I):
    """G ∘ I, or G itself when G is a scalar multiple of I (2I − I ∘ I is I)."""
    factors = G.args if type(G) is E.MatMul else (G,)
    if type(factors[-1]) is E.Identity and all(f.shape == (1, 1) for f in factors[:-1]):
        return G
    return B.hadamard(G, I)


def gradient_form(G, X, structure: str, name: str, decls=None):
    """The structured gradient or the entries derivative built from the unconstrained G (X the
    variable, n×n, or n×p on the Stiefel manifold)."""
    n = X.shape[0]
    I = B.identity(n)
    if structure == "symmetric":
        if same_as_transpose(G, decls, 1):        # sym(G) = G: print G, not (G + Gᵀ)/2
            return G if name == "structured" else B.sub(B.mul(B.num(2), G), _diagonal_part(G, I))
        GT = _transpose_terms(G)
        if name == "structured":
            return B.mul(B.num(_ONE_HALF), B.add(G, GT))
        return B.add(G, GT, B.neg(_diagonal_part(G, I)))
    if structure == "diagonal":
        return _diagonal_part(G, I)
    if structure == "skew":
        if same_as_transpose(G, decls, -1):       # skew(G) = G
            return G if name == "structured" else B.mul(B.num(2), G)
        diff = B.sub(G, _transpose_terms(G))
        return B.mul(B.num(_ONE_HALF), diff) if name == "structured" else diff
    if structure == "orthogonal":
        if name == "entries":
            raise UnsupportedError(
                f"the entries of an orthogonal {X.name} are not independent coordinates "
                "(XᵀX = I ties them together), so there is no derivative with respect to them",
                hint="structure='structured' gives the Riemannian gradient G − X sym(XᵀG)")
        XtG = B.mul(B.transpose(X), G)
        sym = B.mul(B.num(_ONE_HALF), B.add(XtG, B.transpose(XtG)))
        return B.sub(G, B.mul(X, sym))
    if structure in ("lower", "upper"):     # the triangle's entries are the coordinates
        return B.triangle(E.Tril if structure == "lower" else E.Triu, G)
    raise AssertionError(f"unknown structure {structure}")


def riemannian_hessian(H, G, X):
    """The Riemannian Hessian on the Stiefel manifold (Euclidean metric) in vec form:
    Hess f(X)[ξ] = P_X(∇²f(X)[ξ] − ξ sym(XᵀG)) (Absil, Mahony & Sepulchre §5.5), with the
    tangent projection P_X(Z) = Z − X sym(XᵀZ), whose vec form is
    I − ((I ⊗ XXᵀ) + (Xᵀ ⊗ X)K(n,p))/2; the result is P(H − S ⊗ I)P, S = sym(XᵀG)."""
    n, p = X.shape
    XXt = B.mul(X, B.transpose(X))
    if p == 1:                   # the unit sphere: xᵀ ⊗ x = xxᵀ, so P = I − xxᵀ
        P = B.sub(B.identity(n), XXt)
    else:
        P = B.sub(B.identity(n * p), B.mul(B.num(_ONE_HALF), B.add(
            B.kron(B.identity(p), XXt), B.mul(B.kron(B.transpose(X), X), B.commutation(n, p)))))
    XtG = B.mul(B.transpose(X), G)
    S = B.mul(B.num(_ONE_HALF), B.add(XtG, B.transpose(XtG)))
    return B.mul(P, B.sub(H, B.kron(S, B.identity(n))), P)


def hessian_form(H, X, structure: str, name: str, G=None):
    """P H P for the vec-form Hessian H (n²×n²), P the projection of the convention written
    with the commutation matrix: ½(I + K) (symmetric), diag(vec I) (diagonal), ½(I − K)
    (skew); for the entries convention I + K − diag(vec I) and I − K, whose rows and columns
    at the independent entries give ∂²f/∂x_ij∂x_kl (D_nᵀ H D_n for a symmetric X)."""
    n = X.shape[0]
    I, K = B.identity(n * n), B.commutation(n, n)
    mask = B.diag_mat(B.vec(B.identity(n)))
    if structure == "symmetric":
        P = (B.mul(B.num(_ONE_HALF), B.add(I, K)) if name == "structured"
             else B.add(I, K, B.neg(mask)))
    elif structure == "diagonal":
        P = mask
    elif structure in ("lower", "upper"):
        tri = E.Tril if structure == "lower" else E.Triu
        P = B.diag_mat(B.vec(B.triangle(tri, B.ones((n, n)))))
    elif structure == "skew":
        P = B.mul(B.num(_ONE_HALF), B.sub(I, K)) if name == "structured" else B.sub(I, K)
    elif structure == "orthogonal":
        if name == "entries":
            gradient_form(H, X, structure, name)    # raises: no independent entries
        return riemannian_hessian(H, G, X)
    else:
        raise AssertionError(f"unknown structure {structure}")
    sign = 1
    if structure in ("symmetric", "diagonal", "skew"):      # not a triangle: ΔK ≠ Δ there
        H, sign = _absorb_commutations(H, K, -1 if structure == "skew" else 1)
    if name == "structured" or structure in ("diagonal", "lower", "upper"):   # P² = P
        P2 = P
    elif structure == "symmetric":      # (I + K − Δ)² = 2I + 2K − 3Δ (K² = I, KΔ = ΔK = Δ)
        P2 = B.add(B.mul(B.num(2), I), B.mul(B.num(2), K), B.mul(B.num(-3), mask))
    else:                               # (I − K)² = 2(I − K)
        P2 = B.mul(B.num(2), P)
    if type(H) is E.Identity:
        return B.mul(B.num(sign), P2)
    if type(H) is E.MatMul and [type(a) for a in H.args] == [E.Num, E.Identity]:
        return B.mul(B.num(sign), H.args[0], P2)
    return B.mul(B.num(sign), P, H, P)


def _absorb_commutations(H, K, sign: int):
    """(H′, s) with P H P = s·P H′ P: a leading or trailing K(n,n) factor of H is absorbed by
    the projection, PK = P (symmetric, diagonal, their entries forms) or PK = −P (skew)."""
    if type(H) is not E.MatMul:
        return H, 1
    args, s = list(H.args), 1
    coef = [args.pop(0)] if type(args[0]) is E.Num else []
    while args and args[0] == K:
        args.pop(0)
        s *= sign
    while args and args[-1] == K:
        args.pop()
        s *= sign
    return B.mul(*coef, *(args or [B.identity(K.shape[0])])), s


def _contains(node, x) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n == x:
            return True
        stack.extend(n.children)
    return False


def skew_transposes(node, x):
    """node with Xᵀ = −X used for the skew-symmetric variable x: every transpose of a
    subexpression that contains x is taken into its factors ((AB)ᵀ = BᵀAᵀ, (A⁻¹)ᵀ = (Aᵀ)⁻¹,
    (Aᵏ)ᵀ = (Aᵀ)ᵏ) until it reaches x, where it becomes −x. Valid wherever x is skew, which is
    everywhere a structured answer for it means anything."""
    from ..simplify.rewrite import rebuild

    def transposed(n):                       # nᵀ, with the transpose taken inside
        if n == x:
            return B.neg(x)
        if not _contains(n, x):
            return B.transpose(n)
        t = type(n)
        if t is E.Transpose:
            return walk(n.arg)
        if t is E.Add:
            return B.add(*[transposed(a) for a in n.args])
        if t is E.MatMul:
            return B.mul(*[transposed(a) for a in reversed(n.args)])
        if t is E.Hadamard:
            return B.hadamard(*[transposed(a) for a in n.args])
        if t is E.Inverse:                   # ((cA)ᵀ)⁻¹ = c⁻¹(Aᵀ)⁻¹
            c, a = _coefficient(transposed(n.arg))
            return B.mul(B.num(1 / c), B.inverse(a))
        if t is E.Power and n.exponent.denominator == 1:
            c, a = _coefficient(transposed(n.arg))
            return B.mul(B.num(c ** n.exponent), B.power(a, n.exponent))
        return B.transpose(walk(n))

    def walk(n):
        if type(n) is E.Transpose:
            return transposed(n.arg)
        if not n.children or not _contains(n, x):
            return n
        return rebuild(n, [walk(c) for c in n.children])

    return walk(node)


def orthogonal_products(node, x):
    """node with XᵀX = I used for the variable x with orthonormal columns (and XXᵀ = I when x
    is square): adjacent factors Xᵀ, X of a product cancel. Valid on the manifold, where a
    Riemannian gradient or Hessian is evaluated."""
    from ..simplify.rewrite import rebuild
    xt = B.transpose(x)
    pairs = [(xt, x)] + ([(x, xt)] if x.shape[0] == x.shape[1] else [])

    def walk(n):
        if not n.children or not _contains(n, x):
            return n
        kids = [walk(c) for c in n.children]
        if type(n) is not E.MatMul:
            return rebuild(n, kids)
        out = []
        for k in kids:
            if out and (out[-1], k) in pairs:
                out.pop()
                continue
            out.append(k)
        if not any(not (f.shape == (1, 1)) for f in out):
            out.append(B.identity(n.shape[0]))
        return B.mul(*out)

    return walk(node)


def _coefficient(node):
    """(c, A) with node = cA for a leading number c (1 when there is none)."""
    if type(node) is E.MatMul and type(node.args[0]) is E.Num:
        return node.args[0].value, B.mul(*node.args[1:])
    return Fraction(1), node


def _where(found, name: str | None = None):
    """The span of `name` in the expression (its first occurrence), else of the whole text."""
    from ..core.errors import Span
    stack, spans = [found.function], []
    while name is not None and stack:
        n = stack.pop()
        if type(n) is E.Sym and n.name == name and getattr(n, "span", None) is not None:
            spans.append(n.span)
        stack.extend(n.children)
    return min(spans, key=lambda s: s.start) if spans else Span(0, len(found.input))


def apply_convention(found, structure: str | None, simplify: bool = True):
    """(the Derivation, its Convention) for derive(..., structure=...): see _apply; a refusal
    carries a caret under the expression (or under the variable it is about)."""
    try:
        return _apply(found, structure, simplify)
    except MatcalcError as err:
        if err.span is None:
            err.span = _where(found, getattr(err, "about", None))
        raise err.with_text(found.input) from None


def _refusal(cls, message, about=None, **kw):
    err = cls(message, **kw)
    err.about = about
    return err


def _apply(found, structure: str | None, simplify: bool = True):
    """(the Derivation, its Convention) for derive(..., structure=...): the unconstrained result
    unchanged, or its structured / entries form in closed form, simplified with the
    declarations (Aᵀ = A holds at every point where the structured answer means anything)."""
    x = found.variable
    declared = structure_of(found.decls.modifiers(x.name))
    name = CONVENTIONS[0] if structure is None else str(structure).strip().lower()
    if name not in CONVENTIONS:
        raise MatcalcError(f"structure must be one of {', '.join(map(repr, CONVENTIONS))}, "
                           f"not {structure!r}")
    if name == "unconstrained":
        text = sentence(name, declared, x.name) if structure is not None else ""
        return found, Convention(name, declared, text)
    if "," in found.wrt:
        raise UnsupportedError("structured conventions apply to first and second derivatives "
                               "with respect to one variable, not to mixed derivatives")
    unit_vector = declared == "orthogonal" and x.shape[1] == 1 and x.shape[0] != 1
    if 1 in (x.shape[0], x.shape[1]) and not unit_vector:     # a unit vector: the sphere
        raise _refusal(MatcalcError, f"structured conventions apply to matrix variables; "
                       f"{x.name} is a vector or a scalar, whose entries are all independent",
                       x.name)
    if declared is None:
        raise _refusal(MatcalcError, f"the {name} convention needs {x.name} declared with its "
                       "structure in the shapes (symmetric, spd, diagonal, skew, orthogonal, "
                       f"lower or upper), e.g. shapes=\"{x.name}: n×n symmetric\"", x.name)
    rows, cols = x.shape
    if declared == "orthogonal" and rows.is_Integer and cols.is_Integer and int(rows) < int(cols):
        raise _refusal(UnsupportedError, f"{x.name} is {rows}×{cols}: an orthogonal matrix "
                       "with more columns than rows has orthonormal rows, and structured "
                       "conventions are given for orthonormal columns (n×p with n ≥ p, "
                       "XᵀX = I)", x.name,
                       hint=f"write the function of the {cols}×{rows} transpose instead")
    if not all(d == 1 for d in found.function.shape):
        raise UnsupportedError(f"structured conventions apply to scalar functions of the "
                               f"matrix {x.name}; this derivative is a {found.kind}")
    if found.order == 1:
        node = gradient_form(found.node, x, declared, name, found.decls)
    elif found.order == 2 and (found.kind == "tensor" or unit_vector):
        node = hessian_form(found.node, x, declared, name, found.checked_function)
    else:
        raise UnsupportedError("structured conventions give first and second derivatives")
    if simplify:
        from ..simplify.rewrite import Context, simplify as run_simplify
        ctx = Context(symmetric=found.decls.symmetric_names)
        node = run_simplify(node, ctx)
        if declared == "skew":          # Xᵀ = −X: X + Aᵀ − A − Xᵀ is 2X + Aᵀ − A
            node = run_simplify(skew_transposes(node, x), ctx)
        if declared == "orthogonal":    # XᵀX = I on the manifold, where the answer lives
            node = run_simplify(orthogonal_products(node, x), ctx)
    text = sentence(name, declared, x.name)
    if found.order == 2:
        text += HESSIAN_SENTENCES["orthogonal" if declared == "orthogonal" else name]
    return replace(found, node=node), Convention(name, declared, text, found.node)

"""The chain-rule driver: walks the tree, looks up rules, accumulates cotangents, picks layout.

Gradients of scalars come from one reverse sweep (cotangent 1 at the root). Jacobians of
vectors run the same sweep with one cotangent column per output (the seed is the identity);
derivatives of matrices with respect to a scalar differentiate ⟨V, f⟩ twice. Every rule
application is recorded as a Step. No calculus lives here: that is rules.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..core import build as B
from ..core import expr as E
from ..core.errors import MatcalcError, UnsupportedError
from ..core.limits import deep
from . import rules as _rules
from .rules import DERIVATIVE_RULES, refuse_large_result
from . import matfuncs  # noqa: F401  (registers the matrix functions' rules in those tables)
from ..core.shapes import Shapes, canonical_name, is_scalar
from ..language.parser import parse_with_shapes
from ..simplify.rewrite import Context, shared_and_gathered, simplify as run_simplify

SUPPORTED_KINDS = ("supported: first derivatives of anything with respect to a scalar, vector "
                   "or matrix (results with more than two indices come in vec form), and second "
                   "derivatives of a scalar")


class Step(NamedTuple):
    """One rule application: at `node`, cotangent `incoming` gave `outgoing` to `child`
    (a named tuple: a sweep over a long sum records thousands, and a frozen dataclass takes
    several times as long to make)."""
    rule: str
    node: E.Node
    incoming: E.Node
    child: E.Node
    outgoing: E.Node


@dataclass(frozen=True)
class Derivation:
    """What a derivation found, as data: the API (api.py) hands it out dressed as a Result,
    which adds the notations, steps and checks (the calculus does not know about those)."""
    input: str
    wrt: str
    node: E.Node
    function: E.Node
    variable: E.Sym
    kind: str
    layout: str
    order: int
    decls: Shapes
    raw_steps: tuple = field(default=(), repr=False)
    checked_function: E.Node | None = field(default=None, repr=False)
    direction: str | None = field(default=None, repr=False)   # jvp/hvp: checked along it


def _vec(g):
    """A local gradient as a column: rows are transposed, matrices need tensors."""
    if is_scalar(g.shape) or g.shape[1] == 1:
        return g
    if g.shape[0] == 1:
        return B.transpose(g)
    raise UnsupportedError("this Jacobian passes through a matrix-valued intermediate that "
                           "depends on the variable; that needs tensor derivatives, which matcalc "
                           "cannot give yet", hint="Jacobians are supported through vector and "
                           "scalar intermediates (diag(v)w and (vwᵀ)u are rewritten to those)")


def _dependents(root, x):
    """The nodes that depend on x in post-order, each node once, and for every object of the
    tree the node it stands for when it depends on x (id → node; None when it does not).
    Objects are told apart by identity, which costs no hash; an object equal to one met
    before (a tree whose equal subtrees are not all one object) stands for that first one, so
    equal subtrees are one node of the sweep, as in tables keyed by the nodes themselves."""
    dep: dict = {}
    first: dict = {}                     # node → the first object met equal to it
    order = []
    stack = [root]
    pop, push, append, meet = stack.pop, stack.append, order.append, first.setdefault
    tx, leaves = type(x), _LEAVES
    while stack:
        n = pop()
        if type(n) is tuple:             # the second visit (node, children): they are done
            n, kids = n
            if n is x or (type(n) is tx and n == x):
                dep[id(n)] = n
                append(n)
                continue
            for c in kids:
                if dep[id(c)] is not None:
                    dep[id(n)] = n
                    append(n)
                    break
            else:
                dep[id(n)] = None
            continue
        i = id(n)
        if i in dep:                     # (pushed by two parents: done at the first)
            continue
        m = meet(n, n)
        if m is not n:                   # equal to a node met before, which is done (the
            dep[i] = dep[id(m)]          # parts of a node in progress are smaller than it)
            continue
        kids = n.children
        if not kids:                     # a leaf: its answer at once (no second visit)
            if n is x or (type(n) is tx and n == x):
                dep[i] = n
                append(n)
            else:
                dep[i] = None
            continue
        dep[i] = None                    # (in progress: its parts cannot lead back to it)
        push((n, kids))
        for c in kids:
            if id(c) not in dep:
                if type(c) in leaves and c is not x and not (type(c) is tx and c == x):
                    dep[id(c)] = None    # a leaf other than x: no visit of its own (it adds
                else:                    # nothing to the order)
                    push(c)
    return order, dep


_LEAVES = frozenset(E.LEAVES)


def reverse(root, x, seed, steps: list | None = None):
    """Σ of cotangents reaching x when `seed` enters at root; a batched seed has one column per
    output of root (then only scalar and vector intermediates are allowed)."""
    order, dep = _dependents(root, x)
    if dep[id(root)] is None:
        return None
    is_batched = tuple(seed.shape) != tuple(root.shape)
    incoming: dict = {id(root): [seed]}          # id of a node → the cotangents reaching it
    tx, rules, record = type(x), DERIVATIVE_RULES, steps is not None
    for n in reversed(order):
        t = type(n)
        if t is E.MatMul and len(n.args) ** 2 > _rules.MAX_RESULT_NODES:
            # one term per dependent factor, each as long as n (at most len² in all)
            refuse_large_result(len(n.args) * sum(1 for c in n.args if dep[id(c)] is not None))
        parts = incoming.pop(id(n), ())
        G = parts[0] if len(parts) == 1 else _total(parts)
        if n is x or (t is tx and n == x):
            return G
        rule = rules.get(t)
        if rule is None:
            raise UnsupportedError(f"no derivative rule for {t.__name__}; rules exist for "
                                   + ", ".join(sorted(k.__name__ for k in rules)))
        i = -1
        for c in n.children:
            i += 1
            r = dep[id(c)]
            if r is None:
                continue
            try:
                out = rule(n, G, i) if not is_batched else _apply(rule, n, G, i, is_batched)
            except UnsupportedError as err:
                if err.span is None:                 # point at the operation that has no rule
                    err.span = getattr(n, "span", None)
                raise
            if not is_batched:                       # the rule's promise
                so, sc = out.shape, c.shape
                if so is not sc and tuple(so) != tuple(sc):
                    raise AssertionError(f"rule {rule.__name__} gave a {so} cotangent for a "
                                         f"{sc} operand")
            if record:
                steps.append(_step(Step, (rule.__name__, n, G, c, out)))
            into = incoming.get(id(r))
            if into is None:
                incoming[id(r)] = [out]
            else:
                into.append(out)
    raise AssertionError("x was not reached")  # unreachable: dep[root] implies a path to x


_step = tuple.__new__                  # (a Step without the Python frame of its __new__)


def _total(parts):
    """Σ parts with equal cotangents counted, not repeated: uᵀu sends u along both of its
    edges, and 2u is smaller (for every later rule and for the simplifier) than u + u."""
    if len(parts) == 2 and parts[0] is parts[1]:
        twice = B.mul(B.num(2), parts[0])
        t = type(twice)               # (a sum of one term that is not a sum, number or zero:
        if t is E.Add or t is E.Num or t is E.Zero:      # that term, as B.add gives it back)
            return B.add(twice)
        return twice
    counts: dict = {}
    for p in parts:
        counts[p] = counts.get(p, 0) + 1
    if len(counts) == len(parts):
        return B.add(*parts)
    return B.add(*(p if k == 1 else B.mul(B.num(k), p) for p, k in counts.items()))


def _apply(rule, n, G, i, is_batched):
    if not is_batched:
        return rule(n, G, i)
    child = n.children[i]
    if is_scalar(n.shape):
        return B.mul(_vec(rule(n, B.num(1), i)), G)
    if n.shape[1] == 1 or isinstance(n, E.Transpose):
        if not (is_scalar(child.shape) or child.shape[1] == 1 or isinstance(n, E.Transpose)):
            raise UnsupportedError(
                "this Jacobian passes through a matrix-valued intermediate that depends on the "
                "variable; that needs tensor derivatives, which matcalc cannot give yet")
        return rule(n, G, i)
    raise UnsupportedError("this Jacobian passes through a matrix-valued intermediate that "
                           "depends on the variable; that needs tensor derivatives, which matcalc "
                           "cannot give yet", hint="Jacobians are supported through vector and "
                           "scalar intermediates (diag(v)w and (vwᵀ)u are rewritten to those)")


def group_scalar_chains(node):
    """Re-associate products so every row·…·column run that gives a 1×1 is its own node
    (aᵀb c → (aᵀb)c): batched Jacobian sweeps then see only vectors and scalars."""
    kids = [group_scalar_chains(c) for c in node.children]
    if any(a is not b for a, b in zip(kids, node.children)):   # (unchanged: not copied)
        node = E.with_children(node, kids)
    if not isinstance(node, E.MatMul):
        return node
    node = B.mul(*node.args)
    if not isinstance(node, E.MatMul):
        return node
    out, i, fs = [], 0, list(node.args)
    while i < len(fs):
        f = fs[i]
        if f.shape[0] == 1 and not is_scalar(f.shape):
            run, rows = [f], f
            j = i + 1
            while j < len(fs):
                run.append(fs[j])
                j += 1
                if B.mul(*run).shape == (1, 1) or is_scalar(B.mul(*run).shape):
                    break
            grouped = B.mul(*run)
            if is_scalar(grouped.shape) and len(run) < len(fs):
                out.append(grouped)
                i = j
                continue
        out.append(f)
        i += 1
    return B.make(E.MatMul, tuple(out)) if len(out) != len(fs) else node


# The public entry point ---------------------------------------------------------------------------

LAYOUTS = ("numerator", "denominator")
LONG_CHAIN = 12          # operands from which a nested product or sum is flattened first


def shared_size(node) -> int:
    """Distinct nodes of the tree, each shared subtree counted once (what printing with named
    parts and the simplifier's memo tables pay for)."""
    seen = {id(node)}
    stack = [node]
    pop, push, add = stack.pop, stack.append, seen.add
    while stack:
        for c in pop().children:
            if id(c) not in seen:
                add(id(c))
                push(c)
    return len(seen)


def _refuse_if_huge(d):
    """Refuse a derivative too large even in its shared form; one whose written-out tree is
    large but whose shared form is small (nested softmax) prints with named parts instead."""
    refuse_large_result(shared_size(d))


def first_derivative(f, x, steps):
    """(derivative, kind) of f wrt the variable x in the default (numerator) layout."""
    if is_scalar(f.shape):
        try:
            g = reverse(f, x, B.num(1), steps)
        except UnsupportedError:
            if x.shape[1] != 1 and x.shape[0] != 1:
                raise
            J = _vec_jacobian(f, x)              # no reverse rule (e.g. column ⊗ row): forward
            g = J if x.shape[0] == 1 else B.transpose(J)
        g = g if g is not None else B.zero(x.shape)
        return g, ("derivative" if is_scalar(x.shape) else "gradient")
    x_vec = is_scalar(x.shape) or 1 in (x.shape[0], x.shape[1])
    if f.shape[0] == 1 or f.shape[1] == 1:
        if not x_vec:
            return _vec_jacobian(f, x), "tensor"
        col = _simplified(f if f.shape[1] == 1 else B.transpose(f))
        m = col.shape[0]
        try:
            cot = reverse(group_scalar_chains(col), x, B.identity(m), steps)
        except UnsupportedError:
            # a matrix-valued intermediate depends on x: forward vec-Jacobians handle those
            J = _vec_jacobian(f, x)
            if is_scalar(x.shape):               # d vec(f)/dt is a column: give f's shape
                return (J if f.shape[1] == 1 else B.transpose(J)), "derivative"
            return J, "jacobian"
        n = x.shape[0] * x.shape[1]
        J = B.transpose(cot) if cot is not None else B.zero((m, n))
        if is_scalar(x.shape):
            return (J if f.shape[1] == 1 else B.transpose(J)), "derivative"
        return J, "jacobian"
    if is_scalar(x.shape):
        V = E.Sym("∂V", f.shape)
        g = reverse(B.inner(V, f), x, B.num(1), steps)
        if g is None:
            return B.zero(f.shape), "derivative"
        d = reverse(g, V, B.num(1), None)
        d = d if d is not None else B.zero(f.shape)
        assert not find_variable(d, "∂V"), "⟨V, ∂f⟩ is linear in V: V cannot survive"
        return d, "derivative"
    return _vec_jacobian(f, x), "tensor"


def _vec_jacobian(f, x):
    """d vec(f)/d vec(x)ᵀ by the forward rules of vecrules.py (zero when f ignores x)."""
    from .vecrules import forward
    J = forward(f, x)
    if J is None:
        return B.zero((f.shape[0] * f.shape[1], x.shape[0] * x.shape[1]))
    return J


def _simplified(f):
    return run_simplify(f)


@deep
def derivation(expr: str, wrt, shapes=None, order: int = 1, layout: str = "numerator",
               simplify: bool = True) -> Derivation:
    """The closed-form derivative of `expr` with respect to the variable `wrt` (docs/api.md),
    as the Derivation that matcalc.derive() returns as a Result.
    wrt=("x", "y") gives the mixed second derivative ∂/∂y (∂f/∂x)."""
    if layout not in LAYOUTS:
        raise MatcalcError(f"layout must be 'numerator' or 'denominator', not {layout!r}")
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise MatcalcError(f"order must be a positive integer, not {order!r}")
    names = [wrt] if isinstance(wrt, str) else list(wrt) if isinstance(wrt, (tuple, list)) else []
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise MatcalcError("wrt must name a variable of the expression (or a tuple of names "
                           "for a mixed derivative)")
    if len(names) > 1 and order != 1:
        raise MatcalcError("give either order= or a tuple of variables, not both")
    f, decls = parse_with_shapes(expr, shapes)
    variables = []
    for w in names:
        name = canonical_name(w.strip())
        x = find_variable(f, name)
        if x is None:
            if name not in decls.decls:
                raise MatcalcError(f"`{w}` does not occur in the expression and has no declared "
                                   "shape, so there is nothing to differentiate with respect to")
            x = E.Sym(name, decls.decls[name].shape)
        variables.append(x)
    variables = variables * order if len(variables) == 1 else variables
    try:
        return _derive(expr, f, decls, variables, layout, simplify)
    except MatcalcError as err:
        if err.span is None or err.span not in _spans(f):
            # a node the simplifier's tables kept from an earlier call can carry that call's
            # span: the caret goes only where a part of this text is, else under all of it
            err.span = f.span
        raise err.with_text(expr) from None


def _spans(f) -> set:
    """The spans of the parts of the parsed formula f."""
    out, seen, stack = set(), set(), [f]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        span = getattr(n, "span", None)
        if span is not None:
            out.add(span)
        stack.extend(n.children)
    return out


def _derive(expr, f, decls, variables, layout, simplify):
    sym_names = decls.symmetric_names
    ctx = Context(symmetric=sym_names)
    steps: list = []
    # a long product or sum (the parser nests them pairwise) is differentiated as one n-ary
    # node: one term per factor instead of one Kronecker product per level of nesting
    current, kind, previous = shared_and_gathered(f, LONG_CHAIN), None, f
    order = len(variables)
    for k, x in enumerate(variables):
        if kind == "tensor":
            raise UnsupportedError(f"derivatives of order {order} here would have more than "
                                   "four indices, which matcalc cannot give", hint=SUPPORTED_KINDS)
        previous = current
        d, kind = first_derivative(current, x, steps if k == order - 1 else None)
        _refuse_if_huge(d)
        # A declaration (Aᵀ = A for a symmetric A) may shorten what is printed, never what is
        # differentiated next: every entry stays independent (docs/api.md), so the derivative
        # of P⁻ᵀ is not the derivative of P⁻¹. Intermediate derivatives are simplified
        # without the declarations; only the final one uses them.
        last = k == order - 1
        current = run_simplify(d, ctx if last else Context()) if simplify else d
    x = variables[-1]
    if order >= 2 and is_scalar(f.shape) and kind == "jacobian":
        kind = "hessian" if len(set(variables)) == 1 else "mixed"
    if layout == "denominator" and (kind in ("jacobian", "hessian", "mixed") or
                                    (kind == "derivative" and current.shape[1] == 1
                                     and not is_scalar(current.shape))):
        current = run_simplify(B.transpose(current), ctx) if simplify else B.transpose(current)
    label = ",".join(v.name for v in variables) if len(set(variables)) > 1 else x.name
    return Derivation(expr, label, current, f, x, kind, layout, order, decls, tuple(steps),
                      previous if order > 1 else None)


def find_variable(node, name):
    """The variable called `name` in the tree (None if it does not occur)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if type(n) is E.Sym and n.name == name:
            return n
        stack.extend(n.children)
    return None

"""Result: what derive() returns — the derivative in every notation, its steps, and its checks.

It sits at the top of the package: it calls down into the printers, the explanations, the cost
model and the numeric checks, and nothing below imports it (the calculus returns a Derivation).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from .core import expr as E
from .calculus.derive import Derivation, Step
from .calculus.structured import Convention
from .core.errors import MatcalcError
from .core.limits import deep
from .printing.named import printed
from .printing.latex import to_latex
from .printing.text import to_text
from .printing.unicode import to_unicode
from .core.shapes import LATIN_OF_GREEK, fmt_shape, is_scalar


def _value_key(name: str, values: dict):
    if name in values:
        return name
    head = name.split("_")[0].rstrip("0123456789")
    if head in LATIN_OF_GREEK:
        spelled = LATIN_OF_GREEK[head] + name[len(head):]
        if spelled in values:
            return spelled
    return None


def _residuals(node, repeated: set) -> list:
    """Sums that hold a product with a matrix (not just vectors) and stand as a factor of a
    larger product — the residual r = Xθ − y of 2Xᵀ(Xθ − y), the one-use subexpression a
    textbook names. Sums built from parts named anyway are left to those names."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if type(n) is E.MatMul and sum(not f.is_scalar for f in n.args) > 1:
            out += [f for f in n.args if type(f) is E.Add and _holds_matrix_product(f)
                    and not _uses(f, repeated)]
        stack.extend(n.children)
    return out


def _post_order(node) -> list:
    """Every distinct subtree of node, children before parents (the order names are defined)."""
    out, done, stack = [], set(), [(node, False)]
    while stack:
        n, ready = stack.pop()
        if ready:
            out.append(n)
            continue
        if n in done:
            continue
        done.add(n)
        stack.append((n, True))
        stack.extend((c, False) for c in reversed(n.children))
    return out


def _holds_matrix_product(node) -> bool:
    if type(node) is E.MatMul:
        chain = [f for f in node.args if not f.is_scalar]
        if len(chain) > 1 and any(1 not in (f.shape[0], f.shape[1]) for f in chain):
            return True
    return any(_holds_matrix_product(c) for c in node.children)


def _uses(node, repeated: set) -> bool:
    return node in repeated or any(_uses(c, repeated) for c in node.children)


def public_shape(shape) -> tuple:
    """A shape as users see it: () for a scalar, ints and size names otherwise."""
    if is_scalar(shape):
        return ()
    return tuple(int(d) if d.is_Integer else str(d) for d in shape)


@dataclass(frozen=True)
class StepView:
    """One step of the derivation, printable: at `expression`, the incoming ∂f/∂(expression)
    gives ∂f/∂(child)."""
    rule: str
    expression: str
    shape: str
    incoming: str
    child: str
    child_shape: str
    outgoing: str

    def __str__(self):
        return (f"[{self.rule}] at {self.expression} ({self.shape}): "
                f"∂f/∂({self.child}) ({self.child_shape}) += {self.outgoing}")

    def __repr__(self):
        return f"<rule step {self}>"


class StepList(list):
    """Rule applications, printed as a numbered list (in Jupyter, an HTML ordered list)."""

    def __str__(self):
        return "\n".join(f"{i}. {s}" for i, s in enumerate(self, 1))

    __repr__ = __str__

    def _repr_html_(self):
        import html
        items = "".join(f"<li><code>{html.escape(str(s))}</code></li>" for s in self)
        return f"<ol>{items}</ol>"


@dataclass(frozen=True)
class Result(Derivation):
    """A derivative: .text, .latex, str(), .shape, .kind, .evaluate(), .check(), .steps, .sympy
    (the fields are the Derivation's: input, wrt, node, function, variable, kind, layout, …)."""

    # which answer for a structured variable (docs/structured.md): the default counts every
    # entry as independent; derive(..., structure=...) sets it
    convention_info: Convention = field(default=Convention(), repr=False)

    @classmethod
    def of(cls, found: Derivation, **extra) -> "Result":
        """The Result of what the calculus found (extra: fields only a Result has)."""
        return cls(**{f.name: getattr(found, f.name) for f in fields(found)}, **extra)

    @property
    def convention(self) -> str:
        """"unconstrained" (every entry independent, the default), "structured" (the gradient
        on the structured space) or "entries" (with respect to the independent entries)."""
        return self.convention_info.name

    def vech(self, values: dict) -> "np.ndarray":
        """An entries result of a symmetric variable at `values`, in vech form: the vector
        D_nᵀ vec(G) of length n(n+1)/2 (the lower triangle, column by column), or the matrix
        D_nᵀ H D_n for a Hessian (D_n: the duplication matrix, vec(S) = D_n vech(S))."""
        if (self.convention, self.convention_info.structure) != ("entries", "symmetric"):
            raise MatcalcError("vech applies to derive(..., structure='entries') with respect "
                               "to a symmetric variable")
        from .numeric.structured import vech_form
        value = self.evaluate(values)
        if self.order == 2:
            n = value.shape[0]
            value = value.reshape((n * n, n * n), order="F")
        return vech_form(value, self.order)

    @property
    def convention_note(self) -> str:
        """The sentence saying which convention the result follows and what it means."""
        from .calculus.structured import sentence
        info = self.convention_info
        return info.sentence or sentence(info.name, info.structure, self.variable.name)

    @property
    def assumptions(self) -> list[str]:
        """The conditions under which this result holds, as sentences (simple eigenvalues,
        full rank, an invertible matrix, no eigenvalue on the closed negative axis for logm…);
        empty when it holds wherever the function is defined. evaluate() raises DomainError
        at values where one fails."""
        from .calculus.matfuncs import assumptions
        return assumptions(self.function, self.node)

    @property
    def notes(self) -> list:
        """What was assumed in reading the formula (names taken as scalars or split into
        letters, broadcasts) and why the result is not a gradient, if it is not."""
        from .language.parser import result_notes
        notes = result_notes(self)
        return notes + [self.convention_info.sentence] if self.convention_info.sentence else notes

    # notations ----------------------------------------------------------------------------
    @property
    @deep
    def text(self) -> str:
        return printed(self.node, "text")

    @property
    @deep
    def latex(self) -> str:
        return printed(self.node, "latex")

    @deep
    def __str__(self) -> str:
        return printed(self.node, "unicode")

    def __repr__(self) -> str:
        """`<gradient n×1: 2Xᵀ(Xθ − y)>`: the kind, the shape and the Unicode form."""
        return f"<{self.kind} {self._shape_text()}: {self}>"

    def _shape_text(self) -> str:
        if self.kind == "tensor":
            return "×".join(str(d) for d in self.shape)
        return fmt_shape(self.node.shape)

    @deep
    def code(self, backend: str = "numpy", sizes: dict | None = None,
             name: str | None = None, value: bool = True) -> str:
        """Source of a function returning (value, derivative) in NumPy, JAX or PyTorch; with
        `sizes` ({"m": 1000, "n": 10}) every matrix chain is evaluated in its cheapest order."""
        from .printing.code import generate
        return generate(self, backend, sizes, name, value)

    @deep
    def to_function(self, backend: str = "numpy", value: bool = True, args=None,
                    sizes: dict | None = None):
        """A Python function computing (value, derivative) — only the derivative with
        value=False — in NumPy, JAX or PyTorch. Its parameters are named like the variables
        (θ, or theta), in the order `args` gives ("X, y, θ" or a list; the order of
        appearance otherwise). Outputs are shaped like the inputs (a 1-D θ gives a 1-D
        gradient, a column a column; a scalar value is 0-d) and have the inputs' dtype."""
        from .printing.function import make_function
        return make_function(self, backend, value, args, sizes)

    @deep
    def cse(self, style: str = "unicode") -> str:
        """The result with subexpressions named once: `2Xᵀr   where r = Xθ − y`. What is
        costly (inverses, determinants, softmax) and a residual are always named; a piece that
        repeats is named when that shortens the print by a clear margin (at least 6 characters
        and a tenth), so xᵀx twice stays as it is and a square root six times gets a name.
        style: "unicode" (default), "latex" or "text"; names are letters not used in the
        expression, the same in every style."""
        from .simplify.cse import counts, shared, TRIVIAL, too_big
        from .printing.named import STYLES
        printer = {"unicode": to_unicode, "latex": to_latex, "text": to_text}.get(style)
        if printer is None:
            raise ValueError(f"unknown style {style!r}: use 'unicode', 'latex' or 'text'")
        node = self.node
        if too_big(node):
            return printed(node, style, printer)
        uses = counts([node])
        costly = [n for n in uses if isinstance(n, (E.Inverse, E.Det, E.LogDet, E.Softmax))
                  and not isinstance(n.arg, TRIVIAL) and not n.arg.is_scalar]
        repeated = shared([node])
        costly += _residuals(node, set(repeated) | set(costly))
        from .core.expr import names_in
        taken = set(names_in(self.function)) | set(names_in(node))
        letters = [c for c in "rstuvpqkgh" if c not in taken]
        rank = {n: i for i, n in enumerate(_post_order(node))}

        def render(chosen, pr, style="unicode"):      # chosen by the Unicode length
            where, sep, eq = STYLES[style]
            mapping, lines = {}, []
            for sub, name in zip(sorted(chosen, key=rank.get), letters):
                lines.append(f"{pr(E.Sym(name, sub.shape))}{eq}"
                             f"{pr(E.substitute(sub, mapping))}")
                mapping[sub] = E.Sym(name, sub.shape)
            body = pr(E.substitute(node, mapping))
            return body + where + sep.join(lines) if lines else body

        chosen = list(dict.fromkeys(costly))
        length = len(render(chosen, to_unicode))
        gain = {n: (uses[n] - 1) * len(to_unicode(n)) for n in repeated if n not in chosen}
        for sub in sorted(gain, key=lambda n: (-gain[n], rank[n])):
            if len(chosen) >= len(letters):
                break
            trial = len(render(chosen + [sub], to_unicode))
            if length - trial >= max(6, length / 10):
                chosen.append(sub)
                length = trial
        return render(chosen, printer, style)

    @deep
    def to_latex(self, bold: bool = False) -> str:
        """LaTeX of the result; bold=True sets vectors and matrices in bold."""
        return printed(self.node, "latex", lambda n: to_latex(n, bold=bold))

    def cost(self, sizes: dict) -> dict:
        """Multiplications to evaluate the result as printed and in the best chain order, and
        forward vs reverse accumulation for a chain of Jacobians (sizes: {"m": 1000, …})."""
        from .explain.cost import cost
        return cost(self, {str(k): int(v) for k, v in sizes.items()})

    def _repr_html_(self) -> str:
        """The kind and shape, the result typeset by MathJax (JupyterLab and the classic
        Notebook ship it), and the plain-text form to copy."""
        import html
        return (f"<div class='matcalc-result'>$$ {html.escape(self.latex)} $$"
                f"<div style='color:#666;font-size:90%'>{html.escape(self.kind)}, "
                f"{html.escape(self._shape_text())} &middot; "
                f"<code>{html.escape(self.text)}</code></div></div>")

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex}$"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/plain": repr(self), "text/latex": self._repr_latex_(),
                "text/html": self._repr_html_()}

    @property
    def source(self) -> E.Node:
        """The function this result is the derivative of (the gradient, for a Hessian)."""
        return self.checked_function if self.checked_function is not None else self.function

    @property
    def shape(self) -> tuple:
        """The result's shape; for kind "tensor", the sizes of the indices of ∂F_ij/∂X_kl:
        F's indices first, then X's (a vector contributes one index, a matrix two)."""
        if self.kind != "tensor":
            return public_shape(self.node.shape)
        f, x = self.source.shape, self.variable.shape
        from .numeric.evaluate import tensor_axes
        dims = [f[i] for i in tensor_axes(f)] + [x[i] for i in tensor_axes(x)]
        return tuple(int(d) if d.is_Integer else str(d) for d in dims)

    @property
    def vec(self) -> "Result":
        """The equivalent vec-form matrix d vec(F)/d vec(X)ᵀ (for a tensor this is how the
        result is printed; for a gradient G it is vec(G)ᵀ)."""
        from dataclasses import replace
        from .core import build as B
        if self.kind == "tensor":
            return replace(self, kind="vec")
        if self.kind == "gradient":
            return replace(self, node=B.transpose(B.vec(self.node)), kind="vec")
        return replace(self, node=B.vec(self.node), kind="vec")

    @property
    @deep
    def sympy(self):
        from .printing.sympy import to_sympy
        return to_sympy(self.node)

    @deep
    def explain(self, lang: str = "en", style: str = "unicode", function: str = "f"):
        """The derivation as a list of steps; .render(lang, style) gives it as text."""
        from .explain.steps import explain
        from .simplify.rewrite import Context
        ctx = Context(symmetric=self.decls.symmetric_names)
        f = self.checked_function if self.checked_function is not None else self.function
        info = self.convention_info
        if info.unconstrained is not None:      # G first, then the convention applied to it
            from dataclasses import replace
            from .explain.steps import Step
            steps = explain(f, self.variable, replace(self, node=info.unconstrained), ctx,
                            function)
            steps.insert(len(steps) - 1, Step("convention", {
                "name": info.label, "expr": info.unconstrained, "result": self.node,
                "shape": ("shape", self.node.shape)}))
            steps[-1] = Step("result", {**steps[-1].parts, "expr": self.node})
        else:
            steps = explain(f, self.variable, self, ctx, function)
        steps.lang, steps.style = lang, style
        from .explain.steps import Step
        steps.extend(Step("assume", {"text": a}) for a in self.assumptions)
        return steps

    @property
    def steps(self):
        """The chain-rule derivation, step by step, each with its shapes (see explain())."""
        if self.kind in ("gradient", "jacobian", "derivative"):
            return self.explain()
        return self.rule_steps

    @property
    @deep
    def rule_steps(self) -> list[StepView]:
        steps = StepList(StepView(s.rule, to_unicode(s.node), fmt_shape(s.node.shape),
                                  to_unicode(s.incoming), to_unicode(s.child),
                                  fmt_shape(s.child.shape), to_unicode(s.outgoing))
                         for s in self.raw_steps)
        steps.extend(f"assuming {a}" for a in self.assumptions)
        return steps

    # numbers ------------------------------------------------------------------------------
    @deep
    def evaluate(self, values: dict, sizes: dict | None = None):
        """The derivative at `values` (name → number or array; θ or theta), as a NumPy array
        of r.shape (a float for a scalar). Raises DomainError where the formula needs the
        inverse of a singular matrix, and a MatcalcError for arrays over the size limit."""
        from .numeric.evaluate import (bind_values, evaluate_tree, limit_entries, names_in,
                                       vec_to_tensor)
        syms = names_in(self.node)
        # the variable too: tr(eye(n)) wrt X has no other name that carries the size n
        env, found = bind_values({**names_in(self.function), **syms,
                                  self.variable.name: self.variable}, values, _value_key)
        from .core.dims import symbol
        for k, v in (sizes or {}).items():
            found[symbol(k)] = int(v)
        limit_entries([self.node], found, "evaluating the result")
        out = evaluate_tree(self.node, env, found, strict=True)
        if self.assumptions:       # a matrix function of f undefined here (logm of −I): say so
            evaluate_tree(self.function, env, found, strict=True)
        if self.kind == "tensor":            # T[i, j, k, l] = ∂F_ij/∂X_kl
            src = self.source
            from .numeric.evaluate import concrete_size          # min(m,n) of svdvals too
            fs = tuple(concrete_size(d, found) for d in src.shape)
            xs = tuple(concrete_size(d, found) for d in self.variable.shape)
            return vec_to_tensor(out, fs, xs, src.shape, self.variable.shape)
        if is_scalar(self.node.shape):
            return float(out[0, 0])
        return out

    def _variables(self) -> list:
        """The variables differentiated by, in order (x, y for ∂/∂y ∂f/∂x)."""
        names = self.wrt.split(",")
        if len(names) == 1:
            return [self.variable] * max(1, self.order)
        from .core.expr import names_in
        known = names_in(self.function)
        out = []
        for name in names:
            if name in known:
                out.append(known[name])
            else:
                out.append(E.Sym(name, self.decls.decls[name].shape))
        return out

    @deep
    def check(self, seed: int | None = None) -> "CheckReport":
        """Compare with central finite differences of the ORIGINAL function at random values,
        with a different size for every dimension name (a second derivative against nested
        differences of the function, never of matcalc's own first derivative); raises
        matcalc.CheckError on a mismatch or when no point where it can be checked is found.
        A structured result (derive(..., structure=...)) is compared along directions inside
        the structure instead (symmetric perturbations, tangent directions), and must lie in it."""
        if self.convention_info.name != "unconstrained":   # along structured directions
            from .numeric.structured import check_structured
            return check_structured(self.function, self.node, self.variable,
                                    self.convention_info.structure, self.convention, self.order,
                                    self.decls.modifiers, seed=seed)
        kind = {"hessian": "jacobian", "mixed": "jacobian", "vjp": "gradient",
                "vec": "tensor"}.get(self.kind, self.kind)
        from .numeric.evaluate import finite_difference_check
        return finite_difference_check(self.function, self.node, self._variables(), kind,
                                       self.layout, self.decls.modifiers, seed=seed,
                                       direction=self.direction,
                                       hessian_product=self.kind == "hvp")

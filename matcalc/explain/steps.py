"""Derivations that show the work, the way the seed tutorials do it by hand.

Name the intermediates (z = Xθ − y, m×1), give each local derivative with its shape
(∂f/∂z = 2z, ∂z/∂θ = X), assemble by the chain rule with the shapes checked
((n×m)(m×1) = n×1 ✓), substitute, then list the simplifications. Every step renders as plain
text, Unicode or LaTeX, in English or Chinese. The calculus itself is calculus/derive.py's and calculus/rules.py's:
this module only chooses intermediates and narrates.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..core import build as B
from ..core import expr as E
from ..core.shapes import fmt_shape, is_scalar

LANGS = ("en", "zh")
STYLES = ("unicode", "text", "latex")
NAMES = ("z", "u", "h", "s", "q", "r", "p", "k", "g")

TEMPLATES = {
    "define": {"en": "let {name} = {expr}  ({shape})", "zh": "令 {name} = {expr}（{shape}）"},
    "function": {"en": "then {f} = {expr}  ({shape})", "zh": "则 {f} = {expr}（{shape}）"},
    "local": {"en": "local derivative: {d} = {expr}  ({shape})",
              "zh": "局部导数：{d} = {expr}（{shape}）"},
    "backward": {"en": "backward through {name}: {d} = {expr}  ({shape})",
                 "zh": "经 {name} 反向传播：{d} = {expr}（{shape}）"},
    "chain": {"en": "chain rule: {d} = {formula} = {expr};  shapes {check}",
              "zh": "链式法则：{d} = {formula} = {expr}；核对维度 {check}"},
    "substitute": {"en": "substitute {names}: {d} = {expr}  ({shape})",
                   "zh": "代入 {names}：{d} = {expr}（{shape}）"},
    "direct": {"en": "differentiate {f} = {expr} directly: {d} = {result}  ({shape})",
               "zh": "直接对 {f} = {expr} 求导：{d} = {result}（{shape}）"},
    "simplify": {"en": "simplify ({rule}): {before}  →  {after}",
                 "zh": "化简（{rule}）：{before}  →  {after}"},
    "result": {"en": "result: {d} = {expr}  ({shape})", "zh": "结果：{d} = {expr}（{shape}）"},
    "assume": {"en": "assuming {text}", "zh": "假设 {text}"},
}


def _printer(style):
    from ..printing.latex import to_latex
    from ..printing.text import to_text
    from ..printing.unicode import to_unicode
    return {"unicode": to_unicode, "text": to_text, "latex": to_latex}[style]


STEP_NODES = 400    # a step's expression printed larger than this names its repeated parts


def _show_bounded(node, style, show):
    """node printed in full, or — when its printed tree is over STEP_NODES — with every
    repeated subexpression named once (`… where s1 = softmax(x), s2 = …`), so that a step
    grows with the shared form of its expression rather than with the printed tree (nested
    softmax doubles the printed tree at each level)."""
    from ..simplify.cse import tree_size
    from ..printing.named import named_form
    if tree_size(node, STEP_NODES) > STEP_NODES:
        return named_form(node, style, show)
    return show(node)


def _shape(shape, style, lang):
    if is_scalar(shape):
        return {"en": "scalar", "zh": "标量"}[lang]
    s = "×".join(str(d) for d in shape)
    return s.replace("×", " \\times ") if style == "latex" else \
        s.replace("×", "x") if style == "text" else s


def _latex_name(name):
    from ..printing.latex import LatexPrinter
    from ..core.shapes import SCALAR
    return LatexPrinter().sym(E.Sym(name, SCALAR))


def _d(f, x, style):
    if style == "latex":
        return f"\\frac{{\\partial {_latex_name(f)}}}{{\\partial {_latex_name(x)}}}"
    return f"∂{f}/∂{x}" if style == "unicode" else f"d{f}/d{x}"


@dataclass(frozen=True)
class Step:
    """One step: a kind (define, function, local, backward, chain, substitute, direct,
    simplify, result) and its parts — expressions as nodes, everything else as text."""
    kind: str
    parts: dict = field(default_factory=dict)

    def values(self, lang: str = "en", style: str = "unicode") -> dict:
        """The template's fields, each printed in `style`."""
        if lang not in LANGS:
            raise ValueError(f"lang must be one of {LANGS}")
        show = _printer(style)
        values = {}
        for k, v in self.parts.items():
            if isinstance(v, E.Node):
                values[k] = _show_bounded(v, style, show)
            elif isinstance(v, tuple) and v and v[0] == "shape":
                values[k] = _shape(v[1], style, lang)
            elif isinstance(v, tuple) and v and v[0] == "d":
                values[k] = _d(v[1], v[2], style)
            elif isinstance(v, tuple) and v and v[0] == "check":
                values[k] = _check(v[1], v[2], style)
            elif k == "rule":
                values[k] = RULE_NAMES_ZH.get(v, v) if lang == "zh" else v.replace("_", " ")
            elif isinstance(v, tuple) and v and v[0] == "formula":
                values[k] = _formula(v[1], style) if isinstance(v[1], list) else show(v[1])
            else:
                values[k] = v
        return values

    def render(self, lang: str = "en", style: str = "unicode") -> str:
        return TEMPLATES[self.kind][lang].format(**self.values(lang, style))

    def typeset(self, lang: str = "en", target: str = "latex") -> str:
        """The step with its mathematics typeset: `target="latex"` gives one LaTeX line (words
        in \\text{}), `target="html"` gives HTML with the mathematics between \\( \\) for
        MathJax (JupyterLab and the classic Notebook both typeset it, offline)."""
        import html
        import string
        values = self.values(lang, "latex")
        out = []
        for literal, name, _, _ in string.Formatter().parse(TEMPLATES[self.kind][lang]):
            words = [literal] if literal else []
            if name in ("rule", "names", "text") or (name and values[name] in ("scalar", "标量")):
                words.append(values[name])
                name = None
            for w in words:
                if target == "html":
                    out.append(html.escape(w).replace("  ", "&nbsp; "))
                elif w.strip():
                    out.append(f"\\text{{{_tex_text(w)}}}")
                else:
                    out.append("\\quad ")
            if name is not None:
                math = values[name]
                out.append(f"\\({html.escape(math)}\\)" if target == "html" else math)
        return "".join(out)

    def __str__(self):
        return self.render()

    def __repr__(self):
        return f"<step: {self.render()}>"

    def _repr_latex_(self):
        return f"${self.typeset(target='latex')}$"

    def _repr_html_(self):
        return f"<div>{self.typeset(target='html')}</div>"


def _tex_text(words: str) -> str:
    """Words for \\text{}: LaTeX's special characters escaped."""
    for a, b in (("\\", "\\textbackslash "), ("{", "\\{"), ("}", "\\}"), ("_", "\\_"),
                 ("%", "\\%"), ("&", "\\&"), ("#", "\\#"), ("$", "\\$")):
        words = words.replace(a, b)
    return words


class Derivation(list):
    """The steps of a derivation; str() and repr() render them as a numbered list, one a line,
    in the language and style chosen when it was made (English Unicode by default). In Jupyter
    they display as a numbered list with the mathematics typeset."""

    lang = "en"
    style = "unicode"

    def render(self, lang: str | None = None, style: str | None = None) -> str:
        lang, style = lang or self.lang, style or self.style
        return "\n".join(f"{i}. {s.render(lang, style)}" for i, s in enumerate(self, 1))

    def __str__(self):
        return self.render()

    def __repr__(self):
        return self.render()

    def _repr_html_(self):
        items = "".join(f"<li>{s.typeset(self.lang, 'html')}</li>" for s in self)
        return f"<ol>{items}</ol>"

    def _repr_latex_(self):
        body = " \\\\ ".join(f"\\text{{{i}.}}\\; {s.typeset(self.lang, 'latex')}"
                                for i, s in enumerate(self, 1))
        return f"$\\begin{{array}}{{l}} {body} \\end{{array}}$"

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": self.render(), "text/html": self._repr_html_(),
                "text/latex": self._repr_latex_()}


def _check(factors, result, style):
    shapes = "".join(f"({'×'.join(str(d) for d in s)})" if not is_scalar(s) else "(1×1)"
                     for s in factors)
    out = f"{shapes} = {'×'.join(str(d) for d in result)} ✓"
    return out.replace("×", " \\times ").replace("✓", "\\checkmark") if style == "latex" else out


def _formula(parts, style):
    out = []
    for f, x, transposed in parts:
        d = _d(f, x, style)
        if transposed:
            d = f"({d})^{{\\top}}" if style == "latex" else f"({d})ᵀ" if style == "unicode" \
                else f"({d})^T"
        out.append(d)
    return (" " if style == "latex" else " · ").join(out)


# Choosing the intermediates ---------------------------------------------------------------

def _depends(node, x, memo):
    if node in memo:
        return memo[node]
    out = node == x or any(_depends(c, x, memo) for c in node.children)
    memo[node] = out
    return out


def _strip(node):
    while isinstance(node, E.Transpose):
        node = node.arg
    if isinstance(node, E.MatMul) and len(node.args) == 2 and isinstance(node.args[0], E.Num):
        return _strip(node.args[1])
    return node


def intermediates(f, x) -> list:
    """Operands of the nonlinear operations on the way from x to f (element-wise functions,
    products of two dependent factors, inverses, determinants, norms…), input side first."""
    memo: dict = {}
    found: list = []

    def site_operands(n):
        dep = [c for c in n.children if _depends(c, x, memo)]
        if isinstance(n, (E.Apply, E.Inverse, E.Det, E.LogDet, E.Norm, E.Softmax, E.LogSumExp,
                          E.Power, E.HadamardPower)):
            return dep
        if isinstance(n, (E.MatMul, E.Hadamard, E.Kron)) and len(dep) >= 2:
            return dep
        if isinstance(n, E.HadamardDiv) and _depends(n.right, x, memo):
            return dep
        return []

    def walk(n):
        if not _depends(n, x, memo):
            return
        for c in n.children:
            walk(c)
        for op in site_operands(n):
            op = _strip(op)
            if op != x and not isinstance(op, E.Sym) and op not in found:
                found.append(op)

    walk(f)
    return found


_substitute = E.substitute


# Building the derivation --------------------------------------------------------------------

def explain(f, x, result, ctx, fname: str = "f") -> Derivation:
    """The steps from f to result = ∂f/∂x."""
    from ..calculus.derive import first_derivative
    from ..core.expr import names_in
    from ..simplify.rewrite import simplify

    from ..simplify.rewrite import rebuild_all
    f = rebuild_all(f)                       # flattened products: xᵀAx is one product
    used = set(names_in(f)) | {fname}
    names = [n for n in NAMES if n not in used]
    inter = intermediates(f, x)
    steps = Derivation()
    chain = False
    if inter and len(inter) <= len(names):
        if len(inter) > 1:
            names = [f"{names[0]}{i}" for i in range(1, len(inter) + 1)]
        syms = [E.Sym(n, z.shape) for n, z in zip(names, inter)]
        # each intermediate written in terms of the one before it (outermost first replaced)
        mapping, defs = {}, []
        for z, s in zip(inter, syms):
            defs.append(_substitute(z, mapping))
            mapping[z] = s
        top = _substitute(f, mapping)
        chain = _is_chain(defs, top, syms, x)   # not a chain: the intermediates would not help
    vectors = chain and all(is_scalar(s.shape) or s.shape[1] == 1 for s in syms) and \
        (is_scalar(x.shape) or x.shape[1] == 1)
    if chain and (vectors or is_scalar(f.shape)):
        for s, d in zip(syms, defs):
            steps.append(Step("define", {"name": s.name, "expr": d,
                                         "shape": ("shape", s.shape)}))
        steps.append(Step("function", {"f": fname, "expr": top, "shape": ("shape", f.shape)}))
        if vectors:
            _vector_chain(steps, f, x, syms, defs, top, fname, ctx)
        else:
            _backward_chain(steps, x, syms, defs, top, fname, ctx)
    else:
        d, _ = first_derivative(f, x, None)
        steps.append(Step("direct", {"f": fname, "expr": f, "d": ("d", fname, x.name),
                                     "result": d, "shape": ("shape", d.shape)}))
        _simplifications(steps, d, ctx)
    steps.append(Step("result", {"d": ("d", fname, x.name), "expr": result.node,
                                 "shape": ("shape", result.node.shape)}))
    return steps


def _is_chain(defs, top, syms, x):
    from ..core.expr import names_in
    levels = [x] + syms
    for i, d in enumerate(defs + [top]):
        present = set(names_in(d))
        allowed = levels[i].name
        others = {s.name for s in levels if s.name != allowed}
        if allowed not in present or present & others:
            return False
    return True


def _local(expr, var, ctx):
    from ..calculus.derive import first_derivative
    from ..simplify.rewrite import simplify
    d, kind = first_derivative(expr, var, None)
    return simplify(d, ctx), kind


def _vector_chain(steps, f, x, syms, defs, top, fname, ctx):
    from ..simplify.rewrite import simplify
    levels = [x] + syms
    # local derivatives, outermost first: ∂f/∂z_k, then ∂z_k/∂z_{k−1}, …, ∂z_1/∂x
    locals_ = []
    for i in range(len(levels) - 1, -1, -1):
        expr = top if i == len(levels) - 1 else defs[i]
        name = fname if i == len(levels) - 1 else levels[i + 1].name
        d, kind = _local(expr, levels[i], ctx)
        locals_.append((name, levels[i], d, kind))
        steps.append(Step("local", {"d": ("d", name, levels[i].name), "expr": d,
                                    "shape": ("shape", d.shape)}))
    scalar_f = is_scalar(f.shape)
    factors, formula, shapes = [], [], []
    if scalar_f:        # ∂f/∂x = (∂z₁/∂x)ᵀ ⋯ ∂f/∂z_k, each factor a Jacobian transposed
        for name, var, d, kind in reversed(locals_[1:]):
            # a Jacobian enters transposed; so does the derivative of a vector with respect to
            # a scalar (a broadcast bias b in Xw + b): a column that is the Jacobian's only column
            t = kind == "jacobian" or (is_scalar(var.shape) and not is_scalar(d.shape))
            factors.append(B.transpose(d) if t else d)
            formula.append((name, var.name, t))
            shapes.append(tuple(reversed(d.shape)) if t else d.shape)
        name, var, d, _ = locals_[0]
        factors.append(d)
        formula.append((name, var.name, False))
        shapes.append(d.shape)
        product = B.mul(*factors) if len(factors) > 1 else factors[0]
    else:               # a Jacobian: ∂f/∂x = ∂f/∂z_k ⋯ ∂z₁/∂x
        for name, var, d, _ in locals_:
            factors.append(d)
            formula.append((name, var.name, False))
            shapes.append(d.shape)
        product = B.mul(*factors)
    assembled = simplify(product, ctx)
    steps.append(Step("chain", {"d": ("d", fname, x.name), "formula": ("formula", formula),
                                "expr": assembled, "check": ("check", shapes,
                                                             assembled.shape)}))
    _substitute_back(steps, assembled, syms, defs, fname, x, ctx)


def _backward_chain(steps, x, syms, defs, top, fname, ctx):
    """A scalar loss through matrix intermediates: pass ∂f/∂z back one definition at a time
    (∂z/∂X = Aᵀ ∂z/∂Y for Y = AX + B)."""
    from ..calculus.derive import reverse
    from ..simplify.rewrite import simplify
    G, _ = _local(top, syms[-1], ctx)
    steps.append(Step("local", {"d": ("d", fname, syms[-1].name), "expr": G,
                                "shape": ("shape", G.shape)}))
    levels = [x] + syms
    current = G
    for i in range(len(syms) - 1, -1, -1):
        cot = E.Sym(f"∂{fname}/∂{syms[i].name}", syms[i].shape)
        back = reverse(defs[i], levels[i], cot, None)
        back = simplify(back if back is not None else B.zero(levels[i].shape), ctx)
        steps.append(Step("backward", {"name": syms[i].name,
                                       "d": ("d", fname, levels[i].name), "expr": back,
                                       "shape": ("shape", back.shape)}))
        current = simplify(_substitute(back, {cot: current}), ctx)
    factors = [a.shape for a in back.args if not is_scalar(a.shape)] \
        if isinstance(back, E.MatMul) else [back.shape]
    steps.append(Step("chain", {"d": ("d", fname, x.name), "formula": ("formula", back),
                                "expr": current, "check": ("check", factors, current.shape)}))
    _substitute_back(steps, current, syms, defs, fname, x, ctx)


def _substitute_back(steps, expr, syms, defs, fname, x, ctx):
    from ..simplify.rewrite import Context, simplify
    mapping = {}
    for s, d in zip(syms, defs):
        mapping[s] = _substitute(d, mapping)
    full = _substitute(expr, {s: mapping[s] for s in syms})
    names = ", ".join(s.name for s in syms)
    steps.append(Step("substitute", {"names": names, "d": ("d", fname, x.name), "expr": full,
                                     "shape": ("shape", full.shape)}))
    _simplifications(steps, full, ctx)


RULE_NAMES_ZH = {
    "transpose_of_product": "乘积的转置", "transpose_of_sum": "和的转置",
    "transpose_of_symmetric": "对称矩阵的转置", "transpose_of_elementwise": "逐元素运算的转置",
    "collect_like_terms": "合并同类项", "common_coefficient": "提取公因数",
    "factor_common": "提取公因子", "inverse_cancel": "逆矩阵相消",
    "diag_times_vector": "对角矩阵乘向量", "hadamard_repeat": "逐元素幂",
    "scalar_power_repeat": "标量幂", "scalars_first": "标量前置", "order_terms": "项的顺序",
    "hadamard_scalars_out": "标量提出逐元素积", "hadamard_reciprocal": "逐元素除法",
    "sigmoid_of_exp": "识别 σ", "absorb_sign": "吸收负号", "ones_row_is_sum": "全一向量求和",
    "kron_mixed_product": "Kronecker 混合积", "transpose_of_kron": "Kronecker 积的转置",
    "kron_scalars_out": "标量提出 Kronecker 积", "inverse_of_product": "乘积的逆",
    "diag_of_outer": "外积的对角线", "diag_product": "对角矩阵相乘",
    "inverse_of_transpose": "转置的逆", "inverse_of_power": "幂的逆",
    "transpose_of_power": "幂的转置", "product_powers": "同底幂相乘",
    "sum_of_diags": "对角矩阵相加", "kron_times_ones": "Kronecker 积乘全一向量",
    "row_times_ones": "行向量乘全一向量", "commutation_of_vec": "交换矩阵作用于 vec",
    "kron_of_vec": "Kronecker 积作用于 vec", "trace_of_kron": "Kronecker 积的迹",
    "hadamard_of_krons": "Kronecker 积的 Hadamard 积", "kron_absorbs_factor": "Kronecker 混合积",
    "ones_outer": "全一向量的外积", "softmax_sums_to_one": "softmax 之和为 1",
    "softmax_of_exp": "识别 softmax", "elementwise_algebra": "逐元素约分",
    "transposes_out": "提出转置", "diag_sign_out": "负号提到 diag 之外",
}


def _simplifications(steps, node, ctx):
    from ..simplify.rewrite import Context, simplify
    local = Context(symmetric=ctx.symmetric)
    simplify(node, local)
    for rule, before, after in local.log:
        if before.children:
            steps.append(Step("simplify", {"rule": rule, "before": before, "after": after}))

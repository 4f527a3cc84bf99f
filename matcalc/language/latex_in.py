"""LaTeX input: the common LaTeX spellings of matrix formulas, read into matcalc's language.

`(X\\theta - y)^\\top (X\\theta - y)`, `\\|x\\|_2^2`, `\\frac{1}{N}`, `\\operatorname{tr}`,
`\\mathbf{X}`, `\\left( \\right)`, `^{\\mathsf T}`, `\\odot`, `\\cdot` … become the plain language
before parsing. Every output character remembers the input position it came from, so errors
point into the LaTeX the user typed. No LaTeX is evaluated; unknown commands are errors.

The pseudo-inverse `A^{+}`, `A^\\dagger` is pinv(A); `e^{s}` is exp(s) for a scalar s only (the
formula's shapes decide, after inference: `read_e_powers`); `\\exp`, `\\log` and `\\sqrt` are the
language's element-wise exp, log and sqrt, as `exp(X)` is.
"""
from __future__ import annotations

import re
from dataclasses import replace

from ..core import expr as E
from ..core.errors import ParseError, Span
from ..core.shapes import GREEK, fmt_shape, is_scalar

GREEK_COMMANDS = {**GREEK, "varepsilon": "ε", "vartheta": "ϑ", "varphi": "φ", "ell": "ℓ"}
SYMBOLS = {"cdot": "·", "times": "*", "odot": "⊙", "circ": "∘", "oslash": "⊘", "otimes": "⊗",
           "top": "T", "intercal": "T", "|": "‖", "lVert": "‖", "rVert": "‖", "Vert": "‖",
           "lvert": "|", "rvert": "|", "ast": "*", "mathbb": "", "infty": "∞",
           "backslash": " \\ ", "_": "_"}
FUNCTIONS = {"log": "log", "ln": "log", "exp": "exp", "sin": "sin", "cos": "cos", "tan": "tan",
             "tanh": "tanh", "det": "det", "tr": "tr", "Tr": "tr", "max": "max", "min": "min",
             "trace": "tr", "diag": "diag", "arcsin": "arcsin", "arccos": "arccos",
             "arctan": "arctan", "sinh": "sinh", "cosh": "cosh"}
SPACES = {",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "textstyle", "big", "Big",
          "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "left", "right"}
WRAPPERS = {"mathbf", "boldsymbol", "bm", "mathrm", "mathit", "mathsf", "operatorname",
            "text", "textrm", "mathnormal", "vec"}
TRANSPOSE_BODIES = {"T", "\\top", "\\intercal", "\\mathsf{T}", "\\mathsf T", "\\mathrm{T}",
                    "\\mathsf{T}", "{\\top}", "\\rm T"}


class _Out:
    """The translated text, with the source position of every character."""

    def __init__(self):
        self.chars: list[str] = []
        self.pos: list[int] = []
        self.closing_bars: set[int] = set()     # indices of ‖ written by \right\|

    def add(self, s: str, at: int):
        for ch in s:
            self.chars.append(ch)
            self.pos.append(at)

    @property
    def text(self) -> str:
        return "".join(self.chars)


def _group(text: str, i: int) -> tuple[str, int]:
    """The body of a {…} group starting at text[i] == "{" (nested), and the index after it."""
    depth, j = 0, i
    while j < len(text):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
        j += 1
    raise ParseError("missing closing } in LaTeX", span=Span(i, i + 1), text=text)


def _arg(text: str, i: int) -> tuple[str, int, int]:
    """A command's argument: a {group} or a single character; (body, body start, end)."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] == "{":
        body, end = _group(text, i)
        return body, i + 1, end
    if i < len(text) and text[i] == "\\":
        j = i + 1
        while j < len(text) and text[j].isalpha():
            j += 1
        return text[i:j], i, j
    return text[i:i + 1], i, i + 1


def translate(text: str) -> tuple[str, list[int]]:
    """LaTeX → the plain language, and for each output character its input position."""
    out = _Out()
    _run(text, 0, len(text), out, text)
    out.pos.append(len(text))
    return out.text, out.pos


def _command(text, i):
    j = i + 1
    if j < len(text) and not text[j].isalpha():
        return text[j], j + 1
    while j < len(text) and text[j].isalpha():
        j += 1
    return text[i + 1:j], j


# λ_max(S), σ_max(A) and the Fréchet derivatives L_exp(X, E), L2_exp(X, E, F) as printed
_SUBSCRIPTED = [(rf"\{g}_{{\{m}}}", f"{g}_{m}") for g in ("lambda", "sigma") for m in ("max", "min")]
_SUBSCRIPTED += [(rf"\{g}_\{m}", f"{g}_{m}") for g in ("lambda", "sigma") for m in ("max", "min")]
_SUBSCRIPTED += [(rf"{k}{sup}_{{{body}}}", f"{k}{two}_{name}") for k in "LK"
                 for sup, two in (("^{(2)}", "2"), ("", "")) for body, name in
                 ((r"\exp", "exp"), (r"\log", "log"), (r"\sqrt", "sqrt"),
                  (r"\mathrm{pow}", "pow"))]


def _subscripted(text, i):
    """The matrix-function name written with a subscript at text[i], and its length."""
    for latex, plain in _SUBSCRIPTED:
        if text.startswith(latex, i):
            return plain, len(latex)
    return None, 0


def _run(text, i, end, out, full, base=0):
    while i < end:
        ch = text[i]
        if ch in "\\LK":
            plain, width = _subscripted(text, i)
            if plain:
                out.add(plain, base + i)
                i += width
                continue
        if ch == "\\":
            name, j = _command(text, i)
            i = _do_command(name, text, i, j, end, out, full, base)
            continue
        if ch == "^":
            i = _do_power(text, i, end, out, full, base)
            continue
        if ch == "_" and i + 1 < end and text[i + 1] == "{":
            body, k = _group(text, i + 1)
            sized = _sized_constant(out, body)
            if sized:
                out.add(sized, base + i)
                i = k
                continue
            if body.strip().isdigit() and out.text[-1:].isalpha():
                out.add(body.strip(), base + i)      # W_{2} is the name W2, as printed
            else:
                out.add("_{" + _plain(body, full, base + i + 2) + "}", base + i)
            i = k
            continue
        if ch in "{}":
            out.add("(" if ch == "{" else ")", base + i)
            i += 1
            continue
        out.add(ch, base + i)
        i += 1


def _sized_constant(out, body) -> str | None:
    """I_{n} → eye(n), 𝟙_{n} → ones(n), 0_{m×n} → zeros(m, n): a constant with its size."""
    t = out.text
    head = t[-1:] if t else ""
    alone = len(t) < 2 or not (t[-2].isalnum() or t[-2] in "_.")
    if head not in ("I", "𝟙", "0") or not alone:
        return None
    dims = [re.sub(r"\s*\\cdot\s*", "*", d.strip())
            for d in body.replace("\\times", ",").replace("×", ",").split(",")]
    low = re.fullmatch(r"\s*\\?min\(\s*(\w+)\s*,\s*(\w+)\s*\)\s*", body)
    if low:                                    # I_{\min(m,n)}: the length of svdvals(A)
        dims = [f"min({low.group(1)}, {low.group(2)})"]
    if not all(re.fullmatch(r"\w+(\*\w+)*|min\(\w+, \w+\)", d) for d in dims) or len(dims) > 2:
        return None
    out.chars.pop()
    out.pos.pop()
    fn = {"I": "eye", "𝟙": "ones", "0": "zeros"}[head]
    if fn == "eye":
        dims = dims[:1]
    return f"{fn}({', '.join(dims)})"


def _plain(body, full, at):
    sub = _Out()
    _run(body, 0, len(body), sub, full, at)
    return sub.text


def _do_command(name, text, i, j, end, out, full, base):
    at = base + i
    if name in GREEK_COMMANDS:
        out.add(GREEK_COMMANDS[name], at)
        return j
    if name in SPACES:
        for bar in ("\\|", "\\Vert", "\\lVert", "\\rVert", "‖"):
            if name in ("left", "right") and text.startswith(bar, j):
                if name == "left":                 # \left\| opens a norm, even a nested one
                    before = out.text.rstrip()
                    closed = before.endswith("‖") and len(before) - 1 in out.closing_bars
                    if before and (before[-1].isalnum() or before[-1] in ")}ᵀ²³" or closed):
                        out.add("*", at)          # ‖x‖‖B‖: a closing bar, then a new norm
                else:
                    out.closing_bars.add(len(out.chars))
                out.add("‖", at)
                return j + len(bar)
        if name in ("left", "right") and j < len(text) and text[j] in "([|.":
            ch = text[j]
            out.add({"(": "(", "[": "(", "|": "|", ".": ""}[ch], at)
            return j + 1
        if name in ("left", "right") and j < len(text) and text[j] in ")]":
            out.add(")", at)
            return j + 1
        out.add(" ", at)
        return j
    if name == "frac" or name in ("dfrac", "tfrac"):
        num, ns, k = _arg(text, j)
        den, ds, k2 = _arg(text, k)
        out.add("((", at)
        out.add(_plain(num, full, base + ns), base + ns)
        out.add(")/(", at)
        out.add(_plain(den, full, base + ds), base + ds)
        out.add("))", at)
        return k2
    if name == "sqrt":
        body, bs, k = _arg(text, j)
        out.add("sqrt(", at)
        out.add(_plain(body, full, base + bs), base + bs)
        out.add(")", at)
        return k
    if name == "log" and text.startswith("\\det", j):
        out.add("logdet", at)
        return j + 4
    if name in FUNCTIONS:
        out.add(FUNCTIONS[name], at)
        return j
    if name in WRAPPERS:
        body, bs, k = _arg(text, j)
        stripped = body.strip()
        if name in ("mathbf", "boldsymbol", "bm") and stripped == "1":
            out.add("𝟙", at)
        elif name == "operatorname" and stripped == "K" and text.startswith("_{", k):
            dims, k2 = _group(text, k + 1)
            dims = re.sub(r"\s*\\cdot\s*", "*", dims)
            out.add(f"commutation({dims})", at)
            return k2
        elif name in ("mathsf", "mathrm") and stripped == "T":
            out.add("T", at)
        else:
            out.add(_plain(body, full, base + bs).replace(" ", "") if name != "text" else
                    body, base + bs)
        return k
    if name in SYMBOLS:
        symbol = SYMBOLS[name]
        if symbol == "‖" and out.text.count("‖") % 2 == 0:     # an opening bar
            before = out.text.rstrip()
            if before and (before[-1].isalnum() or before[-1] in ")}ᵀ‖²³"):
                out.add("*", at)                             # LaTeX juxtaposes: 2\|x\|
        out.add(symbol, at)
        return j
    if name in ("{", "}"):
        out.add("(" if name == "{" else ")", at)
        return j
    raise ParseError(f"unknown LaTeX command \\{name}", span=Span(at, base + j), text=full)


def _do_power(text, i, end, out, full, base):
    at = base + i
    body, bs, k = _arg(text, i + 1)
    b = body.strip()
    if b in TRANSPOSE_BODIES or b.replace(" ", "") in TRANSPOSE_BODIES:
        out.add("ᵀ", at)
        return k
    if b.startswith("\\circ"):
        out.add(" .^(" + _plain(b[5:].strip(), full, base + bs) + ")", at)   # 2 .^, not 2. ^
        return k
    if b in ("+", "\\dagger"):                  # A^{+}, A^\dagger: the pseudo-inverse
        out.add("⁺", at)
        return k
    if b.replace(" ", "") in ("-\\top", "-T", "-\\intercal", "-\\mathsf{T}"):
        out.add("⁻ᵀ", at)
        return k
    frac = re.fullmatch(r"\s*(-?)\s*\\[dt]?frac\s*\{\s*(\d+)\s*\}\s*\{\s*(\d+)\s*\}\s*", body)
    if frac:                                   # X^{\frac{1}{2}}: the exponent 1/2
        out.add("^{" + frac.group(1) + frac.group(2) + "/" + frac.group(3) + "}", at)
        return k
    if b.replace(" ", "") in PSEUDO_INVERSE_BODIES and _wrap_operand(out, "pinv", at):
        return k                               # A^{+}, A^\dagger: pinv(A)
    if _euler_before(out) and not _NUMERIC_EXPONENT.fullmatch(b):
        epos = out.pos.pop()                   # e^{x}: exp(x), for a scalar x (read_e_powers)
        out.chars.pop()
        out.add("exp(", epos)
        _run(text, bs, bs + len(body), out, full, base)
        out.add(")", base + k - 1)
        return k
    out.add("^{" + _plain(body, full, base + bs) + "}", at)
    return k


PSEUDO_INVERSE_BODIES = {"+", "\\dagger", "\\dag"}
_NUMERIC_EXPONENT = re.compile(r"-?\s*[0-9.]+(\s*/\s*[0-9]+)?")
_LETTERS = "A-Za-zΑ-Ωα-ωϑϕϵℓ"
# the last name of the text (a letter, its digits, a subscript), or a call name before "("
_LAST_NAME = re.compile(rf"[{_LETTERS}][0-9]*(?:_\{{[A-Za-z0-9]+\}}|_[A-Za-z0-9]+)?$")
_CALL_NAME = re.compile(rf"(?<![{_LETTERS}0-9_])[{_LETTERS}]{{2,}}[0-9]*(?:_[A-Za-z0-9]+)?$")


def _euler_before(out) -> bool:
    """Whether the text so far ends with a lone e (Euler's number in e^{x}): not the last
    letter of a name such as `xe` or `e_1`."""
    t = out.text
    return t.endswith("e") and (len(t) < 2 or not (t[-2].isalpha() or t[-2] in "_.0123456789"))


def _wrap_operand(out, fn: str, at: int) -> bool:
    """fn( … ) around the operand a postfix at the end of the text applies to: a bracketed
    group (with its function name, for a call) or the last name, as the language's postfix
    operators bind (XA⁻¹ = X·A⁻¹). False when there is no operand."""
    t = out.text
    end = len(t.rstrip())
    if end == 0:
        return False
    if t[end - 1] == ")":
        depth, i = 0, end - 1
        while i >= 0:
            depth += {")": 1, "(": -1}.get(t[i], 0)
            if depth == 0:
                break
            i -= 1
        if i < 0:
            return False
        call = _CALL_NAME.search(t[:i])
        start = call.start() if call else i
    else:
        name = _LAST_NAME.search(t[:end])
        if name is None:
            return False
        start = name.start()
    head = fn + "("
    if start and (t[start - 1].isalnum() or t[start - 1] in "_)"):
        head = " " + head                      # Xpinv( would read as a call of Xpinv
    out.chars[start:start] = list(head)
    out.pos[start:start] = [out.pos[start]] * len(head)
    out.closing_bars = {b + len(head) if b >= start else b for b in out.closing_bars}
    out.add(")", at)
    return True


def looks_like_latex(text: str) -> bool:
    """A backslash command, a sized constant such as I_{n} or 0_{m \\times n}, a pseudo-inverse
    A^{+} or a power of e with an exponent that is not a number (e^{x}). A backslash before a
    space or a parenthesis is the solve operator A \\ b, not LaTeX."""
    return ("\\" in text and _COMMAND.search(text) is not None) or \
        ("_{" in text and _SIZED.search(text) is not None) or \
        ("^" in text and "+" in text and _PLUS_POWER.search(text) is not None) or \
        ("^" in text and "e" in text and _E_POWER_TEXT.search(text) is not None)


_COMMAND = re.compile(r"\\(?![\s(])")
_SIZED = re.compile(r"(^|[^\w])(I|0|𝟙)_\{")
_PLUS_POWER = re.compile(r"\^\s*\{?\s*\+")


# e^{x}, e^x, e^{-yᵀx}: a power of a lone e whose exponent is not a number or T
_E_POWER_TEXT = re.compile(r"(^|[^\w.])e\s*\^\s*(?:\{(?!\s*-?\s*(?:[0-9.]+(?:\s*/\s*[0-9]+)?|[T⊤])"
                           r"\s*\})|(?![T⊤])[A-Za-zΑ-Ωα-ω])")


def source_tree(node, text: str, positions: list[int]):
    """The tree parsed from the translation, with every span in the LaTeX the user typed (so a
    shape error found later points at the right place) and each exp read from e^{…} marked as
    E_POWER (read_e_powers decides once the shapes are known)."""
    memo: dict = {}

    def walk(n):
        hit = memo.get(id(n))
        if hit is not None:
            return hit
        kids = [walk(c) for c in n.children]
        out = E.with_children(n, kids) if kids else n
        changes = {}
        span = getattr(n, "span", None)
        if span is not None:
            s = min(span.start, len(positions) - 1)
            e = min(max(span.end - 1, span.start), len(positions) - 1)
            changes["span"] = Span(positions[s], max(positions[e] + 1, positions[s] + 1))
            if type(n) is E.Apply and n.fn == "exp" and _is_e_power(text, positions[s]):
                changes["fn"] = E_POWER
        out = replace(out, **changes) if changes else out
        memo[id(n)] = out
        return out

    return walk(node)


E_POWER = "e^"
"""The function of an Apply node read from e^{…}, until read_e_powers knows its exponent's shape."""


def _is_e_power(text: str, at: int) -> bool:
    """Whether text[at] is the e of e^{…} (also \\mathrm{e}^{…})."""
    return text[at:at + 1] == "e" and text[at + 1:].lstrip(" }").startswith("^")


def read_e_powers(node, decls):
    """e^{s} is exp(s) for a scalar s. Of a vector or a matrix it is refused: for a square
    matrix the usual meaning is the matrix exponential, while exp(X) in matcalc is exp entry by
    entry, so the user chooses (\\operatorname{expm} or \\exp). With e declared as a name,
    e^{…} is that name to a symbolic power, which is refused as in the plain language."""
    memo: dict = {}

    def walk(n):
        hit = memo.get(id(n))
        if hit is not None:
            return hit
        kids = [walk(c) for c in n.children]
        out = E.with_children(n, kids) if kids else n
        if type(n) is E.Apply and n.fn == E_POWER:
            out = _e_power(out, decls)
        memo[id(n)] = out
        return out

    return walk(node)


def _e_power(node, decls):
    from ..core.errors import show
    arg = node.arg
    if "e" in decls.decls:
        raise ParseError("e is a declared name here, and a power with a symbolic exponent is "
                         "not supported: exponents are numbers", span=node.span,
                         hint=f"for the exponential write \\exp({show(arg)})")
    if is_scalar(arg.shape):
        return replace(node, fn="exp")
    square = arg.shape[0] == arg.shape[1]
    what = "a square matrix" if square else ("a vector" if 1 in arg.shape else "a matrix")
    # both spellings: e^X reaches here from plain text and from LaTeX alike
    hint = (f"write expm({show(arg)}) (LaTeX \\operatorname{{expm}}) for the matrix "
            f"exponential, or exp({show(arg)}) (\\exp) for exp of every entry") if square else \
        f"write exp({show(arg)}) (LaTeX \\exp) for exp of every entry"
    raise ParseError(f"e^{{…}} needs a scalar exponent, but {show(arg)} is {what} "
                     f"({fmt_shape(arg.shape)})", span=node.span, hint=hint)


def remap(err, positions: list[int], original: str):
    """Point a ParseError raised on the translation at the LaTeX the user typed."""
    if err.span is not None and err.text is not None and err.text != original:
        s = min(err.span.start, len(positions) - 1)
        e = min(max(err.span.end - 1, err.span.start), len(positions) - 1)
        err.span = Span(positions[s], max(positions[e] + 1, positions[s] + 1))
        err.text = original
    return err

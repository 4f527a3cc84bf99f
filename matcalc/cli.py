"""The `matcalc` command: a thin shell over parse() and derive() (docs/cli.md).

Results go to stdout, messages to stderr. A MatcalcError (the user's mistake) prints its
message and caret and exits 1; argparse's usage errors exit 2; anything else is our bug and
keeps its traceback. Nothing here computes math.
"""
from __future__ import annotations

import argparse
import json
import sys
from enum import Enum

from . import __version__  # noqa: F401  (read by --version)
from .api import derive, hvp, jvp, vjp
from .core.errors import MatcalcError
from .core.limits import deep
from .language.parser import parse_with_shapes
from .printing.latex import to_latex
from .printing.named import printed
from .printing.text import to_text
from .printing.unicode import to_unicode
from .core.shapes import fmt_shape
from .explain.steps import said_in


class Format(str, Enum):
    UNICODE = "unicode"
    TEXT = "text"
    LATEX = "latex"
    JSON = "json"
    NUMPY = "numpy"
    TORCH = "torch"
    JAX = "jax"


PRINTERS = {Format.UNICODE: to_unicode, Format.TEXT: to_text, Format.LATEX: to_latex}
CODE_FORMATS = (Format.NUMPY, Format.TORCH, Format.JAX)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="matcalc",
        description="Differentiate matrix expressions in closed form.",
        epilog='example: matcalc "(Xθ − y)^T (Xθ − y)" --wrt θ --shapes "X: m×n, θ: n, y: m"')
    p.add_argument("expr", help="the expression, or - to read one expression per line from stdin")
    p.add_argument("--wrt", help="variable to differentiate with respect to (omit to only "
                                 "check and print the expression and its shape); x,y gives "
                                 "the mixed second derivative")
    p.add_argument("--shapes", help='declarations, e.g. "X: m×n, θ: n, y: m, A: n×n spd"')
    p.add_argument("--order", type=int, default=None, help="order of the derivative (2: Hessian; needs --wrt)")
    p.add_argument("--format", type=Format, default=Format.UNICODE,
                   choices=list(Format), metavar="{" + ",".join(f.value for f in Format) + "}")
    p.add_argument("--layout", choices=["numerator", "denominator"], default=None,
                   help="numerator (default) or denominator layout (needs --wrt)")
    p.add_argument("--structure", choices=["unconstrained", "structured", "entries"],
                   default=None, help="for a variable declared symmetric, spd, diagonal, "
                   "skew, lower, upper or orthogonal: every entry independent (default), the "
                   "gradient on the "
                   "structured space, or the derivative wrt the independent entries")
    products = p.add_mutually_exclusive_group()
    products.add_argument("--vjp", metavar="V", help="print vᵀ(∂f/∂x) with a new symbol V "
                                                      "shaped like f (a vector–Jacobian product)")
    products.add_argument("--jvp", metavar="U", help="print (∂f/∂x)u with a new symbol U shaped "
                                                      "like x (a Jacobian–vector product)")
    products.add_argument("--hvp", metavar="U", help="print (∇²f)u for a scalar f (a "
                                                      "Hessian–vector product)")
    p.add_argument("--steps", action="store_true", help="print the chain-rule steps")
    p.add_argument("--lang", choices=["en", "zh"], default=None, help="language of --steps")
    p.add_argument("--cse", action="store_true",
                   help="name costly pieces once (… where r = …), and repeated ones when that is shorter")
    p.add_argument("--cost", metavar="SIZES", help='count multiplications at these sizes, '
                                                  'e.g. "m=1000,n=10"')
    p.add_argument("--code", choices=["numpy", "jax", "torch"],
                   help="with --format json, include generated code for this backend")
    p.add_argument("--check", action="store_true",
                   help="verify numerically against finite differences")
    p.add_argument("--version", action="version", version=f"matcalc {__version__}")
    return p


@deep
def run_one(text: str, args, notes: list | None = None) -> dict | str:
    """Process one expression; returns a JSON-able dict or the lines to print (notes on what
    was assumed are appended to `notes`, for stderr)."""
    notes = [] if notes is None else notes
    if args.format in CODE_FORMATS and not args.wrt:
        raise MatcalcError(f"--format {args.format.value} generates the code of a derivative: "
                           "give --wrt")
    if not args.wrt:
        node, decls = parse_with_shapes(text, args.shapes)
        if args.format is Format.JSON:
            return {"input": text, "result": to_text(node), "latex": to_latex(node),
                    "shape": _json_shape(node.shape), "kind": "expression",
                    "notes": list(decls.notes)}
        notes.extend(decls.notes)
        return f"{PRINTERS[args.format](node)} : {fmt_shape(node.shape)}"
    wrt = [w.strip() for w in args.wrt.split(",")] if "," in args.wrt else args.wrt
    if args.vjp or args.jvp or args.hvp:
        fn, name = (vjp, args.vjp) if args.vjp else (jvp, args.jvp) if args.jvp else \
            (hvp, args.hvp)
        r = fn(text, args.wrt, name, shapes=args.shapes)
    else:
        r = derive(text, wrt=wrt, shapes=args.shapes, order=args.order or 1,
                   layout=args.layout or "numerator", structure=args.structure)
    notes.extend(r.notes)
    report = r.check() if args.check else None
    sizes = _sizes(args.cost) if args.cost else None
    costs = r.cost(sizes) if sizes else None
    if args.format in CODE_FORMATS:
        return r.code(args.format.value, sizes=sizes).rstrip("\n")
    if args.format is Format.JSON:
        out = {"input": text, "wrt": r.wrt, "result": r.text, "unicode": str(r),
               "latex": r.latex, "shape": list(r.shape), "kind": r.kind, "layout": r.layout,
               "order": r.order, "notes": r.notes, "assumptions": r.assumptions}
        if args.structure is not None:
            out["convention"] = r.convention
        if args.steps:
            out["steps"] = [s.render(args.lang or "en") if hasattr(s, "render") else str(s)
                            for s in r.steps]
            out["steps"] = said_in(out["steps"], r.assumptions, args.lang or "en")
        if costs is not None:
            out["cost"] = costs
        if args.code:
            out["code"] = r.code(args.code, sizes=sizes)
        if report is not None:
            out["check"] = {"ok": True, "sizes": report.sizes,
                            "max_abs_error": report.max_abs_error}
        return out
    lines = [r.cse(style=args.format.value) if args.cse else
             printed(r.node, args.format.value, PRINTERS[args.format])]
    if args.steps:
        steps = r.steps
        style = args.format.value
        rendered = steps.render(args.lang or "en", style).splitlines() if hasattr(steps, "render") \
            else said_in(steps, r.assumptions, args.lang or "en")
        lines += ["", "steps:"] + [f"  {s}" for s in rendered]
    elif r.assumptions:         # the steps end with them; without steps, one line says them
        said = "assuming: " + "; ".join(r.assumptions)
        if args.expr == "-":    # batch mode keeps one stdout line per expression: a note
            notes.append(said)
        else:
            lines.append(said)
    if costs is not None:
        lines.append("cost: " + ", ".join(f"{k} {v}" for k, v in costs.items()))
    if report is not None:
        lines.append(f"check: {report}")
    return "\n".join(lines)


def _sizes(text: str) -> dict:
    out = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        if not value.strip().isdigit() or not name.strip().isidentifier():
            raise MatcalcError(f"--cost takes sizes like \"m=1000,n=10\", not {part.strip()!r}")
        out[name.strip()] = int(value)
    return out


def _json_shape(shape):
    from .result import public_shape
    return list(public_shape(shape))


def conflicts(args) -> str | None:
    """The first option that would have no effect with the others given, as a usage message:
    the command never ignores a flag."""
    product = "--vjp" if args.vjp else "--jvp" if args.jvp else "--hvp" if args.hvp else None
    code = args.format in CODE_FORMATS
    if not args.wrt:
        for flag, given in (("--vjp", args.vjp), ("--jvp", args.jvp), ("--hvp", args.hvp),
                            ("--order", args.order is not None),
                            ("--layout", args.layout is not None), ("--steps", args.steps),
                            ("--structure", args.structure is not None),
                            ("--check", args.check), ("--cse", args.cse),
                            ("--cost", args.cost), ("--code", args.code)):
            if given:
                return f"{flag} needs --wrt (without it the expression is only checked and printed)"
    if args.code and args.format is not Format.JSON:
        return "--code adds generated code to --format json output; give --format json too " \
               "(or --format numpy|jax|torch for code alone)"
    if args.steps and code:
        return f"--steps cannot be shown with --format {args.format.value}, which prints only code"
    if args.check and code:
        return f"--check cannot be shown with --format {args.format.value}, which prints only code"
    if args.cse and args.format not in PRINTERS:
        return f"--cse names subexpressions in the unicode, text and latex formats, not in " \
               f"--format {args.format.value}"
    if product and args.order not in (None, 1):
        return f"--order {args.order} cannot be combined with {product}, which is a first-order " \
               "product (--hvp gives Hessian–vector products)"
    if product and args.structure is not None:
        return f"--structure does not apply to {product}; it chooses the convention of a " \
               "gradient or Hessian"
    if product and args.layout is not None:
        return f"--layout does not apply to {product}: a product is shaped like the variable or " \
               "the function"
    if args.lang is not None and not args.steps:
        return "--lang chooses the language of --steps; give --steps too"
    if args.order is not None and args.order < 1:
        return f"--order must be a positive integer, not {args.order}"
    return None


def clean(text: str) -> str:
    """Text safe to print: control characters and bytes that were not UTF-8 are shown escaped
    (\x1b, \xff), so a message never moves the cursor or fails to print."""
    out = []
    for ch in str(text):
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:                      # a byte that was not UTF-8
            out.append(f"\\x{o - 0xDC00:02x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append(f"\\u{o:04x}")
        elif (o < 32 and ch != "\n") or 0x7F <= o < 0xA0:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    return "".join(out)


def _clean_json(value):
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean_json(v) for k, v in value.items()}
    return value


def _read_lines() -> list[str]:
    raw = getattr(sys.stdin, "buffer", None)
    data = raw.read().decode("utf-8", "surrogateescape") if raw is not None else sys.stdin.read()
    return data.splitlines()


def _utf8(stream) -> bool:
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
    return encoding.startswith("utf")


def _prepare_streams() -> None:
    """A stdout or stderr that cannot encode every character shows the rest escaped (and says
    so once) instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding and not encoding.startswith("utf") and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
            if stream is sys.stdout:
                print(f"note: the output encoding ({stream.encoding}) cannot show every "
                      "character; others are escaped (try --format text, or "
                      "PYTHONIOENCODING=utf-8)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        from .web import serve_main
        return serve_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = conflicts(args)
    if problem:
        parser.error(problem)                       # exit status 2
    try:
        _prepare_streams()
        status = _run(args)
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except OSError as err:
        _quiet_stdout()
        print(f"error: cannot write the output: {err.strerror or err}", file=sys.stderr)
        return 74


def _quiet_stdout() -> None:
    """After a closed pipe or a full disk, stdout is replaced so that the interpreter's final
    flush cannot fail again."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _run(args) -> int:
    batch = args.expr == "-"
    inputs = [(i, line) for i, line in enumerate(_read_lines(), 1) if line.strip()] \
        if batch else [(0, args.expr)]
    status = 0
    for number, text in inputs:
        where = f"line {number}: " if batch else ""
        notes: list = []
        try:
            out = run_one(text, args, notes)
        except MatcalcError as err:
            status = 1
            message = clean(str(err))
            if batch and args.format is Format.JSON:
                print(json.dumps({"line": number, "input": clean(text), "kind": "error",
                                  "error": message}, ensure_ascii=not _utf8(sys.stdout)),
                      flush=True)
                print(f"{where}error: {message}", file=sys.stderr)
            elif batch:
                print(f"{where}error: {message.splitlines()[0]}", flush=True)
                print(f"{where}error: {message}", file=sys.stderr)
            else:
                print(f"error: {message}", file=sys.stderr)
            continue
        for note in notes:
            print(f"{where}note: {clean(note)}", file=sys.stderr)
        if isinstance(out, dict):
            if batch:
                out = {"line": number, **out}
            print(json.dumps(_clean_json(out), ensure_ascii=not _utf8(sys.stdout)), flush=True)
        else:
            print(clean(out), flush=True)
    return status

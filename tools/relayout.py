"""Move matcalc's flat modules into layered subpackages, once, and rewrite every reference.

    python tools/relayout.py --check     which module goes where; fails on a module not in LAYOUT
    python tools/relayout.py --graph     the import graph and its cycles (read-only, any time)
    python tools/relayout.py             do it: git mv, rewrite imports, contract, README map

Driven by one explicit table, LAYOUT (old module -> new module). A module in the tree that the
table does not name stops the run before anything changes, with the list of such modules: add
a line for each. The move refuses to run twice (it stops when matcalc/core/ exists or
pyproject.toml already has a layers contract) and refuses a working tree with uncommitted
changes, so `git checkout . && git clean -fd` (or `git reset --hard`) undoes a trial.

What the move does, in order:
  1. `git mv` every module to its new place and writes each new package's __init__.py (a
     docstring, plus re-exports for the import paths the documentation promises);
  2. rewrites every import of a moved module in matcalc/, tests/, bench/, tools/, docs/ and the
     notebooks' code cells (relative inside the package, absolute elsewhere; imports inside
     functions too), dotted references in strings (`"matcalc.parser"`), file paths
     (`matcalc/dims.py`, and `rules.py` in prose), and `Path(__file__).parent` chains of
     modules that moved one level deeper;
  3. adds the import-linter layers contract (LAYERS) to pyproject.toml;
  4. writes the layer map at the top of README's "How it works" section.
The grammar stays at grammar/matcalc.lark and ships as matcalc/grammar/matcalc.lark, so the
wheel's force-include does not change (checked).
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = "matcalc"

# Old module (dotted, relative to matcalc) -> new module. A module mapped to itself stays.
# Likely names for modules other work may add are listed too; a name not here stops the run.
LAYOUT = {
    # front ends and the package's surface: stay at the top
    "__init__": "__init__",
    "__main__": "__main__",
    "cli": "cli",
    "jupyter": "jupyter",
    "web": "web",                          # a web front end, if one arrives as a package
    "serve": "web.serve",
    # the public entry points and Result
    "api": "api",
    "result": "result",
    # explanations and the cost model
    "explain": "explain.steps",
    "cost": "explain.cost",
    # presentation: printers and code generation (printing/ is already a package)
    "printing": "printing",
    "printing.base": "printing.base",
    "printing.text": "printing.text",
    "printing.unicode": "printing.unicode",
    "printing.latex": "printing.latex",
    "printing.code": "printing.code",
    "to_sympy": "printing.sympy",
    # the calculus
    "rules": "calculus.rules",
    "vecrules": "calculus.vecrules",
    "derive": "calculus.derive",
    "products": "calculus.products",
    "matfuncs": "calculus.matfuncs",
    "matrix_functions": "calculus.matrix_functions",
    "decompositions": "calculus.decompositions",
    "structured": "calculus.structured",
    "structure": "calculus.structure",
    # the simplifier
    "simplify": "simplify.rewrite",
    "algebra": "simplify.algebra",
    "cse": "simplify.cse",
    "equivalence": "simplify.equivalence",
    "canonical": "simplify.canonical",
    "strategy": "simplify.strategy",
    # the language: text in
    "parser": "language.parser",
    "latex_in": "language.latex_in",
    "parser_tables": "language.parser_tables",
    "_parser_tables_data": "language._parser_tables_data",
    "names": "language.names",
    "grammar": "language.grammar",
    "postfix": "language.postfix",
    # numbers: evaluation and checks
    "numeric": "numeric.evaluate",
    "checks": "numeric.checks",
    # the core every layer stands on
    "errors": "core.errors",
    "dims": "core.dims",
    "expr": "core.expr",
    "shapes": "core.shapes",
    "build": "core.build",
    "functions": "core.functions",
    "limits": "core.limits",
}

# The layers, top first, for import-linter: a layer may import the layers below it, never those
# above. `|` separates independent siblings; parentheses mark a layer that may be absent.
LAYERS = [
    "matcalc.__main__",
    "matcalc.cli",
    "matcalc.jupyter | (matcalc.web)",
    "matcalc.api",
    "matcalc.result",
    "matcalc.explain",
    "matcalc.printing",
    "matcalc.calculus",
    "matcalc.simplify",
    "matcalc.language | matcalc.numeric",
    "matcalc.core",
]

# One sentence per layer: the README's map and each new package's docstring.
ROLES = [
    ("cli.py, jupyter.py", "front ends: the `matcalc` command and the notebook display, thin "
     "shells over the API that compute nothing themselves."),
    ("api.py, result.py", "the public entry points `derive`, `vjp`, `jvp`, `hvp`, and the "
     "`Result` they return, which calls down into every layer and which nothing below imports."),
    ("explain/", "derivations shown step by step, in English and Chinese (`steps.py`), and the "
     "cost model: multiplications, the best chain order, forward against reverse (`cost.py`)."),
    ("printing/", "a tree as plain text that parses back, Unicode, LaTeX, NumPy/JAX/PyTorch "
     "code and SymPy objects; the Unicode printer registers itself so that the layers below can "
     "name nodes in their messages without importing it."),
    ("calculus/", "the reverse-mode rule of every operator (`rules.py`), the forward vec rules "
     "(`vecrules.py`), the sweep that applies them (`derive.py`) and the vector–Jacobian, "
     "Jacobian–vector and Hessian–vector products (`products.py`)."),
    ("simplify/", "named rewrites applied to a fixed point (`rewrite.py`), the element-wise "
     "algebra in lowest terms (`algebra.py`), shared subexpressions (`cse.py`) and whether two "
     "formulas are equal (`equivalence.py`)."),
    ("language/", "text into a tree with a shape on every node: the parser built from "
     "`grammar/matcalc.lark`, the name rule, and LaTeX input."),
    ("numeric/", "NumPy evaluation of a tree and the finite-difference checks, the oracle that "
     "matcalc's answers are compared with; it knows nothing of the language."),
    ("core/", "expression nodes, sizes, shapes and their rules, constructors, the scalar "
     "function table, limits and errors; it imports nothing else from matcalc."),
]

PACKAGE_DOCS = {
    "core": ROLES[8][1], "language": ROLES[6][1], "numeric": ROLES[7][1],
    "simplify": ROLES[5][1], "calculus": ROLES[4][1], "explain": ROLES[2][1],
    "web": "the web page served by `matcalc serve`.",
}

# Import paths the documentation promises, kept by re-exports in the new packages' __init__.
REEXPORTS = {
    "numeric": ["from ..core.errors import CheckError  # matcalc.numeric.CheckError (documented)"],
    "simplify": ["from . import algebra  # noqa: F401  (registers the element-wise pass)",
                 "from .rewrite import Context, simplify, size  # matcalc.simplify.size "
                 "(documented)"],
}
# Dotted references left as written in prose and strings: they still work through REEXPORTS.
KEEP_PUBLIC = {"matcalc.numeric.CheckError", "matcalc.simplify.size", "matcalc.simplify.simplify",
               "matcalc.simplify.Context"}

TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".sh", ".toml", ".txt", ".rst", ".cfg", ".ini", ".yml",
                 ".yaml"}
SKIP = {"tools/relayout.py"}


class Refused(SystemExit):
    def __init__(self, message: str):
        super().__init__(f"relayout: {message}")


# The tree ------------------------------------------------------------------------------------

def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout


def present_modules() -> dict:
    """dotted name (relative to matcalc) -> path, for every module and package in the tree."""
    out = {}
    for path in sorted((ROOT / PKG).rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(ROOT / PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def owner(name: str) -> str | None:
    """The LAYOUT key that decides where module `name` goes: itself, or the nearest package
    above it that LAYOUT names (a module added to printing/ stays in printing/; one added to
    web/ goes where web/ goes)."""
    if name in LAYOUT:
        return name
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:i])
        if head in LAYOUT:
            return head
    return None


def new_name(name: str) -> str:
    """New dotted name (relative to matcalc) of old module `name`."""
    key = owner(name)
    if key is None:
        raise KeyError(name)
    return LAYOUT[key] + name[len(key):]


def plan() -> tuple[dict, list]:
    """(old -> new for every present module, unmapped modules)."""
    mods = present_modules()
    unmapped = sorted(m for m in mods if owner(m) is None)
    return {m: new_name(m) for m in mods if owner(m) is not None}, unmapped


def check_table(mapping: dict, unmapped: list) -> None:
    if unmapped:
        lines = "\n".join(f"    {m!r}: ...," for m in unmapped)
        raise Refused("these modules are in the tree but not in LAYOUT (tools/relayout.py); "
                      f"add a line for each, naming its new place, then run again:\n{lines}")
    targets: dict = {}
    for old, new in mapping.items():
        if new in targets and targets[new] != old:
            raise Refused(f"{old} and {targets[new]} would both become matcalc.{new}")
        targets[new] = old
    layer_roots = {part.strip().strip("()") for layer in LAYERS
                   for part in layer.split("|")}
    for new in targets:
        top = f"{PKG}.{new.split('.')[0]}"
        if new != "__init__" and top not in layer_roots:
            raise Refused(f"matcalc.{new} would be in no layer: add {top} to LAYERS")
    for p in (ROOT / PKG).rglob("*"):
        if not p.is_file() or p.suffix in (".py", ".pyc") or "__pycache__" in p.parts:
            continue
        package = ".".join(p.relative_to(ROOT / PKG).parts[:-1])
        if package and (owner(package) is None or new_name(package) != package):
            raise Refused(f"data file {p.relative_to(ROOT)} is in a package that moves: "
                          "move it by hand or keep its package in place")


def module_path(new: str, is_package: bool) -> Path:
    parts = new.split(".")
    if new == "__init__":
        return ROOT / PKG / "__init__.py"
    if is_package:
        return ROOT / PKG / Path(*parts) / "__init__.py"
    return ROOT / PKG / Path(*parts[:-1]) / f"{parts[-1]}.py"


# Rewriting one Python source ---------------------------------------------------------------------

class Rewriter:
    """Rewrites references to moved modules. `old_of_new`: for files inside the package, the
    module each file used to be (relative imports resolve from the old place)."""

    def __init__(self, mapping: dict, packages: set, root_names: set):
        self.mapping = {f"{PKG}.{o}" if o != "__init__" else PKG:
                        f"{PKG}.{n}" if n != "__init__" else PKG for o, n in mapping.items()}
        self.packages = packages              # old dotted names that are packages
        self.root_names = root_names          # names the old package __init__ binds itself
        moved = sorted((o for o, n in mapping.items() if o != n and o != "__init__"),
                       key=len, reverse=True)
        self.dotted = re.compile(r"(?<![\w.])matcalc\.(" + "|".join(map(re.escape, moved))
                                 + r")\b((?:\.\w+)*)") if moved else None
        paths = sorted((o for o, n in mapping.items() if o != n and o not in packages
                        and o != "__init__"), key=len, reverse=True)
        self.pathref = re.compile(r"(?<![\w/.])matcalc/(" + "|".join(
            re.escape(o.replace(".", "/")) for o in paths) + r")\.py\b") if paths else None
        tops = [o for o in paths if "." not in o]
        self.bare = re.compile(r"(?<![\w/.\-])(" + "|".join(map(re.escape, tops))
                               + r")\.py\b") if tops else None
        self.moved = {o: n for o, n in mapping.items() if o != n}

    # names ----------------------------------------------------------------------------------
    def is_module(self, dotted: str) -> bool:
        return dotted in self.mapping

    def new_module(self, dotted: str) -> str:
        """New name of an old absolute module name (or of an attribute path under one)."""
        if dotted in self.mapping:
            return self.mapping[dotted]
        return dotted

    # text references ---------------------------------------------------------------------------
    def text_edits(self, text: str, prose: bool, here: str | None = None) -> list:
        """Edits for dotted names, paths and (in prose) bare file names; `here` is the new
        module of the file being rewritten: a sibling in its package keeps its bare name."""
        edits = []
        if self.dotted:
            for m in self.dotted.finditer(text):
                old, tail = m.group(1), m.group(2)
                full = f"{PKG}.{old}{tail}"
                if old in self.root_names or any(full.startswith(k) for k in KEEP_PUBLIC):
                    continue
                edits.append((m.start(), m.end(1), f"{PKG}.{self.moved[old]}"))
        if self.pathref:
            for m in self.pathref.finditer(text):
                new = self.moved[m.group(1).replace("/", ".")].replace(".", "/")
                edits.append((m.start(), m.end(), f"{PKG}/{new}.py"))
        if prose and self.bare:
            home = here.split(".")[1:-1] if here else None
            for m in self.bare.finditer(text):
                new = self.moved[m.group(1)].split(".")
                if home is not None and new[:-1] == home:
                    new = new[-1:]
                edits.append((m.start(), m.end(), "/".join(new) + ".py"))
        return edits

    # imports -------------------------------------------------------------------------------------
    def import_edits(self, text: str, old_module: str | None, new_module: str | None,
                     is_init: bool) -> tuple[list, list]:
        """(edits, spans of every import statement) for one Python source."""
        tree = ast.parse(text)
        starts = _line_starts(text)
        edits, spans = [], []
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            a = starts[node.lineno - 1] + _col(text, starts[node.lineno - 1], node.col_offset)
            b = starts[node.end_lineno - 1] + _col(text, starts[node.end_lineno - 1],
                                                  node.end_col_offset)
            spans.append((a, b))
            new = self.rewrite_import(node, old_module, new_module, is_init)
            if new is None:
                continue
            line_start = starts[node.lineno - 1]
            indent = text[line_start:a]
            sep = "\n" + indent if indent.strip() == "" else "; "
            edits.append((a, b, sep.join(_wrap(s, len(indent)) for s in new)))
        return edits, spans

    def rewrite_import(self, node, old_module, new_module, is_init):
        if isinstance(node, ast.Import):
            out, changed = [], False
            for al in node.names:
                target = self.new_module(al.name)
                changed |= target != al.name
                out.append(target + (f" as {al.asname}" if al.asname else ""))
            if not changed:
                return None
            # `import matcalc.parser` binds `matcalc`, as the new name does; its dotted uses
            # (matcalc.parser.x) are rewritten as text.
            return ["import " + ", ".join(out)]
        target = _resolve(old_module, is_init, node.level, node.module)
        if target != PKG and not target.startswith(PKG + "."):
            return None
        groups: dict = {}
        for al in node.names:
            full = f"{target}.{al.name}"
            if al.name == "*":
                raise Refused(f"star import from {target} in {new_module}: name the imports")
            # `from matcalc import derive` outside the package means the function the package
            # binds; a relative `from . import derive` inside it means the module.
            if self.is_module(full) and not (node.level == 0 and target == PKG
                                             and al.name in self.root_names):
                dest = self.new_module(full)
                parent, leaf = dest.rsplit(".", 1)
                bound = al.asname or al.name
                groups.setdefault(parent, []).append(leaf if leaf == bound else
                                                     f"{leaf} as {bound}")
            else:
                dest = self.new_module(target)
                groups.setdefault(dest, []).append(al.name + (f" as {al.asname}"
                                                              if al.asname else ""))
        same = (len(groups) == 1 and next(iter(groups)) == target)
        if same and (node.level == 0 or old_module == new_module):
            return None
        out = []
        for dest, names in groups.items():
            if node.level and new_module is not None:
                out.append(f"from {_relative(new_module, is_init, dest)} import "
                           + ", ".join(names))
            else:
                out.append(f"from {dest} import " + ", ".join(names))
        return out


def _line_starts(text: str) -> list:
    starts, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _col(text: str, line_start: int, byte_col: int) -> int:
    """ast's col_offset counts UTF-8 bytes: the character offset on that line."""
    line = text[line_start:text.find("\n", line_start) if "\n" in text[line_start:] else None]
    return len(line.encode("utf-8")[:byte_col].decode("utf-8"))


def _resolve(module: str | None, is_init: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    if module is None:                     # a relative import outside the package (tests/...)
        return ""
    package = module.split(".") if is_init else module.split(".")[:-1]
    base = package[:len(package) - level + 1]
    return ".".join(base + ([name] if name else []))


def _relative(module: str, is_init: bool, dest: str) -> str:
    package = module.split(".") if is_init else module.split(".")[:-1]
    target = dest.split(".")
    common = 0
    while common < min(len(package), len(target)) and package[common] == target[common]:
        common += 1
    level = len(package) - common + 1
    return "." * level + ".".join(target[common:])


def _wrap(statement: str, indent: int, width: int = 99) -> str:
    if indent + len(statement) <= width or " import " not in statement or \
            not statement.startswith("from "):
        return statement
    head, names = statement.split(" import ", 1)
    pad = " " * (indent + len(head) + len(" import ("))
    lines, line = [], head + " import ("
    for i, name in enumerate(names.split(", ")):
        piece = name + ("," if i < len(names.split(", ")) - 1 else ")")
        if len(line) + 1 + len(piece) + indent > width and not line.endswith("("):
            lines.append(line)
            line = pad + piece
        else:
            line = line + ("" if line.endswith("(") else " ") + piece
    lines.append(line)
    return "\n".join(lines)


def apply(text: str, edits: list) -> str:
    edits = sorted(edits)
    for (a1, b1, _), (a2, _b2, _) in zip(edits, edits[1:]):
        if a2 < b1:
            raise Refused("overlapping rewrites: this is a bug in tools/relayout.py")
    for a, b, new in reversed(edits):
        text = text[:a] + new + text[b:]
    return text


def rewrite_python(rw: Rewriter, text: str, old_module, new_module, is_init, depth_change=0,
                   where="") -> str:
    edits, spans = rw.import_edits(text, old_module, new_module, is_init)
    here = None if new_module is None or is_init else new_module
    for a, b, new in rw.text_edits(text, prose=True, here=here):
        if not any(s <= a < e for s, e in spans):
            edits.append((a, b, new))
    if depth_change and "__file__" in text:
        # Path(__file__).parent… : a chain that climbs out of the package (to grammar/ at the
        # repository root) climbs one level more per level the module went down; one that stays
        # inside points at a neighbour, which moves with it (the data module beside
        # parser_tables.py does): left alone, with a note.
        pattern = re.compile(r"Path\(__file__\)(\.resolve\(\))?((?:\.parent)+)")
        uses = text.count("__file__")
        found = list(pattern.finditer(text))
        if len(found) != uses:
            raise Refused(f"{where} uses __file__ in a way relayout cannot adjust for its new "
                          "depth: fix it by hand (or make it depth-independent) and run again")
        for m in found:
            if m.group(2).count(".parent") >= where.count("/") + 1:
                edits.append((m.start(2), m.end(2), m.group(2) + ".parent" * depth_change))
            else:
                print(f"note: {where}: `{m.group(0)}` points inside the package and is left "
                      "as it is: check that what it names moved along")
    if depth_change and new_module:
        # import_module(f"matcalc.{NAME}"): a module named at run time, a neighbour that moved
        # with this one (parser_tables.py loads its data module so)
        new_package = new_module.rsplit(".", 1)[0] if not is_init else new_module
        for m in re.finditer(r"""(?<=f["'])matcalc\.(?=\{)""", text):
            edits.append((m.start(), m.end(), f"{new_package}."))
            print(f"note: {where}: a module named at run time (f\"matcalc.{{…}}\") now looked up "
                  f"in {new_package}")
    return apply(text, edits)


# The whole tree -----------------------------------------------------------------------------------

def root_bound_names() -> set:
    """Names the package __init__ binds with `from .x import name` (e.g. derive, the function,
    which shadows the old module matcalc.derive): `matcalc.derive` means the function."""
    tree = ast.parse((ROOT / PKG / "__init__.py").read_text("utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            names |= {al.asname or al.name for al in node.names}
    return names


def files_to_rewrite() -> list:
    listed = git("ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    out = []
    for rel in listed:
        p = ROOT / rel
        if rel in SKIP or not p.is_file():
            continue
        if p.suffix in TEXT_SUFFIXES or rel == ".ci/run":
            out.append(rel)
    return out


def readme_map() -> str:
    lines = ["<!-- layers: written by tools/relayout.py -->",
             "The package is layered: each layer imports only the layers listed below it, and "
             "`tests/test_layers.py` checks this with an import-linter contract "
             "(pyproject.toml), counting imports inside functions, so there are no cycles.",
             ""]
    lines[1] = _wrap_doc(lines[1])
    for where, what in ROLES:
        paths = ", ".join(f"`{p.strip()}`" for p in where.split(","))
        lines.append(_wrap_doc(f"- {paths} — {what}").replace("\n", "\n  "))
    lines += ["", "The grammar, `grammar/matcalc.lark`, is the language's only definition "
              "(shipped in the wheel). The language and the numeric checks are independent "
              "siblings; printing sits above the calculus because code generation builds "
              "autograd functions from vector–Jacobian products, and the layers below name "
              "nodes in their messages through `errors.show`, which the Unicode printer "
              "registers with.", "<!-- /layers -->", ""]
    lines[-3] = _wrap_doc(lines[-3])
    return "\n".join(lines)


def write_readme_map(text: str) -> str:
    block = readme_map()
    if "<!-- layers:" in text:
        return re.sub(r"<!-- layers:.*?<!-- /layers -->\n\n?", block, text, flags=re.S)
    m = re.search(r"^## How it works[^\n]*\n\n?", text, flags=re.M)
    if not m:
        raise Refused("README.md has no '## How it works' section for the layer map")
    return text[:m.end()] + block + "\n" + text[m.end():]


def contract_toml() -> str:
    layers = ",\n".join(f'    "{layer}"' for layer in LAYERS)
    return ("\n[tool.importlinter]\nroot_package = \"matcalc\"\n\n"
            "[[tool.importlinter.contracts]]\n"
            "name = \"matcalc layers: a layer imports only the layers below it\"\n"
            "type = \"layers\"\n"
            f"layers = [\n{layers},\n]\n")


def check_packaging(pyproject: str) -> None:
    if '"grammar/matcalc.lark" = "matcalc/grammar/matcalc.lark"' not in pyproject:
        raise Refused("pyproject.toml's wheel force-include of grammar/matcalc.lark changed: "
                      "check that the grammar still ships as matcalc/grammar/matcalc.lark")
    if not (ROOT / "grammar" / "matcalc.lark").is_file():
        raise Refused("grammar/matcalc.lark is missing")


def relayout() -> None:
    if (ROOT / PKG / "core").exists() or "[tool.importlinter]" in \
            (ROOT / "pyproject.toml").read_text("utf-8"):
        raise Refused("already laid out (matcalc/core/ or the layers contract exists): "
                      "this script runs once")
    if git("status", "--porcelain", "--untracked-files=no").strip():
        raise Refused("the working tree has uncommitted changes: commit or stash them first")
    untracked = git("ls-files", "--others", "--exclude-standard", PKG).split()
    if untracked:
        raise Refused("untracked files in the package (commit them first): "
                      + ", ".join(untracked))
    mapping, unmapped = plan()
    check_table(mapping, unmapped)
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    check_packaging(pyproject)

    mods = present_modules()
    packages = {m for m, p in mods.items() if p.name == "__init__.py"}
    rw = Rewriter(mapping, packages, root_bound_names())
    files = files_to_rewrite()
    sources = {rel: (ROOT / rel).read_text("utf-8") for rel in files}

    # 1. where every file of the package goes: old rel path -> (new rel path, old, new module)
    moves = {}
    for old, path in mods.items():
        new = mapping[old]
        target = path if old == new else module_path(new, path.name == "__init__.py")
        moves[str(path.relative_to(ROOT))] = (str(target.relative_to(ROOT)), old, new)

    # 2. rewrite every text file's content (from its old self), then move
    new_sources = {}
    for rel in files:
        text = sources[rel]
        if rel in moves:
            dest, old, new = moves[rel]
            is_init = rel.endswith("__init__.py")
            old_mod = PKG if old == "__init__" else f"{PKG}.{old}"
            new_mod = PKG if new == "__init__" else f"{PKG}.{new}"
            depth = dest.count("/") - rel.count("/")
            new_sources[dest] = rewrite_python(rw, text, old_mod, new_mod, is_init, depth, rel)
        elif rel.endswith(".py"):
            new_sources[rel] = rewrite_python(rw, text, None, None, False, 0, rel)
        elif rel.endswith(".ipynb"):
            new_sources[rel] = rewrite_notebook(rw, text)
        else:
            new_sources[rel] = apply(text, rw.text_edits(text, prose=rel.endswith(".md")))

    for rel, text in new_sources.items():
        before = sources.get(rel) or sources[next(r for r, m in moves.items() if m[0] == rel)]
        long_before = {line for line in before.splitlines() if len(line) > 100}
        for n, line in enumerate(text.splitlines(), 1):
            if len(line) > 100 and line not in long_before:
                print(f"note: {rel}:{n} is now {len(line)} characters (a longer path): reflow it")
    for rel, (dest, _old, _new) in sorted(moves.items()):
        if dest != rel:
            (ROOT / dest).parent.mkdir(parents=True, exist_ok=True)
            git("mv", rel, dest)
            print(f"moved {rel} -> {dest}")
    for rel, text in new_sources.items():
        if rel not in sources or text != sources[rel]:
            (ROOT / rel).write_text(text, "utf-8")

    # 3. new packages' __init__ files
    for new in sorted({n.split(".")[0] for n in mapping.values() if "." in n}):
        init = ROOT / PKG / new / "__init__.py"
        if init.exists():
            continue
        doc = PACKAGE_DOCS.get(new, f"the {new} layer.")
        body = f'"""{new}: {doc}"""\n'
        body = _wrap_doc(body)
        if REEXPORTS.get(new):
            body += "from __future__ import annotations\n\n" + "\n".join(REEXPORTS[new]) + "\n"
        init.write_text(body, "utf-8")
        git("add", str(init.relative_to(ROOT)))
        print(f"wrote {init.relative_to(ROOT)}")

    # 4. the contract and the README map
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    marker = "\n[tool.pytest.ini_options]"
    pyproject = pyproject.replace(marker, contract_toml() + marker, 1) if marker in pyproject \
        else pyproject + contract_toml()
    (ROOT / "pyproject.toml").write_text(pyproject, "utf-8")
    readme = ROOT / "README.md"
    readme.write_text(write_readme_map(readme.read_text("utf-8")), "utf-8")
    print("done: run the tests (python -m pytest -q), then `git commit -am ...` (the moves and "
          "the new packages are staged)")


def _wrap_doc(doc: str, width: int = 99) -> str:
    words, lines, line = doc.split(" "), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    lines.append(line)
    return "\n".join(lines)


def rewrite_notebook(rw: Rewriter, text: str) -> str:
    nb = json.loads(text)
    changed = False
    for cell in nb.get("cells", []):
        src = cell.get("source", [])
        joined = "".join(src) if isinstance(src, list) else src
        if cell.get("cell_type") == "code":
            try:
                new = rewrite_python(rw, joined, None, None, False)
            except SyntaxError:            # IPython magics: references as text only
                new = apply(joined, rw.text_edits(joined, prose=False))
        else:
            new = apply(joined, rw.text_edits(joined, prose=True))
        if new != joined:
            changed = True
            cell["source"] = new.splitlines(keepends=True) if isinstance(src, list) else new
    if not changed:
        return text
    indent = 1 if text.startswith("{\n \"") else 2
    return json.dumps(nb, indent=indent, ensure_ascii=False) + ("\n" if text.endswith("\n")
                                                                  else "")


# Read-only views -----------------------------------------------------------------------------------

def show_plan() -> None:
    mapping, unmapped = plan()
    for old, new in sorted(mapping.items(), key=lambda kv: kv[1]):
        mark = "" if old == new else f"  (from matcalc.{old})"
        print(f"matcalc.{new}{mark}" if new != "__init__" else "matcalc")
    check_table(mapping, unmapped)
    check_packaging((ROOT / "pyproject.toml").read_text("utf-8"))
    print(f"{len(mapping)} modules mapped, {sum(o != n for o, n in mapping.items())} to move")


def show_graph() -> None:
    """Every module's direct imports (grimp: imports inside functions count) and the cycles."""
    import grimp
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(PKG, cache_dir=None)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    short = lambda m: m[len(PKG) + 1:] if m.startswith(PKG + ".") else m  # noqa: E731
    for m in sorted(edges):
        print(f"{short(m):28s} -> {', '.join(short(x) for x in edges[m]) or '-'}")
    sccs = _sccs(edges)
    print(f"\n{len(edges)} modules, {sum(map(len, edges.values()))} imports, "
          f"{len(sccs)} cycle(s)")
    for comp in sccs:
        print("  cycle: " + " ↔ ".join(short(m) for m in comp))


def _sccs(edges: dict) -> list:
    sys.setrecursionlimit(10_000)
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="show the plan; change nothing")
    ap.add_argument("--graph", action="store_true", help="print the import graph and cycles")
    ap.add_argument("--readme-map", action="store_true", help="print the README layer map")
    args = ap.parse_args(argv)
    if args.graph:
        show_graph()
    elif args.check:
        show_plan()
    elif args.readme_map:
        print(readme_map())
    else:
        relayout()


if __name__ == "__main__":
    main()

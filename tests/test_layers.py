"""The package's architecture, checked: imports point one way (no cycles, counting imports made
inside functions), the layers contract in pyproject.toml holds, no private name crosses a module
boundary, and every module says in its docstring what it owns."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "matcalc"


def _modules():
    """(dotted name, path) of every module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


MODULES = dict(_modules())


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name an ImportFrom refers to, seen from `module` (a file at `path`)."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[:len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _graph() -> dict:
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (dev extra)")
    graph = grimp.build_graph("matcalc", cache_dir=None)
    return {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}


def _cycles(edges: dict) -> list:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
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
    return out


def test_no_import_cycles():
    """Every import counts, including those inside functions: a lazy import hides a cycle from
    Python but not from a reader."""
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


def _contract():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return config.get("tool", {}).get("importlinter")


def test_layers_contract_holds():
    """import-linter's layers contract (pyproject.toml): higher layers import lower ones only."""
    config = _contract()
    if config is None:
        assert not (PACKAGE / "core").is_dir(), "the layered package needs its layers contract"
        pytest.skip("the layers contract arrives with the layered package (tools/relayout.py)")
    pytest.importorskip("importlinter", reason="import-linter is a dev extra")
    from importlinter import configuration
    from importlinter.application.use_cases import lint_imports   # what `lint-imports` runs
    configuration.configure()
    kept = lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None,
                        no_logo=True)
    assert kept, "the layers contract is broken: the report above names each illegal import"


def test_every_module_belongs_to_a_layer():
    config = _contract()
    if config is None:
        pytest.skip("no layers contract yet")
    layers = [c for c in config["contracts"] if c["type"] == "layers"]
    assert layers, "pyproject.toml has no layers contract"
    named = set()
    for contract in layers:
        for layer in contract["layers"]:
            named |= {part.strip().strip("()") for part in layer.replace(":", "|").split("|")}
    tops = {name.split(".")[1] for name in MODULES if name.count(".") >= 1}
    missing = sorted(f"matcalc.{t}" for t in tops if f"matcalc.{t}" not in named and t != "__init__")
    assert not missing, f"modules in no layer of the contract: {missing}"


def test_no_private_names_cross_modules():
    """`from .x import _y` and `x._y` reach into another module's insides: make the name public
    where it belongs, or move the code."""
    found = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"))
        module_aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(module, path, node)
                if not target.startswith("matcalc"):
                    continue
                for alias in node.names:
                    if f"{target}.{alias.name}" in MODULES:
                        module_aliases.add(alias.asname or alias.name)
                    elif alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{module}: from {target} import {alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("matcalc.") and alias.asname:
                        module_aliases.add(alias.asname)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in module_aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{module}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not found, "private names used across modules:\n" + "\n".join(found)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_says_what_it_owns(module):
    doc = ast.get_docstring(ast.parse(MODULES[module].read_text("utf-8")))
    assert doc and len(doc.split()) >= 5, f"{module} opens without a docstring saying what it owns"


def test_relayout_table_names_every_module():
    """Until the package is laid out in layers, tools/relayout.py must know where every module
    goes: a module it does not name would stop the move. Add a line to its LAYOUT table."""
    if (PACKAGE / "core").is_dir():
        pytest.skip("the package is already laid out in layers")
    import importlib.util
    spec = importlib.util.spec_from_file_location("relayout", ROOT / "tools" / "relayout.py")
    relayout = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(relayout)
    mapping, unmapped = relayout.plan()
    assert not unmapped, f"add these to LAYOUT in tools/relayout.py: {unmapped}"
    relayout.check_table(mapping, unmapped)

"""No code runs from a file another user can write, and no short input takes minutes.

matcalc used to build its parser with Lark's cache=True, which unpickles a predictably named
file in the shared temporary directory: a pickle planted there by any local user ran as whoever
ran `matcalc "x^T x" --wrt x`. The parser tables now ship with the package as plain data.
"""
from __future__ import annotations

import getpass
import importlib.util
import os
import pickle
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import lark
from lark.load_grammar import sha256_digest

import matcalc
from matcalc.language import parser_tables
from matcalc.language.parser import grammar_text, lark_parser, mark_closing_bars

ROOT = Path(__file__).resolve().parent.parent


# Planted cache files ------------------------------------------------------------------------------

class _Marker:
    """Unpickling this creates the marker file: proof that a planted pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _lark_cache_names(grammar: str) -> list[str]:
    """Where Lark(cache=True) looks for this grammar, for the option spellings matcalc used
    (the file name is the SHA-256 of grammar + options + Lark version)."""
    names = []
    for options in ({"parser": "lalr", "strict": True, "propagate_positions": True,
                     "cache": True},
                    {"parser": "lalr", "propagate_positions": True, "cache": True}):
        s = grammar + "".join(k + str(v) for k, v in options.items()) + lark.__version__ + \
            str(sys.version_info[:2])
        for kind in ("cache", "cache_grammar"):
            names.append(".lark_%s_%s_%s_%s_%s.tmp" % (kind, getpass.getuser(), sha256_digest(s),
                                                       *sys.version_info[:2]))
    return names


def _plant(path: Path, kind: str, marker: Path, header: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    if kind == "malicious":
        path.write_bytes(header + pickle.dumps(_Marker(marker)) + pickle.dumps(_Marker(marker)))
    elif kind == "corrupt":
        path.write_bytes(header + b"\x80\x05garbage that is not a pickle" * 10)
    elif kind == "truncated":
        path.write_bytes((header + pickle.dumps({"data": list(range(1000))}))[:37])
    elif kind == "unreadable":
        path.mkdir()                       # reading it fails even for root
        (path / "x").write_text("x")
        os.chmod(path, 0)


def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(TMPDIR=str(tmp / "tmp"), HOME=str(tmp / "home"),
               XDG_CACHE_HOME=str(tmp / "home" / ".cache"), PYTHONPATH=str(ROOT))
    return env


def _cli(env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "matcalc", "x^T x", "--wrt", "x"], env=env,
                          cwd=cwd, capture_output=True, text=True, encoding="utf-8", timeout=120)


def _restore(tmp):
    for p in tmp.rglob("*"):
        if p.is_dir():
            os.chmod(p, 0o700)


@pytest.mark.parametrize("kind", ["malicious", "corrupt", "truncated", "unreadable"])
def test_a_planted_cache_file_is_never_read(tmp_path, kind):
    """A malicious pickle (and a corrupt, truncated or unreadable file) at Lark's temp-dir cache
    path for this grammar and in the per-user cache directories: the command runs nothing from
    it and still answers 2x."""
    marker = tmp_path / "PWNED"
    grammar = grammar_text()
    places = [tmp_path / "tmp" / n for n in _lark_cache_names(grammar)]
    places += [tmp_path / "home" / ".cache" / "matcalc" / n for n in ("parser.pickle", "lark.tmp")]
    for p in places:
        header = (p.name.split("_")[-3].encode() + b"\n") if p.name.startswith(".lark") else b""
        _plant(p, kind, marker, header)
    try:
        proc = _cli(_env(tmp_path), tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "2x"
        assert not marker.exists(), "a planted pickle was unpickled"
    finally:
        _restore(tmp_path)


def test_the_planted_pickle_would_have_run_under_the_old_cache(tmp_path):
    """The plant in the test above is real: Lark(cache=True), as matcalc used it, runs it."""
    marker = tmp_path / "PWNED"
    grammar = grammar_text()
    name = _lark_cache_names(grammar)[0]
    path = tmp_path / "tmp" / name
    # the header Lark checks is the SHA-256 in the file name; then it unpickles the rest
    _plant(path, "malicious", marker, name.split("_")[-3].encode() + b"\n")
    code = ("import sys; from lark import Lark; from matcalc.language.parser import grammar_text; "
            "Lark(grammar_text(), parser='lalr', strict=True, propagate_positions=True, "
            "cache=True)")
    subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), cwd=tmp_path,
                   capture_output=True, timeout=120)
    assert marker.exists()


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "unreadable", "stale", "missing"])
def test_damaged_shipped_tables_fall_back_to_the_grammar(tmp_path, damage):
    """A copy of the package whose shipped tables are damaged, made from another grammar, or
    missing still parses (the parser is built from the grammar in memory)."""
    pkg = tmp_path / "src" / "matcalc"
    shutil.copytree(ROOT / "matcalc", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "src" / "grammar").mkdir()
    shutil.copy(ROOT / "grammar" / "matcalc.lark", tmp_path / "src" / "grammar")
    data = pkg / "language" / "parser_tables.json"
    text = data.read_text("utf-8")
    if damage == "corrupt":
        data.write_text(text.replace('"data": {', '"data": {{{', 1), "utf-8")
    elif damage == "truncated":
        data.write_text(text[: len(text) // 2], "utf-8")
    elif damage == "unreadable":
        data.unlink()
        data.mkdir()
        os.chmod(data, 0)
    elif damage == "stale":
        data.write_text(text.replace('"key": "', '"key": "0', 1), "utf-8")
    else:
        data.unlink()
    env = _env(tmp_path)
    env["PYTHONPATH"] = str(tmp_path / "src")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        proc = _cli(env, tmp_path)
    finally:
        _restore(tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "2x"


def test_shipped_tables_match_the_grammar():
    """The tables in the package were made from grammar/matcalc.lark with this Lark version.
    If this fails after a grammar change, run `python -m matcalc.language.parser_tables`."""
    grammar = grammar_text()
    assert parser_tables.is_current(grammar), \
        "matcalc/language/parser_tables.json is stale: run `python -m matcalc.language.parser_tables`"
    shipped = parser_tables.load(grammar)
    assert shipped is not None
    built = parser_tables.build(grammar)
    corpus = ["(Xθ − y)^T (Xθ − y)", "x^T A x", "A ⊙ B ./ C .^ 2", "‖X − U V^T‖_F^2",
              "-x'ᵀ⁻¹²", "log det(X) + tr(A^{-1} B)", "softmax(W_out h_2) · 𝟙", "kron(A, B) ⊗ C",
              "σ(w^T x)", "2.5e-3 x / c", "X(θ)ᵀ", "|| x ||_2 + ‖A‖_F"]
    for text in corpus:
        text = mark_closing_bars(text)           # the parser's own pre-pass over norm bars
        assert shipped.parse(text) == built.parse(text), text
    assert lark_parser().parse("x^T x") == built.parse("x^T x")


def test_stale_or_damaged_tables_are_not_used():
    """load() returns nothing (so the parser is built from the grammar) for tables made from
    another grammar, and for tables damaged in any way."""
    import json
    grammar = grammar_text()
    good = (ROOT / "matcalc" / "language" / "parser_tables.json").read_text("utf-8")
    assert parser_tables.load(grammar, good) is not None
    assert parser_tables.load(grammar + "\n// edited") is None
    tables = json.loads(good)
    damaged = [good[:-100], good.replace("{", "[", 3), "", "null", "[]",
               json.dumps({**tables, "data": {"x": 1}}), json.dumps({**tables, "memo": {}}),
               json.dumps({k: v for k, v in tables.items() if k != "key"}),
               json.dumps({**tables, "data": None})]
    for text in damaged:
        assert parser_tables.load(grammar, text) is None


def test_nothing_in_the_package_unpickles_or_caches_in_shared_places():
    """No module reads pickles or passes cache= to Lark (the old hole)."""
    for path in (ROOT / "matcalc").rglob("*.py"):
        text = path.read_text("utf-8")
        assert "import pickle" not in text and "pickle.load" not in text, path
        assert not re.search(r"cache\s*=\s*True\s*[,)]", text), path


# Bounded work ---------------------------------------------------------------------------------

def _resources():
    spec = importlib.util.spec_from_file_location("resources", ROOT / "bench" / "resources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RESOURCES = _resources()
QUICK = [name for name, (_, _, heavy) in RESOURCES.CASES.items() if not heavy]
HEAVY = [name for name, (_, _, heavy) in RESOURCES.CASES.items() if heavy]


def _check_budget(name):
    (out,) = list(RESOURCES.measure([name], ROOT, timeout=60, trace=True))
    outcome = out["outcome"]
    assert outcome == "ok" or outcome.startswith("refused: "), f"{name}: {outcome}"
    if outcome.startswith("refused: "):
        assert "limit" in outcome or "supported up to" in outcome, f"{name}: {outcome}"
    assert out["cpu"] <= RESOURCES.BUDGET_S, f"{name}: {out['cpu']:.2f} s of CPU"
    assert out["peak_mb"] is not None and out["peak_mb"] <= RESOURCES.BUDGET_MB, \
        f"{name}: {out['peak_mb']} MB"


def test_the_adversarial_table_has_at_least_20_inputs():
    assert len(RESOURCES.CASES) >= 20


def test_quick_adversarial_inputs_finish_within_budget_or_are_refused():
    """Each quick input of bench/resources.py in a fresh process (timeout 60 s): parse + derive
    + print within 2 s of CPU and 500 MB (tracemalloc), or a MatcalcError naming the limit."""
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import resources; "
            "[print(json.dumps(resources.run_case(n, t == '1')), flush=True) "
            "for n in sys.argv[2:] for t in '01']")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "bench"), *QUICK],
                          capture_output=True, text=True, encoding="utf-8", timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 2 * len(QUICK)
    problems = []
    for timed, traced in zip(rows[::2], rows[1::2]):
        outcome = timed["outcome"]
        if not (outcome == "ok" or outcome.startswith("refused: ")):
            problems.append(f"{timed['case']}: {outcome}")
        elif outcome.startswith("refused: ") and not ("limit" in outcome or
                                                       "supported up to" in outcome):
            problems.append(f"{timed['case']}: refused without naming a limit: {outcome}")
        if timed["cpu"] > RESOURCES.BUDGET_S:
            problems.append(f"{timed['case']}: {timed['cpu']:.2f} s of CPU")
        if traced["peak_mb"] > RESOURCES.BUDGET_MB:
            problems.append(f"{timed['case']}: {traced['peak_mb']:.0f} MB")
    assert not problems, problems


@pytest.mark.parametrize("name", HEAVY)
def test_heavy_adversarial_inputs_finish_within_budget(name, request):
    """The heavy inputs (softmax nested 18 deep, √ nested 400 deep, 4,000 terms, …), one fresh
    process each; run with --slow."""
    if not request.config.getoption("--slow"):
        pytest.skip("heavy adversarial inputs run with --slow")
    _check_budget(name)


# Named printing of results that would print huge --------------------------------------------------

def test_softmax_nested_18_deep_prints_with_named_parts_not_124_million_characters():
    # (sum(softmax(…)) is 1, whose gradient prints 0: a weighted sum keeps the whole chain)
    r = matcalc.derive("c^T " + "softmax(" * 18 + "x" + ")" * 18, wrt="x")
    text = str(r)
    assert len(text) < 5_000 and "   where s1 = " in text
    assert r.text.count(" = ") == text.count(" = ") and "\\text{where }" in r.latex


def test_named_form_means_the_same_as_the_full_form():
    """The named form of a result, with its names substituted back, is the result: checked on
    a small result forced into named form, evaluated at a random point."""
    import numpy as np

    from matcalc.printing.named import named_form
    from matcalc.core.dims import symbol
    from matcalc.numeric.evaluate import evaluate_tree
    r = matcalc.derive("c^T softmax(softmax(softmax(x)))", wrt="x", shapes="x: n, c: n")
    body, _, defs = named_form(r.node, "text").partition("   where ")
    assert defs
    full = body
    for d in reversed(defs.split(", ")):          # s3 before s2 before s1 (and s11 before s1)
        name, _, value = d.partition(" = ")
        full = full.replace(name, f"({value})")
    x, c = np.random.default_rng(1).normal(size=(2, 4, 1))
    have = evaluate_tree(matcalc.parse(full, "x: n, c: n"), {"x": x, "c": c}, {symbol("n"): 4})
    want = r.evaluate({"x": x, "c": c})
    assert have.shape == want.shape == (4, 1)
    assert np.allclose(have, want)


def test_repr_of_a_250_factor_product_is_not_a_recursion_error():
    node = matcalc.parse(" ".join(f"A_{i}" for i in range(250)))
    assert repr(node).startswith("MatMul(")


def test_repr_of_a_huge_shared_tree_is_a_summary():
    node = matcalc.derive("c^T " + "softmax(" * 18 + "x" + ")" * 18, wrt="x").node
    summary = repr(node)
    assert len(summary) < 300 and "20,000 nodes" in summary


def test_parser_tables_stand_alone_and_say_what_they_are():
    """language/parser_tables.py imports nothing from the rest of matcalc (the parser imports it, not
    the other way round), and the generated tables say what they are."""
    import ast
    source = (ROOT / "matcalc" / "language/parser_tables.py").read_text("utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, ast.dump(node)
    import json
    about = json.loads((ROOT / "matcalc" / "language" / "parser_tables.json").read_text("utf-8"))["about"]
    assert "do not edit" in about
    from matcalc.simplify import cse
    imports = [n for n in ast.walk(ast.parse(Path(cse.__file__).read_text("utf-8")))
               if isinstance(n, ast.ImportFrom)]
    assert {n.module for n in imports if n.level == 1} <= {None, "limits"}, \
        "simplify/cse.py imports only expr (and the limits)"


def test_a_second_derive_of_a_deep_shared_result_is_not_exponential():
    """Two equal trees built separately, each sharing its subtrees (2^60 nodes as trees), compare
    equal or unequal at once: the generated dataclass == walked them as trees, so a second
    derive of softmax nested 18 deep (whose memoised nodes are compared with the first's) took
    15 s where the first took 0.4 s."""
    import threading

    from matcalc.core import expr as E

    def build(leaf):
        t = E.Sym("x", (1, 1))
        for k in range(60):
            t = E.Add((t, E.MatMul((E.Num(k + 1, (1, 1)), t), (1, 1))), (1, 1))
        return E.Add((t, E.Sym(leaf, (1, 1))), (1, 1))

    answers = []
    worker = threading.Thread(target=lambda: answers.extend(
        [build("y") == build("y"), build("y") == build("z"), build("y") != build("y")]),
        daemon=True)
    worker.start()
    worker.join(20)
    assert answers == [True, False, False]
    e = "sum(" + "softmax(" * 18 + "x" + ")" * 19
    assert str(matcalc.derive(e, wrt="x")) == str(matcalc.derive(e, wrt="x"))

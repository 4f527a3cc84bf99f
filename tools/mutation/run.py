"""Mutation testing for matcalc: apply each named mutation (mutations.py) to a COPY of the package,
run the fast tests against the copy, and report which mutations the tests fail to notice.

    python tools/mutation/run.py                      # every mutation, results to bench/MUTATION.md
    python tools/mutation/run.py --area engine        # one area (engine, simplifier, printers,
                                                      #   codegen, parser, shapes); repeatable
    python tools/mutation/run.py --only vec-kron      # mutations whose name contains a string
    python tools/mutation/run.py --jobs 2 --timeout 120
    python tools/mutation/run.py --check              # only check that every snippet still
                                                      #   occurs exactly once (seconds)

A mutant is *killed* when pytest fails (a failing test, a collection error, or the per-mutant
timeout); it *survives* when the whole selection passes. A snippet that is no longer found
exactly once is reported as such (the code moved on: update the row), never silently skipped.
Each source area runs the test files that exercise it, cheapest and most telling first, with
-x so that a killed mutant stops at its first failure.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from mutations import AREAS, MUTATIONS, area_of  # noqa: E402

# The fast tests per area (the slow ones - notebooks, wheel building, JAX/PyTorch code, the
# hypothesis properties - are left out; they add minutes and catch nothing these do not).
COMMON = ["tests/test_mutants.py"]
AREA_TESTS = {
    "engine": COMMON + ["tests/test_identities.py", "tests/test_derive.py", "tests/test_higher.py",
                        "tests/test_seeds.py", "tests/test_regressions.py", "tests/test_golden.py",
                        "tests/test_functions.py", "tests/test_explain.py",
                        "tests/test_codegen.py"],
    "simplifier": COMMON + ["tests/test_golden.py", "tests/test_seeds.py",
                            "tests/test_identities.py", "tests/test_simplify.py",
                            "tests/test_derive.py", "tests/test_higher.py",
                            "tests/test_regressions.py", "tests/test_explain.py"],
    "printers": COMMON + ["tests/test_golden.py", "tests/test_seeds.py", "tests/test_latex.py",
                          "tests/test_parser.py", "tests/test_regressions.py",
                          "tests/test_simplify.py", "tests/test_cli.py", "tests/test_explain.py",
                          "tests/test_derive.py"],
    "codegen": COMMON + ["tests/test_codegen.py", "tests/test_cli.py"],
    "parser": COMMON + ["tests/test_parser.py", "tests/test_errors.py", "tests/test_latex.py",
                        "tests/test_golden.py", "tests/test_seeds.py", "tests/test_regressions.py",
                        "tests/test_derive.py", "tests/test_identities.py"],
    "shapes": COMMON + ["tests/test_dims.py", "tests/test_errors.py", "tests/test_parser.py",
                        "tests/test_derive.py", "tests/test_golden.py", "tests/test_latex.py",
                        "tests/test_identities.py", "tests/test_higher.py"],
}
DESELECT = "not jax and not torch"
COPIED = ["matcalc", "grammar", "tests", "pyproject.toml"]


def locate(mutation) -> tuple[int, str]:
    """(occurrences of the snippet, file text). A snippet written `re:PATTERN` is a regular
    expression (for code that is expected to change around the mutated spot)."""
    name, path, old, new, _ = mutation
    text = ((SNAPSHOT or ROOT) / path).read_text(encoding="utf-8")
    if old.startswith("re:"):
        return len(re.findall(old[3:], text)), text
    return text.count(old), text


def mutate(text: str, old: str, new: str) -> str:
    if old.startswith("re:"):
        return re.sub(old[3:], new, text, count=1)
    return text.replace(old, new)


SNAPSHOT: Path | None = None     # the tree as it was when the run started (edits meanwhile ignored)


def make_copy(dest: Path, source: Path | None = None):
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    for item in COPIED:
        src = (source or SNAPSHOT or ROOT) / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / item)


def run_tests(tree: Path, files: list[str], timeout: float) -> tuple[str, float, str]:
    """('passed' | 'failed' | 'timeout', seconds, last output line) for the tests in a copy."""
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1",
               PYTHONHASHSEED="0")
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "--no-header", "-k", DESELECT, *[f for f in files if (tree / f).exists()]]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start, f"no answer within {timeout:.0f} s"
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    failed = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))]
    tail = (failed[0] if failed else lines[-1] if lines else proc.stderr.strip()[-200:])
    status = "passed" if proc.returncode == 0 else "failed"
    if proc.returncode == 5:
        status = "no tests"
    return status, time.monotonic() - start, tail


def run_mutant(mutation, timeout: float) -> dict:
    name, path, old, new, what = mutation
    area = area_of(path)
    count, text = locate(mutation)
    row = {"name": name, "area": area, "file": path, "what": what}
    if count != 1:
        row.update(outcome="snippet not found" if count == 0 else f"snippet not unique ({count}×)",
                   seconds=0.0, detail="")
        return row
    with tempfile.TemporaryDirectory(prefix=f"mut-{name}-") as tmp:
        tree = Path(tmp)
        make_copy(tree)
        (tree / path).write_text(mutate(text, old, new), encoding="utf-8")
        # stage 1: the targeted tests alone (quick to collect); stage 2: the area's selection
        files = AREA_TESTS[area]
        first = [f for f in files if f in COMMON]
        status, seconds, tail = run_tests(tree, first, timeout) if first else ("passed", 0.0, "")
        if status == "passed" and len(first) < len(files):
            status, more, tail = run_tests(tree, [f for f in files if f not in COMMON],
                                           timeout)
            seconds += more
    outcome = {"passed": "SURVIVED", "failed": "killed", "timeout": "killed (timeout)"}.get(
        status, "error: " + status)
    row.update(outcome=outcome, seconds=seconds, detail=tail)
    return row


def baseline(areas, timeout) -> None:
    """The unmutated copy must pass every selection, or no mutant result means anything."""
    files = sorted({f for a in areas for f in AREA_TESTS[a]})
    with tempfile.TemporaryDirectory(prefix="mut-baseline-") as tmp:
        make_copy(Path(tmp))
        status, seconds, tail = run_tests(Path(tmp), files, timeout * 3)
    print(f"baseline: {status} in {seconds:.1f} s ({tail})", flush=True)
    if status != "passed":
        sys.exit("the unmutated code fails its tests; fix that first")


def report(rows, areas, elapsed, jobs, out: Path | None) -> str:
    lines = ["| area | mutants | killed | survived | not applied | score |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    total_k = total_n = 0
    for area in areas:
        rs = [r for r in rows if r["area"] == area]
        if not rs:
            continue
        applied = [r for r in rs if r["outcome"].startswith(("killed", "SURVIVED"))]
        killed = [r for r in applied if r["outcome"].startswith("killed")]
        total_k += len(killed)
        total_n += len(applied)
        score = f"{100 * len(killed) / len(applied):.1f}%" if applied else "-"
        lines.append(f"| {area} | {len(rs)} | {len(killed)} | {len(applied) - len(killed)} | "
                     f"{len(rs) - len(applied)} | {score} |")
    if total_n:
        lines.append(f"| **all** | {len(rows)} | {total_k} | {total_n - total_k} | "
                     f"{len(rows) - total_n} | {100 * total_k / total_n:.1f}% |")
    survivors = [r for r in rows if r["outcome"] == "SURVIVED"]
    broken = [r for r in rows if not r["outcome"].startswith(("killed", "SURVIVED"))]
    lines += ["", f"Survivors ({len(survivors)}):"]
    lines += [f"- `{r['name']}` ({r['file']}): {r['what']}" for r in survivors] or ["- none"]
    if broken:
        lines += ["", f"Not applied or not run ({len(broken)}) - update these rows:"]
        lines += [f"- `{r['name']}` ({r['file']}): {r['outcome']}" for r in broken]
    lines += ["", f"{len(rows)} mutants in {elapsed / 60:.1f} min with {jobs} job(s) "
                  f"(mean {sum(r['seconds'] for r in rows) / max(1, len(rows)):.1f} s a mutant)."]
    text = "\n".join(lines)
    if out is not None:
        detail = ["", "<details><summary>every mutant</summary>", "",
                  "| mutant | area | outcome | s | first failure |", "| --- | --- | --- | ---: | --- |"]
        for r in rows:
            cell = r["detail"].replace("|", "\\|")[:110]
            detail.append(f"| `{r['name']}` | {r['area']} | {r['outcome']} | "
                          f"{r['seconds']:.1f} | {cell} |")
        detail += ["", "</details>", ""]
        out.parent.mkdir(parents=True, exist_ok=True)
        body = text + "\n" + "\n".join(detail)
        marker_start, marker_end = "<!-- mutation-run:start -->", "<!-- mutation-run:end -->"
        old = out.read_text(encoding="utf-8") if out.exists() else ""
        if marker_start in old and marker_end in old:
            head, rest = old.split(marker_start, 1)
            tail = rest.split(marker_end, 1)[1]
            new = f"{head}{marker_start}\n{body}\n{marker_end}{tail}"
        else:
            new = f"{old}\n{marker_start}\n{body}\n{marker_end}\n"
        out.write_text(new, encoding="utf-8")
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--area", action="append", choices=sorted(AREAS),
                    help="only this area (repeatable); default: all")
    ap.add_argument("--only", action="append", default=[],
                    help="only mutations whose name contains this (repeatable)")
    ap.add_argument("--jobs", type=int, default=1, help="mutants tested at once (default 1)")
    ap.add_argument("--timeout", type=float, default=180, help="seconds per mutant")
    ap.add_argument("--out", default="bench/MUTATION.md",
                    help="results file (the block between the mutation-run markers is "
                         "replaced); '-' for none. Partial runs (--area/--only) write nothing "
                         "unless --out is given explicitly")
    ap.add_argument("--tests", nargs="+", metavar="FILE",
                    help="run these test files instead of each area's selection")
    ap.add_argument("--check", action="store_true",
                    help="only check that every snippet occurs exactly once")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args(argv)

    areas = args.area or list(AREAS)
    chosen = [m for m in MUTATIONS if area_of(m[1]) in areas and
              (not args.only or any(s in m[0] for s in args.only))]
    if args.check:
        bad = [(m[0], locate(m)[0]) for m in chosen if locate(m)[0] != 1]
        for name, count in bad:
            print(f"{name}: snippet {'not found' if count == 0 else f'found {count}×'}")
        print(f"{len(chosen) - len(bad)} of {len(chosen)} snippets occur exactly once")
        return 1 if bad else 0
    if args.tests:
        for area in AREA_TESTS:
            AREA_TESTS[area] = list(args.tests)
    partial = bool(args.area or args.only or args.tests)
    explicit_out = any(a == "--out" or a.startswith("--out=") for a in (argv or sys.argv[1:]))
    out = None if args.out == "-" or (partial and not explicit_out) else ROOT / args.out
    global SNAPSHOT
    snapshot_dir = tempfile.TemporaryDirectory(prefix="mut-snapshot-")
    SNAPSHOT = Path(snapshot_dir.name)     # noqa: F841 - kept alive until the run ends
    make_copy(SNAPSHOT, ROOT)
    if not args.no_baseline:
        baseline(areas, args.timeout)
    start = time.monotonic()
    rows: list = []

    def one(m):
        r = run_mutant(m, args.timeout)
        mark = "  " if r["outcome"].startswith("killed") else "!!"
        print(f"{mark} {r['outcome']:<18} {r['seconds']:5.1f}s  {r['name']}", flush=True)
        return r

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(one, chosen))
    elapsed = time.monotonic() - start
    print()
    print(report(rows, areas, elapsed, args.jobs, out))
    if out is not None:
        print(f"\nwritten to {out}")
    return 0 if all(r["outcome"].startswith("killed") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

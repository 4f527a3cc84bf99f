"""`pip install .` ships the grammar: build a wheel, install it into a fresh virtual environment
and parse with the installed copy, from a directory where the source tree is not importable."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(out), str(ROOT)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{proc.stderr[-2000:]}")
    (path,) = out.glob("matcalc_symbolic-*.whl")
    return path


def test_wheel_contains_the_grammar(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "matcalc/grammar/matcalc.lark" in names
    assert "matcalc/parser.py" in names


def test_installed_copy_finds_its_grammar(wheel, tmp_path):
    """Install the wheel (not the source tree) into a directory of its own, import it from
    there, first on sys.path, and derive: the grammar must come from the installed package."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    assert (target / "matcalc" / "grammar" / "matcalc.lark").is_file()
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import matcalc, matcalc.parser as p; "
            "assert matcalc.__file__.startswith(sys.argv[1]), matcalc.__file__; "
            "assert p.resources.files('matcalc').joinpath('grammar/matcalc.lark').is_file(); "
            "print(matcalc.derive('(Xθ−y)^T(Xθ−y)', wrt='θ'))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                          text=True, cwd=tmp_path, env=env, encoding="utf-8")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2Xᵀ(Xθ − y)"


def test_ci_runs_the_readme_commands():
    """.ci/run must run exactly the two set-up commands the README starts with."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```", 2)[1].strip().splitlines()
    assert len(block) == 2, block
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for command in block:
        assert command in ci

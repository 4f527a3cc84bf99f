"""What a user installs: `python -m build` makes an sdist and a wheel; each is installed into a
fresh virtual environment and used from a directory where the source tree is not importable.
The wheel ships the grammar, the licence and py.typed; the sdist carries every file its own
tests read."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import matcalc

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / ".ci" / "run"


def _run(cmd, **kw):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", env=env, **kw)


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """sdist and wheel from `python -m build` (the wheel is built from the sdist, so this also
    proves the sdist builds)."""
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not a source checkout")
    try:
        import build  # noqa: F401
    except ImportError:
        # the dev extra installs it (.ci/run): there a missing `build` is a failure
        if os.environ.get("CI"):
            pytest.fail("CI must build the sdist and wheel, but `build` is not installed")
        pytest.skip("python -m build needs the `build` package (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)])
    if proc.returncode != 0:
        pytest.fail(f"python -m build failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    (sdist,) = out.glob("matcalc_symbolic-*.tar.gz")
    (wheel,) = out.glob("matcalc_symbolic-*.whl")
    return sdist, wheel


def _fresh_venv(where: Path) -> Path:
    """A new virtual environment whose own site-packages is empty; the dependencies (NumPy,
    SymPy, Lark) come from the environment running the tests through a .pth file, so nothing is
    downloaded."""
    proc = _run([sys.executable, "-m", "venv", "--without-pip", str(where)])
    assert proc.returncode == 0, proc.stderr
    python = where / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    Path(site.stdout.strip(), "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _install_and_use(dist: Path, tmp_path: Path):
    python = _fresh_venv(tmp_path / "venv")
    proc = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                 "--no-deps", str(dist)])
    assert proc.returncode == 0, f"installing {dist.name} failed:\n{proc.stderr[-2000:]}"
    code = ("import sys, matcalc; from importlib import resources; "
            "assert matcalc.__file__.startswith(sys.prefix), matcalc.__file__; "
            "assert resources.files('matcalc').joinpath('grammar/matcalc.lark').is_file(); "
            "assert resources.files('matcalc').joinpath('py.typed').is_file(); "
            "print(matcalc.__version__); print(matcalc.derive('(Xθ−y)^T(Xθ−y)', wrt='θ'))")
    proc = _run([str(python), "-c", code], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == [matcalc.__version__, "2Xᵀ(Xθ − y)"]
    cli = _run([str(python.parent / "matcalc"), "x^T A x", "--wrt", "x"], cwd=tmp_path)
    assert cli.returncode == 0 and cli.stdout.strip() == "(A + Aᵀ)x", cli.stderr


def test_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", matcalc.__version__)


def test_wheel_ships_grammar_licence_and_py_typed(dists):
    names = zipfile.ZipFile(dists[1]).namelist()
    assert "matcalc/grammar/matcalc.lark" in names and "matcalc/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE")
               for n in names), names
    meta = zipfile.ZipFile(dists[1]).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert f"Version: {matcalc.__version__}" in meta


def _paths_tests_read() -> set[str]:
    """Top-level paths the tests open through ROOT / "..." (and the files named there)."""
    found = set()
    for test in (ROOT / "tests").glob("*.py"):
        for m in re.finditer(r'ROOT\s*/\s*"([^"]+)"((?:\s*/\s*"[^"]+")*)', test.read_text("utf-8")):
            parts = [m.group(1)] + re.findall(r'"([^"]+)"', m.group(2))
            if "..." not in parts:
                found.add("/".join(parts))
    return found


def test_sdist_carries_what_its_tests_read(dists):
    with tarfile.open(dists[0]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for need in ("LICENSE", "CHANGELOG.md", "README.md", "matcalc/py.typed",
                 "grammar/matcalc.lark", "tests/conftest.py"):
        assert need in names, need
    assert any(n.startswith("notebooks/") and n.endswith(".ipynb") for n in names)
    assert any(n.startswith("docs/") and n.endswith(".md") for n in names)
    missing = [p for p in _paths_tests_read()
               if p not in names and not any(n.startswith(p + "/") for n in names)]
    assert not missing, f"the sdist lacks files its tests read: {missing}"


def test_wheel_installs_into_a_fresh_environment_and_runs(dists, tmp_path):
    _install_and_use(dists[1], tmp_path)


def test_sdist_installs_into_a_fresh_environment_and_runs(dists, tmp_path):
    _install_and_use(dists[0], tmp_path)


def test_ci_runs_the_readme_commands():
    """.ci/run must run exactly the two set-up commands the README starts with."""
    if not CI.is_file():
        pytest.skip(".ci/run is not in this copy (a wheel or a trimmed sdist)")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```", 2)[1].strip().splitlines()
    assert len(block) == 2, block
    ci = CI.read_text(encoding="utf-8").splitlines()
    for command in block:
        assert command in ci

"""Every notebook runs top to bottom, as a reader would run it; they are stored without outputs
and use only the public API. Executed, each shows its results typeset (text/latex, or HTML that
MathJax typesets) and its plots inline (image/png).

The kernel runs with MPLBACKEND=Agg in its environment: the notebooks must not depend on an
interactive backend, and they show their figures through `%matplotlib inline`, the backend every
Jupyter front end uses for inline figures, never by forcing Agg themselves (which hides them)."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
TOPICS = {"tour": "A tour of matcalc",
          "least_squares_from_scratch": "Least squares from scratch",
          "a_neuron_and_its_loss": "A neuron and its loss",
          "backprop_order_and_cost": "Backprop order and cost",
          "vjps_and_pytorch": "VJPs and PyTorch",
          "identity_cookbook": "Identity cookbook",
          "structured_gradients": "Structured gradients"}


def _source(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_notebooks_are_named_by_topic():
    assert {p.stem for p in NOTEBOOKS} == set(TOPICS)
    for p in NOTEBOOKS:
        title = "".join(_source(p)["cells"][0]["source"]).splitlines()[0]
        assert title == f"# {TOPICS[p.stem]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean_and_public(path):
    nb = _source(path)
    assert nb["cells"][0]["cell_type"] == "markdown"
    assert "What this notebook shows" in "".join(nb["cells"][0]["source"])
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        assert not re.search(r"\bseed \d|issue \d", src, re.I)     # no internal numbering
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None
            assert not re.search(r"matcalc\.(parser|rules|simplify|derive\.|build|expr|shapes|numeric)", src)
            assert "matplotlib.use(" not in src and "MPLBACKEND" not in src


def _plots(path):
    return any("plt." in "".join(c["source"]) for c in _source(path)["cells"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_typeset_results_and_inline_plots(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    if path.stem == "least_squares_from_scratch":
        pytest.importorskip("sklearn")
    monkeypatch.setenv("MPLBACKEND", "Agg")           # the kernel inherits it
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()          # raises CellExecutionError on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert "Traceback" not in json.dumps(outputs)
    kinds = {k for o in outputs for k in o.get("data", {})}
    mathjax_html = any(re.search(r"\$\$|\\\(", o["data"]["text/html"])
                       for o in outputs if "text/html" in o.get("data", {}))
    assert "text/latex" in kinds or mathjax_html, f"no typeset result in {path.name}"
    torch_missing = importlib.util.find_spec("torch") is None
    if _plots(path) and not (path.stem == "vjps_and_pytorch" and torch_missing):
        assert "image/png" in kinds, f"{path.name} plots, but no image/png output"

"""Run a Python snippet against one mutant and against the unmutated code, side by side:
    python tools/mutation/probe.py rules-det-drops-det -c "from matcalc import derive; print(derive('det(X)', wrt='X'))"
A quick way to find the input that tells a surviving mutant from the real code."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("-c", dest="code", required=True)
    args = ap.parse_args()
    m = next(m for m in run.MUTATIONS if m[0] == args.name)
    count, text = run.locate(m)
    if count != 1:
        sys.exit(f"snippet found {count} times")
    for label, mutated in (("original", False), ("mutant", True)):
        with tempfile.TemporaryDirectory() as tmp:
            run.make_copy(Path(tmp), run.ROOT)
            if mutated:
                (Path(tmp) / m[1]).write_text(run.mutate(text, m[2], m[3]), encoding="utf-8")
            env = dict(os.environ, PYTHONPATH=tmp)
            p = subprocess.run([sys.executable, "-c", args.code], cwd=tmp, env=env,
                               capture_output=True, text=True)
            print(f"--- {label}:\n{p.stdout}{p.stderr[-1500:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The command never ignores a flag, and ends cleanly whatever happens to its streams:
a table of flag combinations that used to be ignored (usage error, exit 2, naming the
conflict), batch mode with failing lines, a closed pipe, Ctrl-C, a full disk and an output
that is not UTF-8 — exit codes and no traceback."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, stdin: bytes | str | None = None, env: dict | None = None, timeout=60):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([sys.executable, "-m", "matcalc", *args], input=data,
                          capture_output=True, env=full_env, timeout=timeout)


CONFLICTS = [
    (["x'x", "--hvp", "u"], "--hvp needs --wrt"),
    (["x'x", "--vjp", "v"], "--vjp needs --wrt"),
    (["x'x", "--jvp", "u"], "--jvp needs --wrt"),
    (["x'x", "--order", "2"], "--order needs --wrt"),
    (["x'x", "--layout", "denominator"], "--layout needs --wrt"),
    (["x'x", "--steps"], "--steps needs --wrt"),
    (["x'x", "--check"], "--check needs --wrt"),
    (["x'x", "--cse"], "--cse needs --wrt"),
    (["x'x", "--cost", "n=10"], "--cost needs --wrt"),
    (["x'x", "--wrt", "x", "--code", "numpy"], "--code adds generated code"),
    (["x'x", "--wrt", "x", "--code", "jax", "--format", "latex"], "--code adds generated code"),
    (["x'x", "--wrt", "x", "--steps", "--format", "numpy"], "--steps cannot be shown"),
    (["x'x", "--wrt", "x", "--steps", "--format", "torch"], "--steps cannot be shown"),
    (["x'x", "--wrt", "x", "--check", "--format", "jax"], "--check cannot be shown"),
    (["x'x", "--wrt", "x", "--cse", "--format", "json"], "--cse names subexpressions"),
    (["x'x", "--wrt", "x", "--cse", "--format", "numpy"], "--cse names subexpressions"),
    (["x'x", "--wrt", "x", "--order", "2", "--vjp", "v"], "--order 2 cannot be combined with --vjp"),
    (["x'x", "--wrt", "x", "--order", "3", "--hvp", "u"], "--order 3 cannot be combined with --hvp"),
    (["x'x", "--wrt", "x", "--layout", "denominator", "--jvp", "u"], "--layout does not apply"),
    (["x'x", "--wrt", "x", "--lang", "zh"], "--lang chooses the language of --steps"),
    (["x'x", "--wrt", "x", "--order", "0"], "--order must be a positive integer"),
]


@pytest.mark.parametrize("argv, message", CONFLICTS, ids=[" ".join(a[1:]) for a, _ in CONFLICTS])
def test_flag_that_would_be_ignored_is_a_usage_error(argv, message):
    p = cli(*argv)
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert message in err and "Traceback" not in err
    assert p.stdout == b""


@pytest.mark.parametrize("argv", [
    ["x'x", "--wrt", "x", "--code", "numpy", "--format", "json"],
    ["x'x", "--wrt", "x", "--steps", "--lang", "zh"],
    ["x'x", "--wrt", "x", "--cse"],
    ["x'x", "--wrt", "x", "--cse", "--format", "latex"],
    ["x'x", "--wrt", "x", "--cse", "--format", "text"],
    ["x'x", "--wrt", "x", "--order", "2", "--layout", "denominator"],
    ["x'x", "--wrt", "x", "--hvp", "u"],
    ["x'x", "--wrt", "x", "--shapes", "x: n", "--cost", "n=10", "--format", "numpy"],
])
def test_flags_that_work_together_still_work(argv):
    p = cli(*argv)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout.strip()


def test_batch_text_has_one_output_per_line_and_numbers_failing_lines():
    p = cli("-", "--wrt", "x", stdin="x^T x\ntr(x)\n\n(x\nsum(exp(x))\n")
    out = p.stdout.decode().splitlines()
    assert p.returncode == 1
    assert out[0] == "2x" and out[1].startswith("line 2: error:")
    assert out[2].startswith("line 4: error: missing closing parenthesis")
    assert out[3] == "exp(x)"
    err = p.stderr.decode()
    assert "line 2: error:" in err and "line 4: error:" in err and "Traceback" not in err


def test_batch_json_has_one_object_per_line_with_errors_as_objects():
    p = cli("-", "--wrt", "x", "--format", "json", stdin="x^T x\ntr(x)\nλxᵀx\n")
    objs = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert p.returncode == 1
    assert [o["line"] for o in objs] == [1, 2, 3]
    assert objs[0]["kind"] == "gradient" and objs[0]["shape"] == ["n_x", 1]
    assert objs[1]["kind"] == "error" and "tr needs a square matrix" in objs[1]["error"]
    assert objs[2]["kind"] == "gradient" and any("λ" in n for n in objs[2]["notes"])


def test_notes_go_to_stderr_and_the_bare_result_to_stdout():
    p = cli("(Xθ − y)ᵀ(Xθ − y) + λθᵀθ", "--wrt", "θ")
    assert p.returncode == 0
    assert p.stdout.decode().strip() == "2(Xᵀ(Xθ − y) + λθ)"
    assert "note: λ is taken as a scalar" in p.stderr.decode()


def test_json_carries_notes_kind_and_shape():
    p = cli("A x + b", "--wrt", "x", "--shapes", "A: m×n, x: n", "--format", "json")
    obj = json.loads(p.stdout)
    assert obj["kind"] == "jacobian" and obj["shape"] == ["m", "n"]
    assert any("Jacobian" in n for n in obj["notes"])


def test_closed_pipe_ends_without_a_traceback():
    lines = "x^T A x\n" * 400
    proc = subprocess.Popen([sys.executable, "-m", "matcalc", "-", "--wrt", "x"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.stdin.write(lines.encode())
    proc.stdin.close()
    first = proc.stdout.readline()
    proc.stdout.close()                                  # like `| head -1`
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert first.strip() == "(A + Aᵀ)x".encode()
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert code in (0, 141)


def _interruptible():
    # a job started in the background by a non-interactive shell (as CI may be) inherits
    # SIGINT ignored, and Python then never raises KeyboardInterrupt: give the child the
    # default disposition a terminal user's process has
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_without_a_traceback():
    proc = subprocess.Popen([sys.executable, "-m", "matcalc", "-", "--wrt", "x"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            preexec_fn=_interruptible)
    time.sleep(3.0)                                      # it is waiting for stdin
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err


def test_full_disk_is_an_error_message_not_a_traceback():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "wb") as full:
        p = subprocess.run([sys.executable, "-m", "matcalc", "x^T x", "--wrt", "x"],
                           stdout=full, stderr=subprocess.PIPE,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    err = p.stderr.decode()
    assert p.returncode == 74 and "cannot write the output" in err and "Traceback" not in err


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LANG": "C", "LC_ALL": "C"},
                                 {"PYTHONIOENCODING": "latin-1"}])
def test_output_that_is_not_utf8_is_escaped_not_a_crash(env):
    p = cli("θᵀθ + λ‖θ‖²", "--wrt", "θ", env=env)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    assert b"Traceback" not in p.stderr and p.stdout.strip()


def test_control_characters_and_invalid_utf8_in_messages_are_escaped():
    p = subprocess.run([sys.executable, "-m", "matcalc", b"x\x1b[31m + \xff"],
                       capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       timeout=60)
    err = p.stderr.decode()
    assert p.returncode == 1 and "Traceback" not in err
    assert "\x1b" not in err and "\\x1b" in err and "\\xff" in err


def test_invalid_utf8_on_stdin_in_batch_mode_is_a_numbered_error():
    p = cli("-", "--wrt", "x", stdin=b"x^T x\n\xff\xfe x\n")
    out = p.stdout.decode()
    assert p.returncode == 1 and "Traceback" not in p.stderr.decode()
    assert out.splitlines()[0] == "2x" and out.splitlines()[1].startswith("line 2: error:")
    assert "\\xff" in out


def test_json_on_an_ascii_stdout_is_still_valid_json_with_every_character():
    p = cli("𝟙ᵀθ", "--wrt", "θ", "--format", "json", env={"PYTHONIOENCODING": "ascii"})
    assert p.returncode == 0, p.stderr.decode()
    obj = json.loads(p.stdout.decode("ascii"))
    assert obj["input"] == "𝟙ᵀθ" and obj["wrt"] == "θ"


def test_batch_text_keeps_one_line_per_expression_when_a_result_has_assumptions():
    """The 'assuming: …' line of a matrix-function result would shift every later answer in
    batch mode; there it is a numbered note on stderr."""
    p = cli("-", "--wrt", "X", stdin="tr(logm(X))\ntr(X)\n")
    assert p.returncode == 0
    assert p.stdout.decode().splitlines() == ["X⁻ᵀ", "I"]
    assert "line 1: note: assuming: X has no eigenvalue on the closed negative real axis" in \
        p.stderr.decode()

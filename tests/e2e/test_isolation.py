"""User code runs in worker processes: a file that ends, crashes or hangs its interpreter costs
one error line, and every other file of the run is still linted (through the CLI, for real)."""

from __future__ import annotations

import json
import sys
from textwrap import dedent

import pytest

from helpers import run_cli

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="isolated workers fork (Linux)")

HEALTHY = """
import torch.nn as nn

def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
"""


def _model(body: str, header: str = "") -> str:
    """A module whose ``Net.__init__`` runs ``body`` after building its layer."""
    init = "".join(f"        {line}\n" for line in dedent(body).strip().splitlines())
    return (dedent(header) + "import torch.nn as nn\n\n\nclass Net(nn.Module):\n"
            "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(8, 4)\n"
            + init + "\n    def forward(self, x):\n        return self.fc(x)\n")


FILES = {
    "a_healthy.py": HEALTHY,
    "b_exits.py": _model("import os\nos._exit(3)"),
    "c_segfaults.py": _model("import ctypes\nctypes.string_at(0)"),
    "d_interrupts.py": _model("raise KeyboardInterrupt"),
    "e_sys_exit.py": _model("raise SystemExit(4)"),
    # Arms its own alarm, then ignores SIGALRM (actlint's own time limit) and spins in the
    # constructor: only the parent process can stop it.
    "f_alarm.py": _model("signal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass", header="""
        import signal
        signal.alarm(1)
        """),
    "g_atexit.py": _model("pass", header="""
        import atexit
        atexit.register(lambda: print("GOODBYE FROM THE USER'S ATEXIT"))
        """),
    "h_healthy.py": HEALTHY,
}

EXPECTED_ERRORS = {
    "b_exits.py": "b_exits.py: the file ended its process with exit code 3 while building Net()",
    "c_segfaults.py": "c_segfaults.py: the interpreter crashed (SIGSEGV) while building Net()",
    "d_interrupts.py": "d_interrupts.py: user code raised KeyboardInterrupt while building Net()",
    "e_sys_exit.py": "e_sys_exit.py: Net() called sys.exit(4)",
    "f_alarm.py": "f_alarm.py: building Net() did not finish within 2s (the worker was stopped)",
}


@pytest.fixture
def files(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_each_broken_file_is_one_error_and_the_others_are_linted(files, jobs):
    proc = run_cli("--format", "json", "--no-probe", "--load-timeout", "2", "-j", jobs, *FILES, cwd=files)
    assert proc.returncode == 2, proc.stderr
    document = json.loads(proc.stdout)  # one clean document, whatever the files did
    assert sorted(m["file"] for m in document["models"]) == ["a_healthy.py", "g_atexit.py", "h_healthy.py"]
    assert {e["file"]: e["message"] for e in document["errors"]} == EXPECTED_ERRORS
    for message in EXPECTED_ERRORS.values():
        assert proc.stderr.count(message) == 1, proc.stderr
    # Nothing the user's code registered runs, nor reaches the report.
    assert "GOODBYE" not in proc.stdout and "GOODBYE" not in proc.stderr


def test_jobs_do_not_change_the_report(files):
    one = run_cli("--format", "json", "--no-probe", "--load-timeout", "2", "-j", "1", *FILES, cwd=files)
    two = run_cli("--format", "json", "--no-probe", "--load-timeout", "2", "-j", "2", *FILES, cwd=files)
    assert one.stdout == two.stdout


def test_the_text_report_lists_the_healthy_files_and_one_line_per_broken_one(files):
    proc = run_cli("--no-probe", "--load-timeout", "2", *FILES, cwd=files)
    assert proc.stdout.splitlines()[-1].endswith("; 5 files could not be linted"), proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("actlint: error: ")]
    assert errors == [f"actlint: error: {message}" for message in EXPECTED_ERRORS.values()]

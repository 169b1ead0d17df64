"""A run over several files streams: each file's findings on stdout as soon as it is done, a
progress line on stderr only when stderr is a terminal (never in pipes, CI or JSON)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from textwrap import dedent

import pytest

BROKEN = """
import torch.nn as nn

def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.Softmax(dim=1), nn.Linear(16, 4))
"""

SLOW = """
import time
import torch.nn as nn

def build_model():
    time.sleep({seconds})
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("CI", "FORCE_COLOR", "GITHUB_ACTIONS"):
        env.pop(name, None)
    env["NO_COLOR"] = "1"
    return env


def _actlint(*args: str) -> list[str]:
    return [sys.executable, "-m", "actlint", *args]


def test_the_first_files_findings_arrive_before_the_last_file_is_done(tmp_path):
    (tmp_path / "a_broken.py").write_text(dedent(BROKEN))
    (tmp_path / "b_slow.py").write_text(dedent(SLOW.format(seconds=8)))
    proc = subprocess.Popen(_actlint("--no-probe", "a_broken.py", "b_slow.py"), cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = proc.stdout.readline()
        still_running = proc.poll() is None
        rest = proc.stdout.read()
    finally:
        proc.wait(timeout=120)
    assert first.startswith("a_broken.py:5:") and " ACT101 [error] " in first, first
    assert still_running, "the first finding came only once the whole run was over"
    assert rest.splitlines()[-1].startswith("Found 1 problem (1 error) in 2 models")


def test_streamed_text_is_the_report_of_a_run_that_does_not_stream(tmp_path):
    """Streaming changes when lines appear, not what they say: -o (no streaming) writes the same text."""
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_text(dedent(BROKEN))
    streamed = subprocess.run(_actlint("--no-probe", "-j", "2", "."), cwd=tmp_path, env=_env(),
                              capture_output=True, text=True, timeout=300)
    subprocess.run(_actlint("--no-probe", "-j", "1", ".", "-o", "report.txt"), cwd=tmp_path, env=_env(),
                   capture_output=True, text=True, timeout=300)
    assert streamed.stdout == (tmp_path / "report.txt").read_text()


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_the_progress_line_appears_on_a_terminal_only(tmp_path):
    (tmp_path / "a_broken.py").write_text(dedent(BROKEN))
    (tmp_path / "b_slow.py").write_text(dedent(SLOW.format(seconds=2)))
    args = _actlint("--no-probe", "a_broken.py", "b_slow.py")

    controller, terminal = os.openpty()
    proc = subprocess.Popen(args, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=120)
    os.close(controller)
    shown = seen.decode(errors="replace")
    assert "[1/2] 50% b_slow.py" in shown, shown
    assert "\r\x1b[K" in shown  # the line is cleared before the report is written and at the end
    assert b"[1/2]" not in proc.stdout.read()

    piped = subprocess.run(args, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert "[1/2]" not in piped.stderr and "\x1b[K" not in piped.stderr
    in_ci = subprocess.run(args, cwd=tmp_path, env={**_env(), "CI": "true"}, capture_output=True, text=True,
                           timeout=120)
    assert "[1/2]" not in in_ci.stderr


def test_no_progress_line_under_json_even_on_a_terminal(tmp_path):
    (tmp_path / "a_broken.py").write_text(dedent(BROKEN))
    controller, terminal = os.openpty()
    proc = subprocess.run(_actlint("--no-probe", "--format", "json", "a_broken.py"), cwd=tmp_path, env=_env(),
                          stdout=subprocess.PIPE, stderr=terminal, timeout=120)
    os.close(terminal)
    os.set_blocking(controller, False)
    try:
        seen = os.read(controller, 65536)
    except (BlockingIOError, OSError):
        seen = b""
    os.close(controller)
    assert b"[0/1]" not in seen and b"[1/1]" not in seen
    assert proc.stdout.startswith(b"{")

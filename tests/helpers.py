"""Shared test helpers: write model files, lint them in-process or through the CLI.

Imported as ``from helpers import ...`` (tests/ is on sys.path through conftest.py); the
fixtures live in conftest.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from actlint.cli import main
from actlint.rules.engine import RuleSelection
from actlint.options import LintOptions
from actlint.pipeline import lint_paths
from actlint.core.results import LintRun

REPO = Path(__file__).resolve().parent.parent


def write_model(tmp_path: Path, source: str, name: str = "model.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source).strip() + "\n", encoding="utf-8")
    return path


def lint_source(tmp_path: Path, source: str, *, select: tuple[str, ...] = ("ACT",), name: str = "model.py",
                **options) -> LintRun:
    """Lint a model file written from ``source`` (in-process)."""
    path = write_model(tmp_path, source, name)
    return lint_paths([str(path)], LintOptions(selection=RuleSelection(select=select), **options))


def rule_ids(run: LintRun) -> list[str]:
    return [f.rule for f in run.findings()]


def invoke_cli(*args: str):
    """The CLI in-process (torch is already imported here: fast)."""
    return CliRunner().invoke(main, list(args))


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m actlint`` as a user would (a fresh process)."""
    full_env = dict(os.environ)
    full_env.pop("FORCE_COLOR", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "actlint", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300,
    )


def cli_json(*args: str, cwd: Path | None = None) -> tuple[dict, subprocess.CompletedProcess]:
    proc = run_cli(*args, "--format", "json", cwd=cwd)
    return json.loads(proc.stdout), proc


# A small broken model (ACT101 softmax in a hidden layer, ACT106 tanh) and a healthy one,
# shared by the output-format tests.
BROKEN = """
import torch.nn as nn

def build_model():
    return nn.Sequential(
        nn.Linear(8, 16),
        nn.Softmax(dim=1),
        nn.Linear(16, 16),
        nn.Tanh(),
        nn.Linear(16, 3),
    )
"""

HEALTHY = """
import torch.nn as nn

def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
"""

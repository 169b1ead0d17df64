"""The result cache through the CLI: unchanged runs are replayed, and nothing stale is ever served.

A model file whose constructor prints ``BUILT <name>`` (user output goes to stderr) tells
whether a run linted it or replayed it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

MODEL = """
import sys
import torch.nn as nn
from layers import hidden_activation


class {name}(nn.Module):
    def __init__(self):
        super().__init__()
        print("BUILT {name}", file=sys.stderr)
        self.fc1 = nn.Linear(8, 16)
        self.act = hidden_activation()
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
"""

SOFTMAX_LAYERS = """
import torch.nn as nn

def hidden_activation():
    return nn.Softmax(dim=1)
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ACTLINT_NO_CACHE", "CI", "FORCE_COLOR")}
    return {**env, **extra}


def _run(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actlint", "--no-probe", *args], cwd=folder, env=env or _env(),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "layers.py").write_text(dedent(SOFTMAX_LAYERS))
    for name in ("Alpha", "Beta"):
        (tmp_path / "models" / f"{name.lower()}.py").write_text(dedent(MODEL.format(name=name)))
    return tmp_path


def _built(proc: subprocess.CompletedProcess) -> set[str]:
    return {line.split()[1] for line in proc.stderr.splitlines() if line.startswith("BUILT ")}


def test_an_unchanged_run_is_replayed_byte_for_byte(project):
    first = _run(project, "models")
    assert first.returncode == 1 and _built(first) == {"Alpha", "Beta"}, first.stderr
    assert first.stdout.count(" ACT101 [error] ") == 2
    second = _run(project, "models")
    assert _built(second) == set()
    assert (second.stdout, second.returncode) == (first.stdout, first.returncode)
    assert (project / ".actlint_cache" / ".gitignore").read_text().strip().endswith("*")
    json_first = _run(project, "models", "--format", "json")
    json_second = _run(project, "models", "--format", "json")
    assert _built(json_second) == set() and json_second.stdout == json_first.stdout
    assert json.loads(json_second.stdout)["summary"]["error"] == 2


def test_editing_one_file_lints_only_that_file_again(project):
    _run(project, "models")
    alpha = project / "models" / "alpha.py"
    alpha.write_text(alpha.read_text().replace("nn.Linear(16, 4)", "nn.Linear(16, 5)"))
    proc = _run(project, "models")
    assert _built(proc) == {"Alpha"}, proc.stderr
    assert proc.stdout.count(" ACT101 [error] ") == 2


def test_editing_an_imported_sibling_module_invalidates_every_file_that_imports_it(project):
    _run(project, "models")
    layers = project / "models" / "layers.py"
    layers.write_text(layers.read_text().replace("nn.Softmax(dim=1)", "nn.ReLU()"))
    proc = _run(project, "models")
    assert _built(proc) == {"Alpha", "Beta"}, proc.stderr
    assert " ACT101 " not in proc.stdout and proc.returncode == 0, proc.stdout


def test_a_new_model_file_and_a_file_that_becomes_a_model_are_linted(project):
    _run(project, "models")
    notes = project / "models" / "notes.py"
    notes.write_text("WIDTH = 3\n")
    proc = _run(project, "models")
    assert _built(proc) == set()  # the listing changed: a new run, but the two files replay per file
    assert proc.stdout.count(" ACT101 [error] ") == 2
    notes.write_text(dedent(MODEL.format(name="Gamma")))
    proc = _run(project, "models")
    assert _built(proc) == {"Gamma"}, proc.stderr
    assert proc.stdout.count(" ACT101 [error] ") == 3


def test_other_options_or_configuration_are_not_served_the_stored_result(project):
    _run(project, "models")
    ignored = _run(project, "models", "--ignore", "ACT101")
    assert _built(ignored) == {"Alpha", "Beta"} and " ACT101 " not in ignored.stdout
    (project / "pyproject.toml").write_text('[tool.actlint]\nignore = ["ACT101"]\n')
    configured = _run(project, "models")
    # The same options as --ignore ACT101 above: those results are the right ones to reuse.
    assert _built(configured) == set() and " ACT101 " not in configured.stdout
    assert configured.stdout == ignored.stdout
    (project / "pyproject.toml").write_text('[tool.actlint]\nselect = ["ACT1"]\n')
    reconfigured = _run(project, "models")
    assert _built(reconfigured) == {"Alpha", "Beta"} and reconfigured.stdout.count(" ACT101 ") == 2


def test_no_cache_and_its_environment_variable_lint_again(project):
    _run(project, "models")
    assert _built(_run(project, "models", "--no-cache")) == {"Alpha", "Beta"}
    assert _built(_run(project, "models", env=_env(ACTLINT_NO_CACHE="1"))) == {"Alpha", "Beta"}


def test_the_cache_folder_follows_the_configuration_and_the_flag(project):
    (project / "pyproject.toml").write_text('[tool.actlint]\ncache-dir = "build/lint-cache"\n')
    _run(project, "models")
    assert (project / "build" / "lint-cache" / "CACHEDIR.TAG").is_file()
    assert not (project / ".actlint_cache").exists()
    _run(project, "models", "--cache-dir", "elsewhere")
    assert (project / "elsewhere" / ".gitignore").is_file()


def test_concurrent_runs_and_workers_share_the_cache_safely(project):
    for name in ("Gamma", "Delta", "Epsilon"):
        (project / "models" / f"{name.lower()}.py").write_text(dedent(MODEL.format(name=name)))
    runs = [subprocess.Popen([sys.executable, "-m", "actlint", "--no-probe", "-j", "2", "models"], cwd=project,
                             env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [proc.communicate(timeout=300)[0] for proc in runs]
    assert len(set(outputs)) == 1 and outputs[0].count(" ACT101 [error] ") == 5
    replayed = _run(project, "models", "-j", "2")
    assert _built(replayed) == set() and replayed.stdout == outputs[0]
    assert _run(project, "models", "--no-cache").stdout == outputs[0]


def test_a_broken_configuration_is_still_one_line_and_exit_2_with_the_cache_on(project):
    (project / "pyproject.toml").write_text("[tool.actlint]\nselect = [\n")
    proc = _run(project, "models")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == ["actlint: error: pyproject.toml: invalid TOML: Invalid value (at end of document)"]
    assert "Traceback" not in proc.stderr and proc.stdout == ""

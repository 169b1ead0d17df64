"""Many files in one run: directories walked, one merged report, failures isolated, and an
exit code that reflects every file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from actlint.cli import main
from actlint.files.discovery import GlobPattern, PatternList

from helpers import REPO, run_cli, write_model

HEALTHY = """
import torch.nn as nn

def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
"""

BROKEN = """
import torch.nn as nn

def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.Softmax(dim=1), nn.Linear(16, 3))
"""

SYNTAX_ERROR = """
import torch.nn as nn

def build_model(:
    return nn.Linear(2, 2)
"""

IMPORT_ERROR = """
import torch.nn as nn
import package_that_does_not_exist

model = nn.Sequential(package_that_does_not_exist.Block(), nn.Linear(2, 2))
"""

UTILITY = """
def moving_average(values):
    return sum(values) / len(values)
"""


def run(*args: str):
    return CliRunner().invoke(main, [*args, "--no-probe"])


def make_tree(root: Path, files: dict[str, str]) -> None:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write_model(path.parent, source, path.name)


def test_broken_files_among_good_ones_do_not_stop_the_run(tmp_path):
    make_tree(tmp_path, {
        "a_syntax.py": SYNTAX_ERROR,  # first in walk order
        "b_import.py": IMPORT_ERROR,
        "c_broken.py": BROKEN,
        "pkg/d_healthy.py": HEALTHY,
        "pkg/utils.py": UTILITY,  # no model: skipped quietly
        "pkg/__pycache__/e.py": BROKEN,  # default exclude
        ".venv/lib/f.py": BROKEN,  # default exclude
    })
    result = run(str(tmp_path))
    assert result.exit_code == 2  # errors win over findings
    lines = result.stdout.splitlines()
    assert lines[-1] == "Found 1 problem (1 error) in 2 models; 1 fixable with --fix --unsafe-fixes; 2 files could not be linted"
    assert any(line.startswith(f"{tmp_path}/c_broken.py:") and "ACT101" in line for line in lines)
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("actlint: error: ") and "a_syntax.py:3" in errors[0] and "syntax error" in errors[0]
    assert "b_import.py" in errors[1] and "import error" in errors[1]


def test_json_merges_every_file_into_one_document(tmp_path):
    make_tree(tmp_path, {"a_syntax.py": SYNTAX_ERROR, "c_broken.py": BROKEN, "pkg/d_healthy.py": HEALTHY})
    result = run(str(tmp_path), "--format", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert [Path(m["file"]).name for m in doc["models"]] == ["c_broken.py", "d_healthy.py"]
    assert [Path(e["file"]).name for e in doc["errors"]] == ["a_syntax.py"]
    assert doc["summary"] == {"error": 1, "warning": 0, "info": 0}


def test_exit_code_reflects_findings_in_any_file(tmp_path):
    make_tree(tmp_path, {"a.py": HEALTHY, "b/b.py": HEALTHY})
    result = run(str(tmp_path))
    assert result.exit_code == 0 and result.stdout.strip() == "All checks passed (2 models)."
    make_tree(tmp_path, {"b/z_broken.py": BROKEN})
    result = run(str(tmp_path))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "Found 1 problem (1 error) in 3 models; 1 fixable with --fix --unsafe-fixes"


def test_files_and_directories_mix_and_explicit_non_model_files_are_errors(tmp_path):
    make_tree(tmp_path, {"dir/a.py": BROKEN, "dir/utils.py": UTILITY, "single.py": HEALTHY, "utils.py": UTILITY})
    result = run(str(tmp_path / "dir"), str(tmp_path / "single.py"), str(tmp_path / "utils.py"))
    assert result.exit_code == 2
    assert result.stdout.splitlines()[-1] == "Found 1 problem (1 error) in 2 models; 1 fixable with --fix --unsafe-fixes; 1 file could not be linted"
    assert "utils.py: no model found" in result.stderr


BLOCKS = """
import torch.nn as nn

class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x):
        return self.fc(x).relu()
"""


def test_building_block_files_are_skipped_in_walks_but_reported_when_named(tmp_path):
    """A layers.py whose classes all need arguments is not an error in a walk or under the
    pre-commit hook (it would block every commit); naming it explains the fix."""
    make_tree(tmp_path, {"pkg/layers.py": BLOCKS, "pkg/net.py": HEALTHY})
    result = run(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "All checks passed (1 model)."
    result = run("--skip-non-models", str(tmp_path / "pkg" / "layers.py"))
    assert result.exit_code == 0, result.output
    result = run(str(tmp_path / "pkg" / "layers.py"))
    assert result.exit_code == 2
    assert "Block needs constructor arguments (dim)" in result.stderr


@pytest.mark.parametrize("pattern, path, is_dir, expected", [
    ("build", "/p/a/build", True, True),  # a name matches at any depth
    ("*.py", "/p/a/b.py", False, True),
    ("models/*.py", "/p/models/a.py", False, True),  # a slash anchors at the base
    ("models/*.py", "/p/x/models/a.py", False, False),
    ("models/*.py", "/p/models/sub/a.py", False, False),  # * does not cross /
    ("tests/**/*.py", "/p/tests/a/b/c.py", False, True),
    ("tests/**/*.py", "/p/tests/c.py", False, True),
    ("/scratch.py", "/p/scratch.py", False, True),
    ("/scratch.py", "/p/a/scratch.py", False, False),
    ("docs/", "/p/docs", False, False),  # trailing slash: directories only
    ("docs/", "/p/docs", True, True),
    ("[!ab].py", "/p/c.py", False, True),
    ("[!ab].py", "/p/a.py", False, False),
])
def test_gitignore_style_patterns(pattern, path, is_dir, expected):
    assert GlobPattern.parse(pattern, Path("/p")).matches(Path(path), is_dir) is expected


def test_last_matching_pattern_wins_and_parents_count_below_the_root():
    patterns = PatternList.parse(["*.py", "!keep.py"], Path("/p"))
    assert patterns.matches(Path("/p/x.py"), False) and not patterns.matches(Path("/p/keep.py"), False)
    legacy = PatternList.parse(["legacy"], Path("/p"))
    assert legacy.matches_path(Path("/p/legacy/a/b.py"), within=Path("/p"))
    # A folder above the project root never excludes the project (~/build/project/...).
    assert not PatternList.parse(["build"], Path("/build/p")).matches_path(
        Path("/build/p/a.py"), within=Path("/build/p"))


def _generated_folder(root: Path, count: int = 10) -> Path:
    folder = root / "generated"
    folder.mkdir()
    for i in range(count):
        width = 8 + 4 * i
        activation = ["nn.ReLU()", "nn.Tanh()", "nn.Softmax(dim=-1)", "nn.GELU()", "nn.Sigmoid()"][i % 5]
        (folder / f"model_{i:02d}.py").write_text(
            "import torch.nn as nn\n\n\n"
            "def build_model():\n"
            f"    return nn.Sequential(nn.Linear(16, {width}), {activation}, nn.Linear({width}, {width}), "
            f"nn.ReLU(), nn.Linear({width}, 3))\n"
        )
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_parallel_runs_give_byte_identical_reports(tmp_path, fmt):
    """-j 2 (worker processes) against -j 1 on the examples and on a generated folder of 10 models."""
    folder = _generated_folder(tmp_path)
    for target in (str(REPO / "examples"), str(folder)):
        serial = run_cli(target, "-j", "1", "--format", fmt, cwd=REPO)
        parallel = run_cli(target, "-j", "2", "--format", fmt, cwd=REPO)
        assert serial.returncode == parallel.returncode == 1, (serial.stderr, parallel.stderr)
        assert serial.stdout == parallel.stdout
        assert serial.stdout.count("ACT") >= 4

"""The pre-commit hook: manifest, the text prefilter, and a real ``pre-commit run``.

The end-to-end test runs the real ``pre-commit`` (the test extra installs it) in a
temporary git repository whose ``.pre-commit-config.yaml`` is a ``repo: local`` hook
built from this repository's ``.pre-commit-hooks.yaml``: every field of the manifest's
hook is used as written except ``language``, which becomes ``system`` so the hook runs
the ``actlint`` of this environment. A remote-style hook (``repo:`` path + ``rev``)
would make pre-commit pip-install actlint and torch into a new virtualenv: minutes and
gigabytes, with network. tests/precommit_support.py explains the set-up in full.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest

from actlint.files.prefilter import FACTORY_NAMES as LOADER_FACTORY_NAMES
from actlint.pipeline import expand_targets
from actlint.files.prefilter import FACTORY_NAMES, filtered_out, looks_like_model_file

from helpers import invoke_cli as invoke, run_cli, write_model

pre_commit = pytest.importorskip("pre_commit", reason="pre-commit is in the test extra: pip install -e .[test]")
import precommit_support as support  # noqa: E402 - needs pre_commit (and its yaml) importable

BROKEN_MODEL = """
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(16, 32)
        self.act = nn.Softmax(dim=1)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.act(self.hidden(x)))
"""

FIXED_MODEL = BROKEN_MODEL.replace("nn.Softmax(dim=1)", "nn.ReLU()")

NOT_A_MODEL = """
def moving_average(values, window):
    return [sum(values[i:i + window]) / window for i in range(len(values) - window + 1)]
"""

# Passes the text check (torch.nn is used) but defines no model: skipped quietly.
NN_HELPERS = """
import torch.nn as nn


def init_weights(module):
    if isinstance(module, nn.Linear):
        nn.init.zeros_(module.bias)
"""


def dedent(source: str) -> str:
    return textwrap.dedent(source).strip() + "\n"


# -- the text prefilter ------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("import torch.nn as nn\nclass Net(nn.Module):\n    pass\n", True),
    ("from torch import nn\nmodel = nn.Sequential(nn.Linear(2, 2))\n", True),
    ("from torch.nn import Linear, ReLU, Sequential\nmodel = Sequential(Linear(2, 2), ReLU())\n", True),
    ("from torch.nn import Module\nclass Net(Module):\n    pass\n", True),
    ("import lightning as L\nclass Lit(L.LightningModule):\n    pass\n", True),
    ("import torchvision\ndef build_model():\n    return torchvision.models.resnet18()\n", True),
    ("import timm\nmodel = timm.create_model('resnet18')\n", True),
    # a factory discovery calls, with the architecture imported from the user's package
    ("from mypkg.backbones import resnet_backbone\ndef build_model():\n    return resnet_backbone()\n", True),
    ("def get_model_name():\n    return 'x'\n", False),
    # torch without any model: tensor maths, data loading
    ("import torch\nx = torch.zeros(3)\nprint(x.sum())\n", False),
    ("import torch\nfrom torch.utils.data import DataLoader\n", False),
    # a model-looking word without torch
    ("class Module:\n    pass\nSequential = list\n", False),
    ("def add(a, b):\n    return a + b\n", False),
    ("# pytorch-style helpers\ndef nn_size(x):\n    return len(x)\n", False),
])
def test_text_check(tmp_path, source, expected):
    path = tmp_path / "file.py"
    path.write_text(source, encoding="utf-8")
    assert looks_like_model_file(path) is expected


def test_text_check_ignores_stubs_and_unreadable_paths(tmp_path):
    stub = tmp_path / "model.pyi"
    stub.write_text("import torch.nn as nn\nclass Net(nn.Module): ...\n", encoding="utf-8")
    assert not looks_like_model_file(stub)  # types: [python] selects stubs too
    assert not looks_like_model_file(tmp_path / "missing.py")


def test_factory_names_are_the_loaders():
    assert LOADER_FACTORY_NAMES is FACTORY_NAMES


def test_filtered_out_only_rules_out_existing_plain_files(tmp_path):
    util = write_model(tmp_path, NOT_A_MODEL, "util.py")
    model = write_model(tmp_path, BROKEN_MODEL, "model.py")
    assert filtered_out(str(util))
    assert not filtered_out(str(model))
    assert not filtered_out(f"{util}::moving_average")  # a selector is always linted
    assert not filtered_out(str(tmp_path / "missing.py"))  # reported as an error later
    assert not filtered_out(str(tmp_path))


def test_expand_targets_applies_the_check_to_explicit_files_only_when_asked(tmp_path):
    util = str(write_model(tmp_path, NOT_A_MODEL, "util.py"))
    model = str(write_model(tmp_path, BROKEN_MODEL, "model.py"))
    assert expand_targets([util, model]) == [(util, False), (model, False)]
    # With the flag, explicit files are treated like files found in a directory.
    assert expand_targets([util, model], skip_non_models=True) == [(model, True)]
    assert expand_targets([f"{util}::moving_average"], skip_non_models=True) == [(f"{util}::moving_average", False)]


# -- the command line ----------------------------------------------------------------------

def test_explicit_non_model_file_is_still_an_error_without_the_flag(tmp_path):
    util = write_model(tmp_path, NOT_A_MODEL, "util.py")
    result = invoke(str(util))
    assert result.exit_code == 2
    assert "no model found" in result.stderr


def test_skip_non_models_skips_quietly_and_still_lints_models(tmp_path):
    util = write_model(tmp_path, NOT_A_MODEL, "util.py")
    helpers = write_model(tmp_path, NN_HELPERS, "helpers.py")
    model = write_model(tmp_path, BROKEN_MODEL, "model.py")

    result = invoke("--skip-non-models", str(util), str(helpers))
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.strip() == "All checks passed (0 models)."

    result = invoke("--skip-non-models", "--no-probe", str(util), str(helpers), str(model))
    assert result.exit_code == 1, result.output
    assert "ACT101" in result.stdout and result.stderr == ""
    assert "util.py" not in result.stdout and "helpers.py" not in result.stdout


def test_skip_non_models_writes_an_empty_json_report(tmp_path):
    util = write_model(tmp_path, NOT_A_MODEL, "util.py")
    result = invoke("--skip-non-models", "--format", "json", str(util))
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert (document["models"], document["errors"]) == ([], [])


def test_skip_non_models_keeps_errors_for_missing_files(tmp_path):
    result = invoke("--skip-non-models", str(tmp_path / "gone.py"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def _imports_torch(*args: str, cwd: Path) -> bool:
    """Does ``actlint ARGS`` import torch? (``-X importtime`` lists every import on stderr)."""
    proc = run_cli(*args, cwd=cwd, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return re.search(r"\|\s+torch$", proc.stderr, re.MULTILINE) is not None


def test_a_run_without_model_files_never_imports_torch(tmp_path):
    write_model(tmp_path, NOT_A_MODEL, "util.py")
    write_model(tmp_path, "import torch\n\nx = torch.ones(2)\n", "tensors.py")
    write_model(tmp_path, FIXED_MODEL, "model.py")
    assert not _imports_torch("--skip-non-models", "util.py", "tensors.py", cwd=tmp_path)
    # The control: the same measurement sees torch when a model file is among them.
    assert _imports_torch("--skip-non-models", "--no-probe", "util.py", "model.py", cwd=tmp_path)


# -- the manifest and a real pre-commit run -------------------------------------------------

def test_manifest_is_valid_and_batches_python_files():
    hook = support.manifest_hook("actlint")  # pre-commit's own schema validation
    assert hook["entry"].split()[0] == "actlint"
    assert {"--skip-non-models", "--force-exclude"} <= set(hook["entry"].split())  # user args cannot drop them
    assert hook["language"] == "python"
    assert hook["types"] == ["python"]
    assert hook["require_serial"] is True and hook["pass_filenames"] is True


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_real_precommit_fails_on_broken_model_and_passes_after_the_fix(tmp_path):
    env = support.precommit_env(tmp_path / "pre-commit-home")
    repo = tmp_path / "project"
    support.init_git_repo(
        repo,
        {"models/classifier.py": dedent(BROKEN_MODEL), "util.py": dedent(NOT_A_MODEL),
         "helpers.py": dedent(NN_HELPERS),
         # configured excludes reach the files pre-commit passes (--force-exclude)
         "legacy/old_model.py": dedent(BROKEN_MODEL),
         "pyproject.toml": '[tool.actlint]\nextend-exclude = ["legacy/"]\n'},
        support.local_hook_config(),
        env,
    )

    broken = support.run_precommit(repo, env, "--all-files")
    assert broken.returncode == 1, broken.stdout
    assert re.search(r"^actlint\.+Failed$", broken.stdout, re.MULTILINE), broken.stdout
    assert re.search(r"^models/classifier\.py:\d+:\d+: ACT101 \[error\] ", broken.stdout, re.MULTILINE), broken.stdout
    # The non-model files were handed to the hook but skipped: no "no model found" error.
    assert "no model found" not in broken.stdout and "could not be linted" not in broken.stdout
    assert "legacy/" not in broken.stdout

    (repo / "models" / "classifier.py").write_text(dedent(FIXED_MODEL), encoding="utf-8")
    support.git(repo, env, "add", "models/classifier.py")
    fixed = support.run_precommit(repo, env, "--all-files")
    assert fixed.returncode == 0, fixed.stdout
    assert re.search(r"^actlint\.+Passed$", fixed.stdout, re.MULTILINE), fixed.stdout

    # A later commit that stages only a non-model file: the hook runs on it and passes.
    support.git(repo, env, "commit", "-q", "-m", "models")
    (repo / "util.py").write_text(dedent(NOT_A_MODEL) + "\nWINDOW = 3\n", encoding="utf-8")
    support.git(repo, env, "add", "util.py")
    staged = support.run_precommit(repo, env, "--verbose")
    assert staged.returncode == 0, staged.stdout
    assert re.search(r"^actlint\.+Passed$", staged.stdout, re.MULTILINE), staged.stdout
    assert "All checks passed (0 models)." in staged.stdout  # actlint ran, and skipped it


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_precommit_skips_the_hook_when_no_python_file_is_staged(tmp_path):
    env = support.precommit_env(tmp_path / "pre-commit-home")
    repo = tmp_path / "project"
    support.init_git_repo(repo, {"README.md": "# notes\n"}, support.local_hook_config(), env)
    proc = support.run_precommit(repo, env, "--all-files")
    assert proc.returncode == 0, proc.stdout
    assert re.search(r"^actlint\.+\(no files to check\)Skipped$", proc.stdout, re.MULTILINE), proc.stdout


def test_readme_snippets_match_the_manifest_and_version():
    """The README's hook configs must stay runnable: same fields as the manifest, real rev."""
    import yaml

    readme = (support.REPO / "README.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if "id: actlint" in b]
    assert blocks, "README has no pre-commit snippet"
    hook = support.manifest_hook()
    pyproject = (support.REPO / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE).group(1)  # tomllib: 3.11+
    repos = [r for b in blocks for r in (b["repos"] if isinstance(b, dict) else b)]
    remote = [r for r in repos if r["repo"] != "local"]
    local = [r for r in repos if r["repo"] == "local"]
    assert remote and all(r["rev"] == f"v{version}" for r in remote), remote
    for repo in local:
        for readme_hook in repo["hooks"]:
            for key in ("entry", "types", "require_serial"):
                assert readme_hook[key] == hook[key], (key, readme_hook)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_real_precommit_with_fix_rewrites_the_staged_file_and_then_passes(tmp_path):
    """The README's ``args: [--fix]`` variant: the hook applies the safe fix (pre-commit fails the
    run because a file changed), the user stages it, and the next run passes."""
    corpus = support.REPO / "tests" / "fix_corpus"
    env = support.precommit_env(tmp_path / "pre-commit-home")
    repo = tmp_path / "project"
    support.init_git_repo(repo, {"train.py": (corpus / "eval_in_train_mode.py").read_text(encoding="utf-8")},
                          support.local_hook_config(("--fix", "--no-probe")), env)
    first = support.run_precommit(repo, env, "--all-files")
    assert first.returncode == 1, first.stdout
    assert "files were modified by this hook" in first.stdout, first.stdout
    assert "train.py:29:20: ACT805 fixed: " in first.stdout, first.stdout
    assert (repo / "train.py").read_bytes() == (corpus / "expected" / "eval_in_train_mode.fixed").read_bytes()
    support.git(repo, env, "add", "train.py")
    second = support.run_precommit(repo, env, "--all-files")
    assert second.returncode == 0, second.stdout
    assert re.search(r"^actlint\.+Passed$", second.stdout, re.MULTILINE), second.stdout

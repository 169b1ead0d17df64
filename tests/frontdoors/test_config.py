"""``[tool.actlint]`` configuration: discovery, precedence over the command line, every
kind of option reaching the code it configures, and one-line errors for bad keys."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from actlint.cli import main
from actlint.config import Config, discover, find_config, load_config
from actlint.options import SelectionLayer, resolve_selection
from actlint.rules.registry import default_registry

from helpers import write_model

REGISTRY = default_registry()

# ACT101 (error) at line 6, ACT106 (info) at line 8; two tanh in a row for ACT201's min-depth.
BROKEN = """
import torch.nn as nn

def build_model():
    return nn.Sequential(
        nn.Linear(8, 16),
        nn.Softmax(dim=1),
        nn.Linear(16, 16),
        nn.Tanh(),
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

TWO_MODELS = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(x)

class Other(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)
"""


def write_config(folder: Path, body: str, name: str = "pyproject.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


def lint(*args: str, probe: bool = False):
    """Run the CLI in-process (the working directory is the test's, see ``project``)."""
    extra = [] if probe or any(a.startswith("--probe") for a in args) else ["--no-probe"]
    return CliRunner().invoke(main, [*args, *extra])


def lint_json(*args: str, probe: bool = False) -> tuple[dict, object]:
    result = lint(*args, "--format", "json", probe=probe)
    assert result.exit_code in (0, 1), result.stderr
    return json.loads(result.stdout), result


def rules_reported(doc: dict) -> list[str]:
    return sorted(f["rule"] for m in doc["models"] for f in m["findings"])


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder that is also the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- discovery --------------------------------------------------------------------------


def test_nearest_pyproject_with_an_actlint_table_is_found_upward(project):
    write_config(project, '[tool.actlint]\nignore = ["ACT101"]\n')
    # A nearer pyproject.toml without [tool.actlint] is skipped, as ruff does.
    write_config(project / "pkg", '[project]\nname = "pkg"\n')
    (project / "pkg" / "deep").mkdir()
    model = write_model(project / "pkg" / "deep", BROKEN)
    assert find_config(model) == project / "pyproject.toml"
    doc, _ = lint_json(str(model))
    assert "ACT101" not in rules_reported(doc) and "ACT106" in rules_reported(doc)


def test_nearer_actlint_table_wins_and_search_starts_at_the_linted_file(project, tmp_path_factory, monkeypatch):
    write_config(project, '[tool.actlint]\nignore = ["ACT101"]\n')
    write_config(project / "sub", '[tool.actlint]\nignore = ["ACT106"]\n')
    model = write_model(project / "sub", BROKEN)
    doc, _ = lint_json(str(model))
    assert rules_reported(doc) == ["ACT101"]
    # Run from an unrelated folder: the search starts at the file, not the working directory.
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    doc, _ = lint_json(str(model.resolve()))
    assert rules_reported(doc) == ["ACT101"]


def test_several_paths_share_the_config_of_their_common_folder(project):
    write_config(project, '[tool.actlint]\nignore = ["ACT106"]\n')
    (project / "a").mkdir()
    (project / "b").mkdir()
    a, b = write_model(project / "a", BROKEN), write_model(project / "b", BROKEN)
    doc, _ = lint_json(str(a), str(b))
    assert rules_reported(doc) == ["ACT101", "ACT101"]


def test_config_flag_points_elsewhere_and_isolated_ignores_files(project):
    write_config(project, '[tool.actlint]\nignore = ["ACT101"]\n')
    other = write_config(project / "ci", 'ignore = ["ACT106"]\n', name="actlint.toml")
    model = write_model(project, BROKEN)
    doc, _ = lint_json(str(model), "--config", str(other))  # a TOML file of actlint keys
    assert "ACT101" in rules_reported(doc) and "ACT106" not in rules_reported(doc)
    doc, _ = lint_json(str(model), "--isolated")
    assert {"ACT101", "ACT106"} <= set(rules_reported(doc))
    result = lint(str(model), "--config", str(project / "missing.toml"))
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_explicit_pyproject_without_table_is_an_error(project):
    write_config(project, '[project]\nname = "x"\n')
    model = write_model(project, HEALTHY)
    result = lint(str(model), "--config", "pyproject.toml")
    assert result.exit_code == 2
    assert result.stderr.strip() == "actlint: error: pyproject.toml: no [tool.actlint] table"


# --- precedence ---------------------------------------------------------------------------


def test_cli_select_starts_over_while_ignore_and_extend_select_add(project):
    write_config(project, '[tool.actlint]\nignore = ["ACT1"]\n')
    model = str(write_model(project, BROKEN))
    doc, _ = lint_json(model)
    assert not any(r.startswith("ACT1") for r in rules_reported(doc))
    doc, _ = lint_json(model, "--select", "ACT101")  # ruff: a CLI select replaces the file's
    assert rules_reported(doc) == ["ACT101"]
    doc, _ = lint_json(model, "--extend-select", "ACT106")  # more specific than the file's ignore
    assert "ACT106" in rules_reported(doc) and "ACT101" not in rules_reported(doc)


def test_resolve_selection_layers():
    ids = ["ACT101", "ACT102", "ACT201", "ACT202"]
    assert resolve_selection([], ids) == tuple(ids)
    file = SelectionLayer(select=("ACT1",), ignore=("ACT102",))
    assert resolve_selection([file], ids) == ("ACT101",)
    assert resolve_selection([file, SelectionLayer(extend_select=("ACT2",))], ids) == ("ACT101", "ACT201", "ACT202")
    assert resolve_selection([file, SelectionLayer(ignore=("ACT101",))], ids) == ()
    assert resolve_selection([file, SelectionLayer(select=("ACT2",), ignore=("ACT202",))], ids) == ("ACT201",)
    # Within one layer the most specific prefix wins; ignore wins a tie.
    assert resolve_selection([SelectionLayer(select=("ACT102",), ignore=("ACT1",))], ids) == ("ACT102",)
    assert resolve_selection([SelectionLayer(select=("ALL",), ignore=("ACT1",))], ids) == ("ACT201", "ACT202")


def test_cli_flags_override_fail_on_and_severity(project):
    write_config(project, """
        [tool.actlint]
        fail-on = "error"
        severity = { ACT101 = "warning" }
    """)
    model = str(write_model(project, BROKEN))
    result = lint(model)
    assert result.exit_code == 0  # ACT101 lowered to warning; fail-on error
    assert "ACT101 [warning]" in result.stdout
    assert lint(model, "--fail-on", "warning").exit_code == 1
    result = lint(model, "--severity", "ACT101=error")
    assert result.exit_code == 1 and "ACT101 [error]" in result.stdout


# --- each option reaches what it configures -------------------------------------------------


def test_per_rule_threshold_reaches_the_rule(project):
    model = str(write_model(project, BROKEN))
    doc, _ = lint_json(model)
    assert "ACT201" not in rules_reported(doc)  # two tanh: below the default depth of 4
    write_config(project, """
        [tool.actlint.rules.ACT201]
        min-depth = 2
    """)
    doc, _ = lint_json(model)
    finding = next(f for m in doc["models"] for f in m["findings"] if f["rule"] == "ACT201")
    assert "threshold 2" in finding["message"]
    # The declared (snake_case) name and the rule's name work too.
    write_config(project, """
        [tool.actlint.rules.deep-saturating-stack]
        min_depth = 3
    """)
    doc, _ = lint_json(model)
    assert "ACT201" not in rules_reported(doc)


def test_every_declared_rule_option_is_accepted_in_kebab_case(project):
    lines = []
    for rule in REGISTRY:
        if rule.options:
            lines.append(f"[tool.actlint.rules.{rule.id}]")
            for name, option in rule.options.items():
                value = option.default
                text = str(value).lower() if isinstance(value, bool) else repr(value)
                lines.append(f"{name.replace('_', '-')} = {text}")
    path = write_config(project, "\n".join(lines) + "\n")
    config = load_config(path, REGISTRY)
    declared = {rule.id: set(rule.options) for rule in REGISTRY if rule.options}
    assert {rule: set(opts) for rule, opts in config.rule_options.items()} == declared


def test_probe_settings_reach_the_probe(project):
    model = str(write_model(project, HEALTHY))
    write_config(project, """
        [tool.actlint.probe]
        enabled = false
    """)
    doc, _ = lint_json(model, probe=True)
    assert doc["models"][0]["probe"]["status"] == "skipped"
    write_config(project, """
        [tool.actlint.probe]
        device = "cpu"
        batch-size = 3
        timeout = 30
    """)
    doc, _ = lint_json(model, probe=True)
    probe = doc["models"][0]["probe"]
    assert (probe["status"], probe["device"], probe["batch_size"]) == ("ok", "cpu", 3)
    # The command line still wins over the file.
    doc, _ = lint_json(model, "--no-probe")
    assert doc["models"][0]["probe"]["status"] == "skipped"
    write_config(project, """
        [tool.actlint.probe]
        timeout = 1e-9
    """)
    doc, _ = lint_json(model, probe=True)
    assert doc["models"][0]["probe"]["status"] == "timeout"


def test_probe_device_from_config_names_the_file_when_unusable(project):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    write_config(project, '[tool.actlint.probe]\ndevice = "cuda"\n')
    result = lint(str(write_model(project, HEALTHY)), probe=True)
    assert result.exit_code == 2
    assert result.stderr.startswith("actlint: error: pyproject.toml: [tool.actlint.probe] ")
    assert "CUDA is not available" in result.stderr


def test_per_file_models_and_input_shape(project):
    write_config(project, """
        [tool.actlint.per-file."models/*.py"]
        models = ["Net"]
        input-shape = [[2, 8]]
    """)
    (project / "models").mkdir()
    inside = write_model(project / "models", TWO_MODELS)
    outside = write_model(project, TWO_MODELS, "other.py")
    doc, _ = lint_json(str(inside), str(outside))
    by_file: dict[str, list] = {}
    for m in doc["models"]:
        by_file.setdefault(Path(m["file"]).name, []).append(m)
    assert [m["name"] for m in by_file["model.py"]] == ["Net"]
    assert by_file["model.py"][0]["inputs"].startswith("float32[2x8] (")
    assert sorted(m["name"] for m in by_file["other.py"]) == ["Net", "Other"]
    # --input-shape on the command line overrides the per-file shape; file.py::Name the models.
    doc, _ = lint_json(f"{inside}::Other", "--input-shape", "5,4")
    assert [(m["name"], m["inputs"][:11]) for m in doc["models"]] == [("Other", "float32[5x4")]


def test_per_file_model_that_does_not_exist_is_an_error_for_that_file(project):
    write_config(project, '[tool.actlint.per-file."*.py"]\nmodels = ["Missing"]\n')
    result = lint(str(write_model(project, TWO_MODELS)))
    assert result.exit_code == 2
    assert "no name 'Missing'" in result.stderr


def test_per_file_ignores(project):
    write_config(project, """
        [tool.actlint]
        per-file-ignores = { "legacy/*.py" = ["ACT1"], "!legacy/*.py" = ["ACT106"] }
    """)
    (project / "legacy").mkdir()
    write_model(project / "legacy", BROKEN, "old.py")
    write_model(project, BROKEN, "new.py")
    doc, _ = lint_json(str(project))
    found = {(Path(f["file"]).name, f["rule"]) for m in doc["models"] for f in m["findings"]}
    assert ("new.py", "ACT101") in found and ("new.py", "ACT106") not in found
    assert not any(name == "old.py" and rule.startswith("ACT1") for name, rule in found)


def test_exclude_and_extend_exclude_when_walking(project):
    for folder in ("src", "src/generated", "build", "venv"):
        (project / folder).mkdir(parents=True, exist_ok=True)
        write_model(project / folder, HEALTHY)
    names = lambda doc: sorted(Path(m["file"]).parent.as_posix() for m in doc["models"])  # noqa: E731
    doc, _ = lint_json(".")
    assert names(doc) == ["src", "src/generated"]  # build/ and venv/ are default excludes
    write_config(project, '[tool.actlint]\nextend-exclude = ["generated/"]\n')
    assert names(lint_json(".")[0]) == ["src"]
    write_config(project, '[tool.actlint]\nexclude = ["venv"]\n')  # replaces the defaults
    assert names(lint_json(".")[0]) == ["build", "src", "src/generated"]
    assert names(lint_json(".", "--extend-exclude", "src/generated")[0]) == ["build", "src"]


def test_force_exclude_applies_excludes_to_named_files(project):
    write_config(project, '[tool.actlint]\nextend-exclude = ["scratch_*.py"]\n')
    model = str(write_model(project, BROKEN, "scratch_1.py"))
    assert lint(model).exit_code == 1  # named explicitly: linted (ruff's default)
    result = lint(model, "--force-exclude")
    assert result.exit_code == 0 and "All checks passed (0 models)." in result.stdout
    write_config(project, '[tool.actlint]\nextend-exclude = ["scratch_*.py"]\nforce-exclude = true\n')
    assert lint(model).exit_code == 0


def test_gitignore_is_respected_inside_a_git_repository(project):
    (project / ".git").mkdir()
    (project / ".gitignore").write_text("# generated code\nout/\n")
    for folder in ("out", "src"):
        (project / folder).mkdir()
        write_model(project / folder, HEALTHY)
    doc, _ = lint_json(".")
    assert [Path(m["file"]).parent.name for m in doc["models"]] == ["src"]
    write_config(project, '[tool.actlint]\nrespect-gitignore = false\n')
    doc, _ = lint_json(".")
    assert sorted(Path(m["file"]).parent.name for m in doc["models"]) == ["out", "src"]


# --- bad configuration: one line, exit 2, names the key --------------------------------------


@pytest.mark.parametrize("body, message", [
    ('[tool.actlint]\nselct = ["ACT1"]\n',
     "[tool.actlint] unknown key 'selct' (did you mean 'select'?)"),
    ('[tool.actlint]\nselect = "ACT1"\n',
     "[tool.actlint] 'select' must be a list of strings, got 'ACT1'"),
    ('[tool.actlint]\nignore = ["ACT999"]\n',
     "[tool.actlint] 'ignore': 'ACT999' matches no rule"),
    ('[tool.actlint]\nfail-on = "fatal"\n',
     "[tool.actlint] 'fail-on' must be one of info, warning, error, got 'fatal'"),
    ('[tool.actlint.severity]\nACT101 = "loud"\n',
     "[tool.actlint.severity] 'ACT101' must be one of info, warning, error, got 'loud'"),
    ('[tool.actlint.severity]\nACT1O1 = "error"\n',
     "[tool.actlint.severity] unknown rule 'ACT1O1' (did you mean 'ACT101'?)"),
    ('[tool.actlint.probe]\ndevise = "cpu"\n',
     "[tool.actlint.probe] unknown key 'devise' (did you mean 'device'?)"),
    ('[tool.actlint.probe]\nbatch-size = 0\n',
     "[tool.actlint.probe] 'batch-size' must be a positive integer, got 0"),
    ('[tool.actlint.probe]\ndevice = "tpu"\n',
     "[tool.actlint.probe] 'device' must be auto, cpu, cuda or cuda:N, got 'tpu'"),
    ('[tool.actlint.rules.ACT701]\nthreshhold = 1e-5\n',
     "[tool.actlint.rules.ACT701] unknown key 'threshhold' (did you mean 'threshold'?)"),
    ('[tool.actlint.rules.ACT701]\nthreshold = "low"\n',
     "[tool.actlint.rules.ACT701] 'threshold' must be a number, got 'low'"),
    ('[tool.actlint.rules.ACT101]\nthreshold = 1\n',
     "[tool.actlint.rules.ACT101] unknown key 'threshold' (ACT101 has no options)"),
    ('[tool.actlint.per-file."models/*.py"]\ninput-shape = [[1, 0]]\n',
     '[tool.actlint.per-file."models/*.py"] \'input-shape\' must be a shape'),
    ('[tool.actlint.per-file."models/*.py"]\nmodel = ["Net"]\n',
     '[tool.actlint.per-file."models/*.py"] unknown key \'model\' (did you mean \'models\'?)'),
    ('[tool.actlint]\nper-file-ignores = { "tests/*.py" = ["ACTX"] }\n',
     "[tool.actlint.per-file-ignores] 'tests/*.py': 'ACTX' matches no rule"),
    ('[tool.actlint]\nselect = [\n', "invalid TOML"),
])
def test_bad_configuration_is_one_line_exit_2(project, body, message):
    write_config(project, body)
    result = lint(str(write_model(project, HEALTHY)))
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("actlint: error: pyproject.toml: "), lines[0]
    assert message in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_discover_without_any_file_is_the_default(tmp_path):
    config = discover([str(tmp_path)], REGISTRY, isolated=True)
    assert config == Config(root=config.root)


def test_readme_configuration_example_is_valid(project):
    readme = (Path(__file__).resolve().parent.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration"):]
    block = section[section.index("```toml") + len("```toml"):]
    path = write_config(project, block[:block.index("```")])
    config = load_config(path, REGISTRY)
    assert config.rule_options == {"ACT701": {"threshold": 1e-5}}
    assert config.per_file and config.per_file.for_file(project / "models/vision/a.py").models == (
        "ResNetLike", "ViT(image_size=224, patch_size=16)")
    assert config.load.script_args == ("--dataset", "mnist") and config.load.max_model_memory == 4 * 10**9

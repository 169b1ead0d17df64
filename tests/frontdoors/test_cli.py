"""Command line contract: formats, selection, severities, exit codes (ruff's conventions)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from actlint.cli import main
from actlint.core.findings import Finding, ProbeStatus, ProbeVerdict, Severity
from actlint.report.text import format_finding

from helpers import BROKEN, HEALTHY, REPO, run_cli, write_model


def _has_probe_flag() -> bool:
    return any(p.name == "probe" for p in main.commands["check"].params)


def invoke(*args: str, env: dict | None = None):
    extra = ["--no-probe"] if _has_probe_flag() else []
    return CliRunner(env=env).invoke(main, [*args, *extra])


@pytest.fixture
def broken(tmp_path):
    return str(write_model(tmp_path, BROKEN, "broken.py"))


@pytest.fixture
def healthy(tmp_path):
    return str(write_model(tmp_path, HEALTHY, "healthy.py"))


def test_text_output_lines_and_summary(broken):
    result = invoke(broken)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{broken}:6:9: ACT101 [error] ") for line in lines), result.stdout
    assert any(f"{broken}:8:9: ACT106 [info]" in line for line in lines)
    # The hidden softmax has an unsafe fix (ReLU in its place): the summary says how to apply it.
    assert lines[-1] == "Found 2 problems (1 error, 1 info) in 1 model; 1 fixable with --fix --unsafe-fixes"
    assert "\x1b[" not in result.stdout  # not a TTY: no colour


def test_colour_when_forced(broken):
    result = invoke(broken, env={"FORCE_COLOR": "1"})
    assert "\x1b[" in result.stdout


def test_clean_model_exits_zero(healthy):
    result = invoke(healthy)
    assert result.exit_code == 0
    assert result.stdout.strip() == "All checks passed (1 model)."


@pytest.mark.parametrize("args, code", [
    ((), 1),
    (("--exit-zero",), 0),
    (("--fail-on", "error"), 1),
    (("--ignore", "ACT101", "--fail-on", "warning"), 0),  # only the ACT106 info remains
    (("--ignore", "ACT101", "--fail-on", "info"), 1),
    (("--select", "ACT2"), 0),
    (("--select", "ACT1", "--ignore", "ACT10", "--select", "ACT101"), 1),  # most specific wins
    (("--severity", "ACT101=info"), 0),
    (("--severity", "ACT106=error", "--ignore", "ACT101"), 1),
])
def test_exit_codes_follow_selection_and_fail_on(broken, args, code):
    assert invoke(broken, *args).exit_code == code


def test_severity_override_changes_reported_level(broken):
    result = invoke(broken, "--severity", "ACT101=warning")
    assert "ACT101 [warning]" in result.stdout


def test_bad_severity_override_is_usage_error(broken):
    result = invoke(broken, "--severity", "ACT101=fatal")
    assert result.exit_code == 2


def test_json_contract(broken, healthy):
    result = invoke(broken, healthy, "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)  # stdout holds only the document
    assert set(doc) >= {"version", "models", "errors"}
    assert [m["name"] for m in doc["models"]] == ["build_model", "build_model"]
    model = doc["models"][0]
    assert set(model) >= {"name", "file", "trace", "probe", "findings"}
    assert model["trace"] == "fx"
    finding = model["findings"][0]
    assert set(finding) >= {"rule", "name", "severity", "message", "module", "file", "line", "probe"}
    assert set(finding["probe"]) >= {"status", "evidence", "metrics"}
    assert (finding["rule"], finding["name"], finding["severity"], finding["line"]) == (
        "ACT101", "softmax-in-hidden-layer", "error", 6)
    assert finding["module"] == "1"
    assert doc["models"][1]["findings"] == []
    assert doc["errors"] == []


def test_json_errors_keep_stdout_a_document(tmp_path, healthy):
    result = invoke(str(tmp_path / "missing.py"), healthy, "--format", "json")
    assert result.exit_code == 2  # one file failed: the exit code reflects it
    doc = json.loads(result.stdout)
    assert len(doc["models"]) == 1
    assert doc["errors"][0]["file"].endswith("missing.py")
    assert "no such file" in doc["errors"][0]["message"]
    assert "no such file" in result.stderr


def test_output_file(broken, tmp_path):
    out = tmp_path / "report.json"
    result = invoke(broken, "--format", "json", "-o", str(out))
    assert result.exit_code == 1 and result.stdout == ""
    assert json.loads(out.read_text())["models"][0]["findings"][0]["rule"] == "ACT101"


def test_rules_command_lists_catalogue():
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == 0
    assert "ACT101" in result.stdout and "softmax-in-hidden-layer" in result.stdout


def test_directory_run_lints_every_model_file(tmp_path, broken, healthy):
    (tmp_path / "notes.py").write_text("print('not a model file')\n")
    result = invoke(str(tmp_path))
    assert result.exit_code == 1
    assert "in 2 models" in result.stdout.splitlines()[-1]


def test_readme_example_run():
    """The README's quick-start run: actlint examples/ finds the planted bugs."""
    proc = run_cli("examples/", "--format", "json", cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    rules = {(m["file"], f["rule"]) for m in doc["models"] for f in m["findings"]}
    assert ("examples/softmax_hidden.py", "ACT101") in rules
    assert ("examples/deep_sigmoid.py", "ACT201") in rules
    assert ("examples/linear_collapse.py", "ACT103") in rules
    assert not [f for m in doc["models"] if m["file"] == "examples/healthy_resnet.py" for f in m["findings"]]
    assert proc.stderr == ""


def test_python_dash_m_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and "actlint" in proc.stdout


@pytest.mark.parametrize(
    "status, shown",
    [
        (ProbeStatus.CONFIRMED, True),
        (ProbeStatus.REFUTED, True),
        (ProbeStatus.NOT_PROBED, True),
        (ProbeStatus.STRUCTURAL, False),
        (ProbeStatus.MEASURED, False),  # the message already carries the measured numbers
    ],
)
def test_text_evidence_line_only_for_verdicts_on_static_findings(status, shown):
    finding = Finding("ACT201", "deep-saturating-stack", Severity.WARNING, "12 sigmoids in a row",
                      probe=ProbeVerdict(status, "backward signal 3e-9 of the last layer"))
    lines = format_finding(finding)
    marked = ", refuted" if status is ProbeStatus.REFUTED else ""
    assert lines[0].endswith(f"ACT201 [warning{marked}] 12 sigmoids in a row")
    assert (len(lines) == 2) is shown
    if shown:
        # Confirmed and refuted evidence starts with its status; "not probed" says so itself.
        prefix = f"{status.value}: " if status in (ProbeStatus.CONFIRMED, ProbeStatus.REFUTED) else ""
        assert lines[1] == f"    probe: {prefix}backward signal 3e-9 of the last layer"

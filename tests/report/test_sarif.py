"""``--format sarif``: valid SARIF 2.1.0 (checked against the official OASIS schema) that
GitHub code scanning can ingest: rule metadata from the registry, levels from severities,
relative locations in the user's file, load errors as tool execution notifications."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from actlint.rules.engine import RuleSelection
from actlint.core.findings import Finding, ProbeStatus, ProbeVerdict, Severity
from actlint.core.location import SourceLocation
from actlint.options import LintOptions
from actlint.pipeline import lint_paths
from actlint.report import get_reporter
from actlint.report.json import run_to_json
from actlint.report.sarif import FINGERPRINT_KEY, SRCROOT, run_to_sarif, write_sarif
from actlint.core.results import LintRun, ModelResult, RunError
from actlint.rules.registry import default_registry

from helpers import BROKEN, HEALTHY, run_cli, write_model

SCHEMA = json.loads((Path(__file__).parent.parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


# The loss line is a related location of ACT401.
SOFTMAX_CE = """
import torch.nn as nn

def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax(dim=1))

criterion = nn.CrossEntropyLoss()
"""


def validate(log: dict) -> None:
    """Raise unless ``log`` is valid against the SARIF 2.1.0 schema (draft-04)."""
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def sarif_of(run: LintRun, cwd: Path) -> dict:
    """The SARIF text as written to stdout, parsed back (so the JSON itself is tested)."""
    out = io.StringIO()
    get_reporter("sarif")(run, out)
    log = json.loads(out.getvalue())
    assert log == json.loads(json.dumps(run_to_sarif(run, cwd=cwd)))
    return log


def lint(*paths: str, probe: bool = True, **selection) -> LintRun:
    return lint_paths(list(paths), LintOptions(selection=RuleSelection(**selection), probe=probe))


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A repository-like working directory holding model files under ``models/``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    write_model(tmp_path / "models", BROKEN, "broken.py")
    write_model(tmp_path / "models", HEALTHY, "healthy.py")
    write_model(tmp_path / "models", "import torch.nn as nn\n\ndef build_model(:\n", "syntax.py")
    write_model(tmp_path / "models", SOFTMAX_CE, "softmax_ce.py")
    return tmp_path


def test_the_schema_rejects_what_github_would_reject():
    """The vendored schema is the real one: it catches a wrong version and a missing message."""
    bad_version = {"version": "2.0.0", "runs": []}
    no_message = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "A"}]}]}
    for log in (bad_version, no_message):
        with pytest.raises(AssertionError):
            validate(log)


def test_broken_model_log_is_valid_and_complete(project):
    run = lint("models/broken.py")
    log = sarif_of(run, project)
    validate(log)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (sarif_run,) = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "actlint" and driver["version"]
    registry_ids = [r.id for r in default_registry()]
    assert [r["id"] for r in driver["rules"]] == registry_ids

    json_findings = run_to_json(run)["models"][0]["findings"]
    results = sarif_run["results"]
    assert [r["ruleId"] for r in results] == [f["rule"] for f in json_findings]
    levels = {"error": "error", "warning": "warning", "info": "note"}
    for result, finding in zip(results, json_findings):
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == levels[finding["severity"]]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": "models/broken.py", "uriBaseId": SRCROOT}
        assert location["region"]["startLine"] == finding["line"]
        assert location["region"]["startColumn"] == finding["column"] >= 1
        assert result["message"]["text"].startswith(finding["message"].rstrip("."))
        assert result["properties"]["probe"]["status"] == finding["probe"]["status"]
        assert len(result["partialFingerprints"][FINGERPRINT_KEY]) == 32

    softmax = next(r for r in results if r["ruleId"] == "ACT101")
    region = softmax["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (6, 9)  # nn.Softmax(dim=1), 1-based column
    assert region["snippet"]["text"].strip() == "nn.Softmax(dim=1),"
    assert region["endColumn"] == len("        nn.Softmax(dim=1),") + 1
    # The probe's verdict and its numbers are part of the message GitHub shows.
    status = softmax["properties"]["probe"]["status"]
    assert status in ("confirmed", "refuted")
    assert f"Probe ({status}): " in softmax["message"]["text"]
    assert softmax["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "build_model.1"
    invocation = sarif_run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    assert sarif_run["originalUriBaseIds"][SRCROOT]["uri"] == project.resolve().as_uri() + "/"


def test_rule_metadata_comes_from_the_registry(project):
    log = sarif_of(lint("models/healthy.py", probe=False), project)
    validate(log)
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    registry = default_registry()
    for rule in registry:
        descriptor = rules[rule.id]
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["fullDescription"]["text"] and len(descriptor["fullDescription"]["text"]) <= 1024
        assert rule.why in descriptor["help"]["text"] and rule.instead in descriptor["help"]["text"]
        assert descriptor["help"]["markdown"].startswith(f"# {rule.id}: {rule.name}")
        assert "```python" in descriptor["help"]["markdown"]  # the examples
        level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}[rule.severity]
        assert descriptor["defaultConfiguration"]["level"] == level
        assert "pytorch" in descriptor["properties"]["tags"]
    assert rules["ACT701"]["properties"]["tags"][-1] == "measured"
    assert rules["ACT104"]["properties"]["tags"][-1] == "structural"
    assert rules["ACT101"]["properties"]["problem.severity"] == "error"
    assert rules["ACT105"]["properties"]["problem.severity"] == "recommendation"


def test_healthy_model_has_no_results(project):
    log = sarif_of(lint("models/healthy.py"), project)
    validate(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_load_error_is_a_tool_execution_notification(project):
    run = lint("models/syntax.py", "models/broken.py", "models/missing.py", probe=False)
    assert len(run.errors) == 2
    log = sarif_of(run, project)
    validate(log)
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    errors = [n for n in invocation["toolExecutionNotifications"] if n["level"] == "error"]
    assert [n["message"]["text"] for n in errors] == [e.message for e in run.errors]
    uris = [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in errors]
    assert uris == ["models/syntax.py", "models/missing.py"]
    # The files that did load are still reported.
    assert {r["ruleId"] for r in log["runs"][0]["results"]} >= {"ACT101"}


def test_model_notes_are_note_notifications(project):
    run = lint("models/healthy.py", probe=False)
    run.models[0].notes.append("ACT999 not run: needs shapes")
    log = sarif_of(run, project)
    validate(log)
    (note,) = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "note"
    assert note["message"]["text"] == "models/healthy.py::build_model: ACT999 not run: needs shapes"


def test_severity_override_sets_the_result_level(project):
    run = lint("models/broken.py", probe=False, severity={"ACT101": Severity.INFO})
    log = sarif_of(run, project)
    validate(log)
    result = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "ACT101")
    assert result["level"] == "note"
    assert log["runs"][0]["tool"]["driver"]["rules"][result["ruleIndex"]]["defaultConfiguration"]["level"] == "error"


def test_related_location_is_linked_from_the_message(project):
    log = sarif_of(lint("models/softmax_ce.py", probe=False, select=("ACT401",)), project)
    validate(log)
    (result,) = log["runs"][0]["results"]
    (related,) = result["relatedLocations"]
    assert related["id"] == 1
    assert related["physicalLocation"]["region"]["startLine"] == 6  # criterion = nn.CrossEntropyLoss()
    assert result["message"]["text"].endswith("See [line 6](1).")


def test_fingerprint_survives_moved_lines(project):
    first = sarif_of(lint("models/broken.py", probe=False), project)["runs"][0]["results"]
    path = project / "models" / "broken.py"
    path.write_text("# a comment\n# another\n" + path.read_text())
    second = sarif_of(lint("models/broken.py", probe=False), project)["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in first] == [r["partialFingerprints"] for r in second]
    lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in (first[0], second[0])]
    assert lines[1] == lines[0] + 2


def test_file_outside_the_working_directory_gets_an_absolute_uri(tmp_path, monkeypatch):
    model = write_model(tmp_path, BROKEN, "outside.py")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    log = sarif_of(lint(str(model), probe=False), work)
    validate(log)
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": model.resolve().as_uri()}


def test_unknown_rule_suppression_and_non_finite_metrics(tmp_path):
    """A plugin rule missing from the registry, a suppressed finding, NaN in the metrics."""
    loc = SourceLocation("model.py", 3, 5)
    finding = Finding(
        rule="XYZ001", name="plugin-rule", severity=Severity.WARNING, message="a plugin says so",
        location=loc, probe=ProbeVerdict(ProbeStatus.REFUTED, "ratio nan", {"ratio": float("nan")}),
    )
    model = ModelResult(name="Net", file="model.py", trace="fx", inputs="", parameters=0,
                        findings=[finding, replace(finding, rule="ACT101", suppressed=True)])
    out = io.StringIO()
    write_sarif(LintRun(models=[model]), out)
    log = json.loads(out.getvalue())  # strict JSON: no NaN literal
    validate(log)
    run = log["runs"][0]
    plugin, suppressed = run["results"]
    assert run["tool"]["driver"]["rules"][plugin["ruleIndex"]]["id"] == "XYZ001"
    assert plugin["properties"]["probe"]["metrics"]["ratio"] == "nan"
    assert plugin["message"]["text"] == "a plugin says so. Probe (refuted): ratio nan"
    assert suppressed["suppressions"][0]["kind"] == "inSource"
    assert "suppressions" not in plugin


def test_cli_format_sarif(project):
    proc = run_cli("models/broken.py", "models/syntax.py", "--format", "sarif", "--no-probe", cwd=project)
    assert proc.returncode == 2  # a file failed to load
    log = json.loads(proc.stdout)  # stdout holds only the SARIF document
    validate(log)
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is False
    assert proc.stderr.startswith("actlint: error: ") and "Traceback" not in proc.stderr
    out = project / "actlint.sarif"
    proc = run_cli("models/broken.py", "--format", "sarif", "--no-probe", "-o", str(out), cwd=project)
    assert proc.returncode == 1 and proc.stdout == ""
    validate(json.loads(out.read_text()))


def test_a_finding_with_a_fix_carries_it_as_a_sarif_fix(project):
    log = sarif_of(lint("models/softmax_ce.py", probe=False), project)
    validate(log)
    (result,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "ACT401"]
    (fix,) = result["fixes"]
    assert fix["description"]["text"].endswith("(unsafe fix; actlint --fix --unsafe-fixes)")
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "models/softmax_ce.py", "uriBaseId": "%SRCROOT%"}
    lines = (project / "models" / "softmax_ce.py").read_text().splitlines(keepends=True)
    fixed = list(lines)
    for replacement in sorted(change["replacements"], key=lambda r: -r["deletedRegion"]["startLine"]):
        region = replacement["deletedRegion"]
        fixed[region["startLine"] - 1:region["endLine"] - 1] = [replacement["insertedContent"]["text"]]
    # Applied to the file, the replacements drop the output softmax (CrossEntropyLoss already takes logits).
    assert "".join(fixed) == "".join(lines).replace(", nn.Softmax(dim=1))", ")")

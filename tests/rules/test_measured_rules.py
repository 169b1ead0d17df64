"""Measured rules ACT701-ACT707: the calibration corpus, options, and confirmation of static findings.

Healthy architectures (tests/corpus, tests/probe_corpus/healthy_*) must raise no measured
finding; every planted bug (tests/probe_corpus/bug_*, each naming its rules in PLANTED)
must fire. ``python bench/probe_calibration.py`` prints the margins behind the thresholds.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from actlint.rules.engine import RuleSelection
from actlint.options import LintOptions
from actlint.pipeline import lint_paths
from helpers import REPO, lint_source, run_cli, write_model

PROBE_CORPUS = REPO / "tests" / "probe_corpus"
HEALTHY = sorted((REPO / "tests" / "corpus").glob("healthy_*.py")) + sorted(PROBE_CORPUS.glob("healthy_*.py"))
BUGS = sorted(PROBE_CORPUS.glob("bug_*.py"))


def planted(path: Path) -> tuple[str, ...]:
    """The rules a planted-bug file declares in its module-level ``PLANTED`` tuple."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PLANTED":
            return tuple(ast.literal_eval(node.value))
    raise AssertionError(f"{path.name} has no PLANTED")


def measured(path: Path, **options) -> list:
    run = lint_paths([str(path)], LintOptions(selection=RuleSelection(select=("ACT7",)), **options))
    assert not run.errors, run.errors
    for model in run.models:
        assert model.probe["status"] == "ok", (model.name, model.probe["reason"])
    return run.findings()


def test_corpus_is_complete():
    names = {p.stem for p in HEALTHY}
    for expected in ("healthy_resnet", "healthy_vgg_bn", "healthy_mobilenet", "healthy_transformer",
                     "healthy_lstm_lm", "healthy_vit_zero_head", "healthy_googlenet_aux"):
        assert expected in names
    fired = {rule for path in BUGS for rule in planted(path)}
    assert fired == {f"ACT70{i}" for i in range(1, 8)}  # every measured rule has a planted bug


@pytest.mark.parametrize("path", HEALTHY, ids=lambda p: p.stem)
def test_healthy_architectures_raise_no_measured_finding(path):
    findings = measured(path)
    assert [f"{f.rule} {f.message}" for f in findings] == []


@pytest.mark.parametrize("path", BUGS, ids=lambda p: p.stem)
def test_planted_bugs_fire(path):
    fired = {f.rule for f in measured(path)}
    missing = set(planted(path)) - fired
    assert not missing, f"{path.name}: {sorted(missing)} did not fire (fired: {sorted(fired)})"


def test_zero_initialised_head_is_seen_through():
    run = lint_paths([str(PROBE_CORPUS / "healthy_vit_zero_head.py")], LintOptions())
    report = run.models[0].probe_report
    assert "head.weight" in report.reinitialised
    assert any("head.weight" in note for note in report.notes)
    assert report.layer("patch").backward_signal > 0


def _only(findings, rule):
    return [f for f in findings if f.rule == rule]


@pytest.mark.parametrize(
    "path, rule, option, value",
    [
        ("healthy_vit_zero_head.py", "ACT701", "threshold", 10.0),
        ("healthy_vit_zero_head.py", "ACT702", "threshold", 1e-3),
        ("healthy_googlenet_aux.py", "ACT703", "threshold", -1.0),
        ("bug_saturated_tanh.py", "ACT704", "threshold", 0.99),
        ("healthy_vit_zero_head.py", "ACT707", "high", 1e-3),
        ("bug_dead_bias.py", "ACT703", "min_samples", 1000),
        ("bug_dead_bias.py", "ACT703", "min_units", 1000),
    ],
)
def test_each_option_changes_behaviour(path, rule, option, value):
    file = PROBE_CORPUS / path
    default = _only(measured(file), rule)
    run = lint_paths([str(file)], LintOptions(selection=RuleSelection(select=("ACT7",), options={rule: {option: value}})))
    changed = _only(run.findings(), rule)
    assert bool(default) != bool(changed)


def test_measured_findings_point_at_the_layer():
    findings = measured(PROBE_CORPUS / "bug_log_negative.py")
    nan = _only(findings, "ACT705")[0]
    assert nan.location.line == 18 and "log()" in nan.message and nan.probe.status.value == "measured"
    dead = _only(measured(PROBE_CORPUS / "bug_dead_bias.py"), "ACT703")[0]
    assert dead.module == "act2" and dead.location.line == 19 and "128 of 128 units" in dead.message


def test_cli_confirms_deep_sigmoid_stack_with_numbers():
    proc = run_cli(str(PROBE_CORPUS / "bug_sigmoid_mlp.py"))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    static = lines.index(next(line for line in lines if "ACT201 [warning]" in line))
    evidence = lines[static + 1].strip()
    assert evidence.startswith("probe: confirmed: backward signal at 0 (linear) is ")
    assert "of that at 24 (linear) (threshold 0.001)" in evidence
    assert any("ACT701 [error] vanishing gradients" in line for line in lines)


def test_static_warning_refuted_on_healthy_model(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn


        def build_model():
            layers = []
            for _ in range(12):
                fc = nn.Linear(64, 64)
                nn.init.kaiming_normal_(fc.weight, nonlinearity="relu")
                nn.init.zeros_(fc.bias)
                layers += [fc, nn.ReLU()]
            return nn.Sequential(*layers, nn.Linear(64, 10))
    """)
    proc = run_cli(str(path))
    assert "ACT203 [warning, refuted]" in proc.stdout
    assert "probe: refuted: backward signal ratio first/last" in proc.stdout
    assert "threshold 0.001" in proc.stdout
    assert "ACT70" not in proc.stdout


def test_tanh_hidden_refuted_and_saturated_confirmed(tmp_path):
    source = """
        import torch.nn as nn


        def build_model():
            fc = nn.Linear(32, 64)
            nn.init.normal_(fc.weight, std={std})
            return nn.Sequential(fc, nn.Tanh(), nn.Linear(64, 10))
    """
    calm = lint_source(tmp_path, source.format(std=0.05), select=("ACT106",)).findings()
    hot = lint_source(tmp_path, source.format(std=3.0), select=("ACT106",), name="hot.py").findings()
    assert calm[0].probe.status.value == "refuted" and "saturated (threshold 50%)" in calm[0].probe.evidence
    assert hot[0].probe.status.value == "confirmed"


def test_linear_model_collapse_confirmed_exactly(tmp_path):
    run = lint_source(tmp_path, """
        import torch.nn as nn

        def build_model():
            return nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.1), nn.Linear(16, 4))
    """, select=("ACT102", "ACT103"))
    verdicts = {f.rule: f.probe for f in run.findings()}
    assert verdicts["ACT103"].status.value == "confirmed" and "float64" in verdicts["ACT103"].evidence
    assert verdicts["ACT103"].metrics["relative_error"] < 1e-12
    assert verdicts["ACT102"].status.value == "confirmed" and "is an affine function of 0" in verdicts["ACT102"].evidence


def test_no_probe_leaves_static_findings_not_probed(tmp_path):
    run = lint_source(tmp_path, """
        import torch.nn as nn

        def build_model():
            return nn.Sequential(nn.Linear(8, 16), nn.Linear(16, 4))
    """, select=("ACT103", "ACT7"), probe=False)
    assert [f.rule for f in run.findings()] == ["ACT103"]
    assert run.findings()[0].probe.evidence == "not probed: probe skipped: the probe is disabled (--no-probe, or enabled = false in [tool.actlint.probe])"

"""Findings the probe refutes are shown with their numbers but do not fail the run."""

from __future__ import annotations

import json

import actlint
from helpers import invoke_cli, write_model

DEEP_PLAIN_WITH_BN = """
import torch.nn as nn

def build_model():
    layers = [nn.Linear(32, 64), nn.BatchNorm1d(64), nn.ReLU()]
    for _ in range(22):
        layers += [nn.Linear(64, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(64, 10))
"""


def test_refuted_warning_is_shown_marked_not_counted_and_does_not_fail(tmp_path):
    path = write_model(tmp_path, DEEP_PLAIN_WITH_BN)
    result = invoke_cli(str(path), "--select", "ACT2")
    assert result.exit_code == 0, result.output
    assert "ACT202 [warning, refuted]" in result.stdout and "probe: refuted: backward signal ratio" in result.stdout
    # Refuted findings are listed with their evidence, and counted apart from the problems.
    assert result.stdout.strip().splitlines()[-1] == "All checks passed (1 model); 1 finding refuted by the probe."


def test_fail_on_refuted_restores_the_exit_code(tmp_path):
    path = write_model(tmp_path, DEEP_PLAIN_WITH_BN)
    assert invoke_cli(str(path), "--select", "ACT2", "--fail-on-refuted").exit_code == 1
    write_model(tmp_path, "[tool.actlint]\nfail-on-refuted = true\n", name="pyproject.toml")
    assert invoke_cli(str(path), "--select", "ACT2").exit_code == 1
    assert invoke_cli(str(path), "--select", "ACT2", "--no-fail-on-refuted").exit_code == 0


def test_json_keeps_the_refuted_finding_with_its_status(tmp_path):
    path = write_model(tmp_path, DEEP_PLAIN_WITH_BN)
    result = invoke_cli(str(path), "--select", "ACT2", "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    (finding,) = document["models"][0]["findings"]
    assert finding["rule"] == "ACT202" and finding["probe"]["status"] == "refuted"
    assert finding["probe"]["metrics"]
    # The summary counts problems; refuted findings are counted apart (and keep their severity in "findings").
    assert document["refuted"] == 1 and document["summary"]["warning"] == 0


def test_api_ok_ignores_refuted_findings(tmp_path):
    namespace: dict = {}
    exec(DEEP_PLAIN_WITH_BN, namespace)
    result = actlint.lint(namespace["build_model"](), (8, 32), select="ACT2")
    assert [f.rule for f in result.findings] == ["ACT202"] and result.ok
    assert not actlint.lint(namespace["build_model"](), (8, 32), select="ACT2",
                            config={"fail-on-refuted": True}).ok

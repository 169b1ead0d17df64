"""The Python API through its public interface only: actlint.lint, actlint.check, the result."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import actlint
from helpers import cli_json, write_model

THIS_FILE = Path(__file__)


class HiddenSoftmax(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(torch.softmax(self.fc1(x), dim=-1))  # the line findings point at


class Healthy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))

    def forward(self, x):
        return self.net(x)


class ValueBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        h = self.fc1(x)
        if h.mean() > 10:  # torch.fx cannot trace a branch on values
            h = h * 0
        return self.fc2(torch.sigmoid(h).softmax(-1))


def _line_of(text: str) -> int:
    return next(i for i, line in enumerate(THIS_FILE.read_text().splitlines(), 1) if text in line)


def test_lint_returns_findings_located_in_the_users_file():
    result = actlint.lint(HiddenSoftmax(), torch.randn(4, 8))
    assert not result.ok and result.errors == []
    (finding,) = [f for f in result.findings if f.rule == "ACT101"]
    assert Path(finding.location.file).name == THIS_FILE.name
    assert finding.location.line == _line_of("# the line findings point at")
    assert finding.probe.status.value == "confirmed"
    assert "ACT101 [error]" in str(result) and "Found 1 problem (1 error) in 1 model" in str(result)
    assert "HiddenSoftmax" in repr(result)


@pytest.mark.parametrize("inputs", [(torch.randn(4, 8),), ((4, 8),), (torch.Size([4, 8]),), ()],
                         ids=["tensor", "shape", "size", "inferred"])
def test_inputs_may_be_tensors_shapes_or_omitted(inputs):
    result = actlint.lint(Healthy(), *inputs)
    assert result.ok and result.findings == []
    assert result.model.probe["status"] == "ok"
    assert ("4x8" in result.model.inputs) == bool(inputs)


def test_the_model_is_left_bitwise_unchanged():
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    model.eval()
    model[0].weight.grad = torch.ones_like(model[0].weight)
    model[3].bias.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grad = model[0].weight.grad.clone()
    actlint.lint(model, torch.randn(8, 8))
    assert not model.training and not model[1].training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(model[0].weight.grad, grad) and model[3].bias.grad is None
    assert not model[3].bias.requires_grad and model[0].weight.requires_grad
    assert all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks for m in model.modules())


def test_every_report_format():
    result = actlint.lint(HiddenSoftmax(), torch.randn(4, 8), probe=False)
    document = json.loads(result.to_json())
    assert document == result.to_dict()
    assert [f["rule"] for f in document["models"][0]["findings"]] == ["ACT101"]
    sarif = json.loads(result.to_sarif())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"][0]["ruleId"] == "ACT101"
    html = result._repr_html_()
    assert "ACT101" in html and "<script" not in html.lower() and "http://" not in html.replace("http://www.w3.org", "")


def test_to_html_writes_the_file(tmp_path):
    path = tmp_path / "report.html"
    html = actlint.lint(Healthy(), (4, 8), probe=False).to_html(path)
    assert path.read_text(encoding="utf-8") == html


def test_selection_options_and_bad_arguments():
    result = actlint.lint(HiddenSoftmax(), (4, 8), select="ACT1", ignore=["ACT101"], probe=False)
    assert [f.rule for f in result.findings] == []
    result = actlint.lint(HiddenSoftmax(), (4, 8), config={"severity": {"ACT101": "info"}}, probe=False)
    assert [f.severity.label for f in result.findings] == ["info"]
    with pytest.raises(ValueError, match="matches no rule"):
        actlint.lint(Healthy(), select="ACT999")
    with pytest.raises(ValueError, match="unknown key"):
        actlint.lint(Healthy(), config={"selct": ["ACT1"]})
    with pytest.raises(TypeError):
        actlint.lint("not a model")


def test_check_raises_lint_error_with_the_text_report():
    with pytest.raises(actlint.LintError) as info:
        actlint.check(HiddenSoftmax(), torch.randn(2, 8))
    assert "ACT101 [error]" in str(info.value) and info.value.result.findings
    assert actlint.check(Healthy(), torch.randn(2, 8)).ok
    actlint.check(ValueBranch(), torch.randn(2, 8), fail_on="error", select="ACT2")  # only errors fail it


def test_model_fx_cannot_trace_is_linted_from_python():
    result = actlint.lint(ValueBranch(), torch.randn(4, 8), probe=False)
    assert result.model.trace == "executed"
    assert "ACT101" in [f.rule for f in result.findings]


def test_cli_and_api_give_the_same_json(tmp_path, monkeypatch):
    path = write_model(tmp_path, """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(8, 16)
                self.fc2 = nn.Linear(16, 3)

            def forward(self, x):
                return self.fc2(torch.tanh(torch.softmax(self.fc1(x), dim=-1)))

        def build_model():
            torch.manual_seed(0)
            return Net()

        def example_inputs():
            return (torch.randn(6, 8, generator=torch.Generator().manual_seed(1)),)
    """, name="seeded.py")
    monkeypatch.chdir(tmp_path)
    cli, _ = cli_json("seeded.py")
    spec = importlib.util.spec_from_file_location("seeded", tmp_path / "seeded.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["seeded"] = module
    try:
        spec.loader.exec_module(module)
        api = actlint.lint(module.build_model(), *module.example_inputs(), name="build_model").to_dict()
    finally:
        del sys.modules["seeded"]
    (cli_model,), (api_model,) = cli["models"], api["models"]
    assert cli_model["findings"] and cli_model["findings"] == api_model["findings"]
    for key in ("name", "file", "trace", "parameters", "probe", "skipped_rules"):
        assert cli_model[key] == api_model[key], key
    assert cli["summary"] == api["summary"]


def test_api_import_is_lazy():
    import subprocess

    code = "import actlint, sys; assert 'torch' not in sys.modules; actlint.lint; assert 'torch' in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0

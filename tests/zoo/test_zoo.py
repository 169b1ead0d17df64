"""Optional zoo: every torchvision classification model, randomly initialised, lints without
an ERROR from any rule (healthy well-known architectures must not look broken).

Needs torchvision (``pip install -e .[zoo]``); skipped otherwise. Run with
``python -m pytest -m zoo tests/zoo/test_zoo.py -s`` to see the findings per model and severity.
The probe is off by default (80 models on CPU); ``ACTLINT_ZOO_PROBE=1`` turns it on.
"""

from __future__ import annotations

import collections
import os

import pytest

torchvision = pytest.importorskip("torchvision")

from actlint.rules.engine import RuleSelection  # noqa: E402
from actlint.core.findings import Severity  # noqa: E402
from actlint.options import LintOptions  # noqa: E402
from actlint.pipeline import lint_paths  # noqa: E402

from helpers import write_model  # noqa: E402

pytestmark = pytest.mark.zoo

MODELS = sorted(torchvision.models.list_models(module=torchvision.models))
SIZES = {"inception_v3": 299}

SOURCE = """
import torch
import torchvision

def build_model():
    torch.manual_seed(0)
    return torchvision.models.get_model({name!r}, weights=None)

def example_inputs():
    return (torch.randn(2, 3, {size}, {size}),)
"""


def test_zoo_lists_the_classification_models():
    assert len(MODELS) >= 20 and "resnet50" in MODELS


@pytest.mark.parametrize("name", MODELS)
def test_torchvision_model_has_no_error_findings(tmp_path, name):
    path = write_model(tmp_path, SOURCE.format(name=name, size=SIZES.get(name, 224)))
    probe = os.environ.get("ACTLINT_ZOO_PROBE") == "1"
    run = lint_paths([str(path)], LintOptions(selection=RuleSelection(select=("ACT",)), probe=probe))
    assert not run.errors, run.errors
    findings = run.findings()
    counts = collections.Counter(f.severity.label for f in findings)
    print(f"\n{name}: " + ", ".join(f"{counts.get(s.label, 0)} {s.label}" for s in sorted(Severity, reverse=True))
          + "".join(f"\n    {f.rule} [{f.severity.label}] {f.module}" for f in findings))
    errors = [f"{f.rule} {f.module}: {f.message}" for f in findings if f.severity is Severity.ERROR]
    assert errors == []


SEGMENTATION = sorted(torchvision.models.list_models(module=torchvision.models.segmentation))
DETECTION = sorted(torchvision.models.list_models(module=torchvision.models.detection))

DENSE_SOURCE = """
import torch
import torchvision

def build_model():
    torch.manual_seed(0)
    model = torchvision.models.get_model({name!r}, weights=None, weights_backbone=None{extra})
    {mode}
    return model

def example_inputs():
    return ({inputs},)
"""


def _dense_source(name: str, detection: bool) -> str:
    if detection:
        # Detection models take a list of images and, in train mode, need targets: lint
        # them as they run at inference (eval mode), on one small image.
        return DENSE_SOURCE.format(name=name, extra=", num_classes=5", mode="model.eval()",
                                   inputs="[torch.rand(3, 160, 160)]")
    return DENSE_SOURCE.format(name=name, extra=", num_classes=5", mode="", inputs="torch.randn(2, 3, 96, 96)")


@pytest.mark.parametrize("name", SEGMENTATION + DETECTION)
def test_torchvision_dense_model_has_no_error_findings(tmp_path, name):
    path = write_model(tmp_path, _dense_source(name, name in DETECTION))
    probe = os.environ.get("ACTLINT_ZOO_PROBE") == "1"
    run = lint_paths([str(path)], LintOptions(selection=RuleSelection(select=("ACT",)), probe=probe))
    assert not run.errors, run.errors
    (model,) = run.models
    assert model.trace != "modules", model.notes  # a dataflow graph, by fx or by executing the forward
    errors = [f"{f.rule} {f.module}: {f.message}" for f in run.findings() if f.severity is Severity.ERROR]
    print(f"\n{name} [{model.trace}]: " + "".join(f"\n    {f.rule} [{f.severity.label}] {f.module}"
                                            for f in run.findings()))
    assert errors == []

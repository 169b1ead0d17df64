"""Precision: healthy, well-known architectures (written in tests/corpus) stay quiet.

Warnings count as noise too: only info-level advice is allowed on these models.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from actlint.rules.engine import RuleSelection
from actlint.core.findings import Severity
from actlint.options import LintOptions
from actlint.pipeline import lint_paths

from helpers import lint_source

CORPUS = Path(__file__).parent.parent / "corpus"
HEALTHY = sorted(CORPUS.glob("healthy_*.py"))
STATIC_RULES = ("ACT1", "ACT2", "ACT5", "ACT6")


def _lint(path: Path, tracer: str = "auto"):
    options = LintOptions(selection=RuleSelection(select=STATIC_RULES), probe=False, trace=tracer)
    return lint_paths([str(path)], options)


@pytest.mark.parametrize("tracer", ["auto", "executed"])
@pytest.mark.parametrize("path", HEALTHY, ids=lambda p: p.stem)
def test_healthy_architectures_have_no_warnings(path, tracer):
    run = _lint(path, tracer)
    assert not run.errors, run.errors
    assert run.models, "no model discovered"
    if tracer == "executed":
        assert {m.trace for m in run.models} == {"executed"}
    noisy = [f"{f.rule} {f.message}" for f in run.findings() if f.severity >= Severity.WARNING]
    assert noisy == []


def test_corpus_covers_the_famous_families():
    names = {m.name for p in HEALTHY for m in _lint(p).models}
    assert {"ResNet50", "DenseNet", "MobileNetV3", "VisionTransformer", "LSTMLanguageModel",
            "TransformerLM", "ConvNeXt", "UNet", "build_model", "EfficientNetLike"} <= names


def test_resnet50_weight_path_is_deep_but_residual():
    run = _lint(CORPUS / "healthy_resnet.py")
    graph = run.models[0].graph
    assert len(graph.longest_weight_path) >= 50
    assert len(graph.skip_connections) == 16  # one per bottleneck
    assert max(graph.plain_depth) <= 4


def test_bug_planted_in_a_transformer_block_points_at_the_block_line(tmp_path):
    source = (CORPUS / "healthy_transformer.py").read_text()
    buggy = source.replace(
        "        return x + self.mlp(self.norm2(x))",
        "        return x + self.mlp(self.norm2(x).softmax(-1))",
    )
    assert buggy != source
    run = lint_source(tmp_path, buggy, select=("ACT101",))
    findings = run.findings()
    # Twelve blocks share one forward line: one finding at that line names the others.
    assert len(findings) == 1
    assert "also 11 more from this line" in findings[0].message
    bug_line = buggy.splitlines().index("        return x + self.mlp(self.norm2(x).softmax(-1))") + 1
    assert {f.location.line for f in findings} == {bug_line}
    assert findings[0].location.column == buggy.splitlines()[bug_line - 1].index("softmax") + 1
    assert findings[0].module.startswith("blocks.")

"""Fuzzing: random architectures (layers, activations, norms, skips, control flow fx cannot
trace) never crash actlint, always give valid JSON, and get a dataflow trace whenever their
forward pass works."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from actlint.rules.engine import RuleSelection  # noqa: E402
from actlint.options import LintOptions  # noqa: E402
from actlint.pipeline import lint_paths  # noqa: E402
from actlint.report.json import run_to_json  # noqa: E402

ACTIVATIONS = ["torch.relu(h)", "torch.tanh(h)", "torch.sigmoid(h)", "F.gelu(h)", "torch.softmax(h, dim=-1)", "h"]
NORMS = ["nn.LayerNorm({w})", "nn.BatchNorm1d({w})", None]
CONTROL = [
    None,
    "if h.sum() > 0:\n            h = h * 0.5",  # a branch on values
    "assert h.size(-1) == {w}, 'width'",  # an assert on sizes
    "for _ in range(len(h) % 2 + 1):\n            h = h + 0",  # len() of a tensor
    # control flow on traced values that fx cannot follow (it must fall through the chain):
    "self.last = h.detach()",  # the forward assigns to its module (CLIP's attn_mask)
    "for part in h.chunk(2, dim=-1):\n            h = h + 0 * part.sum()",  # iterating over a Proxy
    "h = h[:, :int(h.shape[-1])]",  # int() of a traced size
    "b, w = h.shape\n        h = h.reshape(b, w)",  # unpacking a traced shape
    "if mask is not None:\n            h = h * mask",  # an optional input
]

layer = st.fixed_dictionaries({
    "width": st.sampled_from([4, 8, 16]),
    "activation": st.sampled_from(ACTIVATIONS),
    "norm": st.sampled_from(NORMS),
    "skip": st.booleans(),
    "control": st.sampled_from(CONTROL),
})


def _source(layers: list[dict], in_features: int) -> str:
    init, body = [], []
    width = in_features
    for i, spec in enumerate(layers):
        out = spec["width"]
        init.append(f"self.fc{i} = nn.Linear({width}, {out})")
        body.append(f"h_in = h\n        h = self.fc{i}(h)")
        if spec["norm"]:
            init.append(f"self.norm{i} = {spec['norm'].format(w=out)}")
            body.append(f"h = self.norm{i}(h)")
        body.append(f"h = {spec['activation']}")
        if spec["skip"] and width == out:
            body.append("h = h + h_in")
        if spec["control"]:
            body.append(spec["control"].format(w=out))
        width = out
    init.append(f"self.head = nn.Linear({width}, 3)")
    body.append("return self.head(h)")
    return textwrap.dedent("""
        import torch
        import torch.nn as nn
        import torch.nn.functional as F


        class Fuzzed(nn.Module):
            def __init__(self):
                super().__init__()
        """) + "".join(f"        {line}\n" for line in init) + \
        "\n    def forward(self, x, mask=None):\n        h = x\n" + "".join(f"        {line}\n" for line in body)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layers=st.lists(layer, min_size=1, max_size=5), in_features=st.sampled_from([4, 8, 12]))
def test_random_architectures_lint_cleanly(tmp_path, layers, in_features):
    source = _source(layers, in_features)
    path = tmp_path / "fuzzed.py"
    path.write_text(source)
    namespace: dict = {}
    exec(compile(source, str(path), "exec"), namespace)
    with torch.no_grad():
        namespace["Fuzzed"]().eval()(torch.randn(8, in_features))  # the forward pass works

    run = lint_paths([str(path)], LintOptions(selection=RuleSelection(select=("ACT",)), probe=False))
    assert run.errors == [], (run.errors, source)
    document = json.loads(json.dumps(run_to_json(run)))
    (model,) = document["models"]
    assert model["trace"] in ("fx", "fx-partial", "executed"), (model["trace"], model["notes"], source)
    assert all("rule" in f for f in model["findings"])
    assert not any("was skipped: it raised" in n for n in model["notes"]), (model["notes"], source)  # no rule crashed

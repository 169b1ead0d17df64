"""The executed trace (forwards torch.fx cannot trace), inputs for real forwards, time limits."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from actlint.rules.engine import RuleSelection
from actlint.options import LintOptions
from actlint.pipeline import lint_paths
from actlint.trace import trace_executed, trace_model
from helpers import invoke_cli, lint_source, write_model

REAL_FILES = Path(__file__).parent.parent / "real_files"


def _only_model(result) -> dict:
    assert result.exit_code in (0, 1), result.output
    (model,) = json.loads(result.stdout)["models"]
    return model


def test_hidden_softmax_after_a_value_dependent_branch_is_reported_at_its_line(tmp_path):
    run = lint_source(tmp_path, """
        import torch
        import torch.nn as nn

        class Gated(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(16, 32)
                self.fc2 = nn.Linear(32, 4)

            def forward(self, x):
                h = self.fc1(x)
                if h.sum() > 0:  # fx cannot trace a branch on values
                    h = h * 2
                h = torch.softmax(h, dim=-1)
                return self.fc2(h)
    """)
    (model,) = run.models
    assert model.trace == "executed"
    (finding,) = [f for f in run.findings() if f.rule == "ACT101"]
    assert (finding.location.line, finding.location.column) == (14, 19)


def _gpt_file(tmp_path: Path, mlp_activation: str = "self.gelu(self.c_fc(x))") -> Path:
    source = (REAL_FILES / "gpt_config.py").read_text()
    source = source.replace("return self.c_proj(self.gelu(self.c_fc(x)))", f"return self.c_proj({mlp_activation})")
    path = tmp_path / "gpt.py"
    path.write_text(source)
    return path


def test_gpt_with_an_assert_on_its_length_gets_dataflow_rules_and_the_probe(tmp_path):
    model = _only_model(invoke_cli(str(_gpt_file(tmp_path)), "--format", "json"))
    assert model["trace"] == "executed"
    assert model["probe"]["status"] == "ok"
    assert model["skipped_rules"] == {}
    assert model["findings"] == []


def test_softmax_planted_in_the_gpt_mlp_is_act101_and_attention_softmax_is_not(tmp_path):
    path = _gpt_file(tmp_path, "torch.softmax(self.c_fc(x), dim=-1)")
    model = _only_model(invoke_cli(str(path), "--format", "json", "--no-probe"))
    act101 = [f for f in model["findings"] if f["rule"] == "ACT101"]
    mlp_line = next(i for i, line in enumerate(path.read_text().splitlines(), 1) if "torch.softmax(self.c_fc" in line)
    assert [f["line"] for f in act101] == [mlp_line], act101  # one per line: the two blocks are merged


def test_a_forward_that_never_returns_is_cut_off(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn

        class Stuck(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                y = self.fc(x)
                while y.abs().sum() >= 0:  # never false
                    y = y * 1.0
                return y
    """)
    start = time.monotonic()
    result = invoke_cli(str(path), "--probe-timeout", "1.5")
    assert time.monotonic() - start < 30
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stdout.splitlines() if "did not finish within" in line]
    assert notes and all(len(n) < 400 for n in notes), result.stdout


def test_constant_example_input_array_gets_random_values(tmp_path):
    model = _only_model(invoke_cli(str(write_model(tmp_path, """
        import torch
        import torch.nn as nn

        class LitClassifier(nn.Module):  # PyTorch Lightning's convention, without Lightning
            def __init__(self):
                super().__init__()
                self.example_input_array = torch.zeros(4, 20)
                self.net = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 3))

            def forward(self, x):
                return self.net(x)
    """)), "--format", "json"))
    assert "constant floating values replaced by random ones" in model["inputs"]
    assert [f["rule"] for f in model["findings"]] == []  # no ACT706 from all-zero inputs


@pytest.mark.parametrize("forward, expect", [
    ("def forward(self, a, b):\n        return self.head(torch.abs(self.enc(a) - self.enc(b)))", "shaped like a"),
    ("def forward(self, x, mask):\n        return self.head(self.enc(x) * mask[..., None])", "as masks"),
    ("def forward(self, x=None, attention_mask=None):\n        return self.head(self.enc(x))", "16 features"),
])
def test_inputs_for_several_and_optional_forward_parameters(tmp_path, forward, expect):
    path = write_model(tmp_path, f"""
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
        self.head = nn.Linear(32, 2)

    {forward}
""")
    model = _only_model(invoke_cli(str(path), "--format", "json"))
    assert expect in model["inputs"] and model["probe"]["status"] == "ok", model["inputs"]


def test_inputs_for_init_hidden_language_models_and_reshaping_forwards(tmp_path):
    path = write_model(tmp_path, """
        import torch
        import torch.nn as nn

        class RNNModel(nn.Module):  # word_language_model's shape: time-first, forward(input, hidden)
            def __init__(self, ntoken=50, ninp=16, nhid=24, nlayers=2):
                super().__init__()
                self.encoder = nn.Embedding(ntoken, ninp)
                self.rnn = nn.LSTM(ninp, nhid, nlayers)
                self.decoder = nn.Linear(nhid, ntoken)
                self.nlayers, self.nhid = nlayers, nhid

            def forward(self, input, hidden):
                output, hidden = self.rnn(self.encoder(input), hidden)
                return self.decoder(output), hidden

            def init_hidden(self, bsz):
                weight = next(self.parameters())
                return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))

        class RowLSTM(nn.Module):  # mnist_rnn's shape: the forward reshapes to 28 rows of 28 pixels
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(input_size=28, hidden_size=32, batch_first=True)
                self.fc = nn.Linear(32, 10)

            def forward(self, input):
                output, _ = self.rnn(input.reshape(-1, 28, 28))
                return self.fc(output[:, -1, :])

        class Wrapper(nn.Module):
            def __init__(self):
                super().__init__()
                self.lm = RNNModel()
                self.rows = RowLSTM()
    """)
    for name, expect in [("RNNModel", "from init_hidden(8)"), ("RowLSTM", "x28x28")]:
        model = _only_model(invoke_cli(f"{path}::{name}", "--format", "json"))
        assert expect in model["inputs"] and model["probe"]["status"] == "ok", model["inputs"]


def test_a_bare_layer_used_as_the_model(tmp_path):
    model = _only_model(invoke_cli(str(write_model(tmp_path, """
        import torch.nn as nn
        n_features = 13
        model = nn.Linear(n_features, 1)
    """)), "--format", "json"))
    assert "13 features" in model["inputs"] and model["probe"]["status"] == "ok"


def test_executed_graph_matches_the_fx_graph_op_for_op():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)
            self.norm = nn.LayerNorm(8)

        def forward(self, x):
            h = torch.relu(self.fc(x)).view(-1, 8)
            return self.norm(x + h * 0.5).softmax(dim=-1)

    model = Block()
    x = torch.randn(4, 8)
    fx_graph = trace_model(model).graph
    executed = trace_executed(model, (x,))
    assert executed.trace_method == "executed" and executed.has_dataflow and executed.has_shapes
    # Same ops of the same kinds (``h * 0.5`` reaches the recorder as Tensor.mul, fx calls it operator.mul).
    assert [n.kind for n in executed] == [n.kind for n in fx_graph]
    assert [n.module_path for n in executed if n.op == "call_module"] == ["fc", "norm"]
    by_kind = {n.kind: n for n in executed}
    add = by_kind["add"]
    assert [executed.nodes[i].kind for i in add.inputs] == ["input", "mul"]
    assert by_kind["softmax"].shape == (4, 8) and by_kind["softmax"].arg(1, "dim") == -1


def test_slice_residual_in_place_add_is_an_edge():
    class SliceResidual(nn.Module):  # ReXNet: x[:, :c] += shortcut
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3, padding=1)

        def forward(self, x):
            out = self.conv(x)
            out[:, 0:4] += x
            return torch.relu(out)

    graph = trace_executed(SliceResidual(), (torch.randn(2, 4, 8, 8),))
    relu = graph.of_kind("relu")[0]
    (producer,) = graph.preds(relu)
    assert producer.kind == "add"  # the in-place add on the slice now stands for `out`
    assert {graph.nodes[i].op for i in producer.inputs} == {"call_function", "placeholder"}


def test_executed_trace_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU())
    state = {k: v.clone() for k, v in model.state_dict().items()}
    trace_executed(model, (torch.randn(8, 4),))
    assert model.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert not model._forward_hooks and not model[0]._forward_pre_hooks


def test_cli_trace_flag_forces_the_executed_tracer(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn

        def build_model():
            return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    """)
    assert _only_model(invoke_cli(str(path), "--format", "json"))["trace"] == "fx"
    assert _only_model(invoke_cli(str(path), "--format", "json", "--trace", "executed"))["trace"] == "executed"


def test_untraceable_submodule_with_inputs_is_traced_by_executing(tmp_path):
    run = lint_paths([str(write_model(tmp_path, """
        import torch
        import torch.nn as nn

        class Router(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(8, 8)

            def forward(self, x):
                if x.mean() > 0:
                    return torch.softmax(self.a(x), dim=-1)
                return self.a(x)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.router = Router()
                self.head = nn.Linear(8, 2)

            def forward(self, x):
                return self.head(self.router(x))
    """))], LintOptions(selection=RuleSelection(select=("ACT1",)), probe=False))
    (model,) = run.models
    # fx-partial would hide the softmax inside the opaque Router; the executed trace sees it
    # when this batch takes the branch, and the note says how the graph was built.
    assert model.trace == "executed"
    assert any("traced by executing one forward pass instead" in n for n in model.notes)

"""GraphView and the op-kind table: unified kinds, dataflow queries, analyses."""

from __future__ import annotations

import operator

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from actlint.graph import ops
from actlint.rules.base import Example, Rule
from actlint.rules.registry import RuleRegistry, default_registry, load_registry
from actlint.trace import propagate_shapes, trace_model


class FourSoftmaxes(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.sm = nn.Softmax(dim=-1)

    def forward(self, x):
        a = self.sm(self.fc(x))
        b = F.softmax(a, dim=-1)
        c = torch.softmax(b, -1)
        return c.softmax(-1)


def test_softmax_forms_unify_to_one_kind():
    graph = trace_model(FourSoftmaxes()).graph
    softmaxes = graph.of_kind("softmax")
    assert [n.op for n in softmaxes] == ["call_module", "call_function", "call_function", "call_method"]


def test_every_activation_module_and_function_has_a_kind():
    for name in ["ReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "LeakyReLU", "Hardswish", "Softmax", "LogSoftmax"]:
        assert ops.DEFAULT_TABLE.module_kind(getattr(nn, name)()) is not None, name
    for fn in [F.relu, torch.relu, F.gelu, torch.sigmoid, torch.tanh, F.softmax, torch.log_softmax]:
        assert ops.DEFAULT_TABLE.function_kind(fn) is not None, fn


def test_subclasses_map_through_the_mro():
    class MyLinear(nn.Linear):
        pass

    assert ops.DEFAULT_TABLE.module_kind(MyLinear(2, 2)) == "linear"


def test_registering_twice_raises():
    table = ops.OpTable()
    table.register_function(operator.add, "add")
    with pytest.raises(ValueError, match="already registered"):
        table.register_function(operator.add, "sum")
    table.register_method("relu", "relu")
    with pytest.raises(ValueError):
        table.register_method("relu", "relu")


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 8)
        self.c = nn.Linear(8, 2)

    def forward(self, x):
        h = x + self.b(torch.relu(self.a(x)))
        return self.c(h), h.sum()


def test_dataflow_queries_and_analyses():
    graph = trace_model(Residual()).graph
    add = graph.of_kind("add")[0]
    assert {p.name for p in graph.data_preds(add)} == {"x", "b"}
    assert [s.name for s in graph.succs(graph.node("a"))] == ["relu"]
    assert add.index in graph.skip_connections
    assert [n.module_path for n in graph.longest_weight_path] == ["a", "b", "c"]
    assert graph.plain_depth[graph.node("c").index] == 1  # restarted at the residual add
    assert [n.name for n in graph.outputs] == ["c", "sum_1"]
    assert graph.walk_forward(graph.node("a"), {"relu"})[0].name == "b"
    assert graph.node("b").describe() == "b (Linear)"


def test_unknown_ops_are_listed_not_guessed():
    class Odd(nn.Module):
        def forward(self, x):
            return torch.special.erfcx(x)

    graph = trace_model(Odd()).graph
    assert graph.unknown_targets == ["torch.special_erfcx"]


def test_shapes_from_fake_propagation_leave_buffers_untouched():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    traced = trace_model(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert propagate_shapes(traced.graph_module, traced.graph, (torch.randn(2, 3, 8, 8),)) is None
    assert traced.graph.node("_2").shape == (2, 4, 6, 6)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_locations_point_into_the_user_file(tmp_path):
    from actlint.loader.models import load_models

    path = tmp_path / "m.py"
    path.write_text(
        "import torch.nn as nn\n"
        "import torch.nn.functional as F\n"
        "\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.body = nn.Sequential(\n"
        "            nn.Linear(4, 8),\n"
        "            nn.ReLU(),\n"
        "        )\n"
        "        self.head = nn.Linear(8, 2)\n"
        "\n"
        "    def forward(self, x):\n"
        "        return F.softmax(self.head(self.body(x)), dim=-1)\n"
    )
    (loaded,) = load_models(str(path))
    graph = trace_model(loaded.model, user_file=path).graph
    loc = {n.name: (n.location.line, n.location.column) for n in graph.nodes if n.location}
    assert loc["body_0"] == (8, 13)  # inside a Sequential: where it was constructed
    assert loc["body_1"] == (9, 13)
    assert loc["head"] == (14, 31)  # applied directly: where forward calls it
    assert loc["softmax"] == (14, 18)


# --- registry ------------------------------------------------------------------------


class _Dummy(Rule):
    id = "ACT101"
    name = "dummy"


def test_registry_rejects_duplicate_ids():
    registry = load_registry()
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(_Dummy)


def test_builtins_come_from_the_entry_point_and_can_be_blocked():
    assert "ACT101" in default_registry()
    assert len(load_registry(blocked=["builtin"])) == 0


def test_rule_options_are_declared_and_checked():
    from actlint.rules.families.depth import DeepSaturatingStack

    assert DeepSaturatingStack(min_depth=6).option("min_depth") == 6
    with pytest.raises(ValueError, match="no option"):
        DeepSaturatingStack(depth=6)
    with pytest.raises(ValueError, match="must be int"):
        DeepSaturatingStack(min_depth="six")


def test_empty_registry_is_empty():
    assert len(RuleRegistry()) == 0
    assert Example("x = 1").source == "x = 1\n"

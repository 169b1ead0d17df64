"""ACT401-ACT403: loss detection in each placement, matching losses to models, messages with the
loss line as a related location, severity adjustments, and softmax dims with and without shapes."""

from __future__ import annotations

import textwrap

import pytest
import torch.nn as nn

from actlint.rules.engine import RuleSelection
from actlint.core.findings import Severity
from actlint.loader.loaded import LoadedFile
from actlint.source.losses import find_losses
from actlint.options import LintOptions
from actlint.pipeline import lint_paths
from actlint.rules.base import RuleContext
from actlint.rules.families.loss import SoftmaxWrongDim
from actlint.trace import trace_model

from helpers import lint_source

LOSS = ("ACT401", "ACT402")

SOFTMAX_NET = """
import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=-1)
"""


def lint(tmp_path, source, rules=LOSS, **kwargs):
    run = lint_source(tmp_path, source, select=rules, probe=False, **kwargs)
    assert not run.errors, run.errors
    return run.findings()


@pytest.mark.parametrize(
    "placement, code, where",
    [
        ("module level", "criterion = nn.CrossEntropyLoss()", "at module level"),
        ("training function", "def train(model, x, y):\n    return F.cross_entropy(model(x), y)", "in function train"),
        ("criterion argument", "def fit(model, criterion):\n    pass\n\nfit(Net(), criterion=nn.CrossEntropyLoss())",
         "passed as criterion= to fit"),
        ("function reference", "def fit(model, loss_fn):\n    pass\n\nfit(Net(), loss_fn=F.cross_entropy)",
         "passed as loss_fn= to fit"),
        ("method of a LightningModule-style class", "class Lit(Net):\n    def training_step(self, batch):\n"
         "        x, y = batch\n        return F.cross_entropy(self(x), y)", "in Lit.training_step"),
    ],
)
def test_cross_entropy_found_in_each_placement(tmp_path, placement, code, where):
    source = SOFTMAX_NET + "\n" + code + "\n"
    found = [f for f in lint(tmp_path, source) if f.rule == "ACT401"]
    assert found, placement
    finding = found[0]
    assert finding.severity is Severity.ERROR
    loss_line = next(i for i, line in enumerate(source.strip().splitlines(), 1)
                     if "cross_entropy" in line or "CrossEntropyLoss" in line)
    assert f"line {loss_line}" in finding.message and where in finding.message
    assert [r.line for r in finding.related] == [loss_line]
    assert finding.location.line == 11  # the softmax in forward


def test_raw_logits_with_cross_entropy_is_quiet(tmp_path):
    source = SOFTMAX_NET.replace("F.softmax(self.fc(x), dim=-1)", "self.fc(x)") + "\ncriterion = nn.CrossEntropyLoss()\n"
    assert lint(tmp_path, source) == []


def test_no_loss_in_the_file_is_quiet(tmp_path):
    assert lint(tmp_path, SOFTMAX_NET) == []


def test_log_softmax_with_cross_entropy_is_a_warning(tmp_path):
    source = SOFTMAX_NET.replace("F.softmax", "F.log_softmax") + "\ncriterion = nn.CrossEntropyLoss()\n"
    found = lint(tmp_path, source)
    assert [(f.rule, f.severity) for f in found] == [("ACT401", Severity.WARNING)]
    assert "redundant" in found[0].message


def test_log_of_softmax_counts_as_log_softmax(tmp_path):
    source = SOFTMAX_NET.replace("F.softmax(self.fc(x), dim=-1)", "torch.log(F.softmax(self.fc(x), dim=-1))")
    assert lint(tmp_path, source + "\ncriterion = nn.NLLLoss()\n") == []
    assert [f.severity for f in lint(tmp_path, source + "\ncriterion = nn.CrossEntropyLoss()\n")] == [Severity.WARNING]


def test_softmax_with_nll_loss_is_an_error_and_log_softmax_is_fine(tmp_path):
    found = lint(tmp_path, SOFTMAX_NET + "\nloss_fn = nn.NLLLoss()\n")
    assert [(f.rule, f.severity) for f in found] == [("ACT401", Severity.ERROR)]
    assert "log-probabilities" in found[0].message
    assert lint(tmp_path, SOFTMAX_NET.replace("F.softmax", "F.log_softmax") + "\nloss_fn = nn.NLLLoss()\n") == []


def test_user_severity_override_is_kept(tmp_path):
    source = SOFTMAX_NET.replace("F.softmax", "F.log_softmax") + "\ncriterion = nn.CrossEntropyLoss()\n"
    lint(tmp_path, source)
    selection = RuleSelection(select=LOSS, severity={"ACT401": Severity.INFO})
    run = lint_paths([str(tmp_path / "model.py")], LintOptions(selection=selection, probe=False))
    assert [f.severity for f in run.findings()] == [Severity.INFO]


def test_aliases_and_subclasses_resolve_through_the_namespace(tmp_path):
    source = SOFTMAX_NET + textwrap.dedent("""
        from torch.nn import CrossEntropyLoss as CE

        class Smoothed(nn.CrossEntropyLoss):
            pass

        a = CE()
        b = Smoothed(label_smoothing=0.1)
        """)
    found = lint(tmp_path, source)
    assert len(found) == 1 and "(and 1 more use)" in found[0].message and len(found[0].related) == 2


def test_local_import_inside_a_function_is_found_by_name():
    source = "def train():\n    from torch.nn import functional as G\n    return G.cross_entropy\n"
    assert [u.kind for u in find_losses(source, {})] == ["cross_entropy"]


def test_losses_are_matched_to_the_model_they_are_used_with(tmp_path):
    source = """
    import torch.nn as nn
    import torch.nn.functional as F

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            return self.fc(x)

    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 4)

        def forward(self, x):
            return self.fc(x).softmax(dim=-1)

    def train_classifier(x, y):
        model = Classifier()
        return F.cross_entropy(model(x), y)

    def act(x):
        return Policy()(x).multinomial(1)
    """
    assert lint(tmp_path, source) == []
    # The same file with the loss at module level (naming no model) concerns every model.
    unattached = source.replace("def train_classifier(x, y):\n        model = Classifier()\n        return F.cross_entropy(model(x), y)",
                                "criterion = nn.CrossEntropyLoss()")
    run = lint_source(tmp_path, unattached, select=LOSS, probe=False)
    by_model = {m.name: [f.rule for f in m.findings] for m in run.models}
    assert by_model["Classifier"] == [] and by_model["Policy"] == ["ACT401"]


def test_sigmoid_with_bce_is_a_warning_and_with_bce_with_logits_an_error(tmp_path):
    base = textwrap.dedent("""
    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())
    """)
    found = lint(tmp_path, base + "criterion = nn.BCELoss()\n")
    assert [(f.rule, f.severity) for f in found] == [("ACT402", Severity.WARNING)]
    assert found[0].location.line == 4 and found[0].related[0].line == 5
    found = lint(tmp_path, base + "\ndef step(x, y):\n    return nn.functional.binary_cross_entropy_with_logits(model(x), y)\n")
    assert [(f.rule, f.severity) for f in found] == [("ACT402", Severity.ERROR)]
    assert "sigmoid again" in found[0].message


def test_model_returning_logits_and_probabilities_is_not_flagged(tmp_path):
    source = SOFTMAX_NET.replace("return F.softmax(self.fc(x), dim=-1)",
                                 "logits = self.fc(x)\n        return logits, logits.softmax(-1)")
    assert lint(tmp_path, source + "\ncriterion = nn.CrossEntropyLoss()\n") == []


# --- ACT403 ------------------------------------------------------------------------------------


def _check_without_shapes(source: str, model: nn.Module):
    """Run ACT403 on a traced graph that has no shape metadata (no example inputs)."""
    graph = trace_model(model).graph
    assert not graph.has_shapes
    rule = SoftmaxWrongDim()
    file = LoadedFile(path=__import__("pathlib").Path("model.py"), display="model.py", source=source, namespace={})
    return list(rule.check(RuleContext(rule, graph, file)))


def test_implicit_dim_is_a_warning_without_shapes():
    found = _check_without_shapes("", nn.Sequential(nn.Linear(4, 3), nn.Softmax()))
    assert [f.severity for f in found] == [Severity.WARNING] and "without an explicit dim" in found[0].message


def test_dim_zero_needs_shapes():
    assert _check_without_shapes("", nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=0))) == []


def test_dim_zero_on_a_batched_tensor_is_an_error_with_shapes(tmp_path):
    source = """
    import torch.nn as nn

    def build_model():
        return nn.Sequential(nn.Linear(8, 3), nn.LogSoftmax(dim=0))
    """
    found = lint(tmp_path, source, rules=("ACT403",))
    assert [f.severity for f in found] == [Severity.ERROR] and "dim 0 is the batch" in found[0].message


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
def test_implicit_dim_on_3d_input_lands_on_the_batch(tmp_path):
    source = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            return F.softmax(self.fc(x))

    def example_inputs():
        return (torch.randn(4, 10, 8),)
    """
    found = lint(tmp_path, source, rules=("ACT403",))
    assert [f.severity for f in found] == [Severity.ERROR] and "normalises over dim 0" in found[0].message


def test_time_first_models_are_not_judged_on_dim_zero(tmp_path):
    source = """
    import torch
    import torch.nn as nn

    class Pool(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(8, 16)
            self.score = nn.Linear(16, 1)

        def forward(self, x):
            h, _ = self.rnn(x)
            weights = self.score(h).softmax(dim=0)  # attention over time (dim 0 is time here)
            return (weights * h).sum(0)

    def example_inputs():
        return (torch.randn(12, 4, 8),)
    """
    assert lint(tmp_path, source, rules=("ACT403",)) == []

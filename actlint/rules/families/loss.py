"""ACT4xx: output layers that fight the loss, and softmax over the wrong dimension."""

from __future__ import annotations

from typing import Iterable

import torch.nn as nn

from actlint.source import losses

from actlint.graph import ops
from actlint.core.findings import Finding, Severity
from actlint.graph.view import GraphView, OpNode
from actlint.core.location import SourceLocation
from actlint.graph.queries import output_activations
from actlint.fixes.edits import UNSAFE
from actlint.fixes.losses import LOGITS_FORM, LossSite, logits_form
from actlint.rules.base import Example, Rule, RuleContext
from actlint.rules.fixing import layer_site, output_layer_gradient
from actlint.source.pairing import training_for

def losses_for(ctx: RuleContext) -> list[losses.LossUse]:
    """The loss uses in the user's file that concern this model (paired once per model)."""
    return training_for(ctx.file, ctx.model).losses


def _loc(ctx: RuleContext, use: losses.LossUse) -> SourceLocation:
    return SourceLocation(str(ctx.file.path), use.line, use.column)


def logits_fix(ctx: RuleContext, node: OpNode, uses: list[losses.LossUse], activation: str):
    """Drop the output ``activation`` and switch ``uses`` to their logits form (see :mod:`actlint.fixes.losses`)."""
    site = layer_site(ctx, node)
    sites = [LossSite(u.line, u.column) for u in uses]
    names = {name for name, value in ctx.file.namespace.items() if value is ctx.model}
    switched = sorted({u.text.split("(")[0].rpartition(".")[2] for u in uses} & {"BCELoss", "binary_cross_entropy",
                                                                               "NLLLoss", "nll_loss"})
    title = f"remove the output {activation}" + (
        f" and switch {', '.join(switched)} to {', '.join(LOGITS_FORM[s] for s in switched)}" if switched else "")
    return ctx.fix(title, lambda tree: logits_form(tree, site, sites, names))


def _user_overrode(rule: Rule) -> bool:
    return "severity" in vars(rule)


class SoftmaxBeforeCrossEntropy(Rule):
    id = "ACT401"
    name = "softmax-before-cross-entropy"
    severity = Severity.ERROR
    summary = "The model outputs softmax probabilities and the file trains it with CrossEntropyLoss (or NLLLoss)."
    what = (
        "Reads the model file's source for the losses it uses (nn.CrossEntropyLoss, F.cross_entropy, "
        "nn.NLLLoss, F.nll_loss: assigned at module level, called in a training function, passed as "
        "criterion= to a helper) and checks the op the model's output ends in. Softmax + "
        "cross-entropy and softmax + NLLLoss are errors; log_softmax + cross-entropy is reported as a "
        "warning (redundant: cross_entropy already applies log_softmax, so the result is unchanged). "
        "When the file defines several models, a loss used in a scope that names one of them is "
        "matched to that model only."
    )
    why = (
        "CrossEntropyLoss applies log_softmax itself. Feeding it probabilities applies softmax twice: "
        "the 'logits' it sees lie in [0, 1], so the predicted distribution can never be confident, the "
        "loss plateaus far above zero and gradients are tiny. NLLLoss expects log-probabilities: given "
        "probabilities it minimises -p instead of -log p, a different and badly scaled objective."
    )
    instead = (
        "Return raw logits from the model and use nn.CrossEntropyLoss / F.cross_entropy; apply softmax "
        "only at inference. If the model must output log-probabilities, end it in log_softmax and use "
        "nn.NLLLoss."
    )
    valid = (
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 5))
            criterion = nn.CrossEntropyLoss()
            """
        ),
        Example(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 5)

                def forward(self, x):
                    return F.log_softmax(self.fc(x), dim=-1)

            def train_step(model, x, y):
                return F.nll_loss(model(x), y)
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 5), nn.Softmax(dim=1))
            criterion = nn.CrossEntropyLoss()
            """,
            line=3,
            fixed="""
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 5))
            criterion = nn.CrossEntropyLoss()
            """,
        ),
        Example(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 5)

                def forward(self, x):
                    return self.fc(x).softmax(dim=-1)

            def train(model, batches):
                for x, y in batches:
                    loss = F.cross_entropy(model(x), y)
                    loss.backward()
            """,
            line=10,
            fixed="""
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 5)

                def forward(self, x):
                    return self.fc(x)

            def train(model, batches):
                for x, y in batches:
                    loss = F.cross_entropy(model(x), y)
                    loss.backward()
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 5)

                def forward(self, x):
                    return torch.softmax(self.fc(x), dim=1)

            def fit(model, criterion, epochs=1):
                return model, criterion

            fit(Net(), criterion=nn.NLLLoss())
            """,
            line=10,
            fixed="""
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 5)

                def forward(self, x):
                    return self.fc(x)

            def fit(model, criterion, epochs=1):
                return model, criterion

            fit(Net(), criterion=nn.CrossEntropyLoss())
            """,
        ),
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 5), nn.Softmax(dim=1))
            criterion = nn.CrossEntropyLoss()

            def accuracy(x, y):
                return (model(x).argmax(1) == y).float().mean()
            """,
            line=3,
        ),
    )
    fixable = UNSAFE

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        outputs, raw = output_activations(ctx.graph)
        outputs = [(n, k) for n, k in outputs if k in ("softmax", "log_softmax")]
        if not outputs or raw:
            return
        uses = [u for u in losses_for(ctx) if u.kind in (losses.CROSS_ENTROPY, losses.NLL)]
        for node, kind in outputs:
            for loss_kind in (losses.CROSS_ENTROPY, losses.NLL):
                matching = [u for u in uses if u.kind == loss_kind]
                if not matching:
                    continue
                use = matching[0]
                extra = len(matching) - 1
                more = f" (and {extra} more use{'s' if extra > 1 else ''})" if extra else ""
                where = f"{use.text} at line {use.line} ({use.placement}){more}"
                severity = None
                if loss_kind == losses.CROSS_ENTROPY and kind == "softmax":
                    message = (f"the model's output goes through softmax ({node.describe()}) and is trained with {where}: "
                               f"cross_entropy applies log_softmax itself, so softmax is applied twice and gradients "
                               f"flatten; return the raw logits")
                elif loss_kind == losses.CROSS_ENTROPY:
                    message = (f"the model's output goes through log_softmax ({node.describe()}) and is trained with "
                               f"{where}: redundant, cross_entropy applies log_softmax itself; return the raw logits")
                    severity = Severity.WARNING
                elif kind == "softmax":
                    message = (f"the model's output goes through softmax ({node.describe()}) and is trained with {where}: "
                               f"NLLLoss expects log-probabilities, so it minimises -p instead of -log p; use "
                               f"log_softmax, or return logits and use nn.CrossEntropyLoss")
                else:
                    continue  # log_softmax + NLLLoss is the intended pairing
                fix = logits_fix(ctx, node, matching, "log_softmax" if kind == "log_softmax" else "softmax")
                finding = ctx.finding(message, node=node, related=[_loc(ctx, u) for u in matching], fix=fix)
                if severity is not None and not _user_overrode(self):
                    finding = finding.with_severity(severity)
                yield finding

    def fix_evidence(self, model):
        return output_layer_gradient(model)


class SigmoidBeforeBCE(Rule):
    id = "ACT402"
    name = "sigmoid-before-bce"
    severity = Severity.WARNING
    summary = "The model outputs sigmoid probabilities and the file trains it with BCELoss (or BCEWithLogitsLoss)."
    what = (
        "Reads the model file's source for binary cross-entropy losses (nn.BCELoss, "
        "F.binary_cross_entropy, nn.BCEWithLogitsLoss, F.binary_cross_entropy_with_logits) wherever "
        "they appear and checks whether the model's output ends in a sigmoid. Sigmoid + BCELoss is a "
        "warning (numerically fragile); sigmoid + BCEWithLogitsLoss is reported as an error (the "
        "sigmoid is applied twice)."
    )
    why = (
        "BCELoss on sigmoid outputs computes log(sigmoid(x)), which underflows to log(0) for large |x|: "
        "PyTorch clamps it at -100, so confidently wrong predictions get a constant loss and no useful "
        "gradient, and in float16 it breaks much earlier. BCEWithLogitsLoss fuses the two with the "
        "log-sum-exp trick. With BCEWithLogitsLoss, a sigmoid in the model squashes the logits into "
        "(0, 1) and the loss applies a second sigmoid: predictions are stuck between 0.5 and 0.73."
    )
    instead = (
        "Return raw logits and use nn.BCEWithLogitsLoss / F.binary_cross_entropy_with_logits; apply "
        "torch.sigmoid only at inference."
    )
    valid = (
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
            criterion = nn.BCEWithLogitsLoss()
            """
        ),
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())
            criterion = nn.MSELoss()
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())
            criterion = nn.BCELoss()
            """,
            line=3,
            fixed="""
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
            criterion = nn.BCEWithLogitsLoss()
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 1)

                def forward(self, x):
                    return torch.sigmoid(self.fc(x)).squeeze(-1)

            def train(model, x, y):
                return F.binary_cross_entropy(model(x), y)
            """,
            line=11,
            fixed="""
            import torch
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 1)

                def forward(self, x):
                    return self.fc(x).squeeze(-1)

            def train(model, x, y):
                return F.binary_cross_entropy_with_logits(model(x), y)
            """,
        ),
    )
    fixable = UNSAFE

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        outputs, raw = output_activations(ctx.graph)
        outputs = [(n, k) for n, k in outputs if k == "sigmoid"]
        if not outputs or raw:
            return
        uses = [u for u in losses_for(ctx) if u.kind in (losses.BCE, losses.BCE_LOGITS)]
        for node, _ in outputs:
            for loss_kind in (losses.BCE, losses.BCE_LOGITS):
                matching = [u for u in uses if u.kind == loss_kind]
                if not matching:
                    continue
                use = matching[0]
                where = f"{use.text} at line {use.line} ({use.placement})"
                if loss_kind == losses.BCE:
                    message = (f"the model's output goes through sigmoid ({node.describe()}) and is trained with {where}: "
                               f"log(sigmoid(x)) underflows for confident predictions; return logits and use "
                               f"nn.BCEWithLogitsLoss")
                    finding = ctx.finding(message, node=node, related=[_loc(ctx, u) for u in matching],
                                          fix=logits_fix(ctx, node, matching, "sigmoid"))
                else:
                    message = (f"the model's output goes through sigmoid ({node.describe()}) and is trained with {where}, "
                               f"which applies sigmoid again: predictions are stuck in (0.5, 0.73); remove the sigmoid")
                    finding = ctx.finding(message, node=node, related=[_loc(ctx, u) for u in matching],
                                          fix=logits_fix(ctx, node, matching, "sigmoid"))
                    if not _user_overrode(self):
                        finding = finding.with_severity(Severity.ERROR)
                yield finding

    def fix_evidence(self, model):
        return output_layer_gradient(model)


def _batch_first_ambiguous(graph: GraphView) -> bool:
    """True when some module lays out sequences time-first (dim 0 may not be the batch)."""
    for module in graph.modules.values():
        if isinstance(module, (nn.RNNBase, nn.MultiheadAttention)) and not getattr(module, "batch_first", False):
            return True
        if isinstance(module, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
            if not module.self_attn.batch_first:
                return True
    return False


def _batch_size(graph: GraphView) -> int | None:
    for p in graph.placeholders:
        if p.shape:
            return p.shape[0]
    return None


def softmax_dim(node: OpNode) -> tuple[bool, object]:
    """(known, dim): the dim a softmax node normalises over; dim None means implicit."""
    if node.op == "call_module":
        if isinstance(node.module, nn.Softmax2d):
            return False, None
        return True, getattr(node.module, "dim", None)
    return True, node.arg(1, "dim")


class SoftmaxWrongDim(Rule):
    id = "ACT403"
    name = "softmax-wrong-dim"
    severity = Severity.ERROR
    summary = "Softmax normalises over the batch dimension (dim 0), or its dim is implicit."
    what = (
        "Checks every softmax, log_softmax and softmin. With example inputs (shapes), a softmax over "
        "dim 0 of a batched tensor (dim 0 has the batch size and the model has no time-first "
        "recurrent or attention layer) is an error. Without a dim argument (nn.Softmax(), "
        "F.softmax(x)) it is a warning, needing no shapes; when shapes show that the implicit "
        "choice lands on the batch dimension (3-D inputs), it is an error."
    )
    why = (
        "Softmax over the batch makes each sample's probabilities depend on the other samples in the "
        "batch: the per-sample outputs no longer sum to 1, training couples unrelated samples and "
        "the model behaves differently at batch size 1. The implicit dim is deprecated: PyTorch picks "
        "dim 0 for 0-, 1- and 3-D inputs and dim 1 otherwise, so the same code normalises over a "
        "different axis when the input rank changes."
    )
    instead = "Always pass the class dimension explicitly: nn.Softmax(dim=-1), F.softmax(x, dim=-1)."
    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax(dim=-1))
            """
        ),
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 3)

                def forward(self, x):
                    return self.fc(x).softmax(1)
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 3)

                def forward(self, x):
                    return F.softmax(self.fc(x), dim=0)
            """,
            line=10,
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax())
            """,
            line=4,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        batch = _batch_size(graph) if graph.has_shapes else None
        ambiguous = _batch_first_ambiguous(graph)
        for node in graph.of_kind(ops.SOFTMAX):
            known, dim = softmax_dim(node)
            if not known:
                continue
            shape = node.shape
            ndim = len(shape) if shape is not None else None
            batched = (
                batch is not None and shape is not None and ndim is not None and ndim >= 2
                and shape[0] == batch and not ambiguous
            )
            if dim is None:
                implicit = (0 if ndim in (0, 1, 3) else 1) if ndim is not None else None
                if implicit == 0 and batched:
                    yield ctx.finding(
                        f"{node.kind} without dim on a {ndim}-D tensor of shape {tuple(shape)} normalises over "
                        f"dim 0, the batch: each sample's output depends on the rest of the batch; pass dim=-1",
                        node=node,
                    )
                    continue
                resolved = f" (PyTorch picks dim {implicit} for this {ndim}-D input)" if implicit is not None else ""
                finding = ctx.finding(
                    f"{node.kind} without an explicit dim{resolved}: the implicit choice is deprecated and "
                    f"changes with the input's rank; pass dim=-1 (or the class dimension)",
                    node=node,
                )
                yield finding if _user_overrode(self) else finding.with_severity(Severity.WARNING)
                continue
            if not isinstance(dim, int) or ndim is None or not batched:
                continue
            if dim == 0 or dim == -ndim:
                yield ctx.finding(
                    f"{node.kind} over dim {dim} of a batched tensor of shape {tuple(shape)}: dim 0 is the batch, "
                    f"so each sample's probabilities depend on the other samples; use dim=-1 (the classes)",
                    node=node,
                )


__all__ = ["SoftmaxBeforeCrossEntropy", "SigmoidBeforeBCE", "SoftmaxWrongDim",
           "losses_for"]

"""ACT5xx: normalization placement (redundant biases, dropout before BatchNorm)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Iterable

import torch.nn as nn

from actlint.graph import ops
from actlint.core.findings import Finding, Severity
from actlint.loader.provenance import module_construction_site
from actlint.fixes.edits import UNSAFE
from actlint.fixes.layers import keyword_set
from actlint.rules.base import Example, Rule, RuleContext
from actlint.rules.fixing import layer_site, parameter_count


class BiasBeforeNorm(Rule):
    id = "ACT501"
    name = "bias-before-norm"
    severity = Severity.INFO
    summary = "A Linear/Conv bias feeds BatchNorm directly, which subtracts it right away."
    what = "Reports Linear/Conv layers with bias=True whose only consumer is a BatchNorm layer."
    why = (
        "BatchNorm subtracts the per-channel batch mean, which removes any constant bias added "
        "just before it; BatchNorm's own beta plays that role. The bias is dead weight: extra "
        "parameters, optimizer state and compute that never affect the output."
    )
    instead = "Construct the layer with bias=False (as torchvision's ResNet does: conv(..., bias=False) -> BN)."
    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Conv2d(3, 16, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU())
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Conv2d(3, 16, 3),
                    nn.BatchNorm2d(16),
                    nn.ReLU(),
                )
            """,
            line=5,
            fixed="""
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Conv2d(3, 16, 3, bias=False),
                    nn.BatchNorm2d(16),
                    nn.ReLU(),
                )
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Block(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(32, 64, True)  # the classic MLP block
                    self.bn = nn.BatchNorm1d(64)

                def forward(self, x):
                    return self.bn(self.fc(x)).relu()
            """,
            line=6,
            fixed="""
            import torch.nn as nn

            class Block(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(32, 64, False)  # the classic MLP block
                    self.bn = nn.BatchNorm1d(64)

                def forward(self, x):
                    return self.bn(self.fc(x)).relu()
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class ConvBlock(nn.Module):
                def __init__(self, cin, cout):
                    super().__init__()
                    self.conv = nn.Conv2d(cin, cout, 3, padding=1)
                    self.bn = nn.BatchNorm2d(cout)

                def forward(self, x):
                    return self.bn(self.conv(x)).relu()

            def build_model():
                return nn.Sequential(ConvBlock(3, 16), ConvBlock(16, 32))
            """,
            line=6,
            fixed="""
            import torch.nn as nn

            class ConvBlock(nn.Module):
                def __init__(self, cin, cout):
                    super().__init__()
                    self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
                    self.bn = nn.BatchNorm2d(cout)

                def forward(self, x):
                    return self.bn(self.conv(x)).relu()

            def build_model():
                return nn.Sequential(ConvBlock(3, 16), ConvBlock(16, 32))
            """,
        ),
        Example(
            # One factory builds both convs; only the first feeds a BatchNorm: bias=False in the
            # factory would drop the last conv's bias too, so no fix is offered.
            """
            import torch.nn as nn

            def conv(cin, cout):
                return nn.Conv2d(cin, cout, 3, padding=1)

            def build_model():
                return nn.Sequential(conv(3, 16), nn.BatchNorm2d(16), nn.ReLU(), conv(16, 8))
            """,
            line=4,
        ),
    )
    fixable = UNSAFE

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        flagged = []
        for node in graph.of_kind(ops.AFFINE):
            module = node.module
            if module is None or getattr(module, "bias", None) is None:
                continue
            users = graph.succs(node)
            if users and all(u.kind == "batch_norm" for u in users):
                flagged.append((node, users))
        # A helper class used twice (a ConvBlock) builds several layers on one line: bias=False
        # there is exact when every layer that line builds has its bias cancelled.
        per_line = Counter(module_construction_site(node.module) for node, _ in flagged)
        for node, users in flagged:
            module = node.module
            if module is not None:
                # Point where the layer is constructed: that is where bias=False goes.
                location = module_construction_site(module) or node.location
                site = replace(layer_site(ctx, node), flagged_here=per_line[module_construction_site(module)])
                position = 2 if isinstance(module, nn.Linear) else 7  # bias's place in the signature
                yield ctx.finding(
                    f"{node.describe()} has a bias that {users[0].describe()} cancels (BatchNorm "
                    f"subtracts the mean); construct it with bias=False",
                    node=node,
                    location=location,
                    fix=ctx.fix("construct the layer with bias=False (checkpoints saved with the bias "
                                "no longer load strictly)",
                                lambda tree: keyword_set(tree, site, "bias", "False", position)),
                )

    def fix_evidence(self, model):
        return parameter_count(model)


class DropoutBeforeBatchNorm(Rule):
    id = "ACT502"
    name = "dropout-before-batchnorm"
    severity = Severity.WARNING
    summary = "Dropout feeds BatchNorm (variance shift between training and inference)."
    what = "Reports Dropout (p > 0) whose output reaches a BatchNorm layer through reshapes only."
    why = (
        "Dropout changes the variance of its output between train mode (units dropped, the rest "
        "scaled by 1/(1-p)) and eval mode (no dropping). BatchNorm learns running statistics in "
        "train mode and applies them in eval mode, so at inference it normalises with the wrong "
        "variance: the 'variance shift' that degrades accuracy (Li et al., 2019)."
    )
    instead = "Put Dropout after the last BatchNorm (e.g. just before the classifier), or drop it."
    references = ("Li et al., Understanding the Disharmony between Dropout and Batch Normalization, CVPR 2019",)
    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Linear(8, 16),
                    nn.ReLU(),
                    nn.Dropout(0.5),
                    nn.BatchNorm1d(16),
                    nn.Linear(16, 2),
                )
            """,
            line=7,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        for node in graph.of_kind(ops.DROPOUT):
            p = getattr(node.module, "p", None) if node.module is not None else node.arg(1, "p", 0.5)
            if isinstance(p, (int, float)) and p <= 0:
                continue
            for norm in graph.walk_forward(node, ops.RESHAPE | {"cast"}):
                if norm.kind == "batch_norm":
                    yield ctx.finding(
                        f"dropout {node.describe()} feeds BatchNorm {norm.describe()}: its running "
                        f"statistics will not match inference (variance shift); move dropout after it",
                        node=node,
                    )
                    break

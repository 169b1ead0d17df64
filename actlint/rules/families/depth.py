"""ACT2xx: depth and gradient-path structure (saturating stacks, plain deep nets, RNNs)."""

from __future__ import annotations

from typing import Iterable

from actlint.graph import ops
from actlint.core.findings import Finding, ProbeVerdict, Severity
from actlint.graph.queries import is_gate
from actlint.rules.base import Example, Option, Rule, RuleContext
from actlint.rules.confirmation import confirm_vanishing


class DeepSaturatingStack(Rule):
    id = "ACT201"
    name = "deep-saturating-stack"
    severity = Severity.WARNING
    summary = "Many sigmoid/tanh activations in a row with no normalization or skip connection."
    what = (
        "Counts sigmoid/tanh-family activations along each dataflow path; a normalization layer "
        "or a skip connection resets the count. Reports a path with `min_depth` or more in a row "
        "(at its deepest activation). Gates (sigmoid(x) * y) do not count."
    )
    why = (
        "The derivative of sigmoid is at most 0.25 and tanh's falls quickly away from 0: the "
        "backward signal is multiplied by these factors once per layer, so it vanishes "
        "geometrically with depth and the first layers stop learning."
    )
    instead = (
        "Use ReLU/GELU/SiLU hidden activations, add normalization (BatchNorm/LayerNorm) between "
        "the layers, or add residual connections."
    )
    options = {"min_depth": Option(4, "Saturating activations in a row that trigger the rule.")}
    confirmed_by = "vanishing ratio / saturation"

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        return confirm_vanishing(finding, ctx, saturation=True)

    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                layers = []
                for _ in range(6):
                    layers += [nn.Linear(32, 32), nn.LayerNorm(32), nn.Tanh()]
                return nn.Sequential(nn.Linear(8, 32), *layers, nn.Linear(32, 2))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                layers = [nn.Linear(8, 32), nn.Sigmoid()]
                for _ in range(5):
                    layers += [nn.Linear(32, 32), nn.Sigmoid()]
                return nn.Sequential(*layers, nn.Linear(32, 2))
            """,
            line=6,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        min_depth = self.option("min_depth")
        skips = graph.skip_connections
        n = len(graph.nodes)
        run = [0] * n
        first: list[int | None] = [None] * n
        counted = [False] * n
        for node in graph.nodes:
            if node.kind in ops.NORMALIZATION or node.index in skips or node.kind in ops.SELF_NORMALIZED_BLOCKS:
                continue
            best = max(node.inputs, key=lambda i: run[i], default=None)
            base = run[best] if best is not None else 0
            start = first[best] if best is not None else None
            if node.kind in ops.SATURATING and not is_gate(graph, node):
                counted[node.index] = True
                run[node.index] = base + 1
                first[node.index] = start if base else node.index
            else:
                run[node.index] = base
                first[node.index] = start
        # A chain ends where no further counted activation is reachable before a reset.
        continues = [False] * n
        for node in reversed(graph.nodes):
            continues[node.index] = any(
                counted[u] or (continues[u] and run[u] > 0) for u in node.users
            )
        for node in graph.nodes:
            if counted[node.index] and run[node.index] >= min_depth and not continues[node.index]:
                start = graph.nodes[first[node.index]] if first[node.index] is not None else node
                yield ctx.finding(
                    f"{run[node.index]} sigmoid/tanh activations in a row on one path (from "
                    f"{start.describe()} to {node.describe()}) with no normalization or skip "
                    f"connection between: gradients vanish geometrically (threshold {min_depth})",
                    node=node,
                )


class DeepPlainNetwork(Rule):
    id = "ACT202"
    name = "deep-plain-network"
    severity = Severity.WARNING
    summary = "A very deep stack of weight layers with no skip connection on the path."
    what = (
        "Counts weight layers (Linear, Conv, RNN, Embedding, attention) along the longest "
        "dataflow path, restarting after every skip connection (a residual add or a "
        "concatenation of branches of different depth, as in ResNet and DenseNet). Reports "
        "when `min_layers` or more follow one another with no skip connection."
    )
    why = (
        "Plain networks beyond ~20 layers train worse than shallower ones even with "
        "normalization (the degradation problem from the ResNet paper): the gradient must "
        "cross every layer, and its signal decays or explodes along the way."
    )
    instead = "Add residual connections (x + f(x)) around groups of 2-3 layers, or dense connections."
    options = {"min_layers": Option(20, "Weight layers in a row without a skip connection that trigger the rule.")}
    confirmed_by = "vanishing ratio"

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        return confirm_vanishing(finding, ctx)

    valid = (
        Example(
            """
            import torch.nn as nn

            class Block(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.body = nn.Sequential(
                        nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                        nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                    )
                    self.act = nn.ReLU()

                def forward(self, x):
                    return self.act(x + self.body(x))

            def build_model():
                return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), *[Block() for _ in range(15)])
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                layers = [nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU()]
                for _ in range(24):
                    layers += [nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU()]
                return nn.Sequential(*layers)
            """,
            line=6,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        min_layers = self.option("min_layers")
        depth = graph.plain_depth
        deepest = max((n for n in graph.nodes if n.is_weight_layer), key=lambda n: depth[n.index], default=None)
        if deepest is None or depth[deepest.index] < min_layers:
            return
        yield ctx.finding(
            f"{depth[deepest.index]} weight layers in a row up to {deepest.describe()} with no "
            f"skip connection (threshold {min_layers}): deep plain networks degrade; add residual "
            f"connections",
            node=deepest,
        )


class MissingNormalization(Rule):
    id = "ACT203"
    name = "missing-normalization"
    severity = Severity.WARNING
    summary = "A deep network with no normalization layer anywhere."
    what = (
        "Reports models whose longest dataflow path has `min_layers` or more weight layers and "
        "that contain no normalization (BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm, "
        "or a hand-written module whose class name contains 'Norm')."
    )
    why = (
        "Without normalization the scale of activations and gradients drifts layer by layer and "
        "depends entirely on the initialisation; deep networks then need tiny learning rates "
        "or fail to train at all."
    )
    instead = (
        "Add BatchNorm after convolutions (CNNs) or LayerNorm/RMSNorm in pre-norm position "
        "(transformers, MLPs), or use a carefully scaled init (Fixup/SkipInit) if you must avoid it."
    )
    options = {"min_layers": Option(10, "Weight layers on the longest path that trigger the rule.")}
    confirmed_by = "vanishing ratio / forward signal"

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        return confirm_vanishing(finding, ctx, forward=True)

    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                layers = [nn.Linear(8, 32)]
                for _ in range(12):
                    layers += [nn.Linear(32, 32), nn.LayerNorm(32), nn.ReLU()]
                return nn.Sequential(*layers, nn.Linear(32, 2))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                layers = [nn.Linear(8, 32), nn.ReLU()]
                for _ in range(12):
                    layers += [nn.Linear(32, 32), nn.ReLU()]
                return nn.Sequential(*layers, nn.Linear(32, 2))
            """,
            line=7,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        min_layers = self.option("min_layers")
        path = graph.longest_weight_path
        if len(path) < min_layers or graph.has_normalization:
            return
        yield ctx.finding(
            f"{len(path)} weight layers on the longest path (threshold {min_layers}) and no "
            f"normalization layer in the model: activation scale drifts with depth; add "
            f"BatchNorm/LayerNorm",
            node=path[-1],
        )


class VanillaRNN(Rule):
    id = "ACT204"
    name = "vanilla-rnn"
    severity = Severity.INFO
    summary = "nn.RNN / nn.RNNCell (Elman RNN) instead of LSTM/GRU."
    what = "Reports every nn.RNN and nn.RNNCell layer (tanh or relu nonlinearity)."
    why = (
        "A vanilla RNN multiplies the backward signal by the same recurrent Jacobian at every "
        "time step, so gradients vanish (tanh) or explode (relu) over long sequences; it cannot "
        "learn dependencies more than a few dozen steps back."
    )
    instead = (
        "Use nn.LSTM or nn.GRU (gated, additive memory), and clip gradients "
        "(torch.nn.utils.clip_grad_norm_) during training."
    )
    requires = frozenset()  # works on the module tree too
    valid = (
        Example(
            """
            import torch.nn as nn

            class Tagger(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.rnn = nn.GRU(8, 16, batch_first=True)
                    self.out = nn.Linear(16, 4)

                def forward(self, x):
                    h, _ = self.rnn(x)
                    return self.out(h)
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            class Tagger(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.rnn = nn.RNN(8, 16, batch_first=True)
                    self.out = nn.Linear(16, 4)

                def forward(self, x):
                    h, _ = self.rnn(x)
                    return self.out(h)
            """,
            line=10,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        seen: set[str] = set()
        for node in ctx.graph.of_kind("rnn", "rnn_cell"):
            if node.module_path in seen:
                continue
            seen.add(node.module_path or node.name)
            kind = type(node.module).__name__ if node.module is not None else node.kind
            yield ctx.finding(
                f"{kind} {node.describe()} is a vanilla RNN: gradients vanish or explode over "
                f"long sequences; use nn.LSTM or nn.GRU and clip gradients",
                node=node,
            )

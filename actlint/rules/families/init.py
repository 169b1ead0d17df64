"""ACT3xx: initialization (weight scale, forward signal, symmetric and dead-unit inits).

These rules read the model's parameters at the moment it is linted (its initialization) and
the GraphView's dataflow. Two shared analyses are computed once per graph:

* :func:`weight_stats`: per weight layer, the weight's standard deviation, mean square and
  fan-in/fan-out (fan-in correct for grouped/depthwise and transposed convolutions);
* :func:`signal_pass`: a predicted second moment ``q`` (total) and variance ``s`` (the part
  that depends on the input) for every node, starting from unit-variance inputs. Weight
  layers multiply by ``mean(W^2) * fan_in`` (and add ``mean(b^2)`` to ``q``), elementwise
  activations by their exact second moment under a Gaussian pre-activation (quadrature on
  the real torch function), normalization layers reset the signal to ``gamma^2``/``beta^2``,
  residual adds sum the branches' variances (independent branches). Ops the pass does not
  understand (attention, recurrence, matmul...) make the signal unknown until the next
  normalization: the rules stay silent there rather than guess.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch

from actlint.graph import ops
from actlint.core.findings import Finding, ProbeStatus, ProbeVerdict, Severity
from actlint.graph.view import GraphView, OpNode
from actlint.graph.queries import (
    SIGNAL_PASS_THROUGH, feeds_weight_layer, followers, is_residual_branch_end, only_gates, plain_layers_after,
    residual_branch_nodes, weight_layers_after,
)
from actlint.graph.signal import Signal, gain_band, signal_pass
from actlint.graph.weights import SCALED_LAYERS, tensor_value, weight_stats
from actlint.probe.symmetry import SymmetryMeasurement, measure_symmetry
from actlint.rules.base import Example, Option, Rule, RuleContext
from actlint.rules.confirmation import finding_node, measured_rms, plain_verdict, report_path
from actlint.fixes.edits import NoFix, UNSAFE
from actlint.fixes.init import InitCall, matched_init
from actlint.loader.provenance import init_site
from actlint.rules.fixing import deepest_signal

# --- weight statistics ----------------------------------------------------------------------


# --- activations: gains and second moments --------------------------------------------------


# --- the signal pass -----------------------------------------------------------------------


# --- graph helpers ---------------------------------------------------------------------------


def _layer_name(node: OpNode) -> str:
    """The layer as a Python expression on the model: ``features[0].conv``, ``model[2]``."""
    path = node.module_path
    if not path:
        return node.name
    text = ""
    for part in path.split("."):
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return "model" + text if text.startswith("[") else "model" + text


def _recommended(graph: GraphView, node: OpNode) -> set[str]:
    """The init calls matched to what follows ``node`` (empty: nothing to match, the layer is a head)."""
    return {b.fix for b in (gain_band(n) for n in followers(graph, node)) if b is not None}


def _init_fix(ctx: RuleContext, nodes: list[OpNode]):
    """Rewrite the nn.init calls that set ``nodes``' weights, when each sets only layers with one recommendation."""
    graph = ctx.graph
    sites = []  # the init calls that set these layers' weights, each once, in order
    for node in nodes:
        weight = getattr(node.module, "weight", None) if node.module is not None else None
        site = init_site(weight) if weight is not None else None
        if site is not None and site not in sites:
            sites.append(site)
    if not sites:
        return NoFix("the weight is not set by a torch.nn.init call of this file (PyTorch's default, a .data "
                     "assignment or a checkpoint): there is no call to rewrite")
    calls = []
    for site in sites:
        wanted: set[str] = set()
        for other in graph.of_kind(SCALED_LAYERS):
            weight = getattr(other.module, "weight", None) if other.module is not None else None
            if weight is not None and init_site(weight) == site:
                wanted |= _recommended(graph, other)
        if len(wanted) != 1:
            return NoFix(f"the init call at line {site.line} sets layers followed by different activations: "
                         f"no single init matches them all")
        calls.append(InitCall(site, wanted.pop()))
    lines = ", ".join(str(c.site.line) for c in calls)
    return ctx.fix(f"initialise for the activation that follows (the init call at line {lines})",
                   lambda tree: matched_init(tree, str(ctx.file.path), calls))


# --- ACT301 ----------------------------------------------------------------------------------


class InitScaleMismatch(Rule):
    id = "ACT301"
    name = "init-scale-mismatch"
    severity = Severity.WARNING
    summary = "A layer's weight scale is far from the gain recommended for the activation that follows it."
    what = (
        "For every Linear/Conv/ConvTranspose layer whose output goes (through reshapes, dropout, "
        "pooling) into an activation or directly into another weight layer, computes the weight "
        "scale std * sqrt(fan_in) (fan-in per output unit, so grouped and depthwise convolutions "
        "are right) and compares it with the gain recommended for that activation: He sqrt(2) for "
        "ReLU, sqrt(2/(1+a^2)) for LeakyReLU/PReLU with slope a, LeCun..He (1 to sqrt(2)) for "
        "GELU/SiLU/Mish/ELU, LeCun (1) for SELU and sigmoid, 1 to 5/3 for tanh, 1 for a linear "
        "chain. The accepted range widens by sqrt(fan_in/fan_out) so fan-out-mode He, Xavier and "
        "orthogonal inits of non-square layers are accepted; PyTorch's default (1/sqrt(3), 2.4x "
        "below He) is within the factor. Layers followed by a normalization, a residual add, "
        "attention or nothing (the last layer) are not judged: the scale there is reset or "
        "matters little, and so are layers followed by fewer than two weight layers before the chain "
        "ends at a normalization, a residual merge, a gate/attention product or the output (a "
        "head's or a squeeze-excitation branch's scale is one constant factor, it does not "
        "compound). All-constant weights are ACT303's business."
    )
    why = (
        "Each layer multiplies the forward signal (and the backward one) by roughly its scale times "
        "the activation's gain. A few layers off by 3x already change activations by orders of "
        "magnitude: saturated tanh/sigmoid units, exploding logits, or a signal that fades to the "
        "bias before reaching the output."
    )
    instead = (
        'Initialise the weight for the activation that follows it, e.g. '
        '`nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")` before ReLU, '
        '`nn.init.xavier_normal_(layer.weight, gain=nn.init.calculate_gain("tanh"))` before tanh, '
        "or keep PyTorch's default init; add normalization layers to make the network insensitive to it."
    )
    references = (
        "He et al. 2015, Delving Deep into Rectifiers (https://arxiv.org/abs/1502.01852)",
        "Glorot & Bengio 2010, Understanding the difficulty of training deep feedforward neural networks",
    )
    options = {
        "ratio": Option(3.0, "fire when the weight scale is more than this factor outside the recommended range"),
    }
    confirmed_by = "forward signal gain through the layer and its activation"
    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                layers = [nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)]
                for layer in layers:
                    if isinstance(layer, nn.Linear):
                        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                return nn.Sequential(*layers)
            """
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                # PyTorch's default init: 1/sqrt(3) per unit fan-in, within 3x of He.
                return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, 4))
            """
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                model = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 4))
                for m in model:
                    if isinstance(m, nn.Linear):
                        nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain("tanh"))
                return model
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(128, 128)
                    self.fc2 = nn.Linear(128, 128)
                    self.fc3 = nn.Linear(128, 10)
                    nn.init.normal_(self.fc1.weight, std=1.0)  # 11x He scale for the ReLU

                def forward(self, x):
                    return self.fc3(self.fc2(self.fc1(x).relu()).relu())
            """,
            line=12,
            fixed="""
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(128, 128)
                    self.fc2 = nn.Linear(128, 128)
                    self.fc3 = nn.Linear(128, 10)
                    nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")  # 11x He scale for the ReLU

                def forward(self, x):
                    return self.fc3(self.fc2(self.fc1(x).relu()).relu())
            """,
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(),
                                      nn.Conv2d(32, 32, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
                nn.init.normal_(model[2].weight, std=0.001)
                return model
            """,
            fixed="""
            import torch.nn as nn

            def build_model():
                model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(),
                                      nn.Conv2d(32, 32, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
                nn.init.kaiming_normal_(model[2].weight, nonlinearity="relu")
                return model
            """,
        ),
    )
    fixable = UNSAFE

    requires = frozenset({"dataflow", "weights"})
    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        after = plain_layers_after(graph)
        limit = self.option("ratio")
        for node in graph.of_kind(SCALED_LAYERS):
            stats = weight_stats(node)
            # A mismatch compounds only through further layers of the same plain chain: a layer
            # feeding just the output layer, a gate or a residual merge scales one tensor by a
            # constant factor that the loss, the gate or the skip path absorbs.
            if stats is None or stats.constant or after[node.index] < 2:
                continue
            nexts = followers(graph, node)
            bands = [gain_band(n) for n in nexts]
            if not nexts or any(b is None for b in bands):
                continue
            r = math.sqrt(stats.fan_in / max(stats.fan_out, 1))
            low = min(b.low for b in bands if b) * min(1.0, r)
            high = max(b.high for b in bands if b) * max(1.0, r)
            scale = stats.scale
            if low / limit <= scale <= high * limit:
                continue
            band = bands[0]
            assert band is not None
            off = low / scale if scale < low else scale / high
            direction = "below" if scale < low else "above"
            weight = f"{_layer_name(node)}.weight" if node.module_path else "layer.weight"
            yield ctx.finding(
                f"weight scale std*sqrt(fan_in) of {node.describe()} is {scale:.3g} (std {stats.std:.3g}, "
                f"fan-in {stats.fan_in}), {off:.1f}x {direction} the {band.describe()} expected before the "
                f"{nexts[0].kind} that follows; initialise it with {band.fix.format(w=weight)}",
                node=node,
                fix=_init_fix(ctx, [node]),
            )

    def fix_evidence(self, model):
        return deepest_signal(model)

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        report = ctx.probe
        node = finding_node(ctx, finding)
        if node is None:
            return self.not_measured()
        before = next(iter(ctx.graph.walk_backward(node, SIGNAL_PASS_THROUGH)), None)
        after = next((n for n in followers(ctx.graph, node) if gain_band(n) is not None), None)
        rin = measured_rms(ctx, report, before) if before is not None else None
        rout = measured_rms(ctx, report, after) if after is not None else None
        if not rin or rout is None:
            return plain_verdict(ProbeStatus.NOT_PROBED, "no forward signal measured around the layer")
        gain = rout / rin
        limit = self.option("ratio")
        status = ProbeStatus.CONFIRMED if not (1 / limit <= gain <= limit) else ProbeStatus.REFUTED
        return plain_verdict(
            status,
            f"measured RMS gain through the layer and its {after.kind if after else 'activation'} is {gain:.3g} "
            f"({rin:.3g} -> {rout:.3g}); a matched init keeps it within [{1 / limit:.2g}, {limit:g}]",
            gain=gain,
        )


# --- ACT302 ----------------------------------------------------------------------------------


class SignalExplosionOrCollapse(Rule):
    id = "ACT302"
    name = "signal-explosion-or-collapse"
    severity = Severity.ERROR
    summary = "The predicted forward signal grows or shrinks by orders of magnitude before any normalization."
    what = (
        "Propagates a predicted activation scale through the dataflow graph from unit-variance "
        "inputs: each Linear/Conv multiplies the variance by mean(W^2) * fan_in, each activation by "
        "its exact second moment under a Gaussian pre-activation, normalization layers reset it, "
        "residual adds sum the branches' variances and layer-scale multiplications scale it. It "
        "reports the first layer where the input-dependent signal's RMS leaves [min, max] (default "
        "[1e-3, 1e3]) relative to the last normalization (or the input). Biases are tracked "
        "separately: a signal drowned under constant biases counts as collapsed. Ops it cannot "
        "model (attention, recurrence, matmul) end the prediction until the next normalization. "
        "A signal that shrinks inside a residual branch (before the add to the skip path: "
        "LayerScale, small-init branches) is not reported, since the block starts near the identity, "
        "nor is a layer whose output only gates another tensor (gMLP's spatial gating unit: weights "
        "near zero, bias 1); the gated product is judged where it is consumed."
    )
    why = (
        "A signal that grows by 1e3 saturates every bounded activation and overflows logits; one that "
        "shrinks by 1e3 is lost under the biases and rounding. The backward pass scales gradients by "
        "the same per-layer factors, so early layers get gradients that explode or vanish and the "
        "network does not train (He et al. 2015)."
    )
    instead = (
        "Initialise each layer for the activation that follows it (He for ReLU, Xavier/LeCun for "
        "tanh/sigmoid), add normalization (BatchNorm/LayerNorm) every few layers, or use residual "
        "connections with a zero- or small-initialised branch end."
    )
    references = ("He et al. 2015, Delving Deep into Rectifiers (https://arxiv.org/abs/1502.01852)",)
    options = {
        "min": Option(1e-3, "smallest accepted predicted signal RMS relative to the last normalization or input"),
        "max": Option(1e3, "largest accepted predicted signal RMS relative to the last normalization or input"),
    }
    confirmed_by = "forward signal"
    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                layers = []
                for _ in range(20):
                    layer = nn.Linear(64, 64)
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                    nn.init.zeros_(layer.bias)
                    layers += [layer, nn.ReLU()]
                return nn.Sequential(*layers, nn.Linear(64, 10))
            """
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                layers = []
                for _ in range(20):
                    layer = nn.Linear(64, 64)
                    nn.init.normal_(layer.weight, std=3 * (2 / 64) ** 0.5)
                    layers += [layer, nn.BatchNorm1d(64), nn.ReLU()]
                return nn.Sequential(*layers, nn.Linear(64, 10))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                layers = []
                for _ in range(20):
                    layer = nn.Linear(64, 64)
                    nn.init.normal_(layer.weight, std=3 * (2 / 64) ** 0.5)  # 3x He
                    layers += [layer, nn.ReLU()]
                return nn.Sequential(*layers, nn.Linear(64, 10))
            """,
            fixed="""
            import torch.nn as nn

            def build_model():
                layers = []
                for _ in range(20):
                    layer = nn.Linear(64, 64)
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # 3x He
                    layers += [layer, nn.ReLU()]
                return nn.Sequential(*layers, nn.Linear(64, 10))
            """,
        ),
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.blocks = nn.ModuleList(nn.Linear(32, 32) for _ in range(12))
                    for block in self.blocks:
                        nn.init.normal_(block.weight, std=0.05)
                        nn.init.zeros_(block.bias)

                def forward(self, x):
                    for block in self.blocks:
                        x = block(x).tanh()
                    return x
            """,
            line=6,
            fixed="""
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.blocks = nn.ModuleList(nn.Linear(32, 32) for _ in range(12))
                    for block in self.blocks:
                        nn.init.xavier_normal_(block.weight, gain=nn.init.calculate_gain("tanh"))
                        nn.init.zeros_(block.bias)

                def forward(self, x):
                    for block in self.blocks:
                        x = block(x).tanh()
                    return x
            """,
        ),
    )
    fixable = UNSAFE

    requires = frozenset({"dataflow", "weights"})
    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        signals = signal_pass(graph)
        lo, hi = self.option("min"), self.option("max")
        after = weight_layers_after(graph)
        reported: set[int] = set()  # one finding per segment
        in_branch = residual_branch_nodes(graph)
        for node in graph.nodes:
            sig = signals[node.index]
            # The last layer's output scale is the initial logit temperature (zero-initialised
            # heads set it to 0 on purpose): judge the signal where further layers consume it.
            if sig is None or sig.start in reported or not node.is_weight_layer or after[node.index] == 0:
                continue
            ratio = sig.ratio
            if ratio is None or ratio == 0.0 or lo <= ratio <= hi:
                continue  # exact zero comes from a zero init: ACT303's business
            if ratio < lo and in_branch[node.index]:
                # A residual branch that starts small (LayerScale, small-init depthwise convs,
                # FocalNet's modulation) leaves its block near the identity: the skip path
                # carries the signal, and the branch grows as it trains.
                continue
            if only_gates(graph, node):
                # A gate (gMLP's spatial gating: weights ~0, bias 1) scales another tensor;
                # the gated product is judged at the layer that consumes it.
                continue
            reported.add(sig.start)
            start = graph.nodes[sig.start]
            origin = "the input" if start.op == "placeholder" else f"the last normalization {start.describe()}"
            verb = "grows" if ratio > hi else "shrinks"
            layer_gain = ratio ** (1.0 / max(sig.layers, 1))
            yield ctx.finding(
                f"predicted forward signal {verb} to {ratio:.1e}x its scale at {origin} by {node.describe()}, "
                f"after {sig.layers} weight layers without normalization (about {layer_gain:.2g}x per layer; "
                f"allowed [{lo:g}, {hi:g}]): match each layer's init to its activation "
                f'(nn.init.kaiming_normal_(w, nonlinearity="relu") before ReLU) or add normalization',
                node=node,
                fix=_init_fix(ctx, [n for n in graph.nodes if n.is_weight_layer and signals[n.index] is not None
                                    and signals[n.index].start == sig.start]),
            )

    def fix_evidence(self, model):
        return deepest_signal(model)

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        report = ctx.probe
        node = finding_node(ctx, finding)
        if node is None:
            return self.not_measured()
        sig = signal_pass(ctx.graph)[node.index]
        if sig is None:
            return plain_verdict(ProbeStatus.NOT_PROBED, "no predicted signal at the layer")
        signals = signal_pass(ctx.graph)
        start = ctx.graph.nodes[sig.start]
        rin = measured_rms(ctx, report, start)
        # The most extreme measured layer of the segment (same start, before the next normalization).
        measured: list[tuple[float, str]] = []
        for other in ctx.graph.nodes:
            other_sig = signals[other.index]
            if not other.is_weight_layer or other_sig is None or other_sig.start != sig.start:
                continue
            path = report_path(ctx, other)
            stats = report.layer(path) if path else None
            if stats is None:
                continue
            rout = stats.activation_std if stats.activation_std is not None else stats.activation_rms
            if rout is not None and rin:
                measured.append((rout / rin, path or other.name))
        if not measured:
            return plain_verdict(ProbeStatus.NOT_PROBED, "no forward signal measured at both ends of the segment")
        lo, hi = self.option("min"), self.option("max")
        ratio, path = max(measured, key=lambda m: abs(math.log(max(m[0], 1e-300))))
        status = ProbeStatus.CONFIRMED if not (lo <= ratio <= hi) else ProbeStatus.REFUTED
        origin = "the input" if start.op == "placeholder" else (report_path(ctx, start) or start.name)
        return plain_verdict(
            status,
            f"measured input-dependent RMS at {path} is {ratio:.2e}x that at {origin} "
            f"(most extreme of {len(measured)} layers before the next normalization; allowed [{lo:g}, {hi:g}])",
            forward_ratio=ratio,
        )


# --- ACT303 ----------------------------------------------------------------------------------


class ConstantInit(Rule):
    id = "ACT303"
    name = "constant-init"
    severity = Severity.ERROR
    summary = "A weight tensor has zero variance (all elements equal) and feeds further layers."
    what = (
        "Finds Linear/Conv/ConvTranspose/Embedding weights whose elements are all equal (zeros, "
        "ones, nn.init.constant_) and normalization layers whose scale (gamma) is all zero, when "
        "their output reaches another weight layer. The last layer (a zero-initialised classifier "
        "head, as in torchvision's ViT) and residual-branch ends (torchvision's zero_init_residual "
        "BatchNorm gamma, zero-initialised convs added to a skip path) are exempt: there a zero "
        "init is a deliberate choice that the skip path or the loss gradient breaks."
    )
    why = (
        "Units with identical incoming weights compute identical outputs and, when the layers around "
        "them are symmetric too, receive identical gradients: they stay copies of one another forever "
        "and the layer has the capacity of a single unit. An all-zero weight before a ReLU also gets "
        "exactly zero gradient, and a zero gamma on the main path cuts the signal to everything after it."
    )
    instead = (
        "Use a random init (PyTorch's default, nn.init.kaiming_normal_ or nn.init.xavier_normal_) for "
        "weights; reserve zeros/constants for biases, normalization gammas (ones) and the ends of "
        "residual branches."
    )
    confirmed_by = "identical unit gradients"
    valid = (
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
                    self.head = nn.Linear(32, 4)
                    nn.init.zeros_(self.head.weight)  # zero head: the last layer
                    nn.init.zeros_(self.head.bias)

                def forward(self, x):
                    return self.head(self.body(x))
            """
        ),
        Example(
            """
            import torch.nn as nn

            class Block(nn.Module):
                def __init__(self, c=16):
                    super().__init__()
                    self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
                    self.bn1 = nn.BatchNorm2d(c)
                    self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
                    self.bn2 = nn.BatchNorm2d(c)
                    nn.init.zeros_(self.bn2.weight)  # zero_init_residual

                def forward(self, x):
                    y = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
                    return (x + y).relu()

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.stem = nn.Conv2d(3, 16, 3, padding=1)
                    self.blocks = nn.Sequential(Block(), Block())
                    self.head = nn.Linear(16, 10)

                def forward(self, x):
                    return self.head(self.blocks(self.stem(x)).mean((2, 3)))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(16, 32)
                    self.fc2 = nn.Linear(32, 4)
                    nn.init.constant_(self.fc1.weight, 0.1)

                def forward(self, x):
                    return self.fc2(self.fc1(x).relu())
            """,
            line=11,
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))
                for m in model:
                    if isinstance(m, nn.Linear):
                        nn.init.zeros_(m.weight)
                return model
            """,
        ),
    )

    requires = frozenset({"dataflow", "weights"})
    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        reaches = feeds_weight_layer(graph)
        for node in graph.nodes:
            if not reaches[node.index] or node.op != "call_module":
                continue
            if node.kind in SCALED_LAYERS | {"embedding"}:
                stats = weight_stats(node)
                if stats is None or not stats.constant:
                    continue
                if stats.fan_out <= 1 and stats.fan_in <= 1:
                    continue  # a single weight has no symmetry to break
                if is_residual_branch_end(graph, node):
                    continue
                value = "zero" if stats.zero else f"the constant {stats.std + math.sqrt(stats.mean_square):.3g}"
                yield ctx.finding(
                    f"every weight of {node.describe()} is {value}: its units compute the same output and "
                    f"cannot become different; initialise it randomly "
                    f'(nn.init.kaiming_normal_({_layer_name(node)}.weight, nonlinearity="relu") or keep the default)',
                    node=node,
                )
            elif node.kind in ops.NORMALIZATION:
                gamma = tensor_value(getattr(node.module, "weight", None))
                if gamma is None or bool(gamma.any()) or is_residual_branch_end(graph, node):
                    continue
                yield ctx.finding(
                    f"the scale (gamma) of {node.describe()} is all zero on the main path: its output is "
                    f"constant and every layer after it gets no signal; use nn.init.ones_ "
                    f"(zero gamma belongs only at the end of a residual branch)",
                    node=node,
                )

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        report = ctx.probe
        node = finding_node(ctx, finding)
        if node is None or report.inputs is None or not node.module_path:
            return self.not_measured()
        return symmetry_verdict(measure_symmetry(ctx.model, report.inputs, node.module_path), node.module_path)


def symmetry_verdict(measured: SymmetryMeasurement, path: str) -> ProbeVerdict:
    """ACT303's judgement: units that get identical weight gradients stay identical forever.

    Confirmed when the layer's units receive identical weight gradients (so they stay
    identical after any number of steps) or, for a normalization layer, when its output
    carries no input-dependent signal.
    """
    if measured.status == "failed":
        return ProbeVerdict(ProbeStatus.NOT_PROBED, f"symmetry check failed: {measured.detail}")
    if measured.status == "unmeasured":
        return ProbeVerdict(ProbeStatus.NOT_PROBED, "the layer's output or the model's output could not be measured")
    if measured.status == "constant-output":
        return ProbeVerdict(ProbeStatus.CONFIRMED, f"the output of {path} is identical for every probe sample")
    if measured.status == "no-gradient":
        return ProbeVerdict(ProbeStatus.CONFIRMED, f"{path}.weight gets no gradient")
    if measured.status == "zero-gradient":
        return ProbeVerdict(ProbeStatus.CONFIRMED, f"{path}.weight gets exactly zero gradient: it stays constant",
                            {"grad_spread": 0.0})
    spread = measured.spread or 0.0
    if spread < 1e-5:
        return ProbeVerdict(
            ProbeStatus.CONFIRMED,
            f"all {measured.units} units of {path} get the same weight gradient (spread {spread:.1e}): they stay identical",
            {"grad_spread": spread},
        )
    return ProbeVerdict(
        ProbeStatus.REFUTED,
        f"the units of {path} get different weight gradients (spread {spread:.2g} of the largest): "
        f"the layers after it break the symmetry in the first step",
        {"grad_spread": spread},
    )


# --- ACT304 ----------------------------------------------------------------------------------


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


class DeadReluInit(Rule):
    id = "ACT304"
    name = "dead-relu-init"
    severity = Severity.WARNING
    summary = "Biases so negative for the ReLU that follows that most units are dead at initialization."
    what = (
        "For every ReLU (ReLU, ReLU6, Threshold) fed by a Linear/Conv (or a normalization layer) "
        "through reshapes or pooling, predicts each unit's pre-activation as N(b, ||w||^2 * E[x^2]) "
        "(or N(beta, gamma^2) after a normalization), with E[x^2] from the predicted forward "
        "signal, and counts the units whose bias lies more than `sigmas` standard deviations "
        "below zero: they output 0 for practically every input. Fires when their share exceeds "
        "`fraction`."
    )
    why = (
        "A ReLU unit that outputs 0 for every input gets 0 gradient, so its weights and bias never "
        "change: it is dead from the first step. A large negative bias init (or a large negative "
        "BatchNorm beta) kills most of the layer before training starts."
    )
    instead = (
        "Initialise biases at zero or slightly positive (nn.init.zeros_(layer.bias), or 0.01 for ReLU), "
        "or use LeakyReLU/GELU whose negative side still passes gradient."
    )
    options = {
        "fraction": Option(0.5, "fire when more than this share of a layer's units is predicted dead"),
        "sigmas": Option(2.0, "a unit is dead when its bias is this many pre-activation standard deviations below 0"),
    }
    confirmed_by = "dead fraction"
    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4))
                nn.init.constant_(model[0].bias, 0.01)
                return model
            """
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                model = nn.Sequential(nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 4))
                nn.init.constant_(model[0].bias, -5.0)  # BatchNorm removes the bias
                return model
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(16, 64)
                    self.fc2 = nn.Linear(64, 4)
                    nn.init.constant_(self.fc1.bias, -3.0)

                def forward(self, x):
                    return self.fc2(self.fc1(x).relu())
            """,
            line=11,
        ),
    )

    requires = frozenset({"dataflow", "weights"})
    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        signals = signal_pass(graph)
        sigmas, limit = self.option("sigmas"), self.option("fraction")
        for relu in graph.of_kind(ops.RECTIFIERS):
            producers = graph.walk_backward(relu, SIGNAL_PASS_THROUGH - ops.POOLING)
            if len(producers) != 1:
                continue
            producer = producers[0]
            predicted = self._dead(graph, signals, producer, sigmas)
            if predicted is None:
                continue
            dead, units = predicted
            if units == 0 or dead / units <= limit:
                continue
            yield ctx.finding(
                f"{dead / units:.0%} of the {units} units of {producer.describe()} are predicted dead at init "
                f"(bias more than {sigmas:g} standard deviations below 0 before the {relu.kind}): they get no "
                f"gradient; initialise the bias at 0 (nn.init.zeros_({_layer_name(producer)}.bias))",
                node=relu,
            )

    @staticmethod
    def _dead(graph: GraphView, signals: list[Signal | None], producer: OpNode, sigmas: float) -> tuple[int, int] | None:
        module = producer.module
        if producer.op != "call_module" or module is None:
            return None
        bias = tensor_value(getattr(module, "bias", None))
        if bias is None:
            return None
        if producer.kind in SCALED_LAYERS:
            weight = tensor_value(getattr(module, "weight", None))
            preds = [p for p in graph.data_preds(producer) if p.op != "get_attr"]
            x = signals[preds[0].index] if preds else None
            if weight is None or x is None or weight.dim() < 2 or not bool(weight.any()):
                return None
            rows = weight.transpose(0, 1) if producer.kind == "conv_transpose" else weight
            if producer.kind == "conv_transpose":
                return None  # per-output-channel fan-in depends on stride: not modelled
            sd = rows.reshape(rows.shape[0], -1).square().sum(1).mul(x.q).sqrt()
        elif producer.kind in ops.NORMALIZATION:
            gamma = tensor_value(getattr(module, "weight", None))
            sd = gamma.abs() if gamma is not None else torch.ones_like(bias)
        else:
            return None
        if sd.shape != bias.shape:
            return None
        dead = int(((bias < -sigmas * sd) & (bias < 0)).sum())
        return dead, int(bias.numel())

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        report = ctx.probe
        node = finding_node(ctx, finding)
        if node is None:
            return self.not_measured()
        path = report_path(ctx, node)
        stats = report.layer(path) if path else None
        if stats is None or stats.dead_fraction is None:
            return plain_verdict(ProbeStatus.NOT_PROBED, f"no dead fraction measured for {path or 'the ReLU'}")
        limit = self.option("fraction")
        status = ProbeStatus.CONFIRMED if stats.dead_fraction > limit else ProbeStatus.REFUTED
        return plain_verdict(
            status,
            f"{stats.dead_fraction:.0%} of the {stats.units} units of {path} output 0 for all {report.samples} "
            f"probe samples (threshold {limit:.0%})",
            dead_fraction=stats.dead_fraction,
        )


__all__ = [
    "InitScaleMismatch", "SignalExplosionOrCollapse", "ConstantInit", "DeadReluInit",
    "symmetry_verdict",
]

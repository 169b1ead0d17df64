"""Measured rules (ACT701-ACT707): judgements on the ProbeReport.

The probe measures; these rules judge. Every threshold is an option, and every default is
calibrated against a corpus of healthy architectures and planted bugs (tests/corpus,
tests/probe_corpus; ``python bench/probe_calibration.py`` prints the margins).

Calibration notes (measured here at init, see DESIGN.md for torchvision's numbers):

* Backward-signal ratios (first/last weight layer, per-element RMS of dL/d output
  undoing global-pooling dilution) span 0.036 (VGG-BN-style) .. 35 (ResNet-50) on the
  healthy corpus (torchvision: 9e-3 .. 6e2); planted bugs reach 2e-11 (12-layer sigmoid
  MLP), 3e-14 (30-layer plain ReLU CNN), 2e6 (16-layer ReLU MLP at 3x He). Margins of
  the defaults 1e-4 / 1e5: 2.6 / 3.5 decades to the healthy side, 6.6 / 1.3 to the bugs.
* Dead units need >= 32 samples: squeeze-excitation ReLUs see one pooled value per
  sample, so their units barely vary across random inputs and look half dead by chance.
  The probe sees 32 samples by default; the threshold is the share of units that never
  fire across all of them.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from actlint import ops
from actlint.findings import Finding, ProbeStatus, ProbeVerdict, Severity
from actlint.probe_report import LayerStats, ProbeReport
from actlint.rules.base import Example, Option, Rule, RuleContext


def _name(layer: LayerStats) -> str:
    """How a layer is named in messages: ``features.0 (conv)``."""
    return f"{layer.path} ({layer.kind})"


def _module_of(path: str) -> str:
    """``"layer1.0:relu#2"`` -> ``"layer1.0"``; module paths unchanged."""
    return path.split(":", 1)[0]


def _functional_node(ctx: RuleContext, path: str):  # -> OpNode | None
    """The graph node of a functional layer ``"<scope>:<kind>#<n>"`` (n-th such call in scope)."""
    scope, _, rest = path.partition(":")
    kind, _, index = rest.partition("#")
    if not index.isdigit() or not ctx.graph.has_dataflow:
        return None
    matches = [
        node for node in ctx.graph
        if node.op in ("call_function", "call_method") and (node.module_path or "") == scope
        and (node.kind == kind or getattr(node.target, "__name__", str(node.target)) == kind)
    ]
    n = int(index)
    return matches[n - 1] if 0 < n <= len(matches) else None


def _at(ctx: RuleContext, path: str, message: str) -> Finding:
    """A finding located where the layer is: its functional call, or its module's construction."""
    module = _module_of(path)
    if ":" in path:
        node = _functional_node(ctx, path)
        if node is not None and node.location is not None:
            return ctx.finding(message, node=node, module=module or None)
    location = ctx.graph.location_of_module(module) if module else None
    return ctx.finding(message, location=location, module=module or None)


def signal_endpoints(report: ProbeReport) -> tuple[LayerStats, LayerStats] | None:
    """First and last weight layers (forward order) that a backward signal reached."""
    reached = [s for s in report.weight_layers() if s.backward_signal is not None and math.isfinite(s.backward_signal)]
    if len(reached) < 2:
        return None
    return reached[0], reached[-1]


def signal_ratio(report: ProbeReport) -> tuple[float, LayerStats, LayerStats] | None:
    """Backward signal at the first weight layer over the last (None when not measurable)."""
    ends = signal_endpoints(report)
    if ends is None:
        return None
    first, last = ends
    if not last.backward_signal:
        return None
    return first.backward_signal / last.backward_signal, first, last


def forward_endpoints(report: ProbeReport, graph: Any = None) -> tuple[float, LayerStats, LayerStats] | None:
    """Input-dependent activation RMS (``activation_std``) at the last weight layer over the first.

    The sample-to-sample variation, not the raw RMS: a signal that collapsed to zero still
    has the RMS of the last layer's bias, but no variation left. With the ``graph``, the
    last layer is the last one whose output another weight layer consumes: the output
    layer's scale is the initial logit temperature, which zero- and small-initialised heads
    (BEiT's head_init_scale=0.001) set low on purpose.
    """
    layers = [s for s in report.weight_layers() if s.activation_std is not None and math.isfinite(s.activation_std)]
    if graph is not None:
        from actlint.rules.init import weight_layers_after

        after = weight_layers_after(graph)
        consumed = {n.module_path for n in graph.nodes if n.module_path and after[n.index] > 0 and n.is_weight_layer}
        inner = [s for s in layers if s.path in consumed]
        if len(inner) >= 2:
            layers = inner
    if len(layers) < 2 or not layers[0].activation_std:
        return None
    return layers[-1].activation_std / layers[0].activation_std, layers[0], layers[-1]


class _Measured(Rule):
    requires = frozenset({"probe"})
    confirmed_by = "measured"

    def confirm(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        return ProbeVerdict(ProbeStatus.MEASURED, "measured by the probe")

    def report(self, ctx: RuleContext) -> ProbeReport | None:
        probe = ctx.probe
        return probe if probe is not None and probe.ok else None


_MLP_HEAD = """
import torch.nn as nn

def build_model():
    return nn.Sequential(
"""


class VanishingGradients(_Measured):
    id = "ACT701"
    name = "vanishing-gradients"
    severity = Severity.ERROR
    summary = "Measured: the backward signal reaching the earliest layers is orders of magnitude below the latest."
    what = (
        "Compares the backward signal (RMS of the gradient w.r.t. each weight layer's output, "
        "corrected for average-pooling dilution) at the first weight layer the gradient reaches "
        "with the signal at the last weight layer, measured by the probe at initialisation."
    )
    why = (
        "When the gradient shrinks by orders of magnitude on its way back, the early layers "
        "receive no learning signal: they stay at their random init while the head trains."
    )
    instead = (
        "Add normalization (BatchNorm/LayerNorm) and residual connections, replace sigmoid/tanh "
        "hidden activations with ReLU/GELU, and use He/Xavier initialisation matched to the activation."
    )
    references = ("https://proceedings.mlr.press/v9/glorot10a.html",)
    options = {
        "threshold": Option(1e-4, "Fire when first/last backward signal is below this ratio."),
    }
    valid = (
        Example(
            _MLP_HEAD
            + """        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10),
    )
""",
            probe=True,
        ),
    )
    invalid = (
        Example(
            _MLP_HEAD
            + """        *[layer for _ in range(12) for layer in (nn.Linear(64, 64), nn.Sigmoid())],
        nn.Linear(64, 10),
    )
""",
            probe=True,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = self.report(ctx)
        measured = signal_ratio(report) if report else None
        if measured is None:
            return
        ratio, first, last = measured
        threshold = self.option("threshold")
        if ratio < threshold:
            yield _at(
                ctx, first.path,
                f"vanishing gradients: backward signal at {_name(first)} is {ratio:.1e} of that at "
                f"{_name(last)} (threshold {threshold:g}); the early layers will barely train",
            )


class ExplodingGradients(_Measured):
    id = "ACT702"
    name = "exploding-gradients"
    severity = Severity.ERROR
    summary = "Measured: the backward signal grows by orders of magnitude toward the input."
    what = (
        "Compares the backward signal at the first weight layer with the last one, like ACT701, "
        "and fires when it grows by more than the threshold on its way back to the input."
    )
    why = (
        "Exploding gradients make the early layers take huge steps: the loss diverges or "
        "becomes NaN unless the learning rate is tiny for the whole network."
    )
    instead = (
        "Fix the initialisation scale (He for ReLU: std = sqrt(2 / fan_in)), add normalization, "
        "and clip gradients for recurrent models."
    )
    references = ("https://arxiv.org/abs/1502.01852",)
    options = {
        "threshold": Option(1e5, "Fire when first/last backward signal exceeds this ratio."),
    }
    valid = VanishingGradients.valid
    invalid = (
        Example(
            """
            import math
            import torch.nn as nn

            def build_model():
                layers = []
                for _ in range(16):
                    fc = nn.Linear(64, 64)
                    nn.init.normal_(fc.weight, std=3 * math.sqrt(2 / 64))
                    nn.init.zeros_(fc.bias)
                    layers += [fc, nn.ReLU()]
                return nn.Sequential(*layers, nn.Linear(64, 10))
            """,
            probe=True,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = self.report(ctx)
        measured = signal_ratio(report) if report else None
        if measured is None:
            return
        ratio, first, last = measured
        threshold = self.option("threshold")
        if ratio > threshold:
            yield _at(
                ctx, first.path,
                f"exploding gradients: backward signal at {_name(first)} is {ratio:.1e} times that at "
                f"{_name(last)} (threshold {threshold:g})",
            )


class DeadReLU(_Measured):
    id = "ACT703"
    name = "dead-relu"
    severity = Severity.WARNING
    summary = "Measured: most of a ReLU layer's units output 0 for every probe sample."
    what = (
        "For every ReLU-family layer (modules and functional calls), counts the units (channels "
        "for conv outputs, features otherwise) that are never positive for any probe sample or "
        "position, over at least 32 samples."
    )
    why = "A dead unit gets zero gradient and never recovers: the layer is narrower than it looks."
    instead = (
        "Check the bias and weight initialisation of the layer feeding the ReLU (biases should "
        "start near zero), normalise its input, or use LeakyReLU/GELU."
    )
    options = {
        "threshold": Option(0.5, "Fire when more than this fraction of units is dead."),
        "min_samples": Option(32, "Skip the rule when the probe saw fewer samples (statistics too noisy)."),
        "min_units": Option(4, "Ignore layers with fewer units."),
    }
    valid = VanishingGradients.valid
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                fc = nn.Linear(32, 64)
                nn.init.constant_(fc.bias, -4.0)
                return nn.Sequential(fc, nn.ReLU(), nn.Linear(64, 10))
            """,
            probe=True,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = self.report(ctx)
        if report is None or report.samples < self.option("min_samples"):
            return
        threshold = self.option("threshold")
        for layer in report.layers:
            if layer.dead_fraction is None or (layer.units or 0) < self.option("min_units"):
                continue
            if layer.dead_fraction > threshold:
                dead = round(layer.dead_fraction * (layer.units or 0))
                yield _at(
                    ctx, layer.path,
                    f"dead {layer.kind}: {dead} of {layer.units} units of {_name(layer)} "
                    f"({layer.dead_fraction:.0%}) never fire over {report.samples} samples "
                    f"(threshold {threshold:.0%})",
                )


class SaturatedActivation(_Measured):
    id = "ACT704"
    name = "saturated-activation"
    severity = Severity.WARNING
    summary = "Measured: most sigmoid/tanh outputs sit in the flat region."
    what = (
        "For every sigmoid/tanh-family layer, measures the fraction of outputs where the "
        "derivative is below 1% of its maximum (sigmoid |x| > 5.3, tanh |x| > 3)."
    )
    why = "Saturated units pass almost no gradient back: learning stalls for everything before them."
    instead = (
        "Scale the pre-activations down (Xavier init, normalization before the activation) or "
        "use ReLU/GELU for hidden layers."
    )
    options = {
        "threshold": Option(0.5, "Fire when more than this fraction of outputs is saturated."),
    }
    valid = (
        Example(
            _MLP_HEAD
            + """        nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 10),
    )
""",
            probe=True,
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                fc = nn.Linear(32, 64)
                nn.init.normal_(fc.weight, std=2.0)
                return nn.Sequential(fc, nn.Tanh(), nn.Linear(64, 10))
            """,
            probe=True,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = self.report(ctx)
        if report is None:
            return
        threshold = self.option("threshold")
        for layer in report.layers:
            if layer.saturated_fraction is not None and layer.saturated_fraction > threshold:
                yield _at(
                    ctx, layer.path,
                    f"saturated {layer.kind}: {layer.saturated_fraction:.0%} of the outputs of {_name(layer)} "
                    f"are in the flat region (threshold {threshold:.0%}); almost no gradient passes",
                )


class NonFiniteValues(_Measured):
    id = "ACT705"
    name = "non-finite-values"
    severity = Severity.ERROR
    summary = "Measured: NaN/Inf in an activation, output or gradient."
    what = (
        "Reports the first layer whose output (forward) or output gradient (backward) contains "
        "NaN or Inf during the probe run."
    )
    why = "One NaN poisons every weight it touches on the first optimiser step."
    instead = (
        "Guard the op that produces it: log(x) -> log(x.clamp_min(eps)) or log_softmax, "
        "sqrt(x) -> sqrt(x + eps), division by a norm -> F.normalize(..., eps=...)."
    )
    valid = VanishingGradients.valid
    invalid = (
        Example(
            """
            import torch
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(16, 32)
                    self.fc2 = nn.Linear(32, 4)

                def forward(self, x):
                    return self.fc2(torch.log(self.fc1(x)))
            """,
            probe=True,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = self.report(ctx)
        site = report.first_nonfinite if report else None
        if site is None:
            return
        path = site.layer if not site.layer.startswith("<") else ""
        yield _at(
            ctx, path,
            f"non-finite values ({site.phase}): first at {site.layer or 'the output'} ({site.kind}): {site.detail}",
        )


class ParametersWithoutGradient(_Measured):
    id = "ACT706"
    name = "parameters-without-gradient"
    severity = Severity.WARNING
    summary = "Measured: used trainable parameters get no or zero gradient."
    what = (
        "Lists trainable parameters of modules that ran in the forward pass but whose gradient "
        "was missing (detach(), torch.no_grad(), .data, an output never used) or exactly zero, "
        "one finding per module. Zero-initialised weights are re-initialised for the probe first, "
        "so a zero-initialised head does not count."
    )
    why = "These parameters will never change during training: the optimiser sees no gradient."
    instead = (
        "Remove the detach()/no_grad()/.data on the path, or set requires_grad=False explicitly "
        "if the module is meant to stay frozen."
    )
    valid = VanishingGradients.valid + (
        Example(
            """
            import torch.nn as nn

            class SqueezeExcite(nn.Module):
                # The bias of fc1 gets an exactly zero gradient (BatchNorm cancels it): ACT501's
                # advice, not a parameter cut off from training.
                def __init__(self, channels=16):
                    super().__init__()
                    self.fc1 = nn.Conv2d(channels, 8, 1)
                    self.bn = nn.BatchNorm2d(8)
                    self.fc2 = nn.Conv2d(8, channels, 1)

                def forward(self, x):
                    gate = self.fc2(self.bn(self.fc1(x.mean((2, 3), keepdim=True))).relu()).sigmoid()
                    return x * gate

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.stem = nn.Conv2d(3, 16, 3)
                    self.se = SqueezeExcite()
                    self.head = nn.Linear(16, 4)

                def forward(self, x):
                    return self.head(self.se(self.stem(x)).mean((2, 3)))
            """,
            probe=True,
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder = nn.Sequential(nn.Linear(16, 32), nn.ReLU())
                    self.head = nn.Linear(32, 4)

                def forward(self, x):
                    return self.head(self.encoder(x).detach())
            """,
            probe=True,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = self.report(ctx)
        if report is None:
            return
        groups: dict[str, list[tuple[str, str]]] = {}
        cancelled = _biases_cancelled_by_norms(ctx.graph)
        for names, how in ((report.params_without_grad, "no gradient"), (report.params_zero_grad, "zero gradient")):
            for name in names:
                if how == "zero gradient" and name in cancelled:
                    continue  # mathematically zero: the norm subtracts it again (ACT501's advice)
                owner = name.rsplit(".", 1)[0] if "." in name else ""
                groups.setdefault(owner, []).append((name, how))
        for owner, params in groups.items():
            listed = ", ".join(f"{n} ({how})" for n, how in params[:4]) + (", ..." if len(params) > 4 else "")
            yield _at(ctx, owner, f"trainable parameters of {owner or 'the model'} get no gradient: {listed}")


def _biases_cancelled_by_norms(graph: Any) -> set[str]:
    """``layer.bias`` names of Linear/Conv layers whose output goes straight into a normalization.

    BatchNorm (and LayerNorm/GroupNorm over the same axis) subtracts the mean, so such a
    bias gets an exactly zero gradient: not a detached parameter, and ACT501 says to drop it.
    """
    out: set[str] = set()
    for node in graph.nodes:
        if node.kind not in ops.AFFINE or not node.module_path or getattr(node.module, "bias", None) is None:
            continue
        consumers = graph.walk_forward(node, ops.RESHAPE)
        if consumers and all(c.kind in ("batch_norm", "group_norm", "instance_norm") for c in consumers):
            out.add(f"{node.module_path}.bias")
    return out


class ForwardSignalCollapse(_Measured):
    id = "ACT707"
    name = "forward-signal-collapse"
    severity = Severity.WARNING
    summary = "Measured: activation RMS shrinks or grows by orders of magnitude through the network."
    what = (
        "Compares the input-dependent activation RMS (the output's variation across samples, so "
        "a bias cannot mask a collapsed signal) at the last weight layer with the first one and "
        "fires when the ratio leaves [low, high]. The output layer itself is left out when the "
        "dataflow is known: its scale is the initial logit temperature, which small-initialised "
        "heads set low on purpose."
    )
    why = (
        "A forward signal that collapses or explodes means the layers' scales do not match their "
        "activations; the backward signal follows, and training stalls or diverges."
    )
    instead = "Use an initialisation matched to the activation (He for ReLU) or add normalization layers."
    options = {
        "low": Option(1e-3, "Fire when last/first activation RMS is below this."),
        "high": Option(1e3, "Fire when last/first activation RMS is above this."),
    }
    valid = VanishingGradients.valid
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                layers = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.ReLU()]
                for _ in range(29):
                    layers += [nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.ReLU()]
                return nn.Sequential(*layers, nn.Flatten(), nn.Linear(16 * 16 * 16, 10))

            def example_inputs():
                import torch
                return (torch.randn(8, 3, 16, 16),)
            """,
            probe=True,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = self.report(ctx)
        measured = forward_endpoints(report, ctx.graph if ctx.graph.has_dataflow else None) if report else None
        if measured is None:
            return
        ratio, first, last = measured
        low, high = self.option("low"), self.option("high")
        if ratio < low or ratio > high:
            way = "collapses" if ratio < low else "explodes"
            yield _at(
                ctx, last.path,
                f"forward signal {way}: sample-to-sample activation RMS at {_name(last)} is {ratio:.1e} of that at "
                f"{_name(first)} (allowed [{low:g}, {high:g}])",
            )


__all__ = [
    "VanishingGradients", "ExplodingGradients", "DeadReLU", "SaturatedActivation",
    "NonFiniteValues", "ParametersWithoutGradient", "ForwardSignalCollapse",
    "signal_ratio", "signal_endpoints", "forward_endpoints",
]


# --- confirmation of static findings ----------------------------------------------------------
#
# Static rules suspect; these helpers read the ProbeReport and return the verdict with numbers.
# Each static rule's ``confirm`` delegates here (see ``confirmed_by`` on the rule).

#: A static depth/saturation finding is confirmed when the backward signal ratio
#: first/last weight layer is below this (AUTOTRAINER's vanishing ratio). Looser than
#: ACT701's 1e-4: the static rule already names a structural cause.
CONFIRM_VANISHING = 1e-3
#: ACT106/ACT201: confirmed when more than this share of a tanh/sigmoid's outputs saturate.
CONFIRM_SATURATION = 0.5
#: ACT101: confirmed when the gradient shrinks by more than this factor across the softmax.
CONFIRM_ATTENUATION = 10.0

_TRANSPARENT = frozenset({"reshape", "flatten", "view", "dropout", "identity", "contiguous", "getitem", "cast", "pad", "avg_pool"})


def _verdict(status: ProbeStatus, evidence: str, **metrics: object) -> ProbeVerdict:
    return ProbeVerdict(status, f"{status.value}: {evidence}", {k: v for k, v in metrics.items() if v is not None})


def probe_ready(ctx: RuleContext) -> ProbeReport | None:
    probe = ctx.probe
    return probe if probe is not None and probe.ok else None


def report_path(ctx: RuleContext, node) -> str | None:  # node: OpNode
    """The ProbeReport layer path of a graph node (module path, or ``scope:kind#n``)."""
    if node.op == "call_module":
        return node.module_path or str(node.target)
    scope = node.module_path or ""
    n = 0
    for other in ctx.graph:
        if other.op in ("call_function", "call_method") and (other.module_path or "") == scope and other.kind == node.kind:
            n += 1
        if other is node:
            return f"{scope}:{node.kind}#{n}"
    return None


def _finding_node(ctx: RuleContext, finding: Finding):  # -> OpNode | None
    if finding.node is None or not ctx.graph.has_dataflow:
        return None
    try:
        return ctx.graph.node(finding.node)
    except KeyError:
        return None


def confirm_vanishing(finding: Finding, ctx: RuleContext, *, forward: bool = False, saturation: bool = False) -> ProbeVerdict:
    """ACT201/202/203: the backward signal ratio (and forward signal, saturation) across the model."""
    report = probe_ready(ctx)
    assert report is not None
    measured = signal_ratio(report)
    if measured is None:
        return _verdict(ProbeStatus.NOT_PROBED, "the backward signal reached fewer than two weight layers")
    ratio, first, last = measured
    if ratio < CONFIRM_VANISHING:
        return _verdict(
            ProbeStatus.CONFIRMED,
            f"backward signal at {_name(first)} is {ratio:.1e} of that at {_name(last)} (threshold {CONFIRM_VANISHING:g})",
            signal_ratio=ratio,
        )
    fwd = forward_endpoints(report) if forward else None
    if fwd is not None and not (1e-3 <= fwd[0] <= 1e3):
        return _verdict(
            ProbeStatus.CONFIRMED,
            f"forward signal at {_name(fwd[2])} is {fwd[0]:.1e} of that at {_name(fwd[1])} (allowed [0.001, 1000])",
            signal_ratio=ratio, forward_ratio=fwd[0],
        )
    if saturation:
        worst = max((s for s in report.layers if s.saturated_fraction is not None),
                    key=lambda s: s.saturated_fraction or 0.0, default=None)
        if worst is not None and (worst.saturated_fraction or 0.0) > CONFIRM_SATURATION:
            return _verdict(
                ProbeStatus.CONFIRMED,
                f"{worst.saturated_fraction:.0%} of the outputs of {_name(worst)} are saturated "
                f"(threshold {CONFIRM_SATURATION:.0%})",
                signal_ratio=ratio, saturated_fraction=worst.saturated_fraction,
            )
    extra = f", forward signal ratio {fwd[0]:.2g}" if fwd is not None else ""
    return _verdict(
        ProbeStatus.REFUTED,
        f"backward signal ratio first/last {ratio:.2g} ({_name(first)} vs {_name(last)}), "
        f"threshold {CONFIRM_VANISHING:g}{extra}",
        signal_ratio=ratio, forward_ratio=fwd[0] if fwd else None,
    )


def confirm_saturation(finding: Finding, ctx: RuleContext) -> ProbeVerdict:
    """ACT106: the saturated share of the flagged tanh's outputs."""
    report = probe_ready(ctx)
    assert report is not None
    node = _finding_node(ctx, finding)
    path = report_path(ctx, node) if node is not None else finding.module
    stats = report.layer(path) if path else None
    if stats is None or stats.saturated_fraction is None:
        return _verdict(ProbeStatus.NOT_PROBED, f"no saturation measured for {path or 'this layer'}")
    fraction = stats.saturated_fraction
    status = ProbeStatus.CONFIRMED if fraction > CONFIRM_SATURATION else ProbeStatus.REFUTED
    return _verdict(
        status, f"{fraction:.0%} of the outputs of {path} are saturated (threshold {CONFIRM_SATURATION:.0%})",
        saturated_fraction=fraction,
    )


def confirm_softmax(finding: Finding, ctx: RuleContext) -> ProbeVerdict:
    """ACT101: how much the gradient shrinks across the hidden softmax."""
    report = probe_ready(ctx)
    assert report is not None
    node = _finding_node(ctx, finding)
    if node is None:
        return _verdict(ProbeStatus.NOT_PROBED, "the softmax is not in the traced graph")
    after = report.layer(report_path(ctx, node) or "")
    before = None
    for pred in ctx.graph.walk_backward(node, _TRANSPARENT):
        stats = report.layer(report_path(ctx, pred) or "")
        if stats is not None and stats.grad_output_rms is not None:
            before = stats
            break
    if after is None or before is None or not after.grad_output_rms or before.grad_output_rms is None:
        return _verdict(ProbeStatus.NOT_PROBED, "no gradient measured on both sides of the softmax")
    shrink = after.grad_output_rms / max(before.grad_output_rms, 1e-300)
    status = ProbeStatus.CONFIRMED if shrink > CONFIRM_ATTENUATION else ProbeStatus.REFUTED
    return _verdict(
        status,
        f"gradient shrinks {shrink:.3g}x across the softmax ({after.grad_output_rms:.2g} after it, "
        f"{before.grad_output_rms:.2g} at {_name(before)}; threshold {CONFIRM_ATTENUATION:g}x)",
        attenuation=shrink,
    )


def confirm_model_linearity(finding: Finding, ctx: RuleContext) -> ProbeVerdict:
    """ACT103: the exact test f(x+y) = f(x) + f(y) - f(0) on a float64 copy."""
    from actlint.probe import linearity_test

    report = probe_ready(ctx)
    assert report is not None
    result = report.linearity
    if result is None and report.inputs is not None:
        result = linearity_test(ctx.model, report.inputs)
    if result is None or result.status == "not-applicable":
        return _verdict(ProbeStatus.NOT_PROBED, f"linearity test not applicable: {result.detail if result else 'no inputs'}")
    status = ProbeStatus.CONFIRMED if result.status == "linear" else ProbeStatus.REFUTED
    return _verdict(
        status,
        f"f(x+y) - f(x) - f(y) + f(0) is {result.relative_error:.1e} of |f| (float64; linear below {result.tolerance:g})",
        relative_error=result.relative_error,
    )


def confirm_segment_linearity(finding: Finding, ctx: RuleContext, through: frozenset[str]) -> ProbeVerdict:
    """ACT102: is the second layer's output an affine function of the first layer's output?"""
    from actlint import ops
    from actlint.probe import segment_linearity

    report = probe_ready(ctx)
    assert report is not None
    node = _finding_node(ctx, finding)
    if node is None or node.op != "call_module" or report.inputs is None:
        return _verdict(ProbeStatus.NOT_PROBED, "the layers are not modules of the traced graph")
    firsts = [p for p in ctx.graph.walk_backward(node, through) if p.kind in ops.AFFINE and p.op == "call_module"]
    if not firsts:
        return _verdict(ProbeStatus.NOT_PROBED, "no module layer found before the flagged layer")
    first = firsts[0]
    result = segment_linearity(ctx.model, report.inputs, first.module_path or "", node.module_path or "")
    if result.status == "not-applicable":
        return _verdict(ProbeStatus.NOT_PROBED, result.detail)
    status = ProbeStatus.CONFIRMED if result.status == "linear" else ProbeStatus.REFUTED
    return _verdict(
        status,
        f"{node.module_path} is {'an affine' if status is ProbeStatus.CONFIRMED else 'not an affine'} function of "
        f"{first.module_path} (error {result.relative_error:.1e}, tolerance {result.tolerance:g})",
        relative_error=result.relative_error,
    )


def confirm_no_gradient(finding: Finding, ctx: RuleContext) -> ProbeVerdict:
    """ACT601: the unused module never ran and its parameters got no gradient."""
    report = probe_ready(ctx)
    assert report is not None
    path = finding.module or ""
    if path in report.modules_not_called or any(m.startswith(path + ".") for m in report.modules_not_called):
        missing = [p for p in report.params_without_grad if p.startswith(path + ".")]
        return _verdict(
            ProbeStatus.CONFIRMED,
            f"{path} never ran in {report.passes} probe passes; its parameters got no gradient"
            + (f" ({len(missing)} more without gradient)" if missing else ""),
        )
    ran = report.layers_under(path)
    if ran:
        return _verdict(ProbeStatus.REFUTED, f"{path} ran in the probe ({len(ran)} layers measured)")
    return _verdict(ProbeStatus.NOT_PROBED, f"{path} has no trainable parameters to measure")

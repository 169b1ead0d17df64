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

from typing import Any, Iterable

from actlint.graph import ops
from actlint.core.findings import Finding, ProbeStatus, ProbeVerdict, Severity
from actlint.probe.reports import LayerStats, ProbeReport
from actlint.rules.base import Example, Option, Rule, RuleContext
from actlint.rules.confirmation import forward_endpoints, layer_name, signal_ratio


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


class _Measured(Rule):
    requires = frozenset({"probe"})
    confirmed_by = "measured"

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        return ProbeVerdict(ProbeStatus.MEASURED, "measured by the probe")

    def report(self, ctx: RuleContext) -> ProbeReport | None:
        probe = ctx.probe
        return probe if probe is not None and probe.ok else None

    def signal_ratio(self, ctx: RuleContext) -> tuple[float, LayerStats, LayerStats] | None:
        """Backward signal at the first weight layer over the last (ACT701/ACT702), None when unmeasured."""
        report = self.report(ctx)
        return signal_ratio(report) if report else None


_MLP_HEAD = """
import torch.nn as nn

def build_model():
    return nn.Sequential(
"""


class _GradientRatio(_Measured):
    """ACT701/ACT702: the backward signal at the first weight layer over the last, against a threshold."""

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        measured = self.signal_ratio(ctx)
        if measured is None:
            return
        ratio, first, last = measured
        threshold = self.option("threshold")
        if self.out_of_range(ratio, threshold):
            yield _at(ctx, first.path, self.message(ratio, first, last, threshold))

    def out_of_range(self, ratio: float, threshold: float) -> bool:
        raise NotImplementedError

    def message(self, ratio: float, first: LayerStats, last: LayerStats, threshold: float) -> str:
        raise NotImplementedError


class VanishingGradients(_GradientRatio):
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

    def out_of_range(self, ratio: float, threshold: float) -> bool:
        return ratio < threshold

    def message(self, ratio: float, first: LayerStats, last: LayerStats, threshold: float) -> str:
        return (f"vanishing gradients: backward signal at {layer_name(first)} is {ratio:.1e} of that at "
                f"{layer_name(last)} (threshold {threshold:g}); the early layers will barely train")


class ExplodingGradients(_GradientRatio):
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

    def out_of_range(self, ratio: float, threshold: float) -> bool:
        return ratio > threshold

    def message(self, ratio: float, first: LayerStats, last: LayerStats, threshold: float) -> str:
        return (f"exploding gradients: backward signal at {layer_name(first)} is {ratio:.1e} times that at "
                f"{layer_name(last)} (threshold {threshold:g})")


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
                    f"dead {layer.kind}: {dead} of {layer.units} units of {layer_name(layer)} "
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
                    f"saturated {layer.kind}: {layer.saturated_fraction:.0%} of the outputs of {layer_name(layer)} "
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
                f"forward signal {way}: sample-to-sample activation RMS at {layer_name(last)} is {ratio:.1e} of that at "
                f"{layer_name(first)} (allowed [{low:g}, {high:g}])",
            )


__all__ = [
    "VanishingGradients", "ExplodingGradients", "DeadReLU", "SaturatedActivation",
    "NonFiniteValues", "ParametersWithoutGradient", "ForwardSignalCollapse",
]

"""Confirmation: how static findings are judged on the probe's measurements.

Static rules suspect; :meth:`actlint.rules.base.Rule.confirm` hands a finding to the rule's
``measure`` only when the probe ran, and the ``confirm_*`` helpers here read the
:class:`~actlint.probe.reports.ProbeReport` and return the verdict with its numbers. The
measured rules (ACT70x) share the signal endpoints and layer names defined here.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from actlint.core.findings import Finding, ProbeStatus, ProbeVerdict
from actlint.graph import ops
from actlint.graph.queries import SIGNAL_PASS_THROUGH, weight_layers_after
from actlint.graph.view import OpNode
from actlint.probe.linearity import linearity_test, segment_linearity
from actlint.probe.reports import LayerStats, ProbeReport
from actlint.rules.base import RuleContext


def layer_name(layer: LayerStats) -> str:
    """How a layer is named in messages: ``features.0 (conv)``."""
    return f"{layer.path} ({layer.kind})"


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
        after = weight_layers_after(graph)
        consumed = {n.module_path for n in graph.nodes if n.module_path and after[n.index] > 0 and n.is_weight_layer}
        inner = [s for s in layers if s.path in consumed]
        if len(inner) >= 2:
            layers = inner
    if len(layers) < 2 or not layers[0].activation_std:
        return None
    return layers[-1].activation_std / layers[0].activation_std, layers[0], layers[-1]


#: A static depth/saturation finding is confirmed when the backward signal ratio
#: first/last weight layer is below this (AUTOTRAINER's vanishing ratio). Looser than
#: ACT701's 1e-4: the static rule already names a structural cause.
CONFIRM_VANISHING = 1e-3


#: ACT106/ACT201: confirmed when more than this share of a tanh/sigmoid's outputs saturate.
CONFIRM_SATURATION = 0.5


#: ACT101: confirmed when the gradient shrinks by more than this factor across the softmax.
CONFIRM_ATTENUATION = 10.0


#: What ACT101 looks back through for the layer before a softmax.
SOFTMAX_PASS_THROUGH = ops.PASS_THROUGH | ops.AVG_POOL | frozenset({"pad"})


def verdict(status: ProbeStatus, evidence: str, **metrics: object) -> ProbeVerdict:
    """A verdict whose evidence starts with its status (``confirmed: ...``); None metrics dropped."""
    return ProbeVerdict(status, f"{status.value}: {evidence}", {k: v for k, v in metrics.items() if v is not None})


def report_path(ctx: RuleContext, node: OpNode) -> str | None:
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


def finding_node(ctx: RuleContext, finding: Finding) -> OpNode | None:
    """The graph node a static finding points at (None without dataflow or when it is gone)."""
    if finding.node is None or not ctx.graph.has_dataflow:
        return None
    try:
        return ctx.graph.node(finding.node)
    except KeyError:
        return None


def confirm_vanishing(finding: Finding, ctx: RuleContext, *, forward: bool = False, saturation: bool = False) -> ProbeVerdict:
    """ACT201/202/203: the backward signal ratio (and forward signal, saturation) across the model."""
    report = ctx.probe
    assert report is not None and report.ok  # Rule.confirm measures only a probe that ran
    measured = signal_ratio(report)
    if measured is None:
        return verdict(ProbeStatus.NOT_PROBED, "the backward signal reached fewer than two weight layers")
    ratio, first, last = measured
    if ratio < CONFIRM_VANISHING:
        return verdict(
            ProbeStatus.CONFIRMED,
            f"backward signal at {layer_name(first)} is {ratio:.1e} of that at {layer_name(last)} (threshold {CONFIRM_VANISHING:g})",
            signal_ratio=ratio,
        )
    fwd = forward_endpoints(report) if forward else None
    if fwd is not None and not (1e-3 <= fwd[0] <= 1e3):
        return verdict(
            ProbeStatus.CONFIRMED,
            f"forward signal at {layer_name(fwd[2])} is {fwd[0]:.1e} of that at {layer_name(fwd[1])} (allowed [0.001, 1000])",
            signal_ratio=ratio, forward_ratio=fwd[0],
        )
    if saturation:
        worst = max((s for s in report.layers if s.saturated_fraction is not None),
                    key=lambda s: s.saturated_fraction or 0.0, default=None)
        if worst is not None and (worst.saturated_fraction or 0.0) > CONFIRM_SATURATION:
            return verdict(
                ProbeStatus.CONFIRMED,
                f"{worst.saturated_fraction:.0%} of the outputs of {layer_name(worst)} are saturated "
                f"(threshold {CONFIRM_SATURATION:.0%})",
                signal_ratio=ratio, saturated_fraction=worst.saturated_fraction,
            )
    extra = f", forward signal ratio {fwd[0]:.2g}" if fwd is not None else ""
    return verdict(
        ProbeStatus.REFUTED,
        f"backward signal ratio first/last {ratio:.2g} ({layer_name(first)} vs {layer_name(last)}), "
        f"threshold {CONFIRM_VANISHING:g}{extra}",
        signal_ratio=ratio, forward_ratio=fwd[0] if fwd else None,
    )


def confirm_saturation(finding: Finding, ctx: RuleContext) -> ProbeVerdict:
    """ACT106: the saturated share of the flagged tanh's outputs."""
    report = ctx.probe
    assert report is not None and report.ok  # Rule.confirm measures only a probe that ran
    node = finding_node(ctx, finding)
    path = report_path(ctx, node) if node is not None else finding.module
    stats = report.layer(path) if path else None
    if stats is None or stats.saturated_fraction is None:
        return verdict(ProbeStatus.NOT_PROBED, f"no saturation measured for {path or 'this layer'}")
    fraction = stats.saturated_fraction
    status = ProbeStatus.CONFIRMED if fraction > CONFIRM_SATURATION else ProbeStatus.REFUTED
    return verdict(
        status, f"{fraction:.0%} of the outputs of {path} are saturated (threshold {CONFIRM_SATURATION:.0%})",
        saturated_fraction=fraction,
    )


def confirm_softmax(finding: Finding, ctx: RuleContext) -> ProbeVerdict:
    """ACT101: how much the gradient shrinks across the hidden softmax."""
    report = ctx.probe
    assert report is not None and report.ok  # Rule.confirm measures only a probe that ran
    node = finding_node(ctx, finding)
    if node is None:
        return verdict(ProbeStatus.NOT_PROBED, "the softmax is not in the traced graph")
    after = report.layer(report_path(ctx, node) or "")
    before = None
    for pred in ctx.graph.walk_backward(node, SOFTMAX_PASS_THROUGH):
        stats = report.layer(report_path(ctx, pred) or "")
        if stats is not None and stats.grad_output_rms is not None:
            before = stats
            break
    if after is None or before is None or not after.grad_output_rms or before.grad_output_rms is None:
        return verdict(ProbeStatus.NOT_PROBED, "no gradient measured on both sides of the softmax")
    shrink = after.grad_output_rms / max(before.grad_output_rms, 1e-300)
    status = ProbeStatus.CONFIRMED if shrink > CONFIRM_ATTENUATION else ProbeStatus.REFUTED
    return verdict(
        status,
        f"gradient shrinks {shrink:.3g}x across the softmax ({after.grad_output_rms:.2g} after it, "
        f"{before.grad_output_rms:.2g} at {layer_name(before)}; threshold {CONFIRM_ATTENUATION:g}x)",
        attenuation=shrink,
    )


def confirm_model_linearity(finding: Finding, ctx: RuleContext) -> ProbeVerdict:
    """ACT103: the exact test f(x+y) = f(x) + f(y) - f(0) on a float64 copy."""
    report = ctx.probe
    assert report is not None and report.ok  # Rule.confirm measures only a probe that ran
    result = report.linearity
    if result is None and report.inputs is not None:
        result = linearity_test(ctx.model, report.inputs)
    if result is None or result.status == "not-applicable":
        return verdict(ProbeStatus.NOT_PROBED, f"linearity test not applicable: {result.detail if result else 'no inputs'}")
    status = ProbeStatus.CONFIRMED if result.status == "linear" else ProbeStatus.REFUTED
    return verdict(
        status,
        f"f(x+y) - f(x) - f(y) + f(0) is {result.relative_error:.1e} of |f| (float64; linear below {result.tolerance:g})",
        relative_error=result.relative_error,
    )


def confirm_segment_linearity(finding: Finding, ctx: RuleContext, through: frozenset[str]) -> ProbeVerdict:
    """ACT102: is the second layer's output an affine function of the first layer's output?"""
    report = ctx.probe
    assert report is not None and report.ok  # Rule.confirm measures only a probe that ran
    node = finding_node(ctx, finding)
    if node is None or node.op != "call_module" or report.inputs is None:
        return verdict(ProbeStatus.NOT_PROBED, "the layers are not modules of the traced graph")
    firsts = [p for p in ctx.graph.walk_backward(node, through) if p.kind in ops.AFFINE and p.op == "call_module"]
    if not firsts:
        return verdict(ProbeStatus.NOT_PROBED, "no module layer found before the flagged layer")
    first = firsts[0]
    result = segment_linearity(ctx.model, report.inputs, first.module_path or "", node.module_path or "")
    if result.status == "not-applicable":
        return verdict(ProbeStatus.NOT_PROBED, result.detail)
    status = ProbeStatus.CONFIRMED if result.status == "linear" else ProbeStatus.REFUTED
    return verdict(
        status,
        f"{node.module_path} is {'an affine' if status is ProbeStatus.CONFIRMED else 'not an affine'} function of "
        f"{first.module_path} (error {result.relative_error:.1e}, tolerance {result.tolerance:g})",
        relative_error=result.relative_error,
    )


def confirm_no_gradient(finding: Finding, ctx: RuleContext) -> ProbeVerdict:
    """ACT601: the unused module never ran and its parameters got no gradient."""
    report = ctx.probe
    assert report is not None and report.ok  # Rule.confirm measures only a probe that ran
    path = finding.module or ""
    if path in report.modules_not_called or any(m.startswith(path + ".") for m in report.modules_not_called):
        missing = [p for p in report.params_without_grad if p.startswith(path + ".")]
        return verdict(
            ProbeStatus.CONFIRMED,
            f"{path} never ran in {report.passes} probe passes; its parameters got no gradient"
            + (f" ({len(missing)} more without gradient)" if missing else ""),
        )
    ran = report.layers_under(path)
    if ran:
        return verdict(ProbeStatus.REFUTED, f"{path} ran in the probe ({len(ran)} layers measured)")
    return verdict(ProbeStatus.NOT_PROBED, f"{path} has no trainable parameters to measure")


def plain_verdict(status: ProbeStatus, evidence: str, **metrics: Any) -> ProbeVerdict:
    """A verdict whose evidence is given whole (ACT3xx phrase their own); None metrics dropped."""
    return ProbeVerdict(status, evidence, {k: v for k, v in metrics.items() if v is not None})


def input_rms(report: Any) -> float | None:
    """RMS of the probe's first floating input (the start of the forward signal)."""
    for value in report.inputs or ():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            return float(value.detach().float().square().mean().sqrt())
    return None


def measured_rms(ctx: RuleContext, report: Any, node: OpNode) -> float | None:
    """The probe's activation RMS at ``node`` (or the nearest measured node before it)."""
    if node.op == "placeholder":
        return input_rms(report)
    path = report_path(ctx, node)
    stats = report.layer(path) if path else None
    if stats is not None and stats.activation_rms is not None:
        return stats.activation_rms
    for pred in ctx.graph.walk_backward(node, SIGNAL_PASS_THROUGH):
        return measured_rms(ctx, report, pred)
    return None


__all__ = [
    "CONFIRM_ATTENUATION", "CONFIRM_SATURATION", "CONFIRM_VANISHING", "SOFTMAX_PASS_THROUGH", "confirm_model_linearity",
    "confirm_no_gradient", "confirm_saturation", "confirm_segment_linearity", "confirm_softmax", "confirm_vanishing",
    "finding_node", "forward_endpoints", "input_rms", "layer_name", "measured_rms", "plain_verdict", "report_path",
    "signal_endpoints", "signal_ratio", "verdict",
]

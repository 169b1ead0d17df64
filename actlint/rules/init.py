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

import copy
import math
import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parameter import is_lazy

from actlint import ops
from actlint.findings import Finding, ProbeStatus, ProbeVerdict, Severity
from actlint.graph import GraphView, NodeRef, OpNode
from actlint.rules.base import Example, Option, Rule, RuleContext

# --- weight statistics ----------------------------------------------------------------------

#: Layers whose weight scale is judged (Embedding is excluded: its rows are looked up, not summed).
SCALED_LAYERS = frozenset({"linear", "conv", "conv_transpose"})
#: Ops that pass a signal through without changing its per-element scale (for "what follows").
TRANSPARENT = ops.RESHAPE | ops.DROPOUT | ops.POOLING | frozenset({"cast", "identity", "pad", "upsample", "detach"})


def _tensor(value: Any) -> torch.Tensor | None:
    """A real (not meta, not lazy, non-empty) floating tensor, detached as float32, or None."""
    if not isinstance(value, torch.Tensor) or is_lazy(value) or value.is_meta or value.numel() == 0:
        return None
    if not value.is_floating_point():
        return None
    return value.detach().float()


@dataclass(frozen=True)
class WeightStats:
    """Statistics of one layer's weight at initialization."""

    std: float
    mean_square: float
    fan_in: int  # inputs summed per output element (what the forward signal sees)
    fan_out: int  # torch's convention (nn.init's mode="fan_out")
    constant: bool  # every element equal (zero variance)
    zero: bool
    bias_mean_square: float

    @property
    def scale(self) -> float:
        """std * sqrt(fan_in): 1 preserves variance, sqrt(2) is He for ReLU."""
        return self.std * math.sqrt(self.fan_in)


def _fans(module: nn.Module, weight: torch.Tensor, kind: str) -> tuple[int, int]:
    receptive = int(math.prod(weight.shape[2:])) if weight.dim() > 2 else 1
    if kind == "conv_transpose":
        # weight is (in, out/groups, *k); each output position sums in/groups * k / stride inputs.
        groups = int(getattr(module, "groups", 1) or 1)
        stride = getattr(module, "stride", (1,))
        strides = int(math.prod(stride)) if isinstance(stride, tuple) else int(stride)
        fan_in = max(1, (weight.shape[0] // groups) * receptive // max(1, strides))
        return fan_in, weight.shape[1] * receptive
    # Linear (out, in) and Conv (out, in/groups, *k): weight[0] is one output unit's inputs,
    # which is the right fan-in for grouped and depthwise convolutions too.
    return int(weight[0].numel()), int(weight.shape[0] * receptive)


def weight_stats(node: OpNode) -> WeightStats | None:
    """Weight statistics of a Linear/Conv/ConvTranspose/Embedding module node (None otherwise)."""
    module = node.module
    if node.op != "call_module" or module is None or node.kind not in SCALED_LAYERS | {"embedding"}:
        return None
    cached = node.meta.get("init.weight_stats", False)
    if cached is not False:
        return cached
    weight = _tensor(getattr(module, "weight", None))
    stats = None
    if weight is not None and weight.dim() >= 2:
        fan_in, fan_out = _fans(module, weight, node.kind)
        bias = _tensor(getattr(module, "bias", None))
        # Two reductions per weight (this runs for every layer of 20k-node graphs).
        lo_t, hi_t = torch.aminmax(weight)
        lo, hi = float(lo_t), float(hi_t)
        n = weight.numel()
        std_t, mean_t = torch.std_mean(weight) if n > 1 else (torch.zeros(()), weight.mean())
        std, mean = float(std_t), float(mean_t)
        stats = WeightStats(
            std=std if lo != hi else 0.0,
            mean_square=std * std * (n - 1) / n + mean * mean,
            fan_in=fan_in,
            fan_out=fan_out,
            constant=lo == hi,
            zero=lo == hi == 0.0,
            bias_mean_square=float(bias.square().mean()) if bias is not None else 0.0,
        )
    node.meta["init.weight_stats"] = stats
    return stats


def _affine(graph: GraphView, node: OpNode) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(gamma, beta) of a normalization node, from its module or its functional arguments."""
    if node.op == "call_module" and node.module is not None:
        return _tensor(getattr(node.module, "weight", None)), _tensor(getattr(node.module, "bias", None))
    names = {"batch_norm": (3, 4), "layer_norm": (2, 3), "group_norm": (2, 3), "instance_norm": (3, 4),
             "rms_norm": (2, -1)}.get(node.kind, (-1, -1))
    return _param_arg(graph, node, names[0], "weight"), _param_arg(graph, node, names[1], "bias")


def _param_arg(graph: GraphView, node: OpNode, position: int, name: str) -> torch.Tensor | None:
    if position < 0:
        return None
    ref = node.arg(position, name)
    if not isinstance(ref, NodeRef):
        return None
    return _get_attr(graph, graph.nodes[ref.index])


def _get_attr(graph: GraphView, node: OpNode) -> torch.Tensor | None:
    """The tensor a get_attr node reads (a parameter or buffer), or None."""
    if node.op != "get_attr":
        return None
    obj: Any = graph.model
    for part in str(node.target).split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return _tensor(obj)


# --- activations: gains and second moments --------------------------------------------------


def _slope(node: OpNode, default: float) -> float:
    module = node.module
    if module is not None:
        if isinstance(module, nn.PReLU):
            return float(module.weight.detach().float().mean()) if not module.weight.is_meta else 0.25
        if isinstance(module, nn.RReLU):
            return (module.lower + module.upper) / 2
        return float(getattr(module, "negative_slope", default))
    value = node.arg(1, "negative_slope", default)
    return float(value) if isinstance(value, (int, float)) else default


def activation_fn(node: OpNode) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The elementwise function of an activation node, with its constants (None if unknown)."""
    kind, module = node.kind, node.module
    if module is not None and kind in ops.ACTIVATIONS and kind not in ops.SOFTMAX | {"glu", "prelu", "rrelu"}:
        return module  # nn.LeakyReLU(0.2), nn.ELU(alpha=...) carry their constants
    simple = {
        "relu": F.relu, "relu6": F.relu6, "selu": F.selu, "gelu": F.gelu, "silu": F.silu,
        "mish": F.mish, "hardswish": F.hardswish, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
        "hardsigmoid": F.hardsigmoid, "hardtanh": F.hardtanh, "softsign": F.softsign,
        "softplus": F.softplus, "logsigmoid": F.logsigmoid, "tanhshrink": F.tanhshrink,
        "elu": F.elu, "celu": F.celu,
    }
    if kind in ("leaky_relu", "prelu", "rrelu"):
        slope = _slope(node, 0.25 if kind == "prelu" else 0.01)
        return lambda x: F.leaky_relu(x, slope)
    return simple.get(kind)


@lru_cache(maxsize=1)
def _hermite() -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Hermite (probabilists') nodes and weights: E[f(z)], z ~ N(0, 1) = sum(w f(x))."""
    import numpy as np

    x, w = np.polynomial.hermite_e.hermegauss(60)
    return torch.tensor(x, dtype=torch.float64), torch.tensor(w / w.sum(), dtype=torch.float64)


def _moments_key(node: OpNode) -> tuple:
    """What determines an activation's function: its kind and its constants."""
    module = node.module
    if module is not None:
        if isinstance(module, nn.PReLU):
            return (node.kind, _slope(node, 0.25))
        return (node.kind, type(module).__name__, module.extra_repr())
    return (node.kind, _slope(node, 0.01) if node.kind == "leaky_relu" else None,
            repr(node.args[1:]), repr(sorted(node.kwargs.items())))


_MOMENTS: dict[tuple, tuple[float, float]] = {}


def activation_moments(node: OpNode, fn: Callable[[torch.Tensor], torch.Tensor], mean: float, var: float) -> tuple[float, float]:
    """:func:`gaussian_moments`, memoised on the activation's constants and 3 significant digits
    (0.5% per layer at most: far below the factors the rules judge)."""
    key = (_moments_key(node), float(f"{mean:.3g}"), float(f"{var:.3g}"))
    found = _MOMENTS.get(key)
    if found is None:
        found = gaussian_moments(fn, key[1], key[2])
        if len(_MOMENTS) > 100_000:
            _MOMENTS.clear()
        _MOMENTS[key] = found
    return found


def gaussian_moments(fn: Callable[[torch.Tensor], torch.Tensor], mean: float, var: float) -> tuple[float, float]:
    """(E[f(x)^2], Var[f(x)]) for x ~ N(mean, var), averaged over units with mean +m and -m.

    Per-unit pre-activation means (biases) have either sign, so both are averaged.
    """
    x, w = _hermite()
    sd = math.sqrt(max(var, 0.0))
    means = torch.tensor([mean, -mean] if mean else [0.0], dtype=torch.float64)
    with torch.no_grad():  # one call for both signs: the torch call overhead dominates
        y = fn((means[:, None] + sd * x[None, :]).float()).double()
    e1 = (w * y).sum(1)
    e2 = (w * y * y).sum(1)
    return float(e2.mean()), float((e2 - e1 * e1).clamp_min(0.0).mean())


@dataclass(frozen=True)
class GainBand:
    """The weight scale std*sqrt(fan_in) recommended before an activation: [low, high]."""

    low: float
    high: float
    scheme: str  # "He", "LeCun/Xavier"...
    fix: str  # the nn.init call, with {w} for the weight

    def describe(self) -> str:
        if math.isclose(self.low, self.high):
            return f"{self.low:.2f} ({self.scheme})"
        return f"{self.low:.2f}-{self.high:.2f} ({self.scheme})"


_SQRT2 = math.sqrt(2.0)
_HE = 'nn.init.kaiming_normal_({w}, nonlinearity="relu")'
_XAVIER = "nn.init.xavier_normal_({w})"


def gain_band(node: OpNode) -> GainBand | None:
    """The recommended weight scale for a layer followed by ``node`` (None: no recommendation).

    He (sqrt(2)) for rectifiers, sqrt(2 / (1 + a^2)) for leaky ones with slope a,
    LeCun..He (1 to sqrt(2)) for smooth ReLU-likes (GELU, SiLU, Mish, ELU...), LeCun (1) for
    SELU and sigmoid, LeCun..tanh gain (1 to 5/3) for tanh, and 1 (Xavier/LeCun, linear) when
    another weight layer follows directly.
    """
    kind = node.kind
    if kind in ("relu", "relu6", "threshold"):
        return GainBand(_SQRT2, _SQRT2, "He", _HE)
    if kind in ("leaky_relu", "prelu", "rrelu"):
        a = _slope(node, 0.25 if kind == "prelu" else 0.01)
        g = math.sqrt(2.0 / (1.0 + a * a))
        return GainBand(g, g, f"He, slope {a:g}", f'nn.init.kaiming_normal_({{w}}, a={a:g}, nonlinearity="leaky_relu")')
    if kind in ("gelu", "silu", "mish", "hardswish", "elu", "celu", "softplus"):
        return GainBand(1.0, _SQRT2, "LeCun..He", _HE)
    if kind == "selu":
        return GainBand(1.0, 1.0, "LeCun", 'nn.init.kaiming_normal_({w}, nonlinearity="linear")')
    if kind in ("tanh", "hardtanh", "softsign"):
        return GainBand(1.0, 5.0 / 3.0, "Xavier/LeCun, tanh gain",
                        'nn.init.xavier_normal_({w}, gain=nn.init.calculate_gain("tanh"))')
    if kind in ("sigmoid", "hardsigmoid", "logsigmoid"):
        return GainBand(1.0, 1.0, "Xavier/LeCun", _XAVIER)
    if kind in SCALED_LAYERS:
        return GainBand(1.0, 1.0, "Xavier/LeCun, linear", _XAVIER)
    return None


# --- the signal pass -----------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """Predicted statistics of one node's output, for unit-variance model inputs."""

    q: float  # second moment E[x^2]
    s: float  # input-dependent variance
    ref: float  # input-dependent variance at the start of this segment (input or normalization)
    start: int  # index of the node that started the segment
    layers: int  # weight layers since the segment start (on the deepest path)
    #: Every value is >= 0 (a rectifier's output, or sums of them and exact zeros): a ReLU
    #: applied to it is the identity, not another halving of the signal.
    nonneg: bool = False

    @property
    def ratio(self) -> float | None:
        """RMS of the input-dependent signal relative to the segment start (None: undefined)."""
        if self.ref <= 0.0:
            return None
        return math.sqrt(max(self.s, 0.0) / self.ref)


_PASSES: "weakref.WeakKeyDictionary[GraphView, list[Signal | None]]" = weakref.WeakKeyDictionary()


def signal_pass(graph: GraphView) -> list[Signal | None]:
    """Predicted signal for every node (None where the pass cannot predict), cached per graph."""
    cached = _PASSES.get(graph)
    if cached is None:
        cached = _SignalPass(graph).run()
        _PASSES[graph] = cached
    return cached


class _SignalPass:
    def __init__(self, graph: GraphView) -> None:
        self.graph = graph
        self.out: list[Signal | None] = [None] * len(graph.nodes)

    def run(self) -> list[Signal | None]:
        for node in self.graph.nodes:
            try:
                self.out[node.index] = self.visit(node)
            except Exception:  # an op with arguments we did not foresee: unknown, never a crash
                self.out[node.index] = None
        return self.out

    def inputs(self, node: OpNode) -> list[OpNode]:
        return [p for p in self.graph.data_preds(node) if p.op != "get_attr"]

    def first(self, node: OpNode) -> Signal | None:
        preds = self.inputs(node)
        return self.out[preds[0].index] if preds else None

    def visit(self, node: OpNode) -> Signal | None:
        kind = node.kind
        if node.op == "placeholder":
            if node.dtype is not None and ("int" in node.dtype or "bool" in node.dtype):
                return None  # token ids: the embedding starts the signal
            return Signal(1.0, 1.0, 1.0, node.index, 0)
        if node.op == "output":
            return None
        if kind == "embedding":
            stats = weight_stats(node)
            if stats is None or stats.constant:
                return None
            return Signal(stats.mean_square, stats.std ** 2, stats.std ** 2, node.index, 1)
        if kind in SCALED_LAYERS:
            return self.layer(node)
        if kind in ops.NORMALIZATION:
            return self.norm(node)
        if kind in TRANSPARENT or kind in ("contiguous", "neg"):
            return self.first(node)
        if kind in ("add", "sub"):
            return self.add(node)
        if kind in ("mul", "div"):
            return self.scale(node)
        if kind == "cat":
            return self.cat(node)
        fn = activation_fn(node) if kind in ops.ACTIVATIONS else None
        if fn is not None:
            x = self.first(node)
            if x is None:
                return None
            if kind in ("relu", "threshold") and x.nonneg:
                # relu(relu(a) + 0): a residual stream whose branches start at zero (ResNets
                # with zero-initialised last BN gammas) passes each block's ReLU unchanged.
                return x
            mean = math.sqrt(max(x.q - x.s, 0.0))
            q, s = activation_moments(node, fn, mean, x.s)
            return Signal(q, s, x.ref, x.start, x.layers, nonneg=kind in ops.RECTIFIERS)
        return None

    def layer(self, node: OpNode) -> Signal | None:
        x = self.first(node)
        stats = weight_stats(node)
        if x is None or stats is None:
            return None
        gain = stats.mean_square * stats.fan_in
        return Signal(gain * x.q + stats.bias_mean_square, gain * x.s, x.ref, x.start, x.layers + 1)

    def norm(self, node: OpNode) -> Signal | None:
        gamma, beta = _affine(self.graph, node)
        g2 = float(gamma.square().mean()) if gamma is not None else 1.0
        b2 = float(beta.square().mean()) if beta is not None else 0.0
        if node.kind == "local_response_norm":
            return self.first(node)
        return Signal(g2 + b2, g2, g2, node.index, 0)

    def add(self, node: OpNode) -> Signal | None:
        preds = self.inputs(node)
        sigs = [self.out[p.index] for p in preds]
        if not sigs or any(s is None for s in sigs):
            return None
        constant = 0.0
        for value in list(node.args) + list(node.kwargs.values()):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                constant += float(value) ** 2
        known = [s for s in sigs if s is not None]
        # Independent branches: variances add. The segment reference is the strongest branch's.
        lead = max(known, key=lambda s: (s.ref, s.layers))
        nonneg = node.kind == "add" and constant == 0.0 and all(s.nonneg or s.q == 0.0 for s in known)
        return Signal(
            sum(s.q for s in known) + constant, sum(s.s for s in known),
            max(s.ref for s in known), lead.start, max(s.layers for s in known), nonneg=nonneg,
        )

    def scale(self, node: OpNode) -> Signal | None:
        preds = self.graph.data_preds(node)
        tensors = [p for p in preds if p.op != "get_attr"]
        params = [p for p in preds if p.op == "get_attr"]
        sigs = [self.out[p.index] for p in tensors]
        if not sigs or any(s is None for s in sigs):
            return None
        factor = 1.0
        for p in params:
            t = _get_attr(self.graph, p)
            if t is None:
                return None
            factor *= float(t.square().mean())
        for value in node.args[1:] if len(node.args) > 1 else ():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                factor *= float(value) ** 2 if node.kind == "mul" else 1.0 / max(float(value) ** 2, 1e-300)
        if node.kind == "div" and (len(sigs) > 1 or params):
            return None  # division by a tensor: not modelled
        x = sigs[0]
        assert x is not None
        q, s = x.q, x.s
        for y in sigs[1:]:
            assert y is not None
            # Independent factors: E[xy]^2 = E[x^2]E[y^2]; Var = E[x^2]E[y^2] - E[x]^2 E[y]^2.
            q, s = q * y.q, q * y.q - (q - s) * (y.q - y.s)
        return Signal(q * factor, s * factor, x.ref, x.start, max(sig.layers for sig in sigs if sig))

    def cat(self, node: OpNode) -> Signal | None:
        preds = self.inputs(node)
        sigs = [self.out[p.index] for p in preds]
        if not sigs or any(s is None for s in sigs):
            return None
        weights = []
        dim = node.arg(1, "dim", 0)
        for p in preds:
            size = p.shape[dim] if p.shape is not None and isinstance(dim, int) and -len(p.shape) <= dim < len(p.shape) else 1
            weights.append(float(size))
        total = sum(weights)
        known = [s for s in sigs if s is not None]
        lead = max(known, key=lambda s: (s.ref, s.layers))
        return Signal(
            sum(w * s.q for w, s in zip(weights, known)) / total,
            sum(w * s.s for w, s in zip(weights, known)) / total,
            max(s.ref for s in known), lead.start, max(s.layers for s in known),
        )


# --- graph helpers ---------------------------------------------------------------------------


def followers(graph: GraphView, node: OpNode) -> list[OpNode]:
    """What consumes ``node``'s output, looking through reshapes, dropout, pooling and padding."""
    return graph.walk_forward(node, TRANSPARENT)


def feeds_weight_layer(graph: GraphView) -> list[bool]:
    """For each node: does its value reach some weight layer downstream? (one reverse walk)"""
    reaches = [False] * len(graph.nodes)
    for node in reversed(graph.nodes):
        reaches[node.index] = any(reaches[u] or graph.nodes[u].is_weight_layer for u in node.users)
    return reaches


def weight_layers_after(graph: GraphView) -> list[int]:
    """For each node: the most weight layers on any path from it to an output (one reverse walk)."""
    after = [0] * len(graph.nodes)
    for node in reversed(graph.nodes):
        after[node.index] = max(
            (after[u] + (1 if graph.nodes[u].is_weight_layer else 0) for u in node.users), default=0
        )
    return after


def plain_layers_after(graph: GraphView) -> list[int]:
    """For each node: weight layers on the longest path after it within one plain chain.

    A chain ends at a normalization (the scale is reset), a residual merge (the branch's scale
    is relative to the skip path), a weighting op (attention, gates: the branch scales another
    tensor) or the output. Init mismatches compound only along such chains.
    """
    from actlint.rules.activations import is_weighting

    skips = graph.skip_connections
    after = [0] * len(graph.nodes)
    for node in reversed(graph.nodes):
        best = 0
        for u in node.users:
            user = graph.nodes[u]
            if user.kind in ops.NORMALIZATION or u in skips or is_weighting(graph, user):
                continue
            best = max(best, after[u] + (1 if user.is_weight_layer else 0))
        after[node.index] = best
    return after


def residual_branch_nodes(graph: GraphView) -> list[bool]:
    """For each node: does its value reach a residual merge before any normalization?

    One reverse walk. Such a node is inside a residual branch (``x + f(x)``): a small signal
    there makes the block start near the identity, which is a design, not a collapse.
    """
    skips = graph.skip_connections
    inside = [False] * len(graph.nodes)
    for node in reversed(graph.nodes):
        for u in node.users:
            user = graph.nodes[u]
            if (u in skips and user.kind in ("add", "sub")) or (user.kind not in ops.NORMALIZATION and inside[u]):
                inside[node.index] = True
                break
    return inside


def only_gates(graph: GraphView, node: OpNode) -> bool:
    """True when everything ``node``'s output reaches (through reshapes) is a weighting op."""
    from actlint.rules.activations import is_weighting

    consumers = followers(graph, node)
    return bool(consumers) and all(is_weighting(graph, c) for c in consumers)


def is_residual_branch_end(graph: GraphView, node: OpNode) -> bool:
    """True when ``node``'s output is added to a skip path (the end of a residual branch).

    Looks through reshapes, dropout, normalization and layer-scale multiplications, so a
    zero-initialised conv before a BatchNorm or a zero gamma before the add both count.
    """
    through = TRANSPARENT | ops.NORMALIZATION | {"mul"}
    for follower in graph.walk_forward(node, through):
        if follower.kind in ("add", "sub") and len(graph.data_preds(follower)) >= 2:
            return True
    return False


def _layer_name(node: OpNode) -> str:
    """The layer as a Python expression on the model: ``features[0].conv``, ``model[2]``."""
    path = node.module_path
    if not path:
        return node.name
    text = ""
    for part in path.split("."):
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return "model" + text if text.startswith("[") else "model" + text


def _measured_verdict(status: ProbeStatus, evidence: str, **metrics: Any) -> ProbeVerdict:
    return ProbeVerdict(status, evidence, {k: v for k, v in metrics.items() if v is not None})


def _probe_ok(ctx: RuleContext):
    probe = ctx.probe
    return probe if probe is not None and probe.ok else None


def _report_path(ctx: RuleContext, node: OpNode) -> str | None:
    from actlint.rules.measured import report_path

    return report_path(ctx, node)


def _input_rms(report: Any) -> float | None:
    """RMS of the probe's first floating input (the start of the forward signal)."""
    for value in report.inputs or ():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel():
            return float(value.detach().float().square().mean().sqrt())
    return None


def _measured_rms(ctx: RuleContext, report: Any, node: OpNode) -> float | None:
    """The probe's activation RMS at ``node`` (or the nearest measured node before it)."""
    if node.op == "placeholder":
        return _input_rms(report)
    path = _report_path(ctx, node)
    stats = report.layer(path) if path else None
    if stats is not None and stats.activation_rms is not None:
        return stats.activation_rms
    for pred in ctx.graph.walk_backward(node, TRANSPARENT):
        return _measured_rms(ctx, report, pred)
    return None


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
        ),
    )

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
            )

    def confirm(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        report = _probe_ok(ctx)
        node = _finding_node(ctx, finding)
        if report is None or node is None:
            return super().confirm(finding, ctx)
        before = next(iter(ctx.graph.walk_backward(node, TRANSPARENT)), None)
        after = next((n for n in followers(ctx.graph, node) if gain_band(n) is not None), None)
        rin = _measured_rms(ctx, report, before) if before is not None else None
        rout = _measured_rms(ctx, report, after) if after is not None else None
        if not rin or rout is None:
            return _measured_verdict(ProbeStatus.NOT_PROBED, "no forward signal measured around the layer")
        gain = rout / rin
        limit = self.option("ratio")
        status = ProbeStatus.CONFIRMED if not (1 / limit <= gain <= limit) else ProbeStatus.REFUTED
        return _measured_verdict(
            status,
            f"measured RMS gain through the layer and its {after.kind if after else 'activation'} is {gain:.3g} "
            f"({rin:.3g} -> {rout:.3g}); a matched init keeps it within [{1 / limit:.2g}, {limit:g}]",
            gain=gain,
        )


def _finding_node(ctx: RuleContext, finding: Finding) -> OpNode | None:
    if finding.node is None or not ctx.graph.has_dataflow:
        return None
    try:
        return ctx.graph.node(finding.node)
    except KeyError:
        return None


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
        ),
    )

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
            )

    def confirm(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        report = _probe_ok(ctx)
        node = _finding_node(ctx, finding)
        if report is None or node is None:
            return super().confirm(finding, ctx)
        sig = signal_pass(ctx.graph)[node.index]
        if sig is None:
            return _measured_verdict(ProbeStatus.NOT_PROBED, "no predicted signal at the layer")
        signals = signal_pass(ctx.graph)
        start = ctx.graph.nodes[sig.start]
        rin = _measured_rms(ctx, report, start)
        # The most extreme measured layer of the segment (same start, before the next normalization).
        measured: list[tuple[float, str]] = []
        for other in ctx.graph.nodes:
            other_sig = signals[other.index]
            if not other.is_weight_layer or other_sig is None or other_sig.start != sig.start:
                continue
            path = _report_path(ctx, other)
            stats = report.layer(path) if path else None
            if stats is None:
                continue
            rout = stats.activation_std if stats.activation_std is not None else stats.activation_rms
            if rout is not None and rin:
                measured.append((rout / rin, path or other.name))
        if not measured:
            return _measured_verdict(ProbeStatus.NOT_PROBED, "no forward signal measured at both ends of the segment")
        lo, hi = self.option("min"), self.option("max")
        ratio, path = max(measured, key=lambda m: abs(math.log(max(m[0], 1e-300))))
        status = ProbeStatus.CONFIRMED if not (lo <= ratio <= hi) else ProbeStatus.REFUTED
        origin = "the input" if start.op == "placeholder" else (_report_path(ctx, start) or start.name)
        return _measured_verdict(
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
                gamma = _tensor(getattr(node.module, "weight", None))
                if gamma is None or bool(gamma.any()) or is_residual_branch_end(graph, node):
                    continue
                yield ctx.finding(
                    f"the scale (gamma) of {node.describe()} is all zero on the main path: its output is "
                    f"constant and every layer after it gets no signal; use nn.init.ones_ "
                    f"(zero gamma belongs only at the end of a residual branch)",
                    node=node,
                )

    def confirm(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        report = _probe_ok(ctx)
        node = _finding_node(ctx, finding)
        if report is None or node is None or report.inputs is None or not node.module_path:
            return super().confirm(finding, ctx)
        return symmetry_probe(ctx.model, report.inputs, node.module_path)


def symmetry_probe(model: nn.Module, inputs: tuple[Any, ...], path: str) -> ProbeVerdict:
    """Run one forward/backward on a copy of ``model`` and check the units of layer ``path``.

    Confirmed when the layer's units receive identical weight gradients (so they stay
    identical after any number of steps) or, for a normalization layer, when its output
    carries no input-dependent signal. The user's model is never touched (a deep copy runs).
    """
    try:
        clone = copy.deepcopy(model)
        clone.train()
        module = dict(clone.named_modules())[path]
        outputs: list[torch.Tensor] = []
        handle = module.register_forward_hook(lambda m, a, out: outputs.append(out if isinstance(out, torch.Tensor) else out[0]))
        gen = torch.Generator().manual_seed(3)
        try:
            result = clone(*inputs)
        finally:
            handle.remove()
        tensors = [t for t in _flatten(result) if t.is_floating_point() and t.requires_grad]
        if not tensors or not outputs:
            return ProbeVerdict(ProbeStatus.NOT_PROBED, "the layer's output or the model's output could not be measured")
        objective = sum((t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum() for t in tensors)
        weight = getattr(module, "weight", None)
        grads = torch.autograd.grad(objective, [weight], allow_unused=True) if isinstance(weight, torch.Tensor) else [None]
    except Exception as exc:  # the symmetry check is best effort: say why it did not run
        return ProbeVerdict(ProbeStatus.NOT_PROBED, f"symmetry check failed: {type(exc).__name__}: {exc}")
    out = outputs[0].detach().float()
    if out.dim() >= 1 and out.shape[0] > 1 and float((out - out.mean(0)).abs().max()) == 0.0:
        return ProbeVerdict(ProbeStatus.CONFIRMED, f"the output of {path} is identical for every probe sample")
    grad = grads[0]
    if grad is None:
        return ProbeVerdict(ProbeStatus.CONFIRMED, f"{path}.weight gets no gradient")
    g = grad.detach().float().reshape(grad.shape[0], -1) if grad.dim() >= 2 else grad.detach().float().reshape(-1, 1)
    peak = float(g.abs().max())
    if peak == 0.0:
        return ProbeVerdict(ProbeStatus.CONFIRMED, f"{path}.weight gets exactly zero gradient: it stays constant",
                            {"grad_spread": 0.0})
    spread = float((g - g.mean(0, keepdim=True)).abs().max()) / peak
    if spread < 1e-5:
        return ProbeVerdict(
            ProbeStatus.CONFIRMED,
            f"all {g.shape[0]} units of {path} get the same weight gradient (spread {spread:.1e}): they stay identical",
            {"grad_spread": spread},
        )
    return ProbeVerdict(
        ProbeStatus.REFUTED,
        f"the units of {path} get different weight gradients (spread {spread:.2g} of the largest): "
        f"the layers after it break the symmetry in the first step",
        {"grad_spread": spread},
    )


def _flatten(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flatten(v)]
    return []


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
            producers = graph.walk_backward(relu, TRANSPARENT - ops.POOLING)
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
        bias = _tensor(getattr(module, "bias", None))
        if bias is None:
            return None
        if producer.kind in SCALED_LAYERS:
            weight = _tensor(getattr(module, "weight", None))
            preds = [p for p in graph.data_preds(producer) if p.op != "get_attr"]
            x = signals[preds[0].index] if preds else None
            if weight is None or x is None or weight.dim() < 2 or not bool(weight.any()):
                return None
            rows = weight.transpose(0, 1) if producer.kind == "conv_transpose" else weight
            if producer.kind == "conv_transpose":
                return None  # per-output-channel fan-in depends on stride: not modelled
            sd = rows.reshape(rows.shape[0], -1).square().sum(1).mul(x.q).sqrt()
        elif producer.kind in ops.NORMALIZATION:
            gamma = _tensor(getattr(module, "weight", None))
            sd = gamma.abs() if gamma is not None else torch.ones_like(bias)
        else:
            return None
        if sd.shape != bias.shape:
            return None
        dead = int(((bias < -sigmas * sd) & (bias < 0)).sum())
        return dead, int(bias.numel())

    def confirm(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        report = _probe_ok(ctx)
        node = _finding_node(ctx, finding)
        if report is None or node is None:
            return super().confirm(finding, ctx)
        path = _report_path(ctx, node)
        stats = report.layer(path) if path else None
        if stats is None or stats.dead_fraction is None:
            return _measured_verdict(ProbeStatus.NOT_PROBED, f"no dead fraction measured for {path or 'the ReLU'}")
        limit = self.option("fraction")
        status = ProbeStatus.CONFIRMED if stats.dead_fraction > limit else ProbeStatus.REFUTED
        return _measured_verdict(
            status,
            f"{stats.dead_fraction:.0%} of the {stats.units} units of {path} output 0 for all {report.samples} "
            f"probe samples (threshold {limit:.0%})",
            dead_fraction=stats.dead_fraction,
        )


__all__ = [
    "InitScaleMismatch", "SignalExplosionOrCollapse", "ConstantInit", "DeadReluInit",
    "signal_pass", "weight_stats", "gain_band", "gaussian_moments", "symmetry_probe",
]

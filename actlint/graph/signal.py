"""The forward signal-propagation engine: predicted activation statistics at initialization.

:func:`signal_pass` predicts, for every node, a second moment ``q`` (total) and variance
``s`` (the part that depends on the input), starting from unit-variance inputs. Weight
layers multiply by ``mean(W^2) * fan_in`` (and add ``mean(b^2)`` to ``q``), elementwise
activations by their exact second moment under a Gaussian pre-activation (quadrature on the
real torch function), normalization layers reset the signal to ``gamma^2``/``beta^2``,
residual adds sum the branches' variances (independent branches). Ops the pass does not
understand (attention, recurrence, matmul...) make the signal unknown until the next
normalization: the rules that read it stay silent there rather than guess. Computed once
per graph (cached), linear in its size.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from actlint.graph import ops
from actlint.graph.queries import SIGNAL_PASS_THROUGH
from actlint.graph.view import GraphView, OpNode
from actlint.graph.weights import SCALED_LAYERS, affine_params, attribute_tensor, weight_stats


_MOMENTS: dict[tuple, tuple[float, float]] = {}


_SQRT2 = math.sqrt(2.0)


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
        if kind in SIGNAL_PASS_THROUGH or kind in ("contiguous", "neg"):
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
        gamma, beta = affine_params(self.graph, node)
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
            t = attribute_tensor(self.graph, p)
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


__all__ = ["GainBand", "Signal", "activation_fn", "activation_moments", "gain_band", "gaussian_moments", "signal_pass"]

"""Weight statistics of the model as it is linted (its initialization), per weight layer.

:func:`weight_stats` gives a layer's weight standard deviation, mean square and
fan-in/fan-out (fan-in correct for grouped/depthwise and transposed convolutions); the
signal pass and the ACT3xx rules read them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch.nn.parameter import is_lazy

from actlint.graph.view import GraphView, NodeRef, OpNode


#: Layers whose weight scale is judged (Embedding is excluded: its rows are looked up, not summed).
SCALED_LAYERS = frozenset({"linear", "conv", "conv_transpose"})


#: Ops that pass a signal through without changing its per-element scale (for "what follows").


def tensor_value(value: Any) -> torch.Tensor | None:
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
    weight = tensor_value(getattr(module, "weight", None))
    stats = None
    if weight is not None and weight.dim() >= 2:
        fan_in, fan_out = _fans(module, weight, node.kind)
        bias = tensor_value(getattr(module, "bias", None))
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


def affine_params(graph: GraphView, node: OpNode) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(gamma, beta) of a normalization node, from its module or its functional arguments."""
    if node.op == "call_module" and node.module is not None:
        return tensor_value(getattr(node.module, "weight", None)), tensor_value(getattr(node.module, "bias", None))
    names = {"batch_norm": (3, 4), "layer_norm": (2, 3), "group_norm": (2, 3), "instance_norm": (3, 4),
             "rms_norm": (2, -1)}.get(node.kind, (-1, -1))
    return _param_arg(graph, node, names[0], "weight"), _param_arg(graph, node, names[1], "bias")


def _param_arg(graph: GraphView, node: OpNode, position: int, name: str) -> torch.Tensor | None:
    if position < 0:
        return None
    ref = node.arg(position, name)
    if not isinstance(ref, NodeRef):
        return None
    return attribute_tensor(graph, graph.nodes[ref.index])


def attribute_tensor(graph: GraphView, node: OpNode) -> torch.Tensor | None:
    """The tensor a get_attr node reads (a parameter or buffer), or None."""
    if node.op != "get_attr":
        return None
    obj: Any = graph.model
    for part in str(node.target).split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return tensor_value(obj)


__all__ = ["SCALED_LAYERS", "WeightStats", "affine_params", "attribute_tensor", "tensor_value", "weight_stats"]

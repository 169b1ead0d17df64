"""The symmetry probe (ACT303's confirmation): do a layer's units stay identical in training?

One forward/backward pass on a deep copy of the model (the user's model is never touched)
measures the layer's output across samples and the spread of its units' weight gradients.
It measures; ACT303 judges what the numbers mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from actlint.probe.copying import model_copy


@dataclass(frozen=True)
class SymmetryMeasurement:
    """What one pass measured at a layer.

    ``status``: "failed" (``detail`` says why), "unmeasured" (no output to measure),
    "constant-output" (identical for every sample), "no-gradient", "zero-gradient", or
    "measured" (``spread``: the largest deviation of a unit's weight gradient from the
    units' mean, over the largest gradient).
    """

    status: str
    spread: float | None = None
    units: int = 0
    detail: str = ""


def measure_symmetry(model: nn.Module, inputs: tuple[Any, ...], path: str) -> SymmetryMeasurement:
    """Run one forward/backward on a copy of ``model`` and measure the units of layer ``path``."""
    try:
        clone = model_copy(model)
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
            return SymmetryMeasurement("unmeasured")
        objective = sum((t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum() for t in tensors)
        weight = getattr(module, "weight", None)
        grads = torch.autograd.grad(objective, [weight], allow_unused=True) if isinstance(weight, torch.Tensor) else [None]
    except Exception as exc:  # the symmetry check is best effort: say why it did not run
        return SymmetryMeasurement("failed", detail=f"{type(exc).__name__}: {exc}")
    out = outputs[0].detach().float()
    if out.dim() >= 1 and out.shape[0] > 1 and float((out - out.mean(0)).abs().max()) == 0.0:
        return SymmetryMeasurement("constant-output")
    grad = grads[0]
    if grad is None:
        return SymmetryMeasurement("no-gradient")
    g = grad.detach().float().reshape(grad.shape[0], -1) if grad.dim() >= 2 else grad.detach().float().reshape(-1, 1)
    peak = float(g.abs().max())
    if peak == 0.0:
        return SymmetryMeasurement("zero-gradient", spread=0.0, units=g.shape[0])
    spread = float((g - g.mean(0, keepdim=True)).abs().max()) / peak
    return SymmetryMeasurement("measured", spread=spread, units=g.shape[0])


def _flatten(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flatten(v)]
    return []


__all__ = ["SymmetryMeasurement", "measure_symmetry"]

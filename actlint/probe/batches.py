"""Probe batches: the batch size of example inputs, and fresh inputs drawn like them."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.utils._pytree import tree_flatten, tree_map


def batch_of(inputs: tuple[Any, ...]) -> int:
    """The batch size: dim 0 of the first tensor with a dimension (1 when there is none)."""
    for leaf in tree_flatten(inputs)[0]:
        if isinstance(leaf, torch.Tensor) and leaf.dim() > 0:
            return int(leaf.shape[0])
    return 1


def resample(inputs: tuple[Any, ...], gen: torch.Generator, batch: int | None, old_batch: int) -> tuple[Any, ...]:
    """Fresh inputs like ``inputs``, optionally with ``batch`` samples along dim 0."""

    def one(x: Any) -> Any:
        if not isinstance(x, torch.Tensor) or x.numel() == 0:
            return x
        shape = list(x.shape)
        if batch is not None and x.dim() > 0 and shape[0] == old_batch:
            shape[0] = batch
        if x.is_floating_point():
            xf = x.detach().double()
            std = float(xf.std()) if x.numel() > 1 else 0.0
            mean = float(xf.mean())
            if not math.isfinite(std) or std == 0.0:
                return x.detach().flatten()[0].expand(shape).clone()
            return (torch.randn(shape, generator=gen, dtype=torch.float64) * std + mean).to(x.dtype)
        if x.dtype == torch.bool or x.is_complex():
            if shape == list(x.shape):
                return x
            index = torch.randint(0, x.shape[0], (shape[0],), generator=gen)
            return x[index.to(x.device)]
        flat = x.detach().flatten().cpu()
        index = torch.randint(0, flat.numel(), shape, generator=gen)
        return flat[index].to(x.dtype)

    return tree_map(one, inputs)


__all__ = ["batch_of", "resample"]

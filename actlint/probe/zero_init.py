"""Zero-initialised weights during the probe: re-initialised for its passes, restored after.

Zero-initialised weights (ViT heads, zero-init residual gammas) block every gradient
upstream by design; the probe temporarily gives them small random values (unit norm
scales) and the report says so. :func:`untouched` restores them, ``.grad`` and
``requires_grad`` afterwards.
"""


from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch
import torch.nn as nn

from actlint.graph import ops
from actlint.sandbox.preserved import preserved



#: A 1-D parameter whose values are all this small and all equal is a layer scale at its
#: init value (LayerScale 1e-5..1e-6, CaiT's gamma_1/gamma_2, ConvNeXt's gamma).
TINY_SCALE = 1e-3


def _is_tiny_scale(name: str, p: torch.Tensor) -> bool:
    """A constant, tiny, nonzero 1-D multiplicative parameter: a layer scale at init."""
    if p.dim() != 1 or "bias" in name.rsplit(".", 1)[-1] or p.is_meta or not p.is_floating_point() or not p.numel():
        return False
    first = float(p.detach().reshape(-1)[0])
    return 0.0 < abs(first) < TINY_SCALE and bool((p == first).all())


def _rescaled(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """Parameters the probe gives a measurable value (all-zero ones and layer scales at init)."""
    out = []
    for name, p in model.named_parameters():
        if not p.requires_grad or not p.is_floating_point() or p.is_meta or not p.numel():
            continue
        if "bias" not in name.rsplit(".", 1)[-1] and not bool(p.any()):
            out.append((name, p))
        elif _is_tiny_scale(name, p):
            out.append((name, p))
    return out


def reinit_zero(model: nn.Module, gen: torch.Generator) -> list[str]:
    """Give all-zero multiplicative parameters a small random init, and layer scales at their
    tiny init value (1e-5) a small scale, so the probe measures the network, not its init
    (under ``untouched``: restored afterwards).

    Zero-initialised heads and residual-branch ends, ReZero alphas and LayerScale are
    designs that train: at init they silence whole branches, and every gradient upstream of
    them would look vanished.
    """
    owners = {}
    for mpath, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            owners[id(p)] = (module, pname)
    changed = []
    with torch.no_grad():
        for name, p in _rescaled(model):
            module, _ = owners.get(id(p), (None, ""))
            kind = ops.DEFAULT_TABLE.module_kind(module) if module is not None else None
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32).to(p.dtype) / math.sqrt(fan_in))
            elif kind in ops.NORMALIZATION:
                p.fill_(1.0)
            else:  # layer scale, ReZero alpha: a small scale keeps the block a perturbation
                p.fill_(0.1)
            changed.append(name)
    return changed


@contextlib.contextmanager
def untouched(model: nn.Module) -> Iterator[None]:
    """Leave ``model`` exactly as found, without cloning every weight.

    ``preserved`` restores modes and buffers (BatchNorm running stats). Parameters are
    never written by the probe except the all-zero ones ``reinit_zero`` changes, which
    are saved here; ``.grad`` is never written either (gradients come from
    ``torch.autograd.grad``), and the original ``.grad`` objects and ``requires_grad``
    flags are put back regardless. Cloning every parameter instead
    (``preserved(parameters=True)``) would add one model size to peak memory: 1.40x
    instead of 1.17x the plain passes on a ResNet-50 (bench/bench_probe.py).
    """
    saved = [(p, p.grad, p.requires_grad) for p in model.parameters()]
    zeros = [(p, p.detach().clone()) for p in model.parameters()
             if p.is_floating_point() and not p.is_meta and p.numel() and not bool(p.any())]
    zeros += [(p, p.detach().clone()) for name, p in model.named_parameters() if _is_tiny_scale(name, p)]
    try:
        with preserved(model, parameters=False):
            yield
    finally:
        with torch.no_grad():
            for p, data in zeros:
                p.copy_(data)
        for p, grad, requires_grad in saved:
            p.grad = grad
            p.requires_grad_(requires_grad)


__all__ = ["TINY_SCALE", "reinit_zero", "untouched"]

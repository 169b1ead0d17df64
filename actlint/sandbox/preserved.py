"""Leave the user's model exactly as it was found.

``preserved(model)`` snapshots what running the model can change (train/eval flags,
buffers such as BatchNorm running stats, and optionally parameters, their ``.grad`` and
``requires_grad``) and restores it in ``finally``, whatever happens inside.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Iterator

import torch
import torch.nn as nn


_MISSING = object()


@contextlib.contextmanager
def preserved(model: nn.Module, *, parameters: bool = False, remove_added: bool = True) -> Iterator[None]:
    """Restore modes, buffers and plain attributes (and with ``parameters=True`` weights, grads, requires_grad).

    A forward may assign to its module (CLIP's ``self.attn_mask = self.attn_mask.to(x.dtype)``):
    under fx that leaves a Proxy in the user's model, under a real pass another tensor. Every
    module's attributes and buffer slots are put back as they were, by identity; attributes
    added meanwhile are removed too, unless ``remove_added`` is False (fx's tensor constants,
    needed until its GraphModule is made).
    """
    modes = [(m, m.training) for m in model.modules()]
    attributes = [(m, dict(m.__dict__), dict(m._buffers)) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers() if b is not None and not b.is_meta]
    params: list[tuple[nn.Parameter, torch.Tensor, torch.Tensor | None, bool]] = []
    if parameters:
        for p in model.parameters():
            grad = p.grad.detach().clone() if p.grad is not None else None
            params.append((p, p.detach().clone(), grad, p.requires_grad))
    try:
        yield
    finally:
        with torch.no_grad():
            for buf, saved in buffers:
                buf.copy_(saved)
            for p, data, grad, requires_grad in params:
                p.copy_(data)
                p.grad = grad
                p.requires_grad_(requires_grad)
        for m, saved_dict, saved_buffers in attributes:
            for key in [k for k in m.__dict__ if k not in saved_dict and remove_added]:
                del m.__dict__[key]
            for key, value in saved_dict.items():
                if m.__dict__.get(key, _MISSING) is not value:
                    m.__dict__[key] = value
            if m._buffers.keys() != saved_buffers.keys() or any(
                    m._buffers[k] is not v for k, v in saved_buffers.items()):
                m._buffers.clear()
                m._buffers.update(saved_buffers)
        for m, training in modes:
            m.training = training


@contextlib.contextmanager
def quiet_torch_logs() -> Iterator[None]:
    """Silence torch's fake-tensor error logging while we probe candidate shapes.

    A failing candidate is expected; torch would otherwise print a full traceback to
    stderr for each one.
    """
    logger = logging.getLogger("torch._subclasses.fake_tensor")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextlib.contextmanager
def quiet_user_warnings() -> Iterator[None]:
    """Hide Python warnings raised while we import and run the user's model.

    Every forward pass actlint makes (shape propagation, input inference, the probe)
    would repeat the model's own deprecation warnings on stderr, and the ones that
    matter (implicit softmax dim, ...) are reported as findings with a location.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield

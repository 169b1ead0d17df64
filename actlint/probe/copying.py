"""A faithful copy of the user's model for the probes that train or re-weight one.

``copy.deepcopy`` refuses modules that keep a computed, non-leaf tensor as a plain
attribute: ``torch.nn.utils.weight_norm`` and the old ``spectral_norm`` store the weight
they compute from ``weight_g``/``weight_v`` (or ``weight_orig``) that way, and so do
user modules that cache a derived tensor. Those tensors are recomputed by their forward
pre-hooks on the next call, so the copy may hold them detached: :func:`model_copy`
swaps each one for a detached alias while the copy is made and puts the original back,
leaving the user's model exactly as it was. Parametrized modules
(``torch.nn.utils.parametrize``, the new ``weight_norm`` and ``spectral_norm``) and tied
weights copy as they are (``deepcopy`` keeps shared tensors shared).
"""

from __future__ import annotations

import copy
from typing import TypeVar

import torch
import torch.nn as nn

M = TypeVar("M", bound=nn.Module)


def model_copy(model: M) -> M:
    """A deep copy of ``model``, including weight-normed and spectrally normed layers."""
    try:
        return copy.deepcopy(model)
    except RuntimeError:
        pass  # a computed tensor held as an attribute (weight_norm): copy without it
    swapped: list[tuple[nn.Module, str, torch.Tensor]] = []
    for module in model.modules():
        for name, value in list(vars(module).items()):
            if isinstance(value, torch.Tensor) and not value.is_leaf:
                swapped.append((module, name, value))
                vars(module)[name] = value.detach()
    try:
        return copy.deepcopy(model)
    finally:
        for module, name, value in swapped:
            vars(module)[name] = value


__all__ = ["model_copy"]

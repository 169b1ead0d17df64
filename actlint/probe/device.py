"""Where the probes run: ``--device auto|cpu|cuda|cuda:N``, and moving inputs there."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._pytree import tree_map

from actlint.core.errors import UserError

#: How many times more FLOPs the probes' budgets allow on CUDA than on a CPU.
CUDA_SPEEDUP = 100.0


def resolve_device(spec: str) -> torch.device:
    """``auto|cpu|cuda|cuda:N`` -> a device; UserError (exit 2) when it cannot be used."""
    text = (spec or "auto").strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        index_text = text[5:] if text.startswith("cuda:") else "0"
        if not index_text.isdigit():
            raise UserError(f"--device {spec!r} is not a device (use auto, cpu, cuda or cuda:N)")
        if not torch.cuda.is_available():
            raise UserError(f"--device {spec}: CUDA is not available on this machine (use --device cpu or auto)")
        index = int(index_text)
        if index >= torch.cuda.device_count():
            raise UserError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
        return torch.device("cuda", index)
    raise UserError(f"--device {spec!r} is not a device (use auto, cpu, cuda or cuda:N)")


def rng_devices(device: torch.device) -> list[int]:
    """The CUDA devices whose RNG state ``torch.random.fork_rng`` must save for ``device``."""
    return [device.index or 0] if device.type == "cuda" else []


def to_device(value: Any, device: torch.device) -> Any:
    """``value`` (tensors nested in tuples, lists, dicts) moved to ``device``."""
    return tree_map(lambda x: x.to(device) if isinstance(x, torch.Tensor) else x, value)


__all__ = ["CUDA_SPEEDUP", "resolve_device", "rng_devices", "to_device"]

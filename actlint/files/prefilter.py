"""Cheap text check: could this file define or build a PyTorch model?

Loading a file means importing torch (about a second) and executing the file, so files
found by walking a directory, and files passed with ``--skip-non-models`` (what the
pre-commit hook does), are read as text first and only loaded when they look like model
code. This module must not import torch: the command line uses it to finish a
pre-commit run over files without models before torch is ever imported.

The check is deliberately inclusive. A file let through needlessly costs one import and
is then skipped quietly when it holds no model; a model file filtered out would never be
linted. What it cannot see: a model whose file never mentions torch (``class Net(Base)``
with ``Base`` imported from elsewhere); lint those by naming them without the flag.
"""

from __future__ import annotations

import re
from pathlib import Path

# The zero-argument factories model discovery calls (actlint.loader imports this list).
FACTORY_NAMES = ("build_model", "make_model", "create_model", "get_model")

# Some PyTorch-family name must appear: ``import torch``, ``from torch import nn``, ...
_TORCH_WORD = re.compile(r"\b(?:torch|torchvision|timm|lightning|pytorch_lightning)\b")

# ... and a sign of a model being defined or built.
_MODEL_SIGN = re.compile(
    r"\bnn\."                       # the torch.nn namespace: nn.Module, nn.Linear(...), torch.nn.X
    r"|\bfrom\s+torch\.nn\b"        # from torch.nn import Module, Linear, Sequential
    r"|\bModule|\bLightningModule\b"  # subclassing Module (also ModuleList, ModuleDict)
    r"|\bSequential\b"
    r"|\btorchvision\b|\btimm\b"    # ready-made architectures
)


# A module of a package whose torch import lives in a sibling (``from .unet_parts import *``).
_RELATIVE_IMPORT = re.compile(r"^\s*from\s+\.", re.MULTILINE)

# A zero-argument factory discovery would call: a model file even when the architecture
# is imported from elsewhere and torch is never named.
_FACTORY_DEF = re.compile(r"^\s*def\s+(?:" + "|".join(FACTORY_NAMES) + r")\s*\(", re.MULTILINE)


def looks_like_model_file(path: Path) -> bool:
    """True when ``path`` is a ``.py`` file that mentions torch and a model, or defines a
    model factory (``def build_model(``...).

    Stubs (``.pyi``) and scripts without the ``.py`` suffix, which pre-commit's
    ``types: [python]`` also selects, never hold a model actlint can import.
    """
    if path.suffix != ".py":
        return False
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if _FACTORY_DEF.search(text):
        return True
    torch_named = _TORCH_WORD.search(text) is not None or _RELATIVE_IMPORT.search(text) is not None
    return torch_named and _MODEL_SIGN.search(text) is not None


def filtered_out(arg: str) -> bool:
    """True when a CLI argument is a plain file that the text check rules out.

    Selectors (``file.py::Net``), directories and missing paths are never filtered here:
    they are either always linted or reported as errors by the pipeline.
    """
    if "::" in arg:
        return False
    path = Path(arg)
    return path.is_file() and not looks_like_model_file(path)


__all__ = ["FACTORY_NAMES", "looks_like_model_file", "filtered_out"]

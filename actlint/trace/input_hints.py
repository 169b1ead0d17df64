"""What a model says it takes: input shapes read from the model before any guessing.

In: a built model. Out: :class:`InputHint` objects (candidate first inputs, most likely
first, and where each came from), tried by :func:`actlint.trace.inputs.infer_inputs` before it
searches candidate sizes for the first layer.

Where shapes come from, in order:

1. library metadata: timm's ``pretrained_cfg`` / ``default_cfg`` ``input_size``; a
   HuggingFace ``config`` (``image_size`` and ``num_channels``; ``vocab_size`` and
   ``max_position_embeddings``);
2. hyperparameters named like input sizes, in the constructor arguments the loader
   recorded (``ViT(image_size=32, patch_size=8)``), on the model (``self.img_size``) or on
   its config object (``config.block_size``): ``image_size``, ``img_size``,
   ``input_size``, ``in_chans``, ``channels``, ``block_size``, ``max_seq_len``,
   ``seq_len``, ``n_ctx``, ``context_length``, ``vocab_size``...;
3. an einops ``Rearrange`` that takes images apart into patches
   (``b c (h p1) (w p2) -> b (h w) (p1 p2 c)``) with its axis lengths, and the number of
   patches a positional embedding holds;
4. the first ``Embedding`` anywhere in the model, even inside a block fx cannot trace.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch
import torch.nn as nn

from actlint.loader.provenance import constructor_arguments, is_plain_argument

#: A function that makes one candidate first input for a batch size.
Builder = Callable[[int], torch.Tensor]

_IMAGE_SIZE_NAMES = ("image_size", "img_size", "input_size", "input_resolution", "image_resolution", "resolution")
_CHANNEL_NAMES = ("in_chans", "in_channels", "num_channels", "channels", "image_channels", "input_channels")
_SEQUENCE_NAMES = ("block_size", "max_seq_len", "max_seq_length", "seq_len", "seq_length", "n_ctx", "context_length",
                   "max_len", "max_length", "max_position_embeddings", "n_positions", "num_tokens_max")
_VOCAB_NAMES = ("vocab_size", "n_vocab", "num_tokens", "ntoken", "ntokens", "n_tokens", "vocab")
_CONFIG_ATTRIBUTES = ("config", "cfg", "args", "params", "hparams", "model_args", "conf")
#: Sequences longer than this are tried after a short one (a GPT takes any length up to its block size).
_SHORT_SEQUENCE = 64


@dataclass(frozen=True)
class InputHint:
    """Candidate first inputs and where they came from (``timm pretrained_cfg input_size (3, 224, 224)``)."""

    origin: str
    builders: tuple[Builder, ...]


def input_hints(model: nn.Module) -> list[InputHint]:
    """Every hint the model gives, most authoritative first (see the module docstring)."""
    hints: list[InputHint] = []
    hints += _library_hints(model)
    values = _hyperparameters(model)
    hints += _hyperparameter_hints(model, values)
    hints += _patch_hints(model, values)
    embedding = next((m for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))), None)
    if embedding is not None:
        lengths = _lengths(values) or (16, 32, 64, 128, 8)
        hints.append(_tokens(f"the first Embedding ({embedding.num_embeddings} tokens)", embedding.num_embeddings,
                             lengths))
    return hints


# --- 1. library metadata -----------------------------------------------------------------


def _library_hints(model: nn.Module) -> list[InputHint]:
    out: list[InputHint] = []
    for attribute in ("pretrained_cfg", "default_cfg"):
        cfg = getattr(model, attribute, None)
        size = cfg.get("input_size") if isinstance(cfg, dict) else None
        if isinstance(size, (tuple, list)) and len(size) == 3 and all(isinstance(d, int) for d in size):
            out.append(_images(f"timm {attribute} input_size {tuple(size)}", size[0], [(size[1], size[2])]))
            break
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "to_dict") and not isinstance(config, dict):  # a HuggingFace config
        image = _pair(getattr(config, "image_size", None))
        if image is not None:
            channels = getattr(config, "num_channels", 3)
            out.append(_images(f"config.image_size {image[0]} and num_channels {channels}", channels, [image]))
        vocab = getattr(config, "vocab_size", None)
        if isinstance(vocab, int) and image is None:
            limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
            lengths = _bounded(limit) if isinstance(limit, int) else (16, 32, 64)
            out.append(_tokens(f"config.vocab_size {vocab}", vocab, lengths))
    return out


# --- 2. hyperparameters named like input sizes --------------------------------------------


def _hyperparameters(model: nn.Module) -> dict[str, Any]:
    """Input-size hyperparameters: recorded constructor arguments, model attributes, config fields."""
    found: dict[str, Any] = {}
    sources: list[Any] = [constructor_arguments(model), vars(model)]
    for holder in (constructor_arguments(model), vars(model)):
        for key in _CONFIG_ATTRIBUTES:
            value = holder.get(key)
            if value is not None and hasattr(value, "__dict__") and not isinstance(value, (nn.Module, torch.Tensor)):
                sources.append(vars(value))
            elif isinstance(value, dict):
                sources.append(value)
    for source in sources:
        for key in (*_IMAGE_SIZE_NAMES, *_CHANNEL_NAMES, *_SEQUENCE_NAMES, *_VOCAB_NAMES, "patch_size"):
            value = source.get(key) if isinstance(source, dict) else None
            if key not in found and is_plain_argument(value) and not hasattr(value, "__dict__"):
                found[key] = value
    return found


def _hyperparameter_hints(model: nn.Module, values: dict[str, Any]) -> list[InputHint]:
    out: list[InputHint] = []
    image_key = next((k for k in _IMAGE_SIZE_NAMES if _pair(values.get(k)) is not None), None)
    if image_key is not None:
        channel_key = next((k for k in _CHANNEL_NAMES if isinstance(values.get(k), int)), None)
        channels = [values[channel_key]] if channel_key else [3, 1]
        size = _pair(values[image_key])
        origin = f"{image_key}={values[image_key]}" + (f", {channel_key}={values[channel_key]}" if channel_key else "")
        for c in channels:
            out.append(_images(origin, c, [size]))
    lengths = _lengths(values)
    vocab_key = next((k for k in _VOCAB_NAMES if isinstance(values.get(k), int)), None)
    if lengths and vocab_key is not None and image_key is None:
        out.append(_tokens(f"{vocab_key}={values[vocab_key]} and a length up to {max(lengths)}", values[vocab_key],
                           lengths))
    return out


def _lengths(values: dict[str, Any]) -> tuple[int, ...]:
    key = next((k for k in _SEQUENCE_NAMES if isinstance(values.get(k), int) and values[k] > 0), None)
    return _bounded(values[key]) if key else ()


def _bounded(limit: int) -> tuple[int, ...]:
    """A short sequence first (cheap; any length up to the limit is valid for most models), then the limit."""
    return (min(limit, _SHORT_SEQUENCE),) + ((limit,) if limit > _SHORT_SEQUENCE else ())


# --- 3. patches: einops Rearrange and positional embeddings ----------------------------------


_GROUP = re.compile(r"\(([^)]*)\)|(\S+)")


def _patch_hints(model: nn.Module, values: dict[str, Any]) -> list[InputHint]:
    """Images for a model whose first step cuts them into patches with einops."""
    rearrange = next((m for m in model.modules() if type(m).__name__ == "Rearrange" and hasattr(m, "pattern")), None)
    if rearrange is None:
        return []
    left = str(rearrange.pattern).split("->")[0].strip()
    axes = [(g1 or g2).split() for g1, g2 in _GROUP.findall(left)]
    lengths = dict(getattr(rearrange, "axes_lengths", ()) or ())
    if len(axes) != 4 or any(len(a) not in (1, 2) for a in axes[:2]):
        return []
    spatial = axes[2:]
    patch = []
    for group in spatial:
        known = [lengths[a] for a in group if a in lengths]
        if len(group) != 2 or len(known) != 1:
            return []
        patch.append(known[0])
    patches = _positional_patch_counts(model)
    sides = sorted({int(math.isqrt(n)) for n in patches if math.isqrt(n) ** 2 == n})
    sizes = [(s * patch[0], s * patch[1]) for s in sides]
    image = _pair(next((values[k] for k in _IMAGE_SIZE_NAMES if _pair(values.get(k)) is not None), None))
    if image is not None:
        sizes.insert(0, image)
    sizes += [(s, s) for s in (32, 64, 224, 28, 16, 96, 128, 256) if s % patch[0] == 0 and s % patch[1] == 0]
    channel_key = next((k for k in _CHANNEL_NAMES if isinstance(values.get(k), int)), None)
    channels = [values[channel_key]] if channel_key else [3, 1]
    origin = f"einops Rearrange('{rearrange.pattern}') with patches of {patch[0]}x{patch[1]}"
    return [_images(origin, c, list(dict.fromkeys(sizes))) for c in channels]


def _positional_patch_counts(model: nn.Module) -> list[int]:
    """Token counts positional embeddings hold: (1, N, D) or (N, D) parameters named like ``pos``."""
    counts: list[int] = []
    for name, p in model.named_parameters():
        if "pos" in name.rsplit(".", 1)[-1].lower() and p.dim() in (2, 3):
            n = p.shape[-2]
            counts += [n, n - 1]  # with and without a class token
    return counts


# --- candidates ---------------------------------------------------------------------------------


def _pair(value: Any) -> tuple[int, int] | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value, value
    if isinstance(value, (tuple, list)) and len(value) in (1, 2) and all(isinstance(v, int) and v > 0 for v in value):
        return int(value[0]), int(value[-1])  # img_size=[224] (DINO) or (h, w)
    return None


#: Images larger than this are tried at this size first: a model that takes any size (a CNN)
#: costs the probe a twelfth of 224x224; one that needs its stated size (a ViT) fails it and
#: gets that size next.
_SMALL_IMAGE = 64


def _images(origin: str, channels: int, sizes: Iterable[tuple[int, int]]) -> InputHint:
    tried: list[tuple[int, int]] = []
    for h, w in sizes:
        if h > _SMALL_IMAGE and w > _SMALL_IMAGE:
            scale = _SMALL_IMAGE / min(h, w)
            tried.append((round(h * scale), round(w * scale)))
        tried.append((h, w))
    builders = tuple(
        (lambda batch, c=channels, h=h, w=w: torch.randn(batch, c, h, w)) for h, w in dict.fromkeys(tried)
    )
    return InputHint(origin, builders)


def _tokens(origin: str, vocab: int, lengths: Iterable[int]) -> InputHint:
    builders = tuple((lambda batch, t=t: torch.randint(0, vocab, (batch, t))) for t in lengths)
    return InputHint(origin, builders)


__all__ = ["InputHint", "input_hints"]

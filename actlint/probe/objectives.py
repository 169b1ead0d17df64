"""The training probe's objectives: which loss an output takes, and targets drawn for it.

The probe trains on one fixed batch with targets it draws itself (class labels for
logits, values in the output's range for regression, a teacher's output for dense
predictions), so the loss is one the model's output can actually fit.
"""


from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch.utils._pytree import tree_flatten



#: Loss kinds the probe can pair with an output (losses.py names the first four).
CLASSIFICATION = ("cross_entropy", "nll")


BINARY = ("bce", "bce_logits")


REGRESSION = ("mse", "l1", "smooth_l1")


def primary_output(out: Any, need_grad: bool = True) -> torch.Tensor | None:
    """The output a loss would take: ``.logits`` (HF), else the first floating tensor
    (that depends on trainable parameters, with ``need_grad``)."""
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor) and logits.is_floating_point():
        return logits
    for leaf in tree_flatten(out)[0]:
        if isinstance(leaf, torch.Tensor) and leaf.is_floating_point() and (leaf.requires_grad or not need_grad):
            return leaf
    return None


def class_dim(y: torch.Tensor) -> int:
    # [B, C] and [B, C, H, W] (segmentation) take classes on dim 1; [B, T, V] (sequence
    # models, language models) on the last dim, as train scripts flatten them.
    return -1 if y.dim() == 3 else 1


def match_loss(y: torch.Tensor, ends_in: str | None) -> str:
    """The loss kind a file without one would pair with this output."""
    if ends_in == "log_softmax":
        return "nll"
    if ends_in == "sigmoid":
        return "bce"
    if ends_in == "tanh":
        return "mse"  # a bounded output (images in [-1, 1]): regression, not logits
    if y.dim() >= 2 and y.shape[class_dim(y)] >= 2 and ends_in != "softmax":
        return "cross_entropy"
    if ends_in == "softmax":
        return "nll"  # on log(p): the cross-entropy of probabilities
    return "mse"


def _per_sample(draw: Callable[[tuple[int, ...]], torch.Tensor], shape: tuple[int, ...],
                keep: tuple[int, ...]) -> torch.Tensor:
    """Targets drawn for the dims ``keep`` (the batch, the channels) and repeated over the others.

    Random targets per position (every token of a sequence, every pixel of a mask) are not
    memorisable by design; targets per sample (and per channel) are, by any healthy model.
    """
    head = tuple(n if d in keep else 1 for d, n in enumerate(shape))
    return draw(head).expand(shape).contiguous()


def make_objective(kind: str, y: torch.Tensor, gen: torch.Generator, ends_in: str | None = None,
                   batch_dim: int = 0, teacher: torch.Tensor | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``loss(output)`` on fixed synthetic targets of the form ``kind`` expects.

    Targets are random per sample (``batch_dim``: the output's sample dim, 1 for time-first
    sequence models), or derived from ``teacher`` (the output of a re-drawn copy of the
    model on the same batch) for dense outputs: a per-pixel map must be a function of the
    input that a convolutional model can express, and a teacher's output is one by construction.
    """
    device = y.device
    if kind in CLASSIFICATION:
        dim = (class_dim(y) % y.dim()) if y.dim() >= 2 else 0
        classes = y.shape[dim] if y.dim() >= 2 else 1
        shape = list(y.shape)
        del shape[dim]
        sample_dim = batch_dim if batch_dim < dim else max(batch_dim - 1, 0)
        if teacher is not None:
            target = teacher.argmax(dim).to(device)
        else:
            target = _per_sample(lambda head: torch.randint(0, max(classes, 1), head, generator=gen),
                                 tuple(shape), (sample_dim,)).to(device)
        probabilities = kind == "nll" and ends_in == "softmax"

        def classify(out: torch.Tensor) -> torch.Tensor:
            scores = out.movedim(dim, -1).reshape(-1, classes).float()
            if probabilities:
                scores = scores.clamp_min(1e-12).log()
            flat = target.reshape(-1)
            return F.cross_entropy(scores, flat) if kind == "cross_entropy" else F.nll_loss(scores, flat)

        frequencies = torch.bincount(target.reshape(-1).cpu(), minlength=max(classes, 1)).float()
        frequencies = frequencies[frequencies > 0] / frequencies.sum()
        classify.constant_loss = float(-(frequencies * frequencies.log()).sum())  # type: ignore[attr-defined]
        return classify
    # Per sample and per channel: [B, C], [B, C, H, W], [B, T, C] and time-first [T, B, C].
    channel_dim = y.dim() - 1 if y.dim() == 3 else min(1, y.dim() - 1)
    keep = (batch_dim, channel_dim)
    if kind in BINARY:
        if teacher is not None:
            target = (teacher > teacher.median()).float().to(device)
        else:
            target = _per_sample(lambda head: torch.randint(0, 2, head, generator=gen).float(), tuple(y.shape),
                                 keep).to(device)
        mean = target.mean(dim=batch_dim, keepdim=True).clamp(1e-6, 1 - 1e-6)
        entropy = float(-(mean * mean.log() + (1 - mean) * (1 - mean).log()).mean())
        if kind == "bce":
            return _with_constant(lambda out: F.binary_cross_entropy(out.float().clamp(0.0, 1.0), target), entropy)
        return _with_constant(lambda out: F.binary_cross_entropy_with_logits(out.float(), target), entropy)
    if teacher is not None:
        target = teacher.float().to(device)
    else:
        target = _per_sample(lambda head: torch.randn(head, generator=gen), tuple(y.shape), keep).to(device)
    centre = target.median(dim=batch_dim, keepdim=True).values if kind == "l1" else target.mean(dim=batch_dim, keepdim=True)
    if kind == "l1":
        return _with_constant(lambda out: F.l1_loss(out.float(), target), float(F.l1_loss(centre.expand_as(target), target)))
    if kind == "smooth_l1":
        return _with_constant(lambda out: F.smooth_l1_loss(out.float(), target),
                              float(F.smooth_l1_loss(centre.expand_as(target), target)))
    return _with_constant(lambda out: F.mse_loss(out.float(), target), float(F.mse_loss(centre.expand_as(target), target)))


def _with_constant(objective: Callable[[torch.Tensor], torch.Tensor], constant: float) -> Callable:
    """Attach the loss of the best constant prediction (see TrainingRun.constant_loss)."""
    def loss(out: torch.Tensor) -> torch.Tensor:
        return objective(out)

    loss.constant_loss = constant  # type: ignore[attr-defined]
    return loss


def looks_like_probabilities(out: torch.Tensor) -> bool:
    """Rows in [0, 1] that sum to 1 along the class dim: a softmax output, whatever the graph says."""
    if out.dim() < 2 or out.shape[class_dim(out)] < 2:
        return False
    sums = out.float().sum(dim=class_dim(out))
    return bool(out.min() >= 0) and bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-4))


def loss_mismatch(kind: str, out: torch.Tensor, ends_in: str | None) -> str | None:
    """Why the file's loss cannot take this model's output (another model's loss, or another
    output's: an actor-critic's value loss is not for its action probabilities), or None."""
    if kind in REGRESSION and ends_in in ("softmax", "log_softmax"):
        return "takes real-valued targets and this output is a probability distribution"
    if kind == "bce" and ends_in not in ("sigmoid", "softmax"):
        low, high = float(out.min()), float(out.max())
        if low < 0 or high > 1:
            return f"takes probabilities and this output spans [{low:.3g}, {high:.3g}]"
    if kind in CLASSIFICATION and (out.dim() < 2 or out.shape[class_dim(out)] < 2):
        return f"takes class scores and this output has shape {tuple(out.shape)}"
    return None


__all__ = ["BINARY", "CLASSIFICATION", "REGRESSION", "class_dim", "looks_like_probabilities", "loss_mismatch",
           "make_objective", "match_loss", "primary_output"]

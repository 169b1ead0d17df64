"""The training probe's plan from the file's own training code: its optimizer, learning rate, loss and clipping.

In: the :class:`~actlint.source.pairing.ModelTraining` that concerns one model. Out: the
:class:`~actlint.probe.training.TrainingPlan` the training probe replays (defaults, and a
note, where the file does not say or an expression does not resolve).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from actlint.probe.training import TrainingPlan
from actlint.source.pairing import ModelTraining


def training_plan(training: ModelTraining) -> TrainingPlan:
    """The :class:`~actlint.probe.training.TrainingPlan` that replays ``training`` (the file's setup for one model)."""
    notes: list[str] = []
    loss = training.losses[0] if training.losses else None
    loss_kw: dict[str, Any] = dict(loss=loss.kind, loss_origin=f"the file (line {loss.line})") if loss else {}
    clip_kw = _clipping(training, notes)
    if (adversarial := training.adversarial) is not None:
        clip_kw["objective"] = adversarial.describe()
    use = training.optimizer()
    if use is None:
        return TrainingPlan(notes=tuple(notes), **loss_kw, **clip_kw)
    values, unresolved = training.hyperparameters(use)
    if unresolved:
        notes.append(f"{use.name} arguments not resolved to values (defaults used): {', '.join(unresolved)}")
    if not use.is_torch:
        return TrainingPlan(optimizer=use.name, optimizer_origin=f"the file (line {use.site.line})",
                            notes=tuple(notes), **loss_kw, **clip_kw)
    # The file's learning rate: a resolved value, or the class default when the call passes none
    # (that is the user's setup too); an lr expression that did not resolve is not known.
    lr_explicit = "lr" in values or "lr" not in unresolved
    if "lr" not in values:
        values["lr"] = _default_lr(use.name)
    ordered = (("lr", values.pop("lr")),) + tuple(values.items())
    return TrainingPlan(optimizer=use.name, hyperparameters=ordered, lr_explicit=lr_explicit,
                        optimizer_origin=f"the file (line {use.site.line})", notes=tuple(notes),
                        **loss_kw, **clip_kw)


def _clipping(training: ModelTraining, notes: list[str]) -> dict[str, Any]:
    for use in training.clipping:
        value, ok = training.resolver.value(use.limit, use.site.line)
        if ok and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return {"clip_value" if use.kind == "value" else "clip_norm": float(value)}
    if training.clipping or training.setup.trainer_clips:
        if training.clipping:
            notes.append("gradient clipping limit not resolved: clipped at norm 1.0")
        return {"clip_norm": 1.0}
    return {}


def _default_lr(name: str) -> float:
    try:
        default = inspect.signature(getattr(torch.optim, name).__init__).parameters["lr"].default
        return float(default)
    except (AttributeError, KeyError, TypeError, ValueError):
        return 1e-3


__all__ = ["training_plan"]

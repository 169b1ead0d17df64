"""What both ACT8xx families read: the model's training setup, where its sites are, and the training probe's report."""

from __future__ import annotations

from actlint.core.location import SourceLocation
from actlint.probe.training import TrainingReport
from actlint.rules.base import RuleContext
from actlint.source.pairing import ModelTraining, training_for
from actlint.source.training_setup import Site


def site_location(ctx: RuleContext, site: Site) -> SourceLocation:
    return SourceLocation(str(ctx.file.path), site.line, site.column)


def model_training(ctx: RuleContext) -> ModelTraining:
    return training_for(ctx.file, ctx.model)


def training_report(ctx: RuleContext) -> TrainingReport | None:
    probe = ctx.probe
    training = getattr(probe, "training", None) if probe is not None else None
    return training if training is not None and training.ok else None


def why_no_training(ctx: RuleContext) -> str:
    training = getattr(ctx.probe, "training", None) if ctx.probe is not None else None
    if training is None:
        return "the training probe did not run"
    return f"training probe {training.status}: {training.reason}"


__all__ = ["model_training", "site_location", "training_report", "why_no_training"]

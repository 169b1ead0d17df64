"""Pairing the file's training code with one model: which optimizer, loss, loop and clipping concern it.

A file may train several models (a GAN's generator and discriminator) or none; a site
concerns the model when it names the model (its class, module-level names, factory) or
stands in a scope that does. Parsed once per file, paired once per model.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Iterable

from actlint.loader.loaded import LoadedFile
from actlint.loader.provenance import module_construction_site
from actlint.source import losses
from actlint.source.adversarial import AdversarialUse
from actlint.source.resolver import Resolver
from actlint.source.training_setup import (
    ClippingUse, EvaluationUse, InputIssue, LoopUse, OptimizerUse, Site, TrainingSetup, read_training_setup,
)


@dataclass
class FileReading:
    """One file's training setup and loss uses, read once, and its pairings by model."""

    setup: TrainingSetup
    losses: list[losses.LossUse] | None = None
    models: dict[int, tuple[Any, "ModelTraining"]] = field(default_factory=dict)


#: Per loaded file (weak keys: a reading never outlives its file).
_READINGS: "weakref.WeakKeyDictionary[LoadedFile, FileReading]" = weakref.WeakKeyDictionary()


def concerns(site: Site, mine: set[str], everyone: set[str], extra: Iterable[str] = ()) -> bool:
    """Does a site concern the model known by ``mine``? (``extra``: names the call itself mentions.)"""
    extra = set(extra)
    direct = extra & (everyone | mine)
    if direct:
        return bool(direct & mine)
    return losses.applies_to(
        losses.LossUse("", "", site.line, site.column, site.placement, site.scope_names), mine, everyone)


#: Optimizer keywords the probe never replays (device-specific implementations, state handling).
_NOT_REPLAYED = frozenset({"params", "fused", "foreach", "capturable", "differentiable"})


@dataclass
class ModelTraining:
    """The parts of a file's training setup that concern one model, and the plan to replay it."""

    setup: TrainingSetup
    optimizers: list[OptimizerUse]
    clipping: list[ClippingUse]
    loops: list[LoopUse]
    evaluations: list[EvaluationUse]
    inputs: list[InputIssue]
    losses: list["losses.LossUse"]
    resolver: Resolver
    #: The names the file knows this model by (its class, module-level names, its factory).
    mine: frozenset[str] = frozenset()

    @property
    def trains(self) -> bool:
        """Does the file train this model (an optimizer for it, or a training loop)?"""
        return bool(self.optimizers or self.loops)

    @property
    def clips(self) -> bool:
        return bool(self.clipping) or self.setup.trainer_clips

    @property
    def adversarial(self) -> AdversarialUse | None:
        """The file's adversarial setup when this model is one of its players."""
        found = self.setup.adversarial
        if found is None:
            return None
        use = self.optimizer()
        names = set(self.mine) | (set(use.param_names) if use is not None else set())
        return found if names & found.players else None

    def optimizer(self) -> OptimizerUse | None:
        """The optimizer the probe replays: one that names this model (its parameters argument or
        its scope) before one that merely shares the file; torch.optim classes first."""
        ranked = sorted(self.optimizers, key=lambda o: (not (o.param_names | o.site.scope_names) & self.mine,
                                                         not o.is_torch))
        return ranked[0] if ranked else None

    def hyperparameters(self, use: OptimizerUse) -> tuple[dict[str, Any], list[str]]:
        """Resolved hyperparameters of ``use``, and the names that did not resolve."""
        values: dict[str, Any] = {}
        unresolved: list[str] = []
        for name, expr in use.arguments:
            if name in _NOT_REPLAYED:
                continue
            value, ok = self.resolver.value(expr, use.site.line)
            if ok and value is not None:
                values[name] = value
            else:
                unresolved.append(name)
        return values, unresolved


def training_for(file: Any, model: Any) -> ModelTraining:
    """The training setup of ``file`` that concerns ``model`` (parsed once per file, paired once per model)."""
    reading = _READINGS.get(file)
    if reading is None:
        reading = _READINGS[file] = FileReading(read_training_setup(file.source, file.namespace))
    key = id(model)
    if key in reading.models and reading.models[key][0] is model:
        return reading.models[key][1]
    setup = reading.setup
    site = module_construction_site(model)
    line = site.line if site is not None and site.file == str(file.path) else None
    mine = losses.model_identifiers(model, file.namespace, file.source, line)
    everyone = losses.all_model_identifiers(file.namespace) | mine
    if reading.losses is None:
        reading.losses = losses.find_losses(file.source, file.namespace)
    uses = reading.losses

    def keep(items: Iterable[Any], site_of: Any = lambda item: item.site, extra: Any = lambda item: ()) -> list:
        return [i for i in items if concerns(site_of(i), mine, everyone, extra(i))]

    training = ModelTraining(
        setup=setup,
        optimizers=keep(setup.optimizers, extra=lambda o: o.param_names),
        clipping=keep(setup.clipping),
        loops=keep(setup.loops),
        evaluations=keep(setup.evaluations),
        inputs=keep(setup.inputs),
        losses=[u for u in uses if losses.applies_to(u, mine, everyone)],
        resolver=Resolver(setup, file.namespace, model),
        mine=frozenset(mine),
    )
    reading.models[key] = (model, training)
    return training


__all__ = ["FileReading", "ModelTraining", "concerns", "training_for"]

"""The training probe: a few dozen real optimizer steps on one fixed synthetic batch.

``run_training_probe(model, inputs, plan, settings)`` answers "will it train?" the way a
practitioner checks it by hand: can the network, with the optimizer the file builds,
memorise one small batch? It returns an immutable :class:`TrainingReport`. It measures;
it never judges (ACT851-853 and ACT806 do, in :mod:`actlint.rules.families.training_measured`).

How it works, and why:

* **A copy.** The model is deep-copied once (the user's weights, ``.grad`` and optimizer
  state are never touched); every run starts from a saved copy of its initial state.
* **The file's setup.** :class:`TrainingPlan` carries what the file builds: the optimizer
  class and the hyperparameters that resolve to values, the loss kind and gradient
  clipping (the pipeline reads them in :mod:`actlint.source.training_setup`). Without an
  optimizer the probe uses Adam at 1e-3 and says so.
* **One fixed batch.** The example inputs (the gradient probe's first batch) and random
  targets of the form the loss expects (class indices for cross-entropy, 0/1 for BCE,
  standard normal values for regression losses), drawn from a fixed seed. A healthy model
  memorises one batch in a few dozen steps; one that cannot is broken whatever the data.
* **Measurements per step:** the loss (before the update), the global gradient norm, and
  at a few sampled steps each weight tensor's update-to-weight ratio
  ``||w_after - w_before|| / ||w_before||``.
* **Learning-rate sweep.** When the batch was not fitted, the same steps run again at
  other learning rates (decades away, toward the side the first run points to) until one
  fits: with the file's rate that is the trainable range ACT806 quotes; with a default
  rate it separates a slow setup from a model that cannot learn at all (ACT852).
  "Fits" is the measurement criterion ``sweep_fit`` (a loss reduction), passed in by the
  pipeline from ACT852's threshold so the probe and the rule agree.
* **Budget.** Steps scale to the model's cost, counted in FLOPs on the first step
  (``torch.utils.flop_counter``), not in seconds, so that the same model gets the same
  steps and the same findings on an idle or a busy machine: at least ``min_steps``
  within ``flop_budget``, the sweep within ``sweep_flop_budget``; a model whose
  ``min_steps`` alone would cost more is skipped with the reason. The wall-clock
  ``timeout`` is only a safety net.
"""

from __future__ import annotations

import copy
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from actlint.core.errors import one_line
from actlint.core.numbers import json_number, short_number
from actlint.probe.objectives import looks_like_probabilities, loss_mismatch, make_objective, match_loss, primary_output
from actlint.probe.batches import batch_of, resample
from actlint.probe.device import CUDA_SPEEDUP, resolve_device, rng_devices, to_device
from actlint.probe.copying import model_copy


DEFAULT_STEPS = 30
DEFAULT_MAX_STEPS = 60
DEFAULT_MIN_STEPS = 12
#: The FLOP rate the budgets assume for a CPU (FLOP-equivalents per second, parameters charged as
#: below): the cost model's prediction of wall time is FLOPs / this (bench/train_probe_cost.py).
CPU_FLOP_RATE = 5e10
#: FLOPs budgets on a CPU (about 6 s and 12 s at CPU_FLOP_RATE); CUDA gets 100x.
CPU_FLOP_BUDGET = 3e11
CPU_SWEEP_FLOP_BUDGET = 6e11
#: FLOP-equivalents charged per trainable parameter and step (the optimizer's update and the
#: memory-bound backward of large matrices): AlexNet's 61M parameters made a step take 1.2 s
#: here for 4.6 counted GFLOPs, where convolution-heavy models run at 50-190 GFLOP/s.
PARAMETER_COST = 1000
#: Steps at which update-to-weight ratios are measured: the first steps, as in real training.
#: Once the fixed batch is memorised (its loss under ``MEMORISED`` of the first) its gradient
#: vanishes, which fresh batches never let happen: those steps are not sampled.
RATIO_STEPS = frozenset({0, 1, 2, 4, 8, 16, 32, 48})
MEMORISED = 0.2


@dataclass(frozen=True)
class TrainingPlan:
    """What to train with: the file's optimizer, loss and clipping (or the defaults)."""

    optimizer: str = "Adam"  # a torch.optim class name
    hyperparameters: tuple[tuple[str, Any], ...] = (("lr", 1e-3),)
    #: True when the learning rate is the file's (a resolved value, or the default of the
    #: optimizer class the file builds without one).
    lr_explicit: bool = False
    #: Where the plan comes from, for messages: "the file (line 31)" or "default: ...".
    optimizer_origin: str = "default: the file builds no optimizer"
    loss: str | None = None  # a loss kind; None: matched to the output
    loss_origin: str = ""
    clip_norm: float | None = None
    clip_value: float | None = None
    #: An objective that is not a fixed loss on a fixed batch ("two models trained against each
    #: other (a GAN): netG and netD (line 50)"): the probe trains at the file's rate only.
    objective: str = ""
    notes: tuple[str, ...] = ()

    @property
    def lr(self) -> float | None:
        return dict(self.hyperparameters).get("lr")

    def describe(self, lr: float | None = None) -> str:
        """``SGD(lr=20, momentum=0.9)``."""
        params = dict(self.hyperparameters)
        if lr is not None:
            params["lr"] = lr
        inner = ", ".join(f"{k}={short_number(v)}" for k, v in params.items())
        return f"{self.optimizer}({inner})"


@dataclass(frozen=True)
class FitCriterion:
    """What counts as fitting the batch, stably: the rules' thresholds, shared by the sweep and the rules.

    A run fits when its loss falls by at least ``fraction`` below its baseline (ACT852's
    ``min-reduction``), never spikes to ``spike`` times the first loss, even if it recovers
    (ACT806's ``spike``), and does not grow persistently: to ``loss_growth`` times the first,
    staying above its start ``persistent_steps`` steps (ACT851's options).
    """

    fraction: float = 0.05
    spike: float = 20.0
    loss_growth: float = 3.0
    persistent_steps: int = 5

    def fits(self, run: "TrainingRun") -> bool:
        return run.fitted(self.fraction, self.spike, self.loss_growth, self.persistent_steps)


@dataclass(frozen=True)
class TrainingSettings:
    device: str = "auto"
    #: Steps of a run; a run that has not fitted the batch by then goes on to ``max_steps``
    #: (when the model is cheap enough), stopping as soon as it fits.
    steps: int = DEFAULT_STEPS
    max_steps: int = DEFAULT_MAX_STEPS
    #: The fewest steps an expensive model gets (more than the budget allows, if need be).
    min_steps: int = DEFAULT_MIN_STEPS
    #: FLOPs of training steps to aim for (about 6 s of a 2-core CPU; 100x on CUDA). Counted,
    #: not timed: the same model gets the same steps on a busy machine. None: by device.
    flop_budget: float | None = None
    #: FLOPs the whole probe may spend, sweep included; a model whose ``min_steps`` alone
    #: cost more is skipped (with the reason).
    sweep_flop_budget: float | None = None
    timeout: float = 60.0
    seed: int = 0
    #: What counts as fitting the batch: runs that do not fit start the sweep.
    fit: FitCriterion = FitCriterion()
    #: The batch size of inferred example inputs (finds the sample dim of time-first outputs).
    batch_size: int = 8
    #: Smaller example batches are resampled to this many samples (a batch of 2 is fitted by
    #: learning the label frequencies alone).
    min_batch: int = 8
    #: Decades tried by the learning-rate sweep, on each side.
    sweep_decades: int = 3


@dataclass(frozen=True)
class TrainingRun:
    """One run of the probe's steps at one learning rate."""

    lr: float | None
    losses: tuple[float, ...]
    grad_norms: tuple[float, ...]
    #: Step (0-based) of the first non-finite loss or gradient, or None.
    first_nonfinite_step: int | None
    #: Per weight tensor, the median update-to-weight ratio over the sampled steps.
    update_ratios: tuple[tuple[str, float], ...]
    #: The loss of the best constant prediction on the batch (the label entropy for
    #: cross-entropy, the target variance for MSE): what a model that ignores its input reaches.
    constant_loss: float = math.nan

    @property
    def initial_loss(self) -> float:
        return self.losses[0] if self.losses else math.nan

    @property
    def final_loss(self) -> float:
        """The mean of the last three finite losses (one noisy step does not decide)."""
        tail = [v for v in self.losses[-3:] if math.isfinite(v)]
        return sum(tail) / len(tail) if tail else math.nan

    @property
    def reduction(self) -> float:
        """How far below the baseline the loss got: ``1 - final / baseline`` (NaN when unknown).

        The baseline is the initial loss, or the constant prediction's loss when that is
        lower: learning the label frequencies (an output bias) is not fitting the batch.
        """
        first, last = self.initial_loss, self.final_loss
        if self.first_nonfinite_step is not None or not (math.isfinite(first) and math.isfinite(last)) or first <= 0:
            return math.nan
        baseline = min(first, self.constant_loss) if self.constant_loss > 0 else first
        return 1.0 - last / baseline

    @property
    def growth(self) -> float:
        """Largest finite loss over the initial one (inf when the loss went non-finite)."""
        if self.first_nonfinite_step is not None:
            return math.inf
        finite = [v for v in self.losses if math.isfinite(v)]
        if not finite or self.initial_loss <= 0:
            return math.nan
        return max(finite) / self.initial_loss

    @property
    def grad_growth(self) -> float:
        """Largest gradient norm over the first one."""
        finite = [g for g in self.grad_norms if math.isfinite(g)]
        if self.first_nonfinite_step is not None:
            return math.inf
        if not finite or finite[0] <= 0:
            return math.nan
        return max(finite) / finite[0]

    @property
    def peak_step(self) -> int:
        """The step of the largest loss."""
        return max(range(len(self.losses)), key=lambda i: self.losses[i])

    def steps_above(self, factor: float = 1.0) -> int:
        """Steps whose loss is above ``factor`` times the first (how long a rise lasted)."""
        first = self.initial_loss
        return sum(1 for v in self.losses[1:] if math.isfinite(v) and v > factor * first)

    def grew(self, loss_growth: float, persistent: int) -> bool:
        """Did the loss rise to ``loss_growth`` times the first and stay above its start ``persistent`` steps or more?

        A rise that lasts a step or two is how Adadelta and batch-norm networks often start:
        real runs (bench/real_training.py) spike 4-64x at step 1 and train to 98%.
        """
        return (math.isfinite(self.growth) and self.growth >= loss_growth
                and self.steps_above() >= min(persistent, max(len(self.losses) // 4, 2)))

    def fitted(self, fraction: float, spike: float = math.inf, loss_growth: float = math.inf,
               persistent: int = 5) -> bool:
        """Did the run fit the batch (loss down by ``fraction``) stably?

        Not when the loss went non-finite, spiked to ``spike`` times the first even briefly
        (Adam at lr=1: 222x at step 1, 11% accuracy in real training), or grew persistently.
        """
        if self.first_nonfinite_step is not None or not self.reduction >= fraction:
            return False
        return not (self.growth >= spike or self.grew(loss_growth, persistent))

    def median_ratio(self) -> float:
        values = sorted(r for _, r in self.update_ratios)
        return values[len(values) // 2] if values else math.nan

    def to_json(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "losses": [json_number(v) for v in self.losses],
            "grad_norms": [json_number(v) for v in self.grad_norms],
            "first_nonfinite_step": self.first_nonfinite_step,
            "loss_reduction": json_number(self.reduction),
            "constant_loss": json_number(self.constant_loss),
            "update_ratios": {name: json_number(r) for name, r in self.update_ratios},
        }


@dataclass(frozen=True)
class TrainingReport:
    """What the training probe measured on one model (immutable)."""

    status: str  # "ok", "skipped", "timeout" or "error"
    reason: str = ""
    optimizer: str = ""  # the optimizer as run: "SGD(lr=20, momentum=0.9)"
    optimizer_origin: str = ""
    loss: str = ""  # the loss kind as run
    loss_origin: str = ""
    clipping: str = ""  # "clip_grad_norm_(max_norm=0.25)" or ""
    device: str = "cpu"
    #: The floating dtype of the trained parameters ("float32"; "float16" for a .half() model).
    dtype: str = "float32"
    batch_size: int = 0
    #: Steps each run was given before it could go on (the default, fewer for an expensive model).
    steps: int = 0
    #: The default of ``steps``: a run given fewer cannot be judged as not fitting the batch.
    steps_wanted: int = DEFAULT_STEPS
    seconds: float = 0.0
    #: The run with the file's (or the default) learning rate.
    run: TrainingRun | None = None
    #: Runs at other learning rates (only when ``run`` did not fit), until one fits.
    sweep: tuple[TrainingRun, ...] = ()
    #: False when the sweep stopped at its FLOP budget before it found a rate that fits or
    #: tried them all: "no rate fits" is then not established.
    sweep_complete: bool = True
    lr_explicit: bool = False
    #: FLOPs the probe's steps cost (counted steps x the first step's count): its cost model.
    flops: float = 0.0
    #: The objective the probe recognised and does not judge by fitting one batch (TrainingPlan.objective).
    objective: str = ""
    #: What counts as fitting the batch (TrainingSettings.fit; the sweep stops at the first such run).
    fit: FitCriterion = FitCriterion()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.run is not None

    def fitting_lrs(self) -> list[float]:
        """Learning rates of the sweep that fitted the batch."""
        return sorted(r.lr for r in self.sweep if r.lr is not None and self.fits(r))

    def fits(self, run: TrainingRun) -> bool:
        return self.fit.fits(run)

    @classmethod
    def not_run(cls, status: str, reason: str, **kwargs: Any) -> "TrainingReport":
        return cls(status=status, reason=reason, **kwargs)

    def to_json(self) -> dict[str, Any]:
        """The ``training`` object of the probe's JSON (no wall time: documents stay reproducible)."""
        return {
            "status": self.status,
            "reason": self.reason,
            "optimizer": self.optimizer,
            "optimizer_origin": self.optimizer_origin,
            "loss": self.loss,
            "loss_origin": self.loss_origin,
            "clipping": self.clipping,
            "device": self.device,
            "dtype": self.dtype,
            "batch_size": self.batch_size,
            "steps": self.steps,
            "steps_wanted": self.steps_wanted,
            "flops": json_number(self.flops),
            "run": self.run.to_json() if self.run else None,
            "sweep": [r.to_json() for r in self.sweep],
            "sweep_complete": self.sweep_complete,
            "objective": self.objective,
            "notes": list(self.notes),
        }


# --- the probe --------------------------------------------------------------------------------


class _OutOfTime(Exception):
    pass


class _TooExpensive(Exception):
    pass


def _optimizer_class(name: str) -> type[torch.optim.Optimizer] | None:
    cls = getattr(torch.optim, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) else None


def _weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """Weight tensors whose update ratios are measured: matrices and kernels (not biases or norms)."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad and p.dim() >= 2]


def run_training_probe(model: nn.Module, inputs: tuple[Any, ...] | None, plan: TrainingPlan | None = None,
                       settings: TrainingSettings | None = None, *, ends_in: str | None = None) -> TrainingReport:
    """Train a copy of ``model`` for a few dozen steps on one fixed batch; never raises for model failures."""
    threads = torch.get_num_threads()
    try:
        return _training_probe(model, inputs, plan, settings, ends_in)
    finally:
        torch.set_num_threads(threads)  # a small model's steps run on one thread (see _Trainer.run)


def _training_probe(model: nn.Module, inputs: tuple[Any, ...] | None, plan: TrainingPlan | None,
                    settings: TrainingSettings | None, ends_in: str | None) -> TrainingReport:
    plan = plan or TrainingPlan()
    settings = settings or TrainingSettings()
    device = resolve_device(settings.device)
    scale = CUDA_SPEEDUP if device.type == "cuda" else 1.0
    settings = replace(settings, flop_budget=settings.flop_budget or CPU_FLOP_BUDGET * scale,
                       sweep_flop_budget=settings.sweep_flop_budget or CPU_SWEEP_FLOP_BUDGET * scale)
    base: dict[str, Any] = dict(optimizer_origin=plan.optimizer_origin, loss_origin=plan.loss_origin,
                                device=str(device), lr_explicit=plan.lr_explicit, objective=plan.objective,
                                fit=settings.fit)
    if inputs is None:
        return TrainingReport.not_run("skipped", "no example inputs", **base)
    cls = _optimizer_class(plan.optimizer)
    notes = list(plan.notes)
    if cls is None:
        notes.append(f"{plan.optimizer} is not a torch.optim optimizer: trained with Adam(lr=0.001) instead")
        plan = TrainingPlan(optimizer_origin=f"default: {plan.optimizer} is not a torch.optim class",
                            loss=plan.loss, loss_origin=plan.loss_origin, clip_norm=plan.clip_norm,
                            clip_value=plan.clip_value, objective=plan.objective)
        cls = torch.optim.Adam
    if not any(p.requires_grad for p in model.parameters()):
        return TrainingReport.not_run("skipped", "the model has no trainable parameters", **base)
    start = time.perf_counter()
    deadline = start + settings.timeout
    try:
        with torch.random.fork_rng(devices=rng_devices(device)):
            torch.manual_seed(settings.seed)
            gen = torch.Generator().manual_seed(settings.seed)
            student = model_copy(model).to(device).train()
            initial = copy.deepcopy(student.state_dict())
            batch = _fixed_batch(inputs, gen, settings, device, notes)
            with torch.no_grad():
                out = primary_output(student(*batch), need_grad=False)
            if out is None:
                return TrainingReport.not_run("skipped", "no floating output depends on trainable parameters", **base)
            batch, out = _smaller_images(student, batch, out, notes)
            if ends_in is None and looks_like_probabilities(out):
                ends_in = "softmax"  # the first of several outputs (the graph saw a raw one too)
            kind = _loss_kind(plan, out, ends_in, base)
            # The sample dim of the output: the one of the inferred batch size (time-first RNNs: dim 1).
            batch_dim = 1 if (out.dim() >= 3 and out.shape[0] != settings.batch_size
                              and out.shape[1] == settings.batch_size) else 0
            teacher = _teacher_output(student, batch, gen) if out.dim() >= 4 else None
            objective = make_objective(kind, out, gen, ends_in, batch_dim, teacher)
            hyper = dict(plan.hyperparameters)
            fits = settings.fit.fits
            trainer = _Trainer(student, cls, hyper, objective, batch, plan, deadline, fits)
            first, steps, max_steps = trainer.run(plan.lr, settings.steps, settings.max_steps, settings=settings)
            # Not fitted: the same steps at other learning rates. With the file's rate that is
            # ACT806's evidence; with a default one it tells a slow optimizer from a model that
            # cannot learn at any rate (ACT852).
            sweep, sweep_complete = ([], True)
            if plan.objective:
                # A player's loss moves with its opponent: fitting one batch says nothing of its rate.
                notes.append(f"recognised {plan.objective}: trained at the file's rate only, for non-finite values")
            elif plan.lr and not fits(first):
                sweep, sweep_complete = _sweep(trainer, first, plan.lr, (steps, max_steps), initial, settings, notes)
            if trainer.cut_short:
                notes.append(trainer.cut_short)
    except _TooExpensive as exc:
        return TrainingReport.not_run("skipped", str(exc), seconds=time.perf_counter() - start, **base)
    except _OutOfTime:
        return TrainingReport.not_run("timeout", f"exceeded the training probe's time budget of {settings.timeout:g}s",
                                      seconds=time.perf_counter() - start, **base)
    except Exception as exc:  # noqa: BLE001 - the user's model raised: report it, keep the rest
        return TrainingReport.not_run("error", f"the model raised during the training probe: {one_line(exc)}",
                                      seconds=time.perf_counter() - start, **base)
    clipping = (f"clip_grad_norm_(max_norm={short_number(plan.clip_norm)})" if plan.clip_norm is not None
                else f"clip_grad_value_(clip_value={short_number(plan.clip_value)})" if plan.clip_value is not None else "")
    dtype = next((str(p.dtype).replace("torch.", "") for p in model.parameters() if p.is_floating_point()), "float32")
    return TrainingReport(
        status="ok", optimizer=plan.describe(), loss=kind, clipping=clipping, dtype=dtype, batch_size=batch_of(batch),
        steps=steps, steps_wanted=settings.steps, sweep_complete=sweep_complete,
        seconds=time.perf_counter() - start, run=first, sweep=tuple(sweep), notes=tuple(notes),
        flops=trainer.step_flops * trainer.steps_done, **base,
    )


def _fixed_batch(inputs: tuple[Any, ...], gen: torch.Generator, settings: TrainingSettings, device: torch.device,
                 notes: list[str]) -> tuple[Any, ...]:
    """The one batch the probe trains on: the example inputs, resampled up to ``min_batch`` samples.

    Two samples are memorised by learning the label frequencies alone: the fixed batch gets
    at least ``min_batch`` samples, drawn like the example inputs.
    """
    old_batch = batch_of(inputs)
    if old_batch >= settings.min_batch:
        return to_device(inputs, device)
    notes.append(f"the batch of {old_batch} example inputs was resampled to {settings.min_batch} samples")
    return to_device(resample(inputs, gen, settings.min_batch, old_batch), device)


#: Steps cheaper than this (FLOP-equivalents) run on one CPU thread.
SMALL_STEP_FLOPS = 2e8


def device_is_cpu(params: list[torch.Tensor]) -> bool:
    return all(p.device.type == "cpu" for p in params)


#: Steps at which a run that has clearly fitted its batch stops before ``steps``: the loss at least
#: ``CLEAR_FIT`` below its baseline, and never above 1.5x its start (nothing unstable on the way).
EARLY_CHECKS = frozenset({12, 20})
CLEAR_FIT = 0.5


def _clearly_fitted(run: TrainingRun) -> bool:
    return run.first_nonfinite_step is None and run.reduction >= CLEAR_FIT and run.growth < 1.5


#: Fully convolutional models train on images this small (larger sides are halved): fitting one
#: batch does not depend on the resolution, and the steps cost 4-16x less.
SMALL_SIDE = 32


def _smaller_images(model: nn.Module, batch: tuple[Any, ...], out: torch.Tensor,
                    notes: list[str]) -> tuple[tuple[Any, ...], torch.Tensor]:
    """The batch at a smaller resolution when the model gives the same output shape on it."""
    if len(batch) != 1 or not isinstance(batch[0], torch.Tensor) or batch[0].dim() not in (4, 5) \
            or not batch[0].is_floating_point():
        return batch, out
    x = batch[0]
    sides = tuple(x.shape[2:])
    step = 1
    while min(sides) // (2 * step) >= SMALL_SIDE:
        step *= 2
    if step == 1:
        return batch, out
    # Every step-th pixel: the same distribution of values, fewer of them.
    small = x[(slice(None), slice(None)) + (slice(None, None, step),) * len(sides)].contiguous()
    try:
        with torch.no_grad():
            small_out = primary_output(model(small), need_grad=False)
    except Exception:  # noqa: BLE001 - a fixed-resolution model (ViT, a flatten into Linear): keep the size
        return batch, out
    if small_out is None or small_out.shape != out.shape:
        return batch, out
    notes.append(f"trained on {'x'.join(map(str, small.shape[2:]))} inputs instead of {'x'.join(map(str, sides))}: "
                 f"the model is fully convolutional (the same output shape), and fitting one batch does not "
                 f"depend on the resolution")
    return (small,), small_out


def _loss_kind(plan: TrainingPlan, out: torch.Tensor, ends_in: str | None, base: dict[str, Any]) -> str:
    """The file's loss when it fits the output, else one matched to the output (``base`` says why)."""
    kind = plan.loss or match_loss(out, ends_in)
    mismatch = loss_mismatch(kind, out, ends_in) if plan.loss else None
    if mismatch:
        # A GAN's BCE takes the discriminator's output, not the generator's; an
        # actor-critic's value loss takes its second output, not the action probabilities.
        kind = match_loss(out, ends_in)
        base["loss_origin"] = f"matched to the output {tuple(out.shape)}: the file's {plan.loss} loss {mismatch}"
    elif plan.loss is None:
        base["loss_origin"] = f"matched to the output {tuple(out.shape)}: the file uses no loss actlint knows"
    return kind


def _sweep(trainer: "_Trainer", first: TrainingRun, lr: float, steps: tuple[int, int], initial: dict[str, Any],
           settings: TrainingSettings, notes: list[str]) -> tuple[list[TrainingRun], bool]:
    """The same steps at other learning rates, until one fits or the sweep's FLOP budget is spent."""
    wanted, max_steps = steps
    sweep: list[TrainingRun] = []
    spent = trainer.step_flops * len(first.losses)
    for rate in _sweep_order(first, lr, settings):
        if spent + trainer.step_flops * max_steps > (settings.sweep_flop_budget or math.inf):
            notes.append(f"learning-rate sweep stopped after {len(sweep)} of "
                         f"{2 * settings.sweep_decades} rates: over its budget of "
                         f"{settings.sweep_flop_budget / 1e9:.3g} GFLOPs")
            return sweep, False
        spent += trainer.step_flops * max_steps
        trainer.model.load_state_dict(initial)
        run, _, _ = trainer.run(rate, wanted, max_steps)
        sweep.append(run)
        if trainer.fits(run):
            break
    return sweep, True


def _teacher_output(model: nn.Module, batch: tuple[Any, ...], gen: torch.Generator) -> torch.Tensor | None:
    """The output of a copy of ``model`` whose weight tensors are re-drawn at the same scale.

    Dense outputs (images, masks) get targets the architecture can express: those of
    another network of the same shape (the teacher-student setup).
    """
    teacher = model_copy(model)
    with torch.no_grad():
        for p in teacher.parameters():
            if p.dim() >= 2:
                std = float(p.float().std()) or 1.0 / math.sqrt(max(p[0].numel(), 1))
                p.copy_(torch.randn(p.shape, generator=gen).to(device=p.device, dtype=p.dtype) * std)
        out = primary_output(teacher(*batch), need_grad=False)
    if out is None:
        return None
    # The input-dependent part at unit scale: a teacher whose biases dominate would make
    # learning a constant look like fitting.
    out = out.detach().float()
    centred = out - out.mean(dim=0, keepdim=True)
    return centred / centred.std().clamp_min(1e-12)


def _sweep_order(first: TrainingRun, lr: float, settings: TrainingSettings) -> list[float]:
    """Learning rates to try after a run that did not fit: the likelier side first.

    A loss that went non-finite or grew, or updates as large as the weights, point to a
    learning rate too high; a loss that barely moved with tiny updates, to one too low.
    """
    too_high = (first.first_nonfinite_step is not None or first.growth > 1.5
                or (math.isfinite(first.median_ratio()) and first.median_ratio() > 0.1))
    down = [float(f"{lr / 10 ** k:.6g}") for k in range(1, settings.sweep_decades + 1)]
    up = [float(f"{lr * 10 ** k:.6g}") for k in range(1, settings.sweep_decades + 1)]
    return down + up[:1] if too_high else up + down[:1]


class _Trainer:
    """The probe's training loop, measured."""

    def __init__(self, model: nn.Module, cls: type, hyper: dict[str, Any], objective: Callable, batch: tuple,
                 plan: TrainingPlan, deadline: float, fits: Callable[[TrainingRun], bool]) -> None:
        self.model, self.cls, self.hyper, self.objective = model, cls, hyper, objective
        self.batch, self.plan, self.deadline, self.fits = batch, plan, deadline, fits
        self.step_flops = 0.0  # forward + backward of one step (torch.utils.flop_counter)
        self.steps_done = 0  # over every run (the FLOPs spent: steps_done x step_flops)
        self.cut_short = ""
        self._started = time.perf_counter()

    def run(self, lr: float | None, steps: int, max_steps: int, *, settings: TrainingSettings | None = None
            ) -> tuple[TrainingRun, int, int]:
        """Train ``steps`` steps; if the batch is not fitted yet, go on to ``max_steps`` (stopping once it is).

        With ``settings`` (the first run) the step counts are scaled to the model's cost after two
        steps. Returns the run and the step counts used (for the next runs at other rates).
        """
        model = self.model
        hyper = dict(self.hyper)
        if lr is not None:
            hyper["lr"] = lr
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = self.cls(params, **hyper)
        weights = _weights(model)
        losses: list[float] = []
        norms: list[float] = []
        ratios: dict[str, list[float]] = {}
        nonfinite: int | None = None
        step = 0
        while step < max_steps:
            if step >= steps and (step - steps) % 10 == 0 and self.fits(self._result(lr, losses, norms, None, ratios)):
                break  # fitted: a healthy but slow setup needed more than the first steps
            if step in EARLY_CHECKS and step < steps and _clearly_fitted(self._result(lr, losses, norms, None, ratios)):
                break  # a healthy setup memorises its batch in a few steps: the rest would measure nothing
            if time.perf_counter() > self.deadline:
                raise _OutOfTime
            tick = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            counter = FlopCounterMode(display=False) if settings is not None and step == 0 else nullcontext()
            with counter:
                out = primary_output(model(*self.batch))
                if out is None:
                    raise RuntimeError("no floating output depends on trainable parameters")
                loss = self.objective(out)
                loss.backward()
            if isinstance(counter, FlopCounterMode):
                # Matmuls and convolutions are counted; the optimizer's element-wise update of
                # every parameter (memory-bound) is charged at a calibrated rate per parameter.
                self.step_flops = float(counter.get_total_flops()) + PARAMETER_COST * sum(p.numel() for p in params)
                budget = settings.sweep_flop_budget or math.inf  # type: ignore[union-attr]
                if self.step_flops * settings.min_steps > budget:  # type: ignore[union-attr]
                    raise _TooExpensive(
                        f"one training step costs {self.step_flops / 1e9:.3g} GFLOPs: "
                        f"{settings.min_steps} steps would exceed the training probe's budget of "  # type: ignore[union-attr]
                        f"{budget / 1e9:.3g} GFLOPs on this device")
            grads = [p.grad for p in params if p.grad is not None]
            if self.plan.clip_norm is not None:
                norm = torch.nn.utils.clip_grad_norm_(params, self.plan.clip_norm)
            else:
                norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else torch.zeros(())
                if self.plan.clip_value is not None:
                    torch.nn.utils.clip_grad_value_(params, self.plan.clip_value)
            values = torch.stack([loss.detach().float(), norm.detach().float().to(loss.device)]).tolist()
            losses.append(values[0])
            norms.append(values[1])
            if not (math.isfinite(values[0]) and math.isfinite(values[1])):
                nonfinite = step
                break
            # The first three steps always (a zero-initialised residual branch gets its first gradient
            # at step 1), later ones while the batch is not yet memorised.
            sampled = step in RATIO_STEPS and (step <= 2 or values[0] >= MEMORISED * losses[0])
            before = [p.detach().clone() for _, p in weights] if sampled else None
            optimizer.step()
            if before is not None:
                _record_ratios(weights, before, ratios)
            step += 1
            self.steps_done += 1
            if settings is not None and step == 2:
                self._stretch_deadline(time.perf_counter() - tick, settings)
            if settings is not None and step == 1:
                if self.step_flops < SMALL_STEP_FLOPS and device_is_cpu(params):
                    # Tiny steps gain nothing from intra-op threads and lose much to them on a busy
                    # machine (a 10-layer MLP's backward went from 1 to 17 ms at load 5).
                    torch.set_num_threads(1)
                # Scale the run to the model's cost, counted in FLOPs (not seconds: the same
                # model gets the same steps however busy the machine is).
                affordable = int((settings.flop_budget or math.inf) / max(self.step_flops, 1.0)) \
                    if self.step_flops else max_steps
                if affordable < steps:
                    new = max(settings.min_steps, affordable)
                    self.cut_short = (f"{new} of {steps} training steps: one step costs "
                                      f"{self.step_flops / 1e9:.3g} GFLOPs, over the training probe's budget of "
                                      f"{settings.flop_budget / 1e9:.3g} GFLOPs")
                    steps = max_steps = new
                else:
                    max_steps = min(max_steps, max(steps, affordable))
        optimizer.zero_grad(set_to_none=True)
        del optimizer
        return self._result(lr, losses, norms, nonfinite, ratios), steps, max_steps

    def _stretch_deadline(self, step_seconds: float, settings: TrainingSettings) -> None:
        """Move the wall-clock safety net out to what the FLOP budget allows at this machine's pace.

        The steps are chosen by FLOPs, so a busy machine runs the same steps more slowly: the
        deadline follows the measured pace (4x the budgeted steps at the second step's speed),
        so that load never cuts a measurement the budget admitted.
        """
        budget = settings.sweep_flop_budget or settings.flop_budget or math.inf
        planned = min(budget / max(self.step_flops, 1.0), settings.max_steps * (2 * settings.sweep_decades + 1))
        if math.isfinite(planned):
            self.deadline = max(self.deadline, self._started + 4 * planned * step_seconds)

    def _result(self, lr: float | None, losses: list[float], norms: list[float], nonfinite: int | None,
                ratios: dict[str, list[float]]) -> TrainingRun:
        constant = float(getattr(self.objective, "constant_loss", math.nan))
        medians = tuple((name, sorted(v)[len(v) // 2]) for name, v in ratios.items() if v)
        return TrainingRun(lr, tuple(losses), tuple(norms), nonfinite, medians, constant)


def _record_ratios(weights: list[tuple[str, nn.Parameter]], before: list[torch.Tensor],
                   ratios: dict[str, list[float]]) -> None:
    with torch.no_grad():
        after = [p.detach() for _, p in weights]
        deltas = torch._foreach_sub(after, before)
        delta_norms = torch.stack(torch._foreach_norm(deltas)).tolist()
        weight_norms = torch.stack(torch._foreach_norm(before)).tolist()
    for (name, _), d, w in zip(weights, delta_norms, weight_norms):
        if w > 0 and math.isfinite(d):
            ratios.setdefault(name, []).append(d / w)


__all__ = ["FitCriterion", "TrainingPlan", "TrainingSettings", "TrainingRun", "TrainingReport", "run_training_probe",
           "match_loss", "make_objective", "primary_output"]

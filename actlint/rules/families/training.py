"""ACT8xx: the training setup (static, from the file's training code) and the training probe (measured).

Static rules (ACT801-ACT805) read :func:`actlint.source.training_setup.training_for`: the
optimizers, clipping, training loops, evaluation functions and input transforms of the
user's file that concern the model. Measured rules (ACT806, ACT851-ACT853) judge the
training probe's :class:`~actlint.probe.training.TrainingReport`.

Calibration (``python bench/train_calibration.py`` prints the agreement table and
margins; measured here on an MLP, a BN CNN and an LSTM classifier under learning-rate
sweeps, and on planted bugs next to their repaired twins, against 300 real training
steps on a teacher task: 41 of 41 verdicts agree):

* Loss reduction below the baseline (the initial loss, or the best constant prediction's,
  which learning the label frequencies alone reaches): planted bugs that cannot learn
  (constant init, dead ReLUs, a 10-layer sigmoid stack) stay at -0.5..-0.01; a run stops as
  soon as it clears ACT852's ``min-reduction`` (0.05) after its first 30 steps, so healthy
  setups read 0.06-1.0 there (slow ones needed more steps).
* Loss growth (largest loss over the first): healthy 1.0-1.33; too-high learning rates
  4.7 to 1e11 or non-finite. ACT851's ``loss-growth`` 3.
* Gradient-norm growth of unclipped recurrent models (ACT802's confirmation): healthy up
  to 2.9 (LSTM, SGD lr 1); unstable 8.7-1e5 (LSTM with Adam 0.1: 8.7, where the loss still
  falls on one batch). ACT802's ``gradient-growth`` 5. It is no divergence criterion: the
  gradient norm of feed-forward nets memorising a batch grows 7-60x (torchvision's
  MobileNetV3, EfficientNet, SqueezeNet) and a healthy tutorial LSTM's (Adam 0.01) 9x.
* Median update-to-weight ratio: healthy 1.8e-3 to 7.8e-2 (the "1e-3 rule" is for late
  training; early steps are larger); learning rates 100x too low 5e-6 to 1e-4. ACT853's
  ``low`` 3e-4 and ``high`` 0.5.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch.nn as nn

from actlint.core.findings import Finding, ProbeStatus, ProbeVerdict, Severity
from actlint.core.location import SourceLocation
from actlint.rules.base import Example, Option, Rule, RuleContext
from actlint.core.numbers import json_number, short_number
from actlint.probe.training import TrainingReport, TrainingRun
from actlint.source.training_setup import ModelTraining, Site, training_for

_RECURRENT = (nn.RNNBase, nn.RNNCellBase)
_TRAIN_MODE_LAYERS = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)


def _loc(ctx: RuleContext, site: Site) -> SourceLocation:
    return SourceLocation(str(ctx.file.path), site.line, site.column)


def _training(ctx: RuleContext) -> ModelTraining:
    return training_for(ctx.file, ctx.model)


class _Static(Rule):
    """A training-setup rule: reads the file's training code, needs no graph."""

    requires = frozenset()


class GradientsNeverZeroed(_Static):
    id = "ACT801"
    name = "gradients-never-zeroed"
    severity = Severity.ERROR
    summary = "A training loop calls backward() and step() but never zeroes the gradients."
    what = (
        "Finds the innermost loops of the file that call ``backward()`` (or Lightning's "
        "``manual_backward``, ``scaler.scale(loss).backward()``) and an optimizer ``step()``, following "
        "calls into the file's own helper functions, and checks that the same loop zeroes the "
        "gradients: ``optimizer.zero_grad()``, ``model.zero_grad()``, ``p.grad = None`` or "
        "``p.grad.zero_()``. Gradient accumulation that zeroes every k steps (inside an ``if``) is fine."
    )
    why = (
        "PyTorch adds each backward pass into ``.grad``. Without zeroing, step k applies the sum of "
        "all k gradients so far: the effective learning rate grows every step and the updates point "
        "at the average of stale gradients, so the loss first falls, then diverges."
    )
    instead = (
        "Call ``optimizer.zero_grad(set_to_none=True)`` once per iteration, before ``backward()``. "
        "To accumulate over k micro-batches, zero right after each ``step()``."
    )
    valid = (
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            criterion = nn.CrossEntropyLoss()

            def train(batches):
                for x, y in batches:
                    optimizer.zero_grad()
                    loss = criterion(model(x), y)
                    loss.backward()
                    optimizer.step()
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
            ACCUMULATE = 4

            def train(batches):
                for i, (x, y) in enumerate(batches):
                    loss = nn.functional.cross_entropy(model(x), y) / ACCUMULATE
                    loss.backward()
                    if (i + 1) % ACCUMULATE == 0:
                        optimizer.step()
                        optimizer.zero_grad(set_to_none=True)
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            criterion = nn.CrossEntropyLoss()

            def train(batches):
                optimizer.zero_grad()
                for x, y in batches:
                    loss = criterion(model(x), y)
                    loss.backward()
                    optimizer.step()
            """,
            line=12,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        for loop in _training(ctx).loops:
            if loop.zeroes:
                continue
            clue = (f"; zero_grad() runs once, before the loop (line {loop.zeroed_before.line}), not per step"
                    if loop.zeroed_before else "")
            yield ctx.finding(
                f"the loop at line {loop.site.line} calls backward() and step() (line {loop.step.line}) but never "
                f"zeroes gradients: each step applies the sum of every gradient so far{clue}",
                location=_loc(ctx, loop.backward),
            )


class RNNWithoutClipping(_Static):
    id = "ACT802"
    name = "rnn-without-clipping"
    severity = Severity.WARNING
    summary = "A recurrent model (RNN/LSTM/GRU) is trained without gradient clipping."
    what = (
        "Fires when the model contains nn.RNN, nn.LSTM, nn.GRU or a recurrent cell, the file trains it "
        "(an optimizer over its parameters, or a training loop), and nothing in the file clips "
        "gradients: no ``clip_grad_norm_``/``clip_grad_value_``, no ``gradient_clip_val`` (Lightning), "
        "no HF Trainer (which clips at ``max_grad_norm=1.0`` by default). The training probe confirms it "
        "when the gradient norm grows across its steps or the loss diverges, and refutes it otherwise."
    )
    why = (
        "Backpropagation through time multiplies by the recurrent Jacobian once per step: on long "
        "sequences the gradient norm occasionally explodes, and one such step throws the weights far "
        "from where they were (the loss jumps, or becomes NaN). Clipping the norm is the standard fix "
        "(Pascanu et al., 2013)."
    )
    instead = (
        "Clip between ``backward()`` and ``step()``: "
        "``torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)`` "
        "(or ``Trainer(gradient_clip_val=1.0)`` in Lightning)."
    )
    references = ("https://arxiv.org/abs/1211.5063",)
    confirmed_by = "training probe"
    options = {
        "gradient-growth": Option(5.0, "Confirm when the probe's gradient norm grows by at least this factor."),
    }
    valid = (
        Example(
            """
            import torch
            import torch.nn as nn

            class Tagger(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lstm = nn.LSTM(16, 32, batch_first=True)
                    self.head = nn.Linear(32, 5)

                def forward(self, x):
                    return self.head(self.lstm(x)[0])

            model = Tagger()
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

            def train(batches):
                for x, y in batches:
                    optimizer.zero_grad()
                    loss = nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
                    optimizer.step()
            """
        ),
        Example(
            """
            import torch.nn as nn

            class Encoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.gru = nn.GRU(16, 32, batch_first=True)

                def forward(self, x):
                    return self.gru(x)[0]
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch
            import torch.nn as nn

            class Tagger(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lstm = nn.LSTM(16, 32, batch_first=True)
                    self.head = nn.Linear(32, 5)

                def forward(self, x):
                    return self.head(self.lstm(x)[0])

            model = Tagger()
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

            def train(batches):
                for x, y in batches:
                    optimizer.zero_grad()
                    loss = nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten())
                    loss.backward()
                    optimizer.step()
            """,
            line=21,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        recurrent = sorted({type(m).__name__ for m in ctx.model.modules() if isinstance(m, _RECURRENT)})
        if not recurrent:
            return
        training = _training(ctx)
        if not training.trains or training.clips:
            return
        site = training.loops[0].step if training.loops else training.optimizer().site  # type: ignore[union-attr]
        yield ctx.finding(
            f"the model ({', '.join(recurrent)}) is trained without gradient clipping: one exploding "
            f"gradient through time can throw the weights far off (clip before step())",
            location=_loc(ctx, site),
        )

    def confirm(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        training = _training_report(ctx)
        if training is None:
            return super().confirm(finding, ctx) if ctx.probe is None else ProbeVerdict(
                ProbeStatus.NOT_PROBED, f"not probed: {_why_no_training(ctx)}")
        run = training.run
        assert run is not None
        growth = run.grad_growth
        metrics = {"gradient_growth": json_number(growth), "loss_growth": json_number(run.growth), "steps": len(run.losses)}
        if run.first_nonfinite_step is not None:
            return ProbeVerdict(ProbeStatus.CONFIRMED, f"training probe: non-finite at step {run.first_nonfinite_step} "
                                                       f"without clipping", metrics)
        if math.isfinite(growth) and growth >= self.option("gradient-growth"):
            return ProbeVerdict(ProbeStatus.CONFIRMED, f"training probe: gradient norm grew {short_number(growth)}x over "
                                                       f"{len(run.losses)} steps", metrics)
        return ProbeVerdict(ProbeStatus.REFUTED, f"training probe: gradient norm grew at most {short_number(growth)}x over "
                                                 f"{len(run.losses)} steps (threshold {self.option('gradient-growth'):g}x)",
                            metrics)


class AdamWeightDecay(_Static):
    id = "ACT803"
    name = "adam-weight-decay"
    severity = Severity.INFO
    summary = "Adam with weight_decay > 0: L2 through Adam's adaptive scaling is not decoupled weight decay."
    what = "Fires on ``torch.optim.Adam(..., weight_decay=x)`` with x > 0 (a literal or a resolved value)."
    why = (
        "Adam adds ``weight_decay * w`` to the gradient, which is then divided by the running RMS of "
        "the gradient: weights with large gradients are barely decayed and weights with small ones "
        "are decayed hard. That is not the regularisation the hyperparameter suggests, and it "
        "generalises worse than decoupled decay (Loshchilov & Hutter, 2019)."
    )
    instead = "Use ``torch.optim.AdamW`` with the same weight_decay (typically 0.01-0.1 for AdamW)."
    references = ("https://arxiv.org/abs/1711.05101",)
    valid = (
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0)
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch
            import torch.nn as nn

            WEIGHT_DECAY = 5e-4
            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=WEIGHT_DECAY)
            """,
            line=6,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        training = _training(ctx)
        for use in training.optimizers:
            if use.name != "Adam":
                continue
            values, _ = training.hyperparameters(use)
            decay = values.get("weight_decay")
            if isinstance(decay, (int, float)) and not isinstance(decay, bool) and decay > 0:
                yield ctx.finding(
                    f"Adam(weight_decay={decay:g}) applies L2 through the adaptive scaling of Adam, which is not "
                    f"decoupled weight decay: use AdamW(weight_decay=...)",
                    location=_loc(ctx, use.site),
                )


class UnnormalizedInputs(_Static):
    id = "ACT804"
    name = "unnormalized-inputs"
    severity = Severity.WARNING
    summary = "Images are fed as 0-255 floats (warning), or ToTensor() is used without Normalize (info)."
    what = (
        "Warning: the file reads images as 8-bit integers (``read_image``, ``cv2.imread``, "
        "``Image.open``, a torchvision dataset's ``.data``, ``uint8`` arrays) and casts them to float "
        "(``.float()``, ``.to(torch.float32)``) without scaling anywhere (no ``/ 255``, ``.div(255)``, "
        "``ToTensor``, ``ConvertImageDtype``, ``ToDtype(scale=True)``, ``Normalize``). Info: a "
        "``ToTensor()`` pipeline (inputs in [0, 1]) with no ``Normalize`` in the file, unless the file "
        "uses a BCE loss (a VAE reconstructs [0, 1] pixels as BCE targets)."
    )
    why = (
        "Inputs of 0-255 make the first layer's pre-activations ~100x larger than its init assumes: "
        "activations saturate or explode and the first layer's gradients dwarf the others, so the "
        "learning rate that suits the rest is far too large for it. [0, 1] inputs are safe but not "
        "centred: per-channel mean/std normalization makes optimisation noticeably easier."
    )
    instead = (
        "Scale to [0, 1] (``x.float() / 255``, ``v2.ToDtype(torch.float32, scale=True)``) and normalise "
        "per channel: ``transforms.Normalize(mean, std)`` with the dataset's statistics."
    )
    options = {
        "no-normalize-severity": Option("info", "Severity of the ToTensor-without-Normalize case."),
    }
    valid = (
        Example(
            """
            import numpy as np
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

            def load(path):
                images = np.fromfile(path, dtype=np.uint8).reshape(-1, 1, 28, 28)
                return torch.from_numpy(images).float() / 255.0
            """
        ),
    )
    invalid = (
        Example(
            """
            import numpy as np
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

            def load(path):
                images = np.fromfile(path, dtype=np.uint8).reshape(-1, 1, 28, 28)
                return torch.from_numpy(images).float()
            """,
            line=9,
        ),
        Example(
            """
            import torch.nn as nn

            try:
                from torchvision import transforms
            except ImportError:
                transforms = None

            model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))

            def pipeline():
                return transforms.Compose([transforms.ToTensor()])
            """,
            line=11,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        for issue in _training(ctx).inputs:
            if issue.kind == "unscaled-cast":
                yield ctx.finding(
                    f"images cast to float without scaling ({issue.detail}): the network sees inputs up to 255; "
                    f"divide by 255 and normalise per channel",
                    location=_loc(ctx, issue.site),
                )
            else:
                finding = ctx.finding(
                    f"{issue.detail} but the file never normalises (no Normalize(mean, std)): inputs are not "
                    f"centred", location=_loc(ctx, issue.site))
                if "severity" not in vars(self):  # a user override applies to both cases
                    finding = finding.with_severity(Severity.parse(self.option("no-normalize-severity")))
                yield finding


class EvalInTrainMode(_Static):
    id = "ACT805"
    name = "eval-in-train-mode"
    severity = Severity.WARNING
    summary = "Evaluation runs with dropout/batch-norm in training mode, or without torch.no_grad()."
    what = (
        "Finds the file's evaluation functions (named evaluate, validate, test, predict, inference...; "
        "not pytest's ``test_*`` or Lightning's ``*_step``, which Lightning puts in eval mode itself) "
        "that call a model inside a loop, and checks that the function, or a function calling it, "
        "sets ``model.eval()`` (when the model has dropout or batch-norm layers) and runs under "
        "``torch.no_grad()`` / ``torch.inference_mode()``."
    )
    why = (
        "In training mode dropout keeps dropping units and batch-norm normalises with the evaluation "
        "batch's statistics (and updates its running averages with them): the metrics are noisy, "
        "depend on the batch size and are worse than the model. Without no_grad, autograd records "
        "the whole evaluation graph: memory grows with the batch and evaluation is slower."
    )
    instead = "Wrap evaluation in ``model.eval()`` and ``with torch.no_grad():``, and call ``model.train()`` afterwards."
    valid = (
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))

            @torch.no_grad()
            def evaluate(loader):
                model.eval()
                correct = 0
                for x, y in loader:
                    correct += (model(x).argmax(1) == y).sum().item()
                model.train()
                return correct
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))

            def evaluate(loader):
                correct = 0
                for x, y in loader:
                    correct += (model(x).argmax(1) == y).sum().item()
                return correct
            """,
            line=9,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        layers = sorted({type(m).__name__ for m in ctx.model.modules() if isinstance(m, _TRAIN_MODE_LAYERS)})
        for use in _training(ctx).evaluations:
            problems = []
            if layers and not use.eval_mode:
                problems.append(f"in training mode ({', '.join(layers)} still active: call model.eval())")
            if not use.no_grad:
                problems.append("without torch.no_grad() (autograd records the whole evaluation)")
            if problems:
                yield ctx.finding(f"{use.function}() evaluates the model " + " and ".join(problems),
                                  location=_loc(ctx, use.site))


# --- measured: the training probe ---------------------------------------------------------------


def _training_report(ctx: RuleContext) -> TrainingReport | None:
    probe = ctx.probe
    training = getattr(probe, "training", None) if probe is not None else None
    return training if training is not None and training.ok else None


def _why_no_training(ctx: RuleContext) -> str:
    training = getattr(ctx.probe, "training", None) if ctx.probe is not None else None
    if training is None:
        return "the training probe did not run"
    return f"training probe {training.status}: {training.reason}"


def _where(ctx: RuleContext, report: TrainingReport) -> SourceLocation | None:
    """Training-probe findings point at the optimizer the file builds (else at the model)."""
    use = _training(ctx).optimizer()
    if use is not None and report.optimizer_origin.startswith("the file"):
        return _loc(ctx, use.site)
    return ctx.graph.location_of_module("")  # the model's own definition


def _setup(report: TrainingReport) -> str:
    origin = "" if report.optimizer_origin.startswith("the file") else " (the file builds no optimizer)"
    return f"{report.optimizer}{origin}, {report.loss} loss"


class _TrainingMeasured(Rule):
    requires = frozenset({"probe", "training"})
    confirmed_by = "measured"

    def confirm(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        report = _training_report(ctx)
        return ProbeVerdict(ProbeStatus.MEASURED, "measured by the training probe",
                            training_metrics(report) if report is not None else {})


def training_metrics(report: TrainingReport) -> dict:
    """The numbers a training-probe finding carries (JSON, SARIF properties, HTML cards)."""
    run = report.run
    assert run is not None
    metrics = {
        "optimizer": report.optimizer, "loss": report.loss, "steps": len(run.losses),
        "initial_loss": run.initial_loss, "final_loss": run.final_loss, "loss_reduction": run.reduction,
        "loss_growth": run.growth, "gradient_growth": run.grad_growth, "median_update_ratio": run.median_ratio(),
        "first_nonfinite_step": run.first_nonfinite_step,
        "fitting_learning_rates": report.fitting_lrs(),
    }
    # Strict JSON: NaN and Inf become strings, like the probe's own numbers.
    return {k: json_number(v) if isinstance(v, float) else v for k, v in metrics.items()}


_MLP_SCRIPT = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.{optimizer}
criterion = nn.CrossEntropyLoss()

def train(batches):
    for x, y in batches:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
"""


def fit_text(run: TrainingRun) -> str:
    """``2.3 -> 0.41 (80% below its baseline)``; the baseline is named when it is the constant prediction."""
    baseline = min(run.initial_loss, run.constant_loss) if run.constant_loss > 0 else run.initial_loss
    named = "" if baseline == run.initial_loss else f" of {short_number(baseline)}, the loss of the best constant prediction"
    return f"{short_number(run.initial_loss)} -> {short_number(run.final_loss)} ({max(run.reduction, 0.0):.0%} below its baseline{named})"


def diverged(run: TrainingRun, loss_growth: float) -> str | None:
    """How ``run`` diverged, or None."""
    if run.first_nonfinite_step is not None:
        return f"the loss became non-finite at step {run.first_nonfinite_step}"
    if math.isfinite(run.growth) and run.growth >= loss_growth:
        peak = max(range(len(run.losses)), key=lambda i: run.losses[i])
        return (f"the loss rose to {short_number(run.growth)}x its initial value ({short_number(run.initial_loss)} -> "
                f"{short_number(run.losses[peak])} at step {peak})")
    return None


class TrainingDiverges(_TrainingMeasured):
    id = "ACT851"
    name = "training-diverges"
    severity = Severity.ERROR
    summary = "Training probe: the loss becomes NaN/Inf, or the loss or gradient norm grows by large factors."
    what = (
        "The training probe trains a copy of the model with the file's optimizer (Adam at 1e-3 when the "
        "file builds none: then only when no rate of the probe's sweep trains it either) and loss on one "
        "fixed synthetic batch for a few dozen steps. Fires when the "
        "loss becomes non-finite or rises to ``loss-growth`` times its initial value (a healthy run "
        "memorising one batch sees it fall). Names the step. A growing gradient norm is not judged here: "
        "feed-forward nets memorising a batch often grow it 5-60x while the loss goes to zero "
        "(torchvision's MobileNetV3, EfficientNet, SqueezeNet), and so do healthy LSTMs; for recurrent "
        "models without clipping it confirms ACT802 instead."
    )
    why = (
        "A learning rate too high for the model (or unclipped exploding gradients) makes each update "
        "overshoot: the loss jumps, the weights grow, and training ends in NaN or at chance level with "
        "a finite loss. Found on one batch, it is found in seconds, not after an epoch."
    )
    instead = (
        "Lower the learning rate (ACT806 quotes what the probe measured as trainable), add a warmup, "
        "and clip gradients (``clip_grad_norm_``), above all for recurrent networks."
    )
    options = {
        "loss-growth": Option(3.0, "Fire when the loss rises to this multiple of its initial value."),
    }
    valid = (Example(_MLP_SCRIPT.format(optimizer="SGD(model.parameters(), lr=0.05, momentum=0.9)"), probe=True),)
    invalid = (Example(_MLP_SCRIPT.format(optimizer="SGD(model.parameters(), lr=10.0, momentum=0.9)"), line=5,
                       probe=True),)

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = _training_report(ctx)
        if report is None or report.run is None:
            return
        how = diverged(report.run, self.option("loss-growth"))
        if how is None:
            return
        fits = report.fitting_lrs()
        if not report.lr_explicit and (fits or not report.sweep_complete):
            # The probe's default rate diverged, not the file's: the model trains at another
            # rate (or the sweep could not afford to find out). Nothing the user wrote is wrong.
            return
        hint = f"; lr={fits[-1]:g} fits the batch" if fits else ""
        yield ctx.finding(f"training diverges: with {_setup(report)}, {how}{hint}", location=_where(ctx, report))


class CannotFitBatch(_TrainingMeasured):
    id = "ACT852"
    name = "cannot-fit-batch"
    severity = Severity.ERROR
    summary = "Training probe: the loss on one fixed batch barely moves, although a healthy model memorises it."
    what = (
        "Fires when the training probe's loss on its fixed batch falls by less than ``min-reduction`` "
        "below its baseline (the initial loss, or the loss of the best constant prediction when lower: "
        "learning the label frequencies is not fitting), and no learning rate of the probe's sweep fits "
        "the batch either: the model itself cannot learn, whatever the rate. An expensive model that got "
        "fewer steps than the default, or whose sweep ran out of its FLOP budget, is not judged."
    )
    why = (
        "Any healthy network memorises a batch of eight random labels in a few dozen steps. One that "
        "cannot has no usable gradient path (dead units, constant init, vanishing gradients, a detached "
        "graph): training on the real data will not do better."
    )
    instead = (
        "Look at the gradient findings (ACT70x) for where the signal dies; fix init and activations; "
        "check that the loss is connected to the parameters."
    )
    options = {
        "min-reduction": Option(0.05, "Fire when the loss gets less than this fraction below its baseline (the "
                                      "initial loss, or the best constant prediction's when lower)."),
    }
    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 10))
            """,
            probe=True,
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
                for layer in (model[0], model[2]):
                    nn.init.constant_(layer.bias, -10.0)
                return model
            """,
            probe=True,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = _training_report(ctx)
        if report is None or report.run is None:
            return
        run = report.run
        threshold = self.option("min-reduction")
        if run.first_nonfinite_step is not None or not math.isfinite(run.reduction) or run.reduction >= threshold:
            return
        if report.fitting_lrs() or not report.sweep_complete:
            return  # the model can learn (the learning rate is the problem: ACT806), or unknown
        if report.steps < report.steps_wanted:
            return  # an expensive model got fewer steps than a healthy one may need: no verdict
        tried = ", ".join(f"{r.lr:g}" for r in report.sweep if r.lr is not None)
        swept = f"; neither did lr {tried}" if tried else ""
        yield ctx.finding(
            f"cannot fit one batch: with {_setup(report)}, the loss went {fit_text(run)} in {len(run.losses)} "
            f"steps (threshold {threshold:.0%}){swept}",
            location=_where(ctx, report),
        )


class UpdateRatioOutOfRange(_TrainingMeasured):
    id = "ACT853"
    name = "update-ratio-out-of-range"
    severity = Severity.WARNING
    summary = "Training probe: updates are far too large or far too small relative to the weights for most layers."
    what = (
        "Measures, at sampled steps of the training probe, each weight tensor's update-to-weight ratio "
        "||w_after - w_before|| / ||w_before|| (median over the samples), and fires when more than "
        "``fraction`` of the weight tensors lie below ``low`` or above ``high``."
    )
    why = (
        "Karpathy's rule of thumb puts healthy ratios near 1e-3 later in training; at the start they "
        "are larger (measured here: 5e-3 to 4e-2 on healthy setups). Ratios of 1e-5 mean the weights "
        "will not move in any reasonable number of steps; ratios near 1 mean every step rewrites them."
    )
    instead = "Scale the learning rate until the ratios sit between the bounds (ACT806 quotes a measured rate)."
    options = {
        "low": Option(3e-4, "Ratios below this are too small."),
        "high": Option(0.5, "Ratios above this are too large."),
        "fraction": Option(0.5, "Fire when more than this share of the weight tensors is out of range."),
    }
    valid = TrainingDiverges.valid
    invalid = (Example(_MLP_SCRIPT.format(optimizer="SGD(model.parameters(), lr=1e-5, momentum=0.9)"), line=5,
                       probe=True),)

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = _training_report(ctx)
        if report is None or report.run is None or not report.run.update_ratios:
            return
        ratios = report.run.update_ratios
        low, high = self.option("low"), self.option("high")
        small = [r for _, r in ratios if r < low]
        large = [r for _, r in ratios if r > high]
        share = self.option("fraction")
        median = report.run.median_ratio()
        for side, bad, bound in (("small", small, low), ("large", large, high)):
            if len(bad) > share * len(ratios):
                yield ctx.finding(
                    f"updates too {side}: with {_setup(report)}, {len(bad)} of {len(ratios)} weight tensors move by "
                    f"{'under' if side == 'small' else 'over'} {bound:g} of their norm per step (median ratio "
                    f"{median:.1e})",
                    location=_where(ctx, report),
                )


class LearningRateOutOfRange(_TrainingMeasured):
    id = "ACT806"
    name = "learning-rate-out-of-range"
    severity = Severity.WARNING
    summary = "The file's learning rate is far outside what the training probe measures as trainable."
    what = (
        "When the file's optimizer has an explicit learning rate and the training probe could not fit "
        "its batch with it (ACT852's ``min-reduction``) or diverged, the probe retries the same steps at "
        "learning rates decades away. Fires when one of them fits: the file's rate is out of the "
        "trainable range for this optimizer and model, and the message quotes the rate that worked."
    )
    why = (
        "A learning rate too low wastes the whole run (the loss crawls); one too high makes it "
        "diverge, or plateau at chance level with a finite loss, which looks like a data problem."
    )
    instead = "Start from the rate the probe measured (then tune it with a short LR sweep on the real data)."
    valid = TrainingDiverges.valid
    invalid = (
        Example(_MLP_SCRIPT.format(optimizer="SGD(model.parameters(), lr=1e-4, momentum=0.9)"), line=5, probe=True),
        Example(_MLP_SCRIPT.format(optimizer="Adam(model.parameters(), lr=1.0)"), line=5, probe=True),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = _training_report(ctx)
        if report is None or report.run is None or not report.lr_explicit or not report.sweep:
            return
        fits = report.fitting_lrs()
        run = report.run
        if not fits or run.lr is None:
            return
        unstable = diverged(run, report.fit_loss_growth)
        if report.steps < report.steps_wanted and not unstable:
            return  # too few steps to call a slow fit too slow
        best = min(fits, key=lambda lr: abs(math.log10(lr / run.lr)))
        outcome = unstable or (
            f"the loss went {fit_text(run)}")
        good = next(r for r in report.sweep if r.lr == best)
        side = "high" if best < run.lr else "low"
        yield ctx.finding(
            f"learning rate {run.lr:g} looks too {side} for {report.optimizer.split('(')[0]} on this model: in the "
            f"training probe at lr={run.lr:g} {outcome}; at lr={best:g} the loss went {fit_text(good)} in "
            f"{len(good.losses)} steps",
            location=_where(ctx, report),
        )


__all__ = ["GradientsNeverZeroed", "RNNWithoutClipping", "AdamWeightDecay", "UnnormalizedInputs", "EvalInTrainMode",
           "TrainingDiverges", "CannotFitBatch", "UpdateRatioOutOfRange", "LearningRateOutOfRange", "diverged"]

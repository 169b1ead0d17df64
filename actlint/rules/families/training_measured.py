"""ACT806, ACT851-ACT853: judgements on the training probe (measured).

The rules judge the training probe's :class:`~actlint.probe.training.TrainingReport`.
Each verdict is checked against real training on real data (``python bench/real_training.py``:
the shapes of public example scripts and planted mistakes trained on scikit-learn's digits
and the standard library's documentation text with the file's optimizer, loss, batch size
and schedule, a decade either side, several seeds; the table is in bench/RESULTS.md and
tests/e2e/test_real_training.py keeps actlint agreeing with it). What it changed:

* A loss spike that recovers within a few steps is no divergence (pytorch/examples'
  siamese ResNet with Adadelta lr=1 spikes 5x in the probe, 64x in real training, and
  reaches 98.5%); ACT851 wants a non-finite loss, or growth that stays above the start.
  A spike over ACT806's ``spike`` (20x; Adam at lr=1: 222x, 11% in real training) still
  sends the probe looking for a calmer rate.
* "Too low" is a rate whose updates are negligible (median update ratio under 3e-4 in the
  first steps: SGD at 1e-5, 49.7% against 90-98% a decade or more up), not a rate that fits
  one batch more slowly: Adadelta at 0.1 on the mnist_rnn LSTM warms up slowly and reaches
  97.8% at the file's 14-epoch schedule (98.9% at lr=1).
* Update ratios come from the first steps, before the fixed batch is memorised (after that
  its gradient vanishes, which fresh batches never allow).
* Two models trained against each other are recognised and not judged by fitting a batch.

Teacher-task calibration (``python bench/train_calibration.py`` prints the agreement table and
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


from actlint.core.findings import Finding, ProbeStatus, ProbeVerdict, Severity
from actlint.core.location import SourceLocation
from actlint.rules.base import Example, Option, Rule, RuleContext
from actlint.core.numbers import json_number, short_number
from actlint.probe.training import TrainingReport, TrainingRun

from actlint.rules.families.training_common import model_training, site_location, training_report




def _where(ctx: RuleContext, report: TrainingReport) -> SourceLocation | None:
    """Training-probe findings point at the optimizer the file builds (else at the model)."""
    use = model_training(ctx).optimizer()
    if use is not None and not assumed(report):
        return site_location(ctx, use.site)
    return ctx.graph.location_of_module("")  # the model's own definition


def assumed(report: TrainingReport) -> bool:
    """The probe trained with an optimizer the file does not build (the default Adam)."""
    return not report.optimizer_origin.startswith("the file")


def _setup(report: TrainingReport) -> str:
    return f"{report.optimizer}, {report.loss} loss"


def _prefix(report: TrainingReport) -> str:
    """Findings measured under the assumed optimizer say so in their first words."""
    return f"assuming {report.optimizer} (the file builds no optimizer): " if assumed(report) else ""


def half_precision(report: TrainingReport) -> str:
    """Why a float16/bfloat16 model fails when its weights are trained directly ("" for float32 models)."""
    if report.dtype not in ("float16", "bfloat16"):
        return ""
    return (f"the model's weights are {report.dtype} and are trained directly: no float32 master weights and no "
            f"loss scaling, so small updates round away and gradients overflow or underflow (Adam's eps=1e-8 is 0 "
            f"in float16); keep the model in float32 and train under torch.autocast(device_type=\"cuda\", "
            f"dtype=torch.{report.dtype}) with torch.amp.GradScaler")


def _severity(rule: Rule, report: TrainingReport) -> Severity:
    """An assumption is not the user's error: at most a warning."""
    return min(rule.severity, Severity.WARNING) if assumed(report) else rule.severity


class _TrainingMeasured(Rule):
    requires = frozenset({"probe", "training"})
    confirmed_by = "measured"

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        report = training_report(ctx)
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


def diverged(run: TrainingRun, loss_growth: float, persistent: int = 5) -> str | None:
    """How ``run`` diverged (a non-finite loss, or a loss that grew and stayed above its start), or None.

    A rise that lasts a step or two is no divergence: real runs of Adadelta at lr=1 on a
    ResNet spike 4-64x at step 1 and train to 98% (bench/real_training.py).
    """
    if run.first_nonfinite_step is not None:
        return f"the loss became non-finite at step {run.first_nonfinite_step}"
    if run.grew(loss_growth, persistent):
        peak = run.peak_step
        return (f"the loss rose to {short_number(run.growth)}x its initial value ({short_number(run.initial_loss)} -> "
                f"{short_number(run.losses[peak])} at step {peak}) and stayed above its start for "
                f"{run.steps_above()} of {len(run.losses)} steps")
    return None


def spiked(run: TrainingRun, spike: float) -> str | None:
    """How the loss spiked before it recovered, or None."""
    if not (math.isfinite(run.growth) and run.growth >= spike):
        return None
    peak = run.peak_step
    return (f"the loss spiked to {short_number(run.growth)}x its initial value at step {peak} "
            f"({short_number(run.initial_loss)} -> {short_number(run.losses[peak])})")


class TrainingDiverges(_TrainingMeasured):
    id = "ACT851"
    name = "training-diverges"
    severity = Severity.ERROR
    summary = "Training probe: the loss becomes NaN/Inf, or grows and stays above its start."
    what = (
        "The training probe trains a copy of the model with the file's optimizer (Adam at 1e-3 when the "
        "file builds none: then only when no rate of the probe's sweep trains it either) and loss on one "
        "fixed synthetic batch for a few dozen steps. Fires when the "
        "loss becomes non-finite, or rises to ``loss-growth`` times its initial value and stays above its "
        "start for ``persistent-steps`` steps. Names the step. A spike that recovers within a few steps is "
        "no divergence (real Adadelta runs at lr=1 on a ResNet spike 4-64x at step 1 and train to 98%); "
        "ACT806 weighs large ones. "
        "Under the assumed optimizer (the file builds none) it is a warning that says so first. A growing gradient norm is not judged here: "
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
        "loss-growth": Option(3.0, "Fire when the loss rises to this multiple of its initial value ..."),
        "persistent-steps": Option(5, "... and stays above its start for this many steps (a quarter of the run "
                                      "when that is fewer)."),
    }
    valid = (Example(_MLP_SCRIPT.format(optimizer="SGD(model.parameters(), lr=0.05, momentum=0.9)"), probe=True),)
    invalid = (Example(_MLP_SCRIPT.format(optimizer="SGD(model.parameters(), lr=10.0, momentum=0.9)"), line=5,
                       probe=True),)

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = training_report(ctx)
        if report is None or report.run is None:
            return
        how = diverged(report.run, self.option("loss-growth"), int(self.option("persistent-steps")))
        if how is None or (report.objective and report.run.first_nonfinite_step is None):
            return  # a player's loss rises when its opponent improves: only non-finite values count
        fits = report.fitting_lrs()
        if not report.lr_explicit and (fits or not report.sweep_complete):
            # The probe's default rate diverged, not the file's: the model trains at another
            # rate (or the sweep could not afford to find out). Nothing the user wrote is wrong.
            return
        hint = f"; lr={fits[-1]:g} fits the batch" if fits else ""
        if cause := half_precision(report):
            hint = f": {cause}"
        yield ctx.finding(f"{_prefix(report)}training diverges: with {_setup(report)}, {how}{hint}",
                          location=_where(ctx, report), severity=_severity(self, report))


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
        report = training_report(ctx)
        if report is None or report.run is None:
            return
        run = report.run
        if report.objective:
            return  # a GAN's player does not minimise a fixed loss on a fixed batch
        threshold = self.option("min-reduction")
        if run.first_nonfinite_step is not None or not math.isfinite(run.reduction) or run.reduction >= threshold:
            return
        if report.fitting_lrs() or (not report.sweep_complete and not half_precision(report)):
            return  # the model can learn (the learning rate is the problem: ACT806), or unknown
        if report.steps < report.steps_wanted:
            return  # an expensive model got fewer steps than a healthy one may need: no verdict
        tried = ", ".join(f"{r.lr:g}" for r in report.sweep if r.lr is not None)
        swept = f"; neither did lr {tried}" if tried else ""
        if cause := half_precision(report):
            swept += f": {cause}"
        yield ctx.finding(
            f"{_prefix(report)}cannot fit one batch: with {_setup(report)}, the loss went {fit_text(run)} in "
            f"{len(run.losses)} steps (threshold {threshold:.0%}){swept}",
            location=_where(ctx, report), severity=_severity(self, report),
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
        report = training_report(ctx)
        if report is None or report.run is None or not report.run.update_ratios or report.objective:
            return  # (a GAN's updates are sized by its opponent, not by fitting one batch)
        ratios = report.run.update_ratios
        low, high = self.option("low"), self.option("high")
        small = [r for _, r in ratios if r < low]
        large = [r for _, r in ratios if r > high]
        share = self.option("fraction")
        median = report.run.median_ratio()
        # One run, one story: a run that diverged did not take too-small steps.
        story = diverged(report.run, report.fit.loss_growth, report.fit.persistent_steps) is not None
        for side, bad, bound in (("small", small, low), ("large", large, high)):
            if side == "small" and story:
                continue
            if len(bad) > share * len(ratios):
                yield ctx.finding(
                    f"{_prefix(report)}updates too {side}: with {_setup(report)}, {len(bad)} of {len(ratios)} weight "
                    f"tensors move by {'under' if side == 'small' else 'over'} {bound:g} of their norm per step "
                    f"in the first steps (median ratio {median:.1e})",
                    location=_where(ctx, report), severity=_severity(self, report),
                )


class LearningRateOutOfRange(_TrainingMeasured):
    id = "ACT806"
    name = "learning-rate-out-of-range"
    severity = Severity.WARNING
    summary = "The file's learning rate fails on this model, and a rate decades away trains it."
    what = (
        "When the file's optimizer has an explicit learning rate and the training probe's run at it "
        "fails, the probe retries the same steps at learning rates decades away, and this rule fires "
        "when one of them fits the batch. A rate fails by being too high when the loss becomes "
        "non-finite, grows and stays up, spikes to ``spike`` times its first value, or stalls while a "
        "lower rate fits; it fails by being too low only when its updates are negligible (median "
        "update-to-weight ratio under ``negligible-update`` in the first steps: a rate decades too "
        "small). A rate that trains but memorises one batch more slowly than another (Adadelta at "
        "lr=0.1 warming up, plain SGD at 1e-3) is never reported: bench/real_training.py trains such "
        "setups on real data, where they reach the accuracy of the faster rate."
    )
    why = (
        "A learning rate decades too low wastes the whole run (the weights hardly move); one too high "
        "makes it diverge, or plateau at chance level with a finite loss, which looks like a data problem."
    )
    instead = "Start from the rate the probe measured (then tune it with a short LR sweep on the real data)."
    options = {
        "spike": Option(20.0, "A run whose loss spikes to this multiple of its first value, even if it recovers, "
                              "does not count as fitting: the sweep looks for a calmer rate (real data: Adam at "
                              "lr=1 spikes 222x in the probe and trains to 11%; Adadelta at lr=1 on a ResNet, "
                              "5x and 98%)."),
        "negligible-update": Option(3e-4, "A rate is too low only when the median update-to-weight ratio of its "
                                          "first steps is under this (ACT853's ``low``)."),
    }
    valid = TrainingDiverges.valid + (
        # Adadelta at 0.1 warms up slowly on one batch, but trains (pytorch/examples' mnist_rnn).
        Example(_MLP_SCRIPT.format(optimizer="Adadelta(model.parameters(), lr=0.1)"), probe=True),
    )
    invalid = (
        Example(_MLP_SCRIPT.format(optimizer="SGD(model.parameters(), lr=1e-5, momentum=0.9)"), line=5, probe=True),
        Example(_MLP_SCRIPT.format(optimizer="Adam(model.parameters(), lr=1.0)"), line=5, probe=True),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        report = training_report(ctx)
        if report is None or report.run is None or not report.lr_explicit or not report.sweep or report.objective:
            return
        fits = report.fitting_lrs()
        run = report.run
        if not fits or run.lr is None:
            return
        unstable = diverged(run, report.fit.loss_growth, report.fit.persistent_steps) or spiked(run, self.option("spike"))
        if report.steps < report.steps_wanted and not unstable:
            return  # too few steps to call a slow fit too slow
        best = min(fits, key=lambda lr: abs(math.log10(lr / run.lr)))
        side = "high" if best < run.lr else "low"
        ratio = run.median_ratio()
        if side == "low" and not ratio < self.option("negligible-update"):
            return  # the weights move at a healthy rate: slow on one batch, not a failing rate
        if side == "low":
            outcome = f"the weights moved by a median {ratio:.1e} of their norm per step and the loss went {fit_text(run)}"
        else:
            outcome = unstable or f"the loss stalled: {fit_text(run)}"
        good = next(r for r in report.sweep if r.lr == best)
        yield ctx.finding(
            f"learning rate {run.lr:g} looks too {side} for {report.optimizer.split('(')[0]} on this model: in the "
            f"training probe at lr={run.lr:g} {outcome}; at lr={best:g} the loss went {fit_text(good)} in "
            f"{len(good.losses)} steps",
            location=_where(ctx, report),
        )


__all__ = ["TrainingDiverges", "CannotFitBatch", "UpdateRatioOutOfRange", "LearningRateOutOfRange", "assumed",
           "diverged", "spiked", "training_metrics"]

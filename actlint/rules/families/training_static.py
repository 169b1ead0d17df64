"""ACT801-ACT805: the training setup, read statically from the file's training code.

These rules read :func:`actlint.source.training_setup.training_for`: the optimizers,
clipping, training loops, evaluation functions and input transforms of the user's file
that concern the model. ACT802's confirmation reads the training probe's gradient norms.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch.nn as nn

from actlint.core.findings import Finding, ProbeStatus, ProbeVerdict, Severity
from actlint.fixes.edits import SAFE, UNSAFE
from actlint.fixes.training import adamw_for_adam, evaluation_mode, zero_grad_in_loop
from actlint.rules.base import Example, Option, Rule, RuleContext
from actlint.core.numbers import json_number, short_number

from actlint.rules.families.training_common import model_training, site_location, training_report, why_no_training

_RECURRENT = (nn.RNNBase, nn.RNNCellBase)
_TRAIN_MODE_LAYERS = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)


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
            fixed="""
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
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            scaler = torch.amp.GradScaler("cpu")

            def train(batches):
                for x, y in batches:
                    # mixed precision
                    loss = nn.functional.cross_entropy(model(x), y)
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
            """,
            line=12,
            fixed="""
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            scaler = torch.amp.GradScaler("cpu")

            def train(batches):
                for x, y in batches:
                    opt.zero_grad()
                    # mixed precision
                    loss = nn.functional.cross_entropy(model(x), y)
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
            """,
        ),
    )
    fixable = UNSAFE

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        for loop in model_training(ctx).loops:
            if loop.zeroes:
                continue
            clue = (f"; zero_grad() runs once, before the loop (line {loop.zeroed_before.line}), not per step"
                    if loop.zeroed_before else "")
            before = loop.zeroed_before.line if loop.zeroed_before else None
            yield ctx.finding(
                f"the loop at line {loop.site.line} calls backward() and step() (line {loop.step.line}) but never "
                f"zeroes gradients: each step applies the sum of every gradient so far{clue}",
                location=site_location(ctx, loop.backward),
                fix=ctx.fix("zero the gradients at the start of every iteration",
                            lambda tree, loop=loop, before=before: zero_grad_in_loop(
                                tree, loop.site.line, loop.step.line, loop.step.column, before)),
            )


class RNNWithoutClipping(_Static):
    id = "ACT802"
    name = "rnn-without-clipping"
    severity = Severity.INFO
    #: Advice until measured: three public LSTM scripts without clipping trained on real data
    #: without a blow-up (bench/real_training.py); a warning when the probe sees the growth.
    confirmed_severity = Severity.WARNING
    summary = "A recurrent model (RNN/LSTM/GRU) is trained without gradient clipping."
    what = (
        "Fires when the model contains nn.RNN, nn.LSTM, nn.GRU or a recurrent cell, the file trains it "
        "(an optimizer over its parameters, or a training loop), and nothing in the file clips "
        "gradients: no ``clip_grad_norm_``/``clip_grad_value_``, no ``gradient_clip_val`` (Lightning), "
        "no HF Trainer (which clips at ``max_grad_norm=1.0`` by default). It is advice (info) until the "
        "training probe confirms it, when the gradient norm grows across its steps or the loss diverges: then "
        "it is a warning. The probe refutes it otherwise."
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
        training = model_training(ctx)
        if not training.trains or training.clips:
            return
        site = training.loops[0].step if training.loops else training.optimizer().site  # type: ignore[union-attr]
        yield ctx.finding(
            f"the model ({', '.join(recurrent)}) is trained without gradient clipping: one exploding "
            f"gradient through time can throw the weights far off (clip before step())",
            location=site_location(ctx, site),
        )

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        training = training_report(ctx)
        if training is None:
            return ProbeVerdict(ProbeStatus.NOT_PROBED, f"not probed: {why_no_training(ctx)}")
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
            fixed="""
            import torch
            import torch.nn as nn

            WEIGHT_DECAY = 5e-4
            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=WEIGHT_DECAY)
            """,
        ),
        Example(
            """
            import torch.nn as nn
            from torch.optim import Adam

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            optimizer = Adam(model.parameters(), weight_decay=1e-4)  # L2
            """,
            line=5,
            fixed="""
            import torch.nn as nn
            from torch.optim import Adam, AdamW

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
            optimizer = AdamW(model.parameters(), weight_decay=1e-4)  # L2
            """,
        ),
    )
    fixable = UNSAFE

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        training = model_training(ctx)
        for use in training.optimizers:
            if use.name != "Adam":
                continue
            values, _ = training.hyperparameters(use)
            decay = values.get("weight_decay")
            if isinstance(decay, (int, float)) and not isinstance(decay, bool) and decay > 0:
                yield ctx.finding(
                    f"Adam(weight_decay={decay:g}) applies L2 through the adaptive scaling of Adam, which is not "
                    f"decoupled weight decay: use AdamW(weight_decay=...)",
                    location=site_location(ctx, use.site),
                    fix=ctx.fix("use AdamW: the same weight_decay becomes decoupled decay (weaker per step; "
                                "retune it)", lambda tree, site=use.site: adamw_for_adam(tree, site.line, site.column)),
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
        for issue in model_training(ctx).inputs:
            if issue.kind == "unscaled-cast":
                yield ctx.finding(
                    f"images cast to float without scaling ({issue.detail}): the network sees inputs up to 255; "
                    f"divide by 255 and normalise per channel",
                    location=site_location(ctx, issue.site),
                )
            else:
                finding = ctx.finding(
                    f"{issue.detail} but the file never normalises (no Normalize(mean, std)): inputs are not "
                    f"centred", location=site_location(ctx, issue.site))
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
        "``torch.no_grad()`` / ``torch.inference_mode()``. Validation loops written inside another "
        "function (a ``fit()`` that validates after its training loop) are found too: a loop over a "
        "loader named like a held-out split (``val_loader``, ``test_dl``, ``dev_batches``) that calls "
        "the model and never ``backward()``; it needs ``.eval()`` after the last ``.train()`` before it."
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
            fixed="""
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))

            def evaluate(loader):
                correct = 0
                model.eval()
                with torch.no_grad():
                    for x, y in loader:
                        correct += (model(x).argmax(1) == y).sum().item()
                model.train()
                return correct
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 4))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

            def fit(train_loader, val_loader, epochs=3):
                for epoch in range(epochs):
                    model.train()
                    for x, y in train_loader:
                        optimizer.zero_grad()
                        nn.functional.cross_entropy(model(x), y).backward()
                        optimizer.step()

                    # validation
                    total = 0.0
                    for x, y in val_loader:
                        total += nn.functional.cross_entropy(model(x), y).item()
                    print(epoch, total)
            """,
            line=18,
            fixed="""
            import torch
            import torch.nn as nn

            model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 4))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

            def fit(train_loader, val_loader, epochs=3):
                for epoch in range(epochs):
                    model.train()
                    for x, y in train_loader:
                        optimizer.zero_grad()
                        nn.functional.cross_entropy(model(x), y).backward()
                        optimizer.step()

                    # validation
                    total = 0.0
                    model.eval()
                    with torch.no_grad():
                        for x, y in val_loader:
                            total += nn.functional.cross_entropy(model(x), y).item()
                    model.train()
                    print(epoch, total)
            """,
        ),
    )
    fixable = SAFE

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        layers = sorted({type(m).__name__ for m in ctx.model.modules() if isinstance(m, _TRAIN_MODE_LAYERS)})
        for use in model_training(ctx).evaluations:
            problems = []
            if layers and not use.eval_mode:
                problems.append(f"in training mode ({', '.join(layers)} still active: call model.eval())")
            if not use.no_grad:
                problems.append("without torch.no_grad() (autograd records the whole evaluation)")
            if problems:
                what = use.function if use.function.startswith("the loop") else f"{use.function}()"
                set_eval = bool(layers) and not use.eval_mode
                title = ("model.eval() and torch.no_grad() around the evaluation loop, model.train() after it"
                         if set_eval and not use.no_grad else
                         "model.eval() before the evaluation loop, model.train() after it" if set_eval else
                         "the evaluation loop under torch.no_grad()")
                yield ctx.finding(f"{what} evaluates the model " + " and ".join(problems),
                                  location=site_location(ctx, use.site),
                                  fix=ctx.fix(title, lambda tree, site=use.site, set_eval=set_eval, no_grad=not use.no_grad:
                                              evaluation_mode(tree, site.line, site.column,
                                                              set_eval=set_eval, no_grad=no_grad)))


__all__ = ["GradientsNeverZeroed", "RNNWithoutClipping", "AdamWeightDecay", "UnnormalizedInputs", "EvalInTrainMode"]

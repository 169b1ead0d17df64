"""The probe: a few forward/backward passes that measure what the network does at init.

``run_probe(model, inputs, settings)`` returns an immutable
:class:`~actlint.probe.reports.ProbeReport`. It measures; it never judges (rules do).

How it works, and why:

* **Passes.** ``passes`` forward/backward passes in train mode (the mode the network
  trains in: BatchNorm uses batch statistics, auxiliary heads are active), with a fixed
  seed inside ``torch.random.fork_rng`` so the user's RNG state is untouched. The first
  pass uses the example inputs; later passes resample fresh inputs like them (floats:
  same mean/std; integers such as token ids: values drawn from the example's own
  values, so they stay in the vocabulary; bools: kept). Dead-unit statistics need at
  least 32 samples (squeeze-excitation ReLUs look 88% dead over 4): with the default
  example batch of 8, four passes give 32 samples at the cost of one batch-32 pass,
  without changing any tensor's shape.
* **Objective.** A fixed random cotangent per floating tensor output (tuples, dicts,
  auxiliary heads: every output), i.e. the objective ``sum_i <v_i, y_i>``. Gradients are
  taken with ``torch.autograd.grad`` so ``.grad`` of the user's parameters is never
  written.
* **Hooks.** Forward hooks on every module by module path (leaf modules are measured;
  all modules track which ran and the module stack); a ``TorchFunctionMode`` measures
  functional activations (``F.relu``, ``torch.sigmoid``, ``x.tanh()``) inside forwards;
  a tensor hook on each measured output records the backward signal. Hooks are removed
  in ``finally``; buffers and modes are restored by :func:`actlint.sandbox.preserved.preserved`,
  re-initialised weights, ``.grad`` and ``requires_grad`` by ``untouched`` (the probe
  never writes other weights, so it does not clone them: peak memory stays <= 1.3x).
* **Zero-initialised weights** (ViT heads, zero-init residual gammas) block every
  gradient upstream by design. They are temporarily re-initialised (small random weight
  matrices, unit norm scales) and the report says so.
* **Budget.** The time budget is checked in every hook; a probe that exceeds it, or
  raises, returns status ``timeout``/``error`` with the message. Static results stand.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch.utils._pytree import tree_flatten

from actlint.core.errors import UserError, one_line
from actlint.probe.linearity import linearity_test
from actlint.probe.reports import LinearityResult, NonFiniteSite, ProbeReport
from actlint.probe.batches import batch_of, resample
from actlint.probe.device import CUDA_SPEEDUP, resolve_device, rng_devices, to_device
from actlint.probe.recorder import ActivationRecorder, FunctionalActivations, LayerAccumulator, ProbeTimeout, localise_nonfinite
from actlint.probe.zero_init import reinit_zero, untouched

#: Dead-unit statistics need at least this many samples (see module docstring).
DEFAULT_SAMPLES = 32
DEFAULT_TIMEOUT = 60.0
#: FLOPs of probe passes to aim for on a CPU (ProbeSettings.flop_budget): about 6 s of a
#: 2-core machine; CUDA gets CUDA_SPEEDUP times more.
DEFAULT_FLOP_BUDGET = 6e11
_MAX_PASSES = 8


@dataclass(frozen=True)
class ProbeSettings:
    """How to run the probe."""

    #: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
    device: str = "auto"
    #: Samples per pass; None keeps the example inputs' batch (8 when inferred).
    batch_size: int | None = None
    #: Total samples to see; passes = ceil(samples / batch), between 2 and 8.
    samples: int = DEFAULT_SAMPLES
    #: Fixed number of passes (overrides ``samples``), for benchmarks.
    passes: int | None = None
    #: Time budget in seconds (a safety net: the FLOP budget below keeps the probe inside it).
    timeout: float = DEFAULT_TIMEOUT
    #: Seconds of passes to aim for: after the first pass, an expensive model gets fewer
    #: passes (at least 2) instead of running into the timeout. 0 turns the scaling off.
    flop_budget: float = DEFAULT_FLOP_BUDGET
    seed: int = 0
    #: Run ACT103's exact linearity test on a float64 copy.
    linearity: bool = False
    #: Temporarily re-initialise all-zero weights so gradients flow past them.
    reinit_zero: bool = True


# --- the probe --------------------------------------------------------------------------


def estimated_macs(layers: dict[str, "LayerAccumulator"]) -> float:
    """Multiply-accumulates of one forward pass, from the layers it ran (deterministic, no timing).

    Every leaf module with parameters costs its parameter count per output position (a Linear:
    in x out per token; a conv: its kernel per pixel; an LSTM: its weights per time step), which
    is exact for the layers that dominate the cost; attention products and other functional
    math are not counted (a ViT's are 4% of its linears).
    """
    total = 0.0
    for layer in layers.values():
        module = layer.module
        if module is None or not layer.shape or layer.functional:
            continue
        params = sum(p.numel() for p in module.parameters(recurse=False))
        if not params and not isinstance(module, nn.MultiheadAttention):
            continue
        if isinstance(module, nn.MultiheadAttention):
            params = sum(p.numel() for p in module.parameters())
        numel = math.prod(layer.shape)
        unit_dim = layer.channel_dim if layer.channel_dim is not None else len(layer.shape) - 1
        units = layer.shape[unit_dim] if layer.shape else 1
        total += params * numel / max(units, 1) * max(layer.calls, 1)
    return total


def plan_passes(batch: int, settings: "ProbeSettings") -> int:
    """Passes needed to see ``settings.samples`` samples (2 to 8)."""
    if settings.passes is not None:
        return max(1, settings.passes)
    return max(2, min(_MAX_PASSES, math.ceil(settings.samples / max(batch, 1))))


def run_probe(model: nn.Module, inputs: tuple[Any, ...] | None, settings: ProbeSettings | None = None) -> ProbeReport:
    """Measure ``model`` on ``inputs``; never raises for model failures (status error/timeout).

    ``resolve_device`` errors (``--device cuda`` without CUDA) are raised as UserError:
    that is a usage error of the whole run, not a property of one model.
    """
    settings = settings or ProbeSettings()
    device = resolve_device(settings.device)
    if inputs is None:
        return ProbeReport.not_run("skipped", "no example inputs (pass --input-shape or define example_inputs())")
    return _ProbeRun(model, inputs, settings, device).run()


class _ProbeRun:
    """One probe run: the passes, what they accumulate, and the report (see the module docstring)."""

    def __init__(self, model: nn.Module, inputs: tuple[Any, ...], settings: ProbeSettings, device: torch.device) -> None:
        self.model, self.inputs, self.settings, self.device = model, inputs, settings, device
        self.start = time.perf_counter()
        self.old_batch = batch_of(inputs)
        self.batch = settings.batch_size or self.old_batch
        self.passes = self.planned = plan_passes(self.batch, settings)
        self.base = dict(device=str(device), batch_size=self.batch, seed=settings.seed)
        self.recorder = ActivationRecorder(model, self.start + settings.timeout, self.batch)
        self.done = 0  # passes completed
        self.seen_samples = 0
        self.notes: list[str] = []
        self.reinit: list[str] = []
        self.n_outputs = 0
        self.grads_sq: dict[str, float] = {}  # summed over passes
        self.grad_zero: dict[str, bool] = {}
        self.first_inputs: tuple[Any, ...] | None = None
        self.linearity: LinearityResult | None = None
        self.budget = (settings.flop_budget or 0.0) * (CUDA_SPEEDUP if device.type == "cuda" else 1.0)
        self.per_pass = 0.0  # estimated FLOPs of one pass, after the first
        self.later_batch: int | None = None  # smaller batches after the first, for a model over the budget

    def run(self) -> ProbeReport:
        handles: list[Any] = []
        try:
            if self.settings.linearity:
                self.linearity = linearity_test(self.model, self.inputs)
            target = self.model
            on_device = {p.device for p in target.parameters()} | {b.device for b in target.buffers()}
            if on_device and on_device != {self.device}:
                target = copy.deepcopy(self.model).to(self.device)  # never move the user's model
                self.recorder = ActivationRecorder(target, self.start + self.settings.timeout, self.batch)
            guard = untouched(self.model) if target is self.model else contextlib.nullcontext()
            with guard, torch.random.fork_rng(devices=rng_devices(self.device)):
                torch.manual_seed(self.settings.seed)
                gen = torch.Generator().manual_seed(self.settings.seed)
                if self.settings.reinit_zero:
                    self.reinit = reinit_zero(target, gen)
                target.train()
                params = [(n, p) for n, p in target.named_parameters() if p.requires_grad]
                for module in target.modules():
                    handles.append(module.register_forward_pre_hook(self.recorder.pre_hook))
                    handles.append(module.register_forward_hook(self.recorder.post_hook))
                self._passes(target, params, gen)
                report = _finish(target, self.recorder, params, self.grads_sq, self.grad_zero, self.reinit, self.done)
        except ProbeTimeout:
            return self._not_run("timeout", f"exceeded the probe time budget of {self.settings.timeout:g}s after "
                                            f"{self.done} of {self.passes} passes (raise --probe-timeout)")
        except UserError:
            raise
        except Exception as exc:  # the user's model raised: report it, keep static results
            return self._not_run("error", f"the model raised during the probe: {one_line(exc)}")
        finally:
            for handle in handles:
                handle.remove()
        if self.reinit:
            self.notes.append("zero-initialised weights temporarily re-initialised: " + ", ".join(self.reinit))
        if self.settings.batch_size not in (None, self.old_batch):
            self.notes.append(f"inputs re-batched from {self.old_batch} to {self.batch} samples per pass")
        return ProbeReport(
            status="ok", passes=self.done, samples=self.seen_samples, seconds=time.perf_counter() - self.start,
            outputs=self.n_outputs, notes=tuple(self.notes), linearity=self.linearity, inputs=self.first_inputs,
            **self.base, **report,
        )

    def _not_run(self, status: str, reason: str) -> ProbeReport:
        return ProbeReport.not_run(status, reason, passes=self.done, seconds=time.perf_counter() - self.start,
                                   linearity=self.linearity, **self.base)

    def _passes(self, target: nn.Module, params: list[tuple[str, nn.Parameter]], gen: torch.Generator) -> None:
        mode = FunctionalActivations(self.recorder)
        k = 0
        while k < self.passes:
            if k == 1 and self.budget and self.settings.passes is None:
                self._fit_budget()
            self.recorder.new_pass()
            x = to_device(self._batch(k, gen), self.device)
            self.seen_samples += batch_of(x)
            if k == 0:
                self.first_inputs = x
            with mode:
                out = target(*x)
            self._backward(out, params, gen, first=k == 0)
            del out
            self.done += 1
            k += 1
        if self.passes < self.planned or self.later_batch:
            smaller = f", later ones of {self.later_batch} samples" if self.later_batch else ""
            self.notes.append(f"{self.passes} of {self.planned} passes ({self.seen_samples} samples{smaller}): one pass "
                              f"costs about {self.per_pass / 1e9:.3g} GFLOPs, over the probe's budget of "
                              f"{self.budget / 1e9:.3g} GFLOPs")
        site = self.recorder.nf_forward
        if site is not None and (site.layer == "<output>" or "already non-finite" in site.detail):
            self.recorder.nf_forward = localise_nonfinite(target, self.first_inputs, self.recorder) or site

    def _fit_budget(self) -> None:
        """Scale the probe's work to the model's cost, estimated from the layers the first pass ran.

        Not timed: the same model gets the same passes on a busy machine. Fewer passes, never
        under 2, and smaller later batches for a model one pass of which is over the budget (a
        ViT-B/16 on a CPU).
        """
        self.per_pass = 6.0 * estimated_macs(self.recorder.layers)  # forward 2, backward 4 FLOPs per MAC
        if self.per_pass * self.passes <= self.budget:
            return
        self.passes = max(2, min(self.passes, int(self.budget / max(self.per_pass, 1.0))))
        if self.per_pass * 2 > self.budget:
            first_batch = self.batch
            per_sample = self.per_pass / max(first_batch, 1)
            later = max(2, min(first_batch, int(max(self.budget - self.per_pass, 0.0) / per_sample)))
            self.later_batch = later if later < first_batch else None

    def _batch(self, k: int, gen: torch.Generator) -> tuple[Any, ...]:
        """The example inputs for the first pass (re-batched when asked), fresh ones like them after."""
        if k == 0:
            if self.settings.batch_size in (None, self.old_batch):
                return self.inputs
            return resample(self.inputs, gen, self.settings.batch_size, self.old_batch)
        return resample(self.inputs, gen, self.later_batch or self.settings.batch_size, self.old_batch)

    def _backward(self, out: Any, params: list[tuple[str, nn.Parameter]], gen: torch.Generator, *, first: bool) -> None:
        """Check the outputs are finite, then accumulate each parameter's squared gradient norm."""
        leaves = tree_flatten(out)[0]
        outs = [t for t in leaves if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point()]
        self.n_outputs = len(outs)
        for t in leaves:
            if isinstance(t, torch.Tensor) and t.is_floating_point() and self.recorder.nf_forward is None:
                if not bool(torch.isfinite(t.detach()).all()):
                    self.recorder.nf_forward = NonFiniteSite("forward", "<output>", "output", "NaN/Inf in a model output")
        if not outs or not params:
            if first:
                self.notes.append("no output depends on trainable parameters: backward not measured")
            return
        cot = [torch.randn(t.shape, generator=gen, dtype=torch.float32).to(device=t.device, dtype=t.dtype) for t in outs]
        grads = torch.autograd.grad(outs, [p for _, p in params], cot, allow_unused=True)
        for (name, p), g in zip(params, grads):
            if g is None:
                continue
            sq = float(torch.linalg.vector_norm(g, dtype=torch.float32)) ** 2
            self.grads_sq[name] = self.grads_sq.get(name, 0.0) + (sq if math.isfinite(sq) else 0.0)
            self.grad_zero[name] = self.grad_zero.get(name, True) and sq == 0.0


def _finish(
    model: nn.Module,
    recorder: ActivationRecorder,
    params: list[tuple[str, nn.Parameter]],
    grads_sq: dict[str, float],
    grad_zero: dict[str, bool],
    reinit: list[str],
    passes: int,
) -> dict[str, Any]:
    """Attach parameter gradients to layers and freeze everything."""
    by_param: dict[int, str] = {}
    for mpath, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            by_param[id(p)] = mpath
    without, zero = [], []
    for name, p in params:
        owner = by_param.get(id(p), "")
        layer = recorder.layers.get(owner)
        if owner not in recorder.ran:
            continue  # never called: ACT601's business, listed in modules_not_called
        if name not in grads_sq:
            without.append(name)
            continue
        if grad_zero.get(name):
            zero.append(name)
        if layer is not None:
            layer.wg_sq += grads_sq[name] / max(passes, 1)  # summed over passes: mean square per pass
            layer.w_sq += float(torch.linalg.vector_norm(p.detach(), dtype=torch.float32)) ** 2
            layer.w_n += p.numel()
    not_called = sorted(
        path for path, module in model.named_modules()
        if path not in recorder.ran and any(p.requires_grad for p in module.parameters(recurse=False))
    )
    layers = sorted(recorder.layers.values(), key=lambda layer: layer.order)
    _undo_pooling_dilution(layers)
    return dict(
        layers=tuple(layer.freeze() for layer in layers),
        first_nonfinite_forward=recorder.nf_forward,
        first_nonfinite_backward=recorder.nf_backward,
        params_without_grad=tuple(without),
        params_zero_grad=tuple(zero),
        modules_not_called=tuple(not_called),
        reinitialised=tuple(reinit),
    )


def _undo_pooling_dilution(layers: list[LayerAccumulator]) -> None:
    """Set each layer's backward-signal factor so global pooling does not read as vanishing.

    A global average pool over P positions hands each position 1/P of the gradient, so
    every layer before it sees a per-element gradient diluted by P; a stride-2 layer is a
    real change of scale and is left alone. When the network ends in vectors (a
    classifier) after spatial (or sequence) layers, layers with positions are scaled by
    P = positions of the last such layer (at most their own): P for conv-like outputs,
    sqrt(P) for sequences (a class token takes its gradient from one position, a mean
    from all of them: in between). A fully convolutional output is not pooled: factor 1.
    """
    weights = [layer for layer in layers if layer.weight_layer and layer.shape]
    for layer in layers:
        layer.per_unit, layer.dilution = layer.dilution, 1.0
    if not weights or len(weights[-1].shape) >= 3:
        return
    spatial = [layer for layer in layers if layer.shape and layer.per_unit > 1.0]
    if not spatial:
        return
    pooled = spatial[-1].per_unit
    for layer in spatial:
        factor = min(layer.per_unit, pooled)
        layer.dilution = factor if layer.channel_dim == 1 else math.sqrt(factor)


__all__ = ["ProbeSettings", "ProbeTimeout", "estimated_macs", "plan_passes", "run_probe"]

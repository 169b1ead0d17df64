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
  re-initialised weights, ``.grad`` and ``requires_grad`` by ``_untouched`` (the probe
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
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from actlint.graph import ops
from actlint.core.errors import UserError, one_line
from actlint.probe.linearity import linearity_test
from actlint.probe.reports import LayerStats, LinearityResult, NonFiniteSite, ProbeReport
from actlint.probe.batches import batch_of, resample
from actlint.probe.device import CUDA_SPEEDUP, resolve_device, rng_devices, to_device
from actlint.sandbox.preserved import preserved

#: Dead-unit statistics need at least this many samples (see module docstring).
DEFAULT_SAMPLES = 32
DEFAULT_TIMEOUT = 60.0
#: FLOPs of probe passes to aim for on a CPU (ProbeSettings.flop_budget): about 6 s of a
#: 2-core machine; CUDA gets CUDA_SPEEDUP times more.
DEFAULT_FLOP_BUDGET = 6e11
_MAX_PASSES = 8

#: Activations whose units can die: exact zero output (and zero gradient) over a region.
#: Smooth or leaky variants (GELU, SiLU, ELU, LeakyReLU) always pass gradient: never dead.
_DEAD_KINDS = ops.RECTIFIERS | frozenset({"hardswish"})
_SATURATING = ops.SATURATING
#: Functional calls measured as layers: activations whose health is measured, and softmax
#: (ACT101's confirmation reads the gradient attenuation across it).
_FUNCTIONAL_KINDS = ops.RELU_FAMILY | _SATURATING | ops.SOFTMAX


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


class ProbeTimeout(Exception):
    """The probe exceeded its time budget."""


# --- per-layer accumulators -----------------------------------------------------------


class _Layer:
    """Mutable accumulator for one layer during the probe (frozen into LayerStats)."""

    __slots__ = (
        "path", "kind", "order", "weight_layer", "functional", "module", "calls", "shape",
        "act_sq", "act_n", "grad_sq", "grad_n", "dilution", "alive", "units", "sat", "sat_n",
        "nf_fwd", "nf_bwd", "wg_sq", "w_sq", "w_n", "channel_dim", "std_sq", "std_n", "per_unit",
    )

    def __init__(self, path: str, kind: str, order: int, module: nn.Module | None, functional: bool) -> None:
        self.path, self.kind, self.order, self.module, self.functional = path, kind, order, module, functional
        self.weight_layer = kind in ops.WEIGHT_LAYERS
        self.calls = 0
        self.shape: tuple[int, ...] = ()
        self.act_sq = self.grad_sq = self.wg_sq = self.w_sq = 0.0
        self.act_n = self.grad_n = self.w_n = 0
        self.std_sq, self.std_n = 0.0, 0
        self.dilution = 1.0  # positions per unit while measuring; the backward-signal factor after _finish
        self.per_unit = 1.0
        self.alive: torch.Tensor | None = None
        self.units: int | None = None
        self.sat = self.sat_n = 0
        self.nf_fwd = self.nf_bwd = False
        self.channel_dim: int | None = None

    def freeze(self) -> LayerStats:
        def rms(sq: float, n: int) -> float | None:
            return math.sqrt(sq / n) if n else None

        act = rms(self.act_sq, self.act_n)
        grad = rms(self.grad_sq, self.grad_n)
        wg = rms(self.wg_sq, self.w_n)
        w = rms(self.w_sq, self.w_n)
        ratio = None
        if wg is not None and w:
            ratio = wg / w
        dead = None
        if self.alive is not None and self.units:
            dead = 1.0 - float(self.alive.sum().item()) / self.units
        return LayerStats(
            path=self.path,
            kind=self.kind,
            order=self.order,
            weight_layer=self.weight_layer,
            functional=self.functional,
            calls=self.calls,
            output_shape=self.shape,
            activation_rms=act,
            activation_std=rms(self.std_sq, self.std_n),
            grad_output_rms=grad,
            backward_signal=grad * self.dilution if grad is not None else None,
            weight_grad_rms=wg,
            weight_rms=w,
            grad_weight_ratio=ratio,
            dead_fraction=dead,
            saturated_fraction=self.sat / self.sat_n if self.sat_n else None,
            units=self.units,
            nonfinite_forward=self.nf_fwd,
            nonfinite_backward=self.nf_bwd,
        )


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    leaves, _ = tree_flatten(value)
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            return leaf
    return None


def _flat_region(kind: str, y: torch.Tensor, module: nn.Module | None) -> torch.Tensor:
    """Elements where the activation's derivative is below 1% of its maximum."""
    if kind == "sigmoid":  # s(1-s) < 0.01 * 0.25  <=>  |s - 0.5| > sqrt(0.25 - 0.0025)
        return (y - 0.5).abs() > 0.49749
    if kind == "tanh":  # 1 - t^2 < 0.01
        return y.abs() > 0.99499
    if kind == "softsign":  # (1 - |y|)^2 < 0.01
        return y.abs() > 0.9
    if kind == "hardsigmoid":
        return (y <= 0) | (y >= 1)
    low = getattr(module, "min_val", -1.0)
    high = getattr(module, "max_val", 1.0)
    return (y <= low) | (y >= high)


class ActivationRecorder:
    """Holds the accumulators and the hook functions of one probe run."""

    def __init__(self, model: nn.Module, deadline: float, batch: int) -> None:
        self.model = model
        self.deadline = deadline
        self.batch = max(batch, 1)
        self.layers: dict[str, _Layer] = {}
        self.stack: list[str] = []
        self.leaf_depth = 0  # > 0 while inside a leaf module's forward
        self.ran: set[str] = set()
        self.functional_counts: dict[tuple[str, str], int] = {}
        self.last_weight_kind: str | None = None
        self.nf_forward: NonFiniteSite | None = None
        self.nf_backward: NonFiniteSite | None = None
        self.pass_index = -1  # new_pass() makes it 0 for the first pass
        self.localising = False  # True during the extra forward that finds the first NaN op
        self.paths = {m: p for p, m in model.named_modules()}
        self.leaves = {m for m in model.modules() if not any(True for _ in m.children())}

    def check_time(self) -> None:
        if time.perf_counter() > self.deadline:
            raise ProbeTimeout()

    # forward ------------------------------------------------------------------------

    def pre_hook(self, module: nn.Module, args: Any) -> None:
        self.check_time()
        path = self.paths.get(module, "?")
        self.stack.append(path)
        if self.localising:
            return
        self.ran.add(path)
        if module in self.leaves:
            self.leaf_depth += 1

    def post_hook(self, module: nn.Module, args: Any, output: Any) -> None:
        if self.stack:
            self.stack.pop()
        if module not in self.leaves or self.localising:
            return
        self.leaf_depth -= 1
        kind = ops.DEFAULT_TABLE.module_kind(module) or type(module).__name__
        path = self.paths.get(module, "?")
        self.measure(path, kind, module, output, functional=False, args=args)

    def new_pass(self) -> None:
        self.pass_index += 1
        self.functional_counts.clear()
        self.stack.clear()
        self.leaf_depth = 0

    def _inputs_finite(self, args: Any) -> bool:
        if self.nf_forward is not None:
            return True
        for leaf in tree_flatten(args)[0]:
            if isinstance(leaf, torch.Tensor) and leaf.is_floating_point() and not bool(torch.isfinite(leaf).all()):
                return False
        return True

    def functional(self, kind: str, output: Any) -> None:
        scope = self.stack[-1] if self.stack else ""
        key = (scope, kind)
        self.functional_counts[key] = n = self.functional_counts.get(key, 0) + 1
        self.measure(f"{scope}:{kind}#{n}", kind, None, output, functional=True)

    def measure(
        self, path: str, kind: str, module: nn.Module | None, output: Any, *, functional: bool, args: Any = ()
    ) -> None:
        layer = self.layers.get(path)
        if layer is None:
            layer = self.layers[path] = _Layer(path, kind, len(self.layers), module, functional)
        if self.pass_index == 0:
            layer.calls += 1
        y = _first_tensor(output)
        if y is None or not y.is_floating_point() or y.numel() == 0:
            return
        d = y.detach()
        if not layer.shape:
            layer.shape = tuple(d.shape)
            layer.channel_dim = self._unit_dim(d, kind)
            layer.dilution = self._dilution(d, layer.channel_dim)
        sq = float(torch.linalg.vector_norm(d, dtype=torch.float32)) ** 2
        if not math.isfinite(sq):
            if not bool(torch.isfinite(d).all()):
                layer.nf_fwd = True
                if self.nf_forward is None:
                    # Only now look at the inputs: checking them on every call would cost a pass each.
                    finite = functional or self._inputs_finite(args)
                    where = "its input was finite" if finite else "its input was already non-finite"
                    self.nf_forward = NonFiniteSite("forward", path, kind, f"NaN/Inf in the output; {where}")
            sq = float(torch.linalg.vector_norm(d.double()[torch.isfinite(d)])) ** 2
        layer.act_sq += sq
        layer.act_n += d.numel()
        if layer.weight_layer:
            self.last_weight_kind = kind
            if d.dim() >= 2 and d.shape[0] == self.batch and self.batch > 1 and not layer.nf_fwd:
                centered = d - d.mean(0, keepdim=True)
                layer.std_sq += float(torch.linalg.vector_norm(centered, dtype=torch.float32)) ** 2
                layer.std_n += d.numel()
        if kind in _DEAD_KINDS:
            self._dead(layer, d)
        elif kind in _SATURATING:
            flat = _flat_region(kind, d, module)
            layer.sat += int(flat.sum())
            layer.sat_n += flat.numel()
        if y.requires_grad:
            y.register_hook(self._grad_hook(layer))

    def _unit_dim(self, d: torch.Tensor, kind: str) -> int:
        """Units are channels (dim 1) for conv-like outputs, features (last dim) otherwise."""
        if d.dim() >= 4:
            return 1
        if d.dim() == 3 and self.last_weight_kind in ("conv", "conv_transpose"):
            return 1
        return d.dim() - 1 if d.dim() else 0

    def _dilution(self, d: torch.Tensor, unit_dim: int) -> float:
        """Positions per unit and sample (spatial size, or sequence length); 1 for vectors.

        ``_finish`` turns this into the pooling-dilution factor of the backward signal.
        """
        if d.dim() < 3:
            return 1.0
        return max(d.numel() / max(d.shape[unit_dim], 1) / self.batch, 1.0)

    def _dead(self, layer: _Layer, d: torch.Tensor) -> None:
        if d.dim() == 0:
            return
        dim = layer.channel_dim if layer.channel_dim is not None else d.dim() - 1
        if d.shape[dim] != (layer.alive.numel() if layer.alive is not None else d.shape[dim]):
            return  # a reused module with another width: keep the first shape's units
        other = [i for i in range(d.dim()) if i != dim]
        alive = (d.abs().amax(dim=other) > 0) if other else (d != 0)
        layer.alive = alive if layer.alive is None else (layer.alive | alive)
        layer.units = alive.numel()

    # backward -----------------------------------------------------------------------

    def _grad_hook(self, layer: _Layer) -> Callable[[torch.Tensor], None]:
        def hook(grad: torch.Tensor) -> None:
            self.check_time()
            sq = float(torch.linalg.vector_norm(grad.detach(), dtype=torch.float32)) ** 2
            if not math.isfinite(sq) and not bool(torch.isfinite(grad).all()):
                layer.nf_bwd = True
                if self.nf_backward is None:
                    self.nf_backward = NonFiniteSite("backward", layer.path, layer.kind, "NaN/Inf in the gradient of the output")
                return
            layer.grad_sq += sq
            layer.grad_n += grad.numel()

        return hook


class _FunctionalActivations(TorchFunctionMode):
    """Measures activations called as functions inside forwards (F.relu, torch.sigmoid...)."""

    def __init__(self, recorder: ActivationRecorder) -> None:
        super().__init__()
        self.recorder = recorder
        self.kinds: dict[Any, str | None] = {}

    def _kind(self, func: Any) -> str | None:
        try:
            return self.kinds[func]
        except KeyError:
            pass
        except TypeError:
            return None
        kind = ops.DEFAULT_TABLE.function_kind(func)
        if kind is None:
            kind = ops.DEFAULT_TABLE.method_kind(getattr(func, "__name__", ""))
        kind = kind if kind in _FUNCTIONAL_KINDS else None
        self.kinds[func] = kind
        return kind

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if self.recorder.leaf_depth == 0:
            kind = self._kind(func)
            if kind is not None:
                self.recorder.functional(kind, out)
        return out


class _NonFiniteLocaliser(TorchFunctionMode):
    """Finds the first op whose output is non-finite while its inputs are finite."""

    def __init__(self, recorder: ActivationRecorder) -> None:
        super().__init__()
        self.recorder = recorder
        self.counts: dict[tuple[str, str], int] = {}
        self.site: NonFiniteSite | None = None

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if self.site is not None:
            return out
        name = getattr(func, "__name__", str(func))
        scope = self.recorder.stack[-1] if self.recorder.stack else ""
        key = (scope, name)
        self.counts[key] = n = self.counts.get(key, 0) + 1
        outputs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor) and t.is_floating_point()]
        if any(not bool(torch.isfinite(t).all()) for t in outputs):
            inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor) and t.is_floating_point()]
            if all(bool(torch.isfinite(t).all()) for t in inputs):
                self.site = NonFiniteSite(
                    "forward", f"{scope}:{name}#{n}", name,
                    f"{name}() returned NaN/Inf from finite inputs (input range "
                    f"[{_min(inputs):.3g}, {_max(inputs):.3g}])",
                )
        return out


def _min(tensors: list[torch.Tensor]) -> float:
    return min((float(t.min()) for t in tensors if t.numel()), default=float("nan"))


def _max(tensors: list[torch.Tensor]) -> float:
    return max((float(t.max()) for t in tensors if t.numel()), default=float("nan"))


def _localise_nonfinite(model: nn.Module, inputs: Any, recorder: ActivationRecorder) -> NonFiniteSite | None:
    """Re-run one forward (no grad) checking every op, to name the op that made the first NaN."""
    if inputs is None:
        return None
    recorder.localising = True
    recorder.stack.clear()
    mode = _NonFiniteLocaliser(recorder)
    try:
        with torch.no_grad(), mode:
            model(*inputs)
    finally:
        recorder.localising = False
    return mode.site


# --- zero-initialised weights ----------------------------------------------------------


#: A 1-D parameter whose values are all this small and all equal is a layer scale at its
#: init value (LayerScale 1e-5..1e-6, CaiT's gamma_1/gamma_2, ConvNeXt's gamma).
TINY_SCALE = 1e-3


def _is_tiny_scale(name: str, p: torch.Tensor) -> bool:
    """A constant, tiny, nonzero 1-D multiplicative parameter: a layer scale at init."""
    if p.dim() != 1 or "bias" in name.rsplit(".", 1)[-1] or p.is_meta or not p.is_floating_point() or not p.numel():
        return False
    first = float(p.detach().reshape(-1)[0])
    return 0.0 < abs(first) < TINY_SCALE and bool((p == first).all())


def _rescaled(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """Parameters the probe gives a measurable value (all-zero ones and layer scales at init)."""
    out = []
    for name, p in model.named_parameters():
        if not p.requires_grad or not p.is_floating_point() or p.is_meta or not p.numel():
            continue
        if "bias" not in name.rsplit(".", 1)[-1] and not bool(p.any()):
            out.append((name, p))
        elif _is_tiny_scale(name, p):
            out.append((name, p))
    return out


def _reinit_zero(model: nn.Module, gen: torch.Generator) -> list[str]:
    """Give all-zero multiplicative parameters a small random init, and layer scales at their
    tiny init value (1e-5) a small scale, so the probe measures the network, not its init
    (under ``_untouched``: restored afterwards).

    Zero-initialised heads and residual-branch ends, ReZero alphas and LayerScale are
    designs that train: at init they silence whole branches, and every gradient upstream of
    them would look vanished.
    """
    owners = {}
    for mpath, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            owners[id(p)] = (module, pname)
    changed = []
    with torch.no_grad():
        for name, p in _rescaled(model):
            module, _ = owners.get(id(p), (None, ""))
            kind = ops.DEFAULT_TABLE.module_kind(module) if module is not None else None
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32).to(p.dtype) / math.sqrt(fan_in))
            elif kind in ops.NORMALIZATION:
                p.fill_(1.0)
            else:  # layer scale, ReZero alpha: a small scale keeps the block a perturbation
                p.fill_(0.1)
            changed.append(name)
    return changed


@contextlib.contextmanager
def _untouched(model: nn.Module) -> Iterator[None]:
    """Leave ``model`` exactly as found, without cloning every weight.

    ``preserved`` restores modes and buffers (BatchNorm running stats). Parameters are
    never written by the probe except the all-zero ones ``_reinit_zero`` changes, which
    are saved here; ``.grad`` is never written either (gradients come from
    ``torch.autograd.grad``), and the original ``.grad`` objects and ``requires_grad``
    flags are put back regardless. Cloning every parameter instead
    (``preserved(parameters=True)``) would add one model size to peak memory: 1.40x
    instead of 1.17x the plain passes on a ResNet-50 (bench/bench_probe.py).
    """
    saved = [(p, p.grad, p.requires_grad) for p in model.parameters()]
    zeros = [(p, p.detach().clone()) for p in model.parameters()
             if p.is_floating_point() and not p.is_meta and p.numel() and not bool(p.any())]
    zeros += [(p, p.detach().clone()) for name, p in model.named_parameters() if _is_tiny_scale(name, p)]
    try:
        with preserved(model, parameters=False):
            yield
    finally:
        with torch.no_grad():
            for p, data in zeros:
                p.copy_(data)
        for p, grad, requires_grad in saved:
            p.grad = grad
            p.requires_grad_(requires_grad)


# --- the probe --------------------------------------------------------------------------


def estimated_macs(layers: dict[str, "_Layer"]) -> float:
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
    start = time.perf_counter()
    old_batch = batch_of(inputs)
    batch = settings.batch_size or old_batch
    passes = plan_passes(batch, settings)
    base = dict(device=str(device), batch_size=batch, seed=settings.seed)
    recorder = ActivationRecorder(model, start + settings.timeout, batch)
    handles: list[Any] = []
    done = 0
    seen_samples = 0
    notes: list[str] = []
    reinit: list[str] = []
    n_outputs = 0
    grads_sq: dict[str, float] = {}
    grad_zero: dict[str, bool] = {}
    first_inputs: tuple[Any, ...] | None = None
    linearity: LinearityResult | None = None
    try:
        if settings.linearity:
            linearity = linearity_test(model, inputs)
        target = model
        on_device = {p.device for p in model.parameters()} | {b.device for b in model.buffers()}
        if on_device and on_device != {device}:
            target = copy.deepcopy(model).to(device)  # never move the user's model
            recorder = ActivationRecorder(target, start + settings.timeout, batch)
        guard = _untouched(model) if target is model else contextlib.nullcontext()
        with guard, torch.random.fork_rng(devices=rng_devices(device)):
            torch.manual_seed(settings.seed)
            gen = torch.Generator().manual_seed(settings.seed)
            if settings.reinit_zero:
                reinit = _reinit_zero(target, gen)
            target.train()
            params = [(n, p) for n, p in target.named_parameters() if p.requires_grad]
            for module in target.modules():
                handles.append(module.register_forward_pre_hook(recorder.pre_hook))
                handles.append(module.register_forward_hook(recorder.post_hook))
            mode = _FunctionalActivations(recorder)
            planned = passes
            budget = (settings.flop_budget or 0.0) * (CUDA_SPEEDUP if device.type == "cuda" else 1.0)
            first_batch = batch
            later_batch: int | None = None
            per_pass = 0.0
            k = 0
            while k < passes:
                if k == 1 and budget and settings.passes is None:
                    # Scale the probe's work to the model's cost, estimated from the layers the
                    # first pass ran (not timed: the same model gets the same passes on a busy
                    # machine): fewer passes, never under 2, and smaller later batches for a
                    # model one pass of which is over the budget (a ViT-B/16 on a CPU).
                    per_pass = 6.0 * estimated_macs(recorder.layers)  # forward 2, backward 4 FLOPs per MAC
                    if per_pass * passes > budget:
                        passes = max(2, min(passes, int(budget / max(per_pass, 1.0))))
                        if per_pass * 2 > budget:
                            per_sample = per_pass / max(first_batch, 1)
                            later_batch = max(2, min(first_batch, int(max(budget - per_pass, 0.0) / per_sample)))
                            if later_batch >= first_batch:
                                later_batch = None
                recorder.new_pass()
                if k == 0:
                    x = inputs if settings.batch_size in (None, old_batch) else resample(inputs, gen, settings.batch_size, old_batch)
                else:
                    x = resample(inputs, gen, later_batch or settings.batch_size, old_batch)
                seen_samples += batch_of(x)
                x = to_device(x, device)
                if k == 0:
                    first_inputs = x
                with mode:
                    out = target(*x)
                outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point()]
                n_outputs = len(outs)
                for t in tree_flatten(out)[0]:
                    if isinstance(t, torch.Tensor) and t.is_floating_point() and recorder.nf_forward is None:
                        if not bool(torch.isfinite(t.detach()).all()):
                            recorder.nf_forward = NonFiniteSite("forward", "<output>", "output", "NaN/Inf in a model output")
                if not outs or not params:
                    if k == 0:
                        notes.append("no output depends on trainable parameters: backward not measured")
                    done += 1
                    k += 1
                    continue
                cot = [torch.randn(t.shape, generator=gen, dtype=torch.float32).to(device=t.device, dtype=t.dtype) for t in outs]
                grads = torch.autograd.grad(outs, [p for _, p in params], cot, allow_unused=True)
                for (name, p), g in zip(params, grads):
                    if g is None:
                        continue
                    sq = float(torch.linalg.vector_norm(g, dtype=torch.float32)) ** 2
                    grads_sq[name] = grads_sq.get(name, 0.0) + (sq if math.isfinite(sq) else 0.0)
                    grad_zero[name] = grad_zero.get(name, True) and sq == 0.0
                del out, outs, grads, cot
                done += 1
                k += 1
            if passes < planned or later_batch:
                smaller = f", later ones of {later_batch} samples" if later_batch else ""
                notes.append(f"{passes} of {planned} passes ({seen_samples} samples{smaller}): one pass costs about "
                             f"{per_pass / 1e9:.3g} GFLOPs, over the probe's budget of {budget / 1e9:.3g} GFLOPs")
            site = recorder.nf_forward
            if site is not None and (site.layer == "<output>" or "already non-finite" in site.detail):
                recorder.nf_forward = _localise_nonfinite(target, first_inputs, recorder) or site
            report = _finish(target, recorder, params, grads_sq, grad_zero, reinit, done)
    except ProbeTimeout:
        return ProbeReport.not_run(
            "timeout",
            f"exceeded the probe time budget of {settings.timeout:g}s after {done} of {passes} passes (raise --probe-timeout)",
            passes=done, seconds=time.perf_counter() - start, linearity=linearity, **base,
        )
    except UserError:
        raise
    except Exception as exc:  # the user's model raised: report it, keep static results
        return ProbeReport.not_run(
            "error", f"the model raised during the probe: {one_line(exc)}",
            passes=done, seconds=time.perf_counter() - start, linearity=linearity, **base,
        )
    finally:
        for handle in handles:
            handle.remove()
    if reinit:
        notes.append("zero-initialised weights temporarily re-initialised: " + ", ".join(reinit))
    if settings.batch_size not in (None, old_batch):
        notes.append(f"inputs re-batched from {old_batch} to {batch} samples per pass")
    return ProbeReport(
        status="ok",
        passes=done,
        samples=seen_samples,
        seconds=time.perf_counter() - start,
        outputs=n_outputs,
        notes=tuple(notes),
        linearity=linearity,
        inputs=first_inputs,
        **base,
        **report,
    )


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


def _undo_pooling_dilution(layers: list[_Layer]) -> None:
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

"""What the gradient probe records per layer: hooks on every module and a function mode for functional activations.

The :class:`ActivationRecorder` accumulates, per measured layer and over every pass, the
activation RMS and spread, the backward signal (a tensor hook on each output), dead and
saturated units, and where NaN/Inf first appeared; it checks the time budget in every
hook (:class:`ProbeTimeout`).
"""


from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from actlint.graph import ops
from actlint.probe.reports import LayerStats, NonFiniteSite



#: Activations whose units can die: exact zero output (and zero gradient) over a region.
#: Smooth or leaky variants (GELU, SiLU, ELU, LeakyReLU) always pass gradient: never dead.
_DEAD_KINDS = ops.RECTIFIERS | frozenset({"hardswish"})


_SATURATING = ops.SATURATING


#: Functional calls measured as layers: activations whose health is measured, and softmax
#: (ACT101's confirmation reads the gradient attenuation across it).
_FUNCTIONAL_KINDS = ops.RELU_FAMILY | _SATURATING | ops.SOFTMAX


class ProbeTimeout(Exception):
    """The probe exceeded its time budget."""


class LayerAccumulator:
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
        self.layers: dict[str, LayerAccumulator] = {}
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
            layer = self.layers[path] = LayerAccumulator(path, kind, len(self.layers), module, functional)
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

    def _dead(self, layer: LayerAccumulator, d: torch.Tensor) -> None:
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

    def _grad_hook(self, layer: LayerAccumulator) -> Callable[[torch.Tensor], None]:
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


class FunctionalActivations(TorchFunctionMode):
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


def localise_nonfinite(model: nn.Module, inputs: Any, recorder: ActivationRecorder) -> NonFiniteSite | None:
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


__all__ = ["ActivationRecorder", "FunctionalActivations", "LayerAccumulator", "ProbeTimeout", "localise_nonfinite"]

"""The ProbeReport: what a short probe run measured, immutable and JSON-serialisable.

The probe (:mod:`actlint.probe.gradient`) runs a few forward/backward passes of the user's model and
records, for every hooked layer in forward order, the numbers the measured rules
(ACT701-ACT707) and the confirmations of static findings read. The probe never decides
anything: these are measurements only; rules judge.

Field names are a contract shared with the init-rule confirmations (ACT301-ACT304) and the
HTML report's gradient-flow and activation-health charts: add fields, never rename them.

Conventions:

* A *layer* is a leaf module, by module path (``"features.0"``), or a functional
  activation called inside a module's ``forward`` (``F.relu(x)``), named
  ``"<module path>:<kind>#<n>"`` (``"layer1.0:relu#2"``; ``":relu#1"`` at the top level).
* Magnitudes are root-mean-square values over every element and every probe sample,
  aggregated over passes as the root of the mean of squares.
* ``None`` means "not measured" (e.g. no gradient reached the layer), never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actlint.core.numbers import json_number

#: Probe run statuses.
STATUSES = ("ok", "skipped", "timeout", "error")


@dataclass(frozen=True)
class LayerStats:
    """Measurements for one layer, aggregated over every probe pass."""

    #: Module path (``"encoder.layers.0.linear1"``) or ``"<module>:<kind>#<n>"`` for a
    #: functional activation called inside that module's forward.
    path: str
    #: Op kind from :mod:`actlint.graph.ops` (``"conv"``, ``"relu"``, ``"sigmoid"``...), or the
    #: module class name when the op table does not know it.
    kind: str
    #: Position of the layer's first call in the forward pass (0-based).
    order: int
    #: True for layers that own weights and count toward depth (``ops.WEIGHT_LAYERS``).
    weight_layer: bool
    #: True for functional calls (``F.relu``, ``torch.sigmoid``) rather than modules.
    functional: bool = False
    #: Times the layer ran per forward pass (a module reused in a loop runs several times).
    calls: int = 1
    #: Shape of the (first tensor of the) layer's output in the first pass.
    output_shape: tuple[int, ...] = ()
    #: Forward activation RMS of the layer's output.
    activation_rms: float | None = None
    #: Weight layers only: RMS of the output's sample-to-sample variation (the output minus
    #: its mean over the batch dimension), i.e. the part of the signal that depends on the
    #: input. A collapsed signal riding on a bias has a large RMS but a tiny ``activation_std``.
    activation_std: float | None = None
    #: Raw RMS of the gradient of the synthetic objective w.r.t. the layer's output.
    grad_output_rms: float | None = None
    #: The backward signal: ``grad_output_rms`` corrected for global-pooling dilution. When
    #: the network ends in vectors (a classifier) after layers with positions, the layers
    #: with positions are multiplied by P, the positions per unit of the last such layer
    #: (at most their own): P for conv-like ``(N, C, *spatial)`` outputs, sqrt(P) for
    #: ``(N, T, D)`` sequences. Fully convolutional outputs are not corrected.
    backward_signal: float | None = None
    #: RMS of the gradient of the layer's own trainable parameters (all of them, pooled).
    weight_grad_rms: float | None = None
    #: RMS of the layer's own trainable parameters.
    weight_rms: float | None = None
    #: ``||grad W|| / ||W||`` over the layer's own trainable parameters.
    grad_weight_ratio: float | None = None
    #: ReLU family only: fraction of units (channels for conv-like outputs, features
    #: otherwise) whose output is <= 0 for every probe sample and position (exactly 0 for
    #: rectifiers; <= 0 means "never positive" for leaky/smooth variants).
    dead_fraction: float | None = None
    #: Sigmoid/tanh family only: fraction of output elements in the flat region, where the
    #: derivative is below 1% of its maximum.
    saturated_fraction: float | None = None
    #: Units counted for ``dead_fraction`` (channels or features).
    units: int | None = None
    #: NaN/Inf seen in this layer's output (forward) or output gradient (backward).
    nonfinite_forward: bool = False
    nonfinite_backward: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "order": self.order,
            "weight_layer": self.weight_layer,
            "functional": self.functional,
            "calls": self.calls,
            "output_shape": list(self.output_shape),
            "activation_rms": json_number(self.activation_rms),
            "activation_std": json_number(self.activation_std),
            "grad_output_rms": json_number(self.grad_output_rms),
            "backward_signal": json_number(self.backward_signal),
            "weight_grad_rms": json_number(self.weight_grad_rms),
            "weight_rms": json_number(self.weight_rms),
            "grad_weight_ratio": json_number(self.grad_weight_ratio),
            "dead_fraction": json_number(self.dead_fraction),
            "saturated_fraction": json_number(self.saturated_fraction),
            "units": self.units,
            "nonfinite_forward": self.nonfinite_forward,
            "nonfinite_backward": self.nonfinite_backward,
        }


@dataclass(frozen=True)
class NonFiniteSite:
    """Where NaN/Inf first appeared."""

    #: "forward" (an activation or output) or "backward" (a gradient).
    phase: str
    #: Layer path as in :attr:`LayerStats.path`, or ``"<output>"`` / ``"<input>"``.
    layer: str
    kind: str
    #: One line: what was non-finite and whether the layer's input was still finite.
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"phase": self.phase, "layer": self.layer, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class LinearityResult:
    """The exact linearity test for ACT103: is ``f(x+y) == f(x) + f(y) - f(0)``?

    Run in float64 and eval mode on a copy of the model (the user's model is untouched).
    """

    #: "linear", "nonlinear" or "not-applicable" (integer inputs, copy failed...).
    status: str
    #: max |f(x+y) - f(x) - f(y) + f(0)| / max(|f(x+y)|, tiny) over every tensor output.
    relative_error: float | None = None
    #: The error below which the model counts as linear.
    tolerance: float = 1e-9
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "relative_error": json_number(self.relative_error),
            "tolerance": self.tolerance,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ProbeReport:
    """Everything one probe run measured on one model (immutable)."""

    #: "ok", "skipped", "timeout" or "error".
    status: str
    #: Why the probe did not complete (with the flag that fixes it when skipped), or "".
    reason: str = ""
    #: Device the probe ran on ("cpu", "cuda:0").
    device: str = "cpu"
    #: Samples per pass (the batch size of the probe inputs).
    batch_size: int = 0
    #: Forward/backward passes completed (each with fresh inputs resampled like the examples).
    passes: int = 0
    #: Total samples seen (``batch_size * passes``); dead-unit statistics need >= 32.
    samples: int = 0
    #: Wall time of the probe in seconds.
    seconds: float = 0.0
    #: The fixed seed of the run (the user's RNG state is restored afterwards).
    seed: int = 0
    #: Tensor outputs the synthetic objective was backpropagated through.
    outputs: int = 0
    #: Per-layer measurements in forward order (order of first call).
    layers: tuple[LayerStats, ...] = ()
    #: First NaN/Inf in the forward pass, and in the backward pass.
    first_nonfinite_forward: NonFiniteSite | None = None
    first_nonfinite_backward: NonFiniteSite | None = None
    #: Trainable parameters of modules that ran whose ``.grad`` stayed None (detach,
    #: no_grad, ``.data``, outputs never used) - by parameter name.
    params_without_grad: tuple[str, ...] = ()
    #: Trainable parameters of modules that ran whose gradient was exactly zero everywhere.
    params_zero_grad: tuple[str, ...] = ()
    #: Modules owning trainable parameters whose forward never ran.
    modules_not_called: tuple[str, ...] = ()
    #: All-zero parameters temporarily re-initialised so gradients could flow past them
    #: (zero-initialised heads, zero-init residual gammas): by parameter name.
    reinitialised: tuple[str, ...] = ()
    #: Human-readable notes, e.g. "zero-initialised weights temporarily re-initialised: head.weight".
    notes: tuple[str, ...] = ()
    #: ACT103's exact linearity test, when requested.
    linearity: LinearityResult | None = None
    #: The inputs of the first probe pass (never serialised). Confirmations that re-run a
    #: copy of the model (ACT102's segment linearity test) use them.
    inputs: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    #: The training probe (:mod:`actlint.probe.training`), when it was wanted: a TrainingReport.
    training: Any = None

    # --- queries -------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def layer(self, path: str) -> LayerStats | None:
        """The layer with this path, or None."""
        for stats in self.layers:
            if stats.path == path:
                return stats
        return None

    def weight_layers(self) -> list[LayerStats]:
        """Weight layers in forward order."""
        return [s for s in self.layers if s.weight_layer]

    def layers_under(self, prefix: str) -> list[LayerStats]:
        """Layers whose module path is ``prefix`` or inside it (functional calls included)."""
        if not prefix:
            return list(self.layers)
        return [
            s for s in self.layers
            if s.path == prefix or s.path.startswith(prefix + ".") or s.path.startswith(prefix + ":")
        ]

    @property
    def first_nonfinite(self) -> NonFiniteSite | None:
        """The first non-finite site, forward before backward."""
        return self.first_nonfinite_forward or self.first_nonfinite_backward

    def describe(self) -> str:
        """One line for the text output."""
        if self.status == "ok":
            return (
                f"ok on {self.device}: {self.passes} passes x {self.batch_size} samples, "
                f"{len(self.layers)} layers, {self.seconds:.2f}s"
            )
        return f"{self.status}: {self.reason}"

    # --- constructors and serialisation -----------------------------------------------

    @classmethod
    def not_run(cls, status: str, reason: str, **kwargs: Any) -> "ProbeReport":
        """A report for a probe that was skipped, timed out or failed."""
        if status not in STATUSES:
            raise ValueError(f"unknown probe status {status!r}")
        return cls(status=status, reason=reason, **kwargs)

    def to_json(self) -> dict[str, Any]:
        """The ``probe`` object of the JSON output."""
        return {
            "status": self.status,
            "reason": self.reason,
            "device": self.device,
            "batch_size": self.batch_size,
            "passes": self.passes,
            "samples": self.samples,
            # No wall time here: the same model gives the same document, whatever the machine's
            # load or the number of worker processes (the HTML report shows the time).
            "seed": self.seed,
            "outputs": self.outputs,
            "layers": [s.to_json() for s in self.layers],
            "first_nonfinite_forward": self.first_nonfinite_forward.to_json() if self.first_nonfinite_forward else None,
            "first_nonfinite_backward": (
                self.first_nonfinite_backward.to_json() if self.first_nonfinite_backward else None
            ),
            "params_without_grad": list(self.params_without_grad),
            "params_zero_grad": list(self.params_zero_grad),
            "modules_not_called": list(self.modules_not_called),
            "reinitialised": list(self.reinitialised),
            "notes": list(self.notes),
            "linearity": self.linearity.to_json() if self.linearity else None,
            "training": self.training.to_json() if self.training is not None else None,
        }


__all__ = ["LayerStats", "NonFiniteSite", "LinearityResult", "ProbeReport", "STATUSES"]

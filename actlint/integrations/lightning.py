"""A PyTorch Lightning callback: lint the LightningModule on the first real training batch.

    from actlint.integrations.lightning import ActlintCallback
    trainer = L.Trainer(callbacks=[ActlintCallback(fail_on="error")])

Once, before the first optimizer step, the callback lints the module with the batch the
dataloader produced (real data, not synthetic inputs), logs the findings through the
trainer's logger (``actlint/errors``, ``actlint/warnings``, ``actlint/infos``) and the
console, and stops the run with :class:`actlint.LintError` when a finding reaches
``fail_on`` (``None`` never stops). It costs one lint, so at most one probe.

Works with ``lightning`` (``import lightning as L``) and ``pytorch_lightning``.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import torch

try:
    from lightning.pytorch import Callback
except ImportError:  # pragma: no cover - the older package name
    try:
        from pytorch_lightning import Callback  # type: ignore[no-redef]
    except ImportError as exc:
        raise ImportError(
            "actlint.integrations.lightning needs PyTorch Lightning: pip install lightning"
        ) from exc

from actlint.api import LintError, LintResult, lint
from actlint.core.findings import Severity

log = logging.getLogger("actlint")


def model_inputs(batch: Any) -> tuple[Any, ...]:
    """What ``forward`` gets from a training batch: a tensor as is, the first item of an
    ``(inputs, targets)`` pair, the tensors of a dict of inputs without its labels."""
    if isinstance(batch, torch.Tensor):
        return (batch,)
    if isinstance(batch, (list, tuple)) and batch:
        return (batch[0],)
    if isinstance(batch, dict):
        tensors = [v for k, v in batch.items() if isinstance(v, torch.Tensor) and "label" not in k and k != "y"]
        return tuple(tensors[:1])
    return ()


class ActlintCallback(Callback):
    """Lint the LightningModule once, on the first training batch (see the module docstring)."""

    def __init__(
        self,
        fail_on: str | None = "error",
        *,
        select: str | Sequence[str] | None = None,
        ignore: str | Sequence[str] = (),
        probe: bool = True,
        inputs: Callable[[Any], tuple[Any, ...]] = model_inputs,
        **options: Any,
    ) -> None:
        super().__init__()
        self.fail_on = Severity.parse(fail_on) if fail_on else None
        self.select, self.ignore, self.probe = select, ignore, probe
        self.inputs = inputs
        self.options = options
        self.result: LintResult | None = None

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self.result is not None:
            return
        device = str(next(pl_module.parameters()).device) if any(True for _ in pl_module.parameters()) else "cpu"
        result = lint(pl_module, *self.inputs(batch), select=self.select, ignore=self.ignore, probe=self.probe,
                      device=self.options.pop("device", "cuda" if device.startswith("cuda") else "cpu"),
                      fail_on=self.fail_on.label if self.fail_on else "error", **self.options)
        self.result = result
        counts = result.run.counts()
        if trainer.logger is not None:
            trainer.logger.log_metrics({f"actlint/{label}s": float(n) for label, n in counts.items()},
                                       step=trainer.global_step)
        text = str(result).rstrip()
        (log.warning if result.findings or result.errors else log.info)("actlint:\n%s", text)
        if trainer.is_global_zero:
            print(f"actlint: {text}")  # the console, where Lightning prints its own progress
        if self.fail_on is not None and (result.errors or any(f.severity >= self.fail_on for f in result.findings)):
            raise LintError(result)


__all__ = ["ActlintCallback", "model_inputs"]

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

from actlint.api import LintError, LintResult
from actlint.integrations.once import LintOnce


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
        self.once = LintOnce(fail_on, select, ignore, probe, options)
        self.inputs = inputs
        self.result: LintResult | None = None

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self.result is not None:
            return
        try:
            self.result = self.once.run(pl_module, self.inputs(batch), console=trainer.is_global_zero)
        except LintError as stop:
            self.result = stop.result
            raise
        finally:
            if self.result is not None and trainer.logger is not None:
                trainer.logger.log_metrics(LintOnce.counts(self.result), step=trainer.global_step)


__all__ = ["ActlintCallback", "model_inputs"]

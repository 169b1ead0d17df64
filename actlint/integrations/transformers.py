"""A HuggingFace ``Trainer`` callback: lint the model on the first real training batch.

    from actlint.integrations.transformers import ActlintCallback
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[ActlintCallback()])

Once, on the first forward pass of training (so with the batch the Trainer's own data
collator produced, before the first backward pass and optimizer step), the callback lints
the model with that batch's inputs, prints the report, logs ``actlint/errors``,
``actlint/warnings`` and ``actlint/infos`` with the Trainer's next log (so every
``report_to`` integration and ``trainer.state.log_history`` get them), and stops training
with :class:`actlint.LintError` when a finding reaches ``fail_on`` (``None``: never). One
lint, so at most one probe; the model is left exactly as it was.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Mapping, Sequence

import torch

try:
    from transformers import TrainerCallback
    from transformers.trainer_callback import CallbackHandler
except ImportError as exc:  # pragma: no cover - exercised only without the package
    raise ImportError("actlint.integrations.transformers needs transformers: pip install transformers") from exc

from actlint.api import LintError, LintResult
from actlint.integrations.once import LintOnce


def model_inputs(model: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """What to lint the model with, from its first training call: the model's main input
    (``model.main_input_name``: ``input_ids``, ``pixel_values``, ...) or the first tensor given."""
    name = getattr(model, "main_input_name", None)
    if name and isinstance(kwargs.get(name), torch.Tensor):
        return (kwargs[name],)
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    tensors += [v for k, v in kwargs.items() if isinstance(v, torch.Tensor) and "label" not in k]
    return tuple(tensors[:1])


class ActlintCallback(TrainerCallback):
    """Lint the model once, on the first training batch (see the module docstring)."""

    def __init__(
        self,
        fail_on: str | None = "error",
        *,
        select: str | Sequence[str] | None = None,
        ignore: str | Sequence[str] = (),
        probe: bool = True,
        inputs: Callable[[Any, Sequence[Any], Mapping[str, Any]], tuple[Any, ...]] = model_inputs,
        **options: Any,
    ) -> None:
        self.once = LintOnce(fail_on, select, ignore, probe, options)
        self.inputs = inputs
        self.result: LintResult | None = None
        self.linted_at_step: int | None = None  # the Trainer's global step when the lint ran (0: before any update)
        self._hook: Any = None
        self._state: Any = None
        self._pending: dict[str, float] | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._move_first()
        if self.result is None and model is not None and self._hook is None:
            self._state = state
            self._hook = model.register_forward_pre_hook(self._first_forward, with_kwargs=True)

    def _first_forward(self, module: Any, args: tuple, kwargs: dict) -> None:
        """The first training forward: lint with its inputs, then let it run on."""
        self._hook.remove()
        self._hook = None
        self.linted_at_step = getattr(self._state, "global_step", None)
        try:
            self.result = self.once.run(module, self.inputs(module, args, kwargs),
                                        console=getattr(self._state, "is_world_process_zero", True))
        except LintError as stop:
            self.result = stop.result
            raise
        finally:
            if self.result is not None:
                self._pending = LintOnce.counts(self.result)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        if self._pending is None or logs is None:
            return
        logs.update(self._pending)
        if state.log_history and state.log_history[-1] is not logs:
            state.log_history[-1].update(self._pending)
        self._pending = None

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._hook is not None:  # training ended before any forward pass
            self._hook.remove()
            self._hook = None

    def _move_first(self) -> None:
        """Run before the reporting integrations (TensorBoard, W&B, ...), which the Trainer puts
        ahead of user callbacks: on_log adds the counts to the dict they are given next.

        The handler is the caller's ``self`` (CallbackHandler.call_event); moving this
        callback to the front of the list it iterates calls nobody twice and skips nobody.
        """
        frame = sys._getframe(1)
        for _ in range(4):  # on_train_begin (maybe a subclass's), then the handler's call_event
            frame = frame.f_back
            if frame is None:
                return
            handler = frame.f_locals.get("self")
            if isinstance(handler, CallbackHandler):
                if self in handler.callbacks:
                    handler.callbacks.remove(self)
                    handler.callbacks.insert(0, self)
                return


__all__ = ["ActlintCallback", "model_inputs"]

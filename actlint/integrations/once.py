"""What every training-framework callback does: lint the model once, report, stop at ``fail_on``."""

from __future__ import annotations

import logging
from typing import Any, Sequence

import torch

from actlint.api import LintError, LintResult, lint
from actlint.core.findings import Severity

log = logging.getLogger("actlint")


class LintOnce:
    """The settings of a callback's single lint and its verdict."""

    def __init__(self, fail_on: str | None, select: str | Sequence[str] | None, ignore: str | Sequence[str],
                 probe: bool, options: dict[str, Any]) -> None:
        self.fail_on = Severity.parse(fail_on) if fail_on else None
        self.select, self.ignore, self.probe = select, ignore, probe
        self.options = options

    def run(self, model: torch.nn.Module, inputs: tuple[Any, ...], *, console: bool = True) -> LintResult:
        """Lint ``model`` with ``inputs`` on the device its parameters are on; log the report (and
        print it when ``console``); raise :class:`~actlint.LintError` when a finding reaches ``fail_on``."""
        options = dict(self.options)
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
        result = lint(model, *inputs, select=self.select, ignore=self.ignore, probe=self.probe,
                      device=options.pop("device", "cuda" if device.type == "cuda" else "cpu"),
                      fail_on=self.fail_on.label if self.fail_on else "error", **options)
        text = str(result).rstrip()
        (log.warning if result.findings or result.errors else log.info)("actlint:\n%s", text)
        if console:
            print(f"actlint: {text}")  # the console, where the trainer prints its own progress
        if self.fail_on is not None and (result.errors or any(f.severity >= self.fail_on for f in result.findings)):
            raise LintError(result)
        return result

    @staticmethod
    def counts(result: LintResult) -> dict[str, float]:
        """``actlint/errors``, ``actlint/warnings``, ``actlint/infos`` for the trainer's loggers."""
        return {f"actlint/{label}s": float(n) for label, n in result.run.counts().items()}

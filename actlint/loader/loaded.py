"""What loading hands on: a loaded file (its source, namespace, load plan and what ran) and the models built from it."""


from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch.nn as nn

from actlint.sandbox.fence import FenceLog
from actlint.loader.build import default_memory_budget
from actlint.loader.examples import ExampleBlock, ExampleBuild
from actlint.loader.plan import MAIN_GUARD, UNNEEDED, LoadPlan

#: Seconds a file may take to load, and again each model construction, by default.


#: Seconds a file may take to load, and again each model construction, by default.
DEFAULT_LOAD_TIMEOUT = 60.0


@dataclass(frozen=True)
class LoadSettings:
    """How user files are loaded (CLI flags and configuration)."""

    script_args: tuple[str, ...] = ()  # the script's sys.argv[1:] (--script-args)
    timeout: float | None = DEFAULT_LOAD_TIMEOUT  # seconds per file load and per construction
    memory_budget: int | None = None  # bytes of weights above which a model is linted on meta; None: default


@dataclass(eq=False)  # identity: per-file analyses are cached by the file object
class LoadedFile:
    """A loaded user file: its path, text, namespace and what loading ran, skipped or fenced."""

    path: Path  # resolved absolute path
    display: str  # the path as the user wrote it (used in output)
    source: str
    namespace: dict[str, Any] = field(repr=False)
    plan: LoadPlan | None = field(default=None, repr=False)
    settings: LoadSettings = field(default_factory=LoadSettings, repr=False)
    failures: dict[int, str] = field(default_factory=dict)  # statement index -> one-line error
    fence: FenceLog = field(default_factory=FenceLog, repr=False)
    tree: ast.Module | None = field(default=None, repr=False)
    #: Where findings without a location of their own point (the API: the lint() call).
    default_line: int = 1
    #: Models the file's own example blocks built (the function blocks' once :func:`file_examples` read them).
    examples: list[ExampleBuild] = field(default_factory=list, repr=False)
    #: Names the ``__main__`` block bound (its models are examples, not module-level instances).
    example_names: set[str] = field(default_factory=set, repr=False)
    #: Why an example block built no model (block label -> one line), for the no-model message.
    example_failures: dict[str, str] = field(default_factory=dict, repr=False)
    flags: int = 0  # the file's __future__ compiler flags
    blocks: list[ExampleBlock] = field(default_factory=list, repr=False)  # the file's example blocks, planned
    functions_read: bool = False  # the function example blocks have run (file_examples)
    guard_plan: LoadPlan | None = field(default=None, repr=False)  # the __main__ block's, once read
    installed: bool = False  # a module of an installed package (module:attribute), not a file

    def load_note(self) -> str | None:
        """One short line: what loading ran, skipped and fenced (None for a plain library file)."""
        parts: list[str] = []
        # The __main__ block was read when it ran in place or a function it calls built a model.
        guard_read = self.guard_plan is not None or any(b.primary for b in self.examples)
        for plan, what in ((self.plan, "top-level statements"), (self.guard_plan, "statements of the __main__ block")):
            if plan is None:
                continue
            executable = [s for s in plan.statements if s.kind in ("config", "model", "other", "guard")
                          and not (guard_read and s.kind == "guard")]
            ran = sum(1 for s in executable if plan.runs(s))
            skipped = {reason: lines for reason, lines in plan.skipped().items()
                       if reason != UNNEEDED and not (guard_read and reason == MAIN_GUARD)}
            if skipped:
                listed = "; ".join(f"{reason}: {_lines(lines)}" for reason, lines in skipped.items())
                parts.append(f"ran {ran} of {len(executable)} {what} (skipped {listed})")
        statements = self.plan.statements if self.plan is not None else []
        failures = [message for index, message in self.failures.items()
                    if not (index < len(statements) and statements[index].speculative)]
        if failures:
            shown = "; ".join(f.replace(f"{self.display}:", "line ", 1) for f in failures[:2])
            parts.append(f"failed: {shown}" + (f" (and {len(failures) - 2} more)" if len(failures) > 2 else ""))
        if self.fence.output_lines:
            parts.append(f"its output ({self.fence.output_lines} lines) went to stderr")
        if self.fence.threads_started:
            parts.append(f"{len(self.fence.threads_started)} thread(s) it started do not keep actlint running")
        if not parts:
            return None
        return "loaded the model, not the script: " + "; ".join(parts)

    @property
    def budget(self) -> int:
        if self.settings.memory_budget is not None:
            return self.settings.memory_budget
        return _default_budget()


@dataclass
class LoadedModel:
    """One model to lint."""

    name: str  # the selector that reproduces it: file.py::name
    kind: str  # "instance", "factory", "class" or "expression"
    model: nn.Module
    file: LoadedFile
    notes: list[str] = field(default_factory=list)  # how it was built, unwrapped, or put on meta
    meta: bool = False  # weights are meta tensors: rules needing weight values and the probe are skipped
    #: Inputs the file's own example calls the model with, and where (``the file's example, line 9, test()``).
    example_inputs: tuple[Any, ...] | None = None
    example_inputs_from: str = ""


_budget_cache: list[int] = []


def _default_budget() -> int:
    if not _budget_cache:
        _budget_cache.append(default_memory_budget())
    return _budget_cache[0]


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:4]) + (", ..." if len(lines) > 4 else "")
    return ("line " if len(lines) == 1 else "lines ") + shown


def display_path(path: Path) -> str:
    """Path relative to the working directory when below it (what users expect to click)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # different drive (Windows)
        return str(path)


def is_loss(obj: object) -> bool:
    """Loss modules (``criterion = nn.CrossEntropyLoss()``) are paired with models, not models."""
    cls = obj if isinstance(obj, type) else type(obj)
    return issubclass(cls, nn.modules.loss._Loss)

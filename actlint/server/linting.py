"""Linting documents for the server: static rules first, then the probe, in warm workers.

Each save (or open) of a document starts a new generation for it: the static lint (the
rules without the probe, a second or so) runs first and is published, then the full lint
with the probe runs in the background and replaces it. A newer generation of the same
document cancels the probe still running for an older one (its worker is stopped and a
fresh one takes the next task), and a result of an older generation is never published.
The user's code only ever runs in the workers, forked from the server process, which keeps
torch imported; the workers keep the modules the user's files import warm between saves.
Where workers cannot be forked (macOS, Windows) the server lints in its own process.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Callable

from actlint.cache.store import ResultCache, cache_folder
from actlint.config import discover
from actlint.core.errors import UserError
from actlint.core.findings import Finding
from actlint.core.results import ModelResult, RunError
from actlint.options import CommandLine, LintOptions, build_options
from actlint.pipeline import lint_paths
from actlint.rules.registry import default_registry
from actlint.sandbox.isolation import IsolatedWorkers, WorkerFailure, isolation_available

#: (path, findings, errors, phase) -> None; phase is "static" or "probe".
Publish = Callable[[str, list[Finding], list[str], str], None]


def _lint_in_worker(task: tuple[str, LintOptions, str | None]) -> tuple[list[ModelResult], list[RunError]]:
    """A worker's lint of one file: the same pipeline as the CLI, with the result cache."""
    path, options, cache_folder = task
    cache = ResultCache(cache_folder, options) if cache_folder else None
    run = lint_paths([path], options, cache=cache)
    return [m.portable() for m in run.models], run.errors


class _InProcess:
    """Where workers cannot be forked (macOS, Windows): the same interface, lints in this process."""

    def __init__(self, run_task: Callable) -> None:
        self.run_task = run_task

    def results(self, payloads):
        for index, payload in enumerate(payloads):
            try:
                yield index, self.run_task(payload)
            except Exception as exc:  # noqa: BLE001 - one file's failure is its diagnostic
                yield index, WorkerFailure(f"internal error: {exc}")

    def cancel(self) -> None:
        """A lint in this process cannot be stopped half-way; its stale result is dropped."""

    def close(self) -> None:
        """Nothing to let go."""


def _workers() -> "IsolatedWorkers | _InProcess":
    if isolation_available():
        return IsolatedWorkers(_lint_in_worker, jobs=1, keep=True)
    return _InProcess(_lint_in_worker)


class DocumentLinter:
    """Two warm workers (static lints, probe lints) and the generations of each document."""

    def __init__(self, publish: Publish, use_cache: bool = True) -> None:
        self.publish = publish
        self.use_cache = use_cache
        self.registry = default_registry()
        self.static_workers = _workers()
        self.probe_workers = _workers()
        self._static_lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()
        self.findings: dict[str, list[Finding]] = {}  # the last published findings, for code actions

    def options_for(self, path: str) -> tuple[LintOptions, str | None]:
        """The options ``actlint path`` would use there ([tool.actlint] of the nearest pyproject.toml)."""
        config = discover([path], self.registry)
        options, _ = build_options(config, CommandLine(), self.registry)
        folder = cache_folder(config.path, Path(path).parent)
        return options, (str(folder) if self.use_cache else None)

    def changed(self, path: str) -> int:
        """A new generation of ``path``: the probe running for an older one is cancelled."""
        with self._lock:
            generation = self._generations.get(path, 0) + 1
            self._generations[path] = generation
        if self._probe_lock.locked():
            self.probe_workers.cancel()
        return generation

    def current(self, path: str, generation: int) -> bool:
        with self._lock:
            return self._generations.get(path) == generation

    def lint(self, path: str, generation: int) -> None:
        """Static lint, published; then the probe lint, published unless a newer save came first."""
        try:
            options, cache_folder = self.options_for(path)
        except (UserError, ValueError) as exc:
            self.publish(path, [], [str(exc)], "static")
            return
        phases = [("static", replace(options, probe=False), self.static_workers, self._static_lock)]
        if options.probe:
            phases.append(("probe", options, self.probe_workers, self._probe_lock))
        for phase, phase_options, workers, lock in phases:
            if not self.current(path, generation):
                return
            with lock:
                if not self.current(path, generation):
                    return
                (_, result), = list(workers.results([(path, phase_options, cache_folder)]))
            if not self.current(path, generation):
                return
            if isinstance(result, WorkerFailure):
                if result.message == "cancelled":
                    return
                self.publish(path, [], [f"{path}: {result.message}"], phase)
                return
            models, errors = result
            findings = [f for m in models for f in m.active_findings()]
            self.findings[path] = findings
            self.publish(path, findings, [e.message for e in errors], phase)

    def close(self) -> None:
        self.static_workers.close()
        self.probe_workers.close()

"""The outcome of a lint run, as every output format sees it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from actlint.core.findings import Finding, Severity

if TYPE_CHECKING:  # annotations only: the records here never import a stage
    from actlint.fixes.outcome import FixOutcome
    from actlint.graph.view import GraphView
    from actlint.probe.reports import ProbeReport


@dataclass
class ModelResult:
    """Everything actlint learned about one model."""

    name: str  # the selector name (class, factory or instance)
    file: str  # the file as displayed to the user
    trace: str  # "fx", "fx-partial", "executed" or "modules"
    inputs: str  # description of the example inputs, or why there are none
    parameters: int
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped_rules: dict[str, str] = field(default_factory=dict)
    #: Selected rules that could not run for lack of something (dataflow, inputs, weights, a
    #: probe run that was wanted): the model was linted partially. Not the user's own choices.
    incomplete_rules: dict[str, str] = field(default_factory=dict)
    probe: dict[str, Any] = field(default_factory=dict)  # the ProbeReport as JSON, or its status
    #: The dataflow graph and the probe's report, for the HTML report (None in results that
    #: came back from a worker process: they hold the user's modules).
    graph: "GraphView | None" = field(default=None, repr=False)
    probe_report: "ProbeReport | None" = field(default=None, repr=False)
    #: The options each selected rule ran with (the HTML report draws the measured rules'
    #: thresholds on its charts).
    rule_options: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    #: What ``--fix`` did with this model's fixes (empty without ``--fix``).
    fixes: "list[FixOutcome]" = field(default_factory=list)

    @property
    def selector(self) -> str:
        return f"{self.file}::{self.name}"

    def portable(self) -> "ModelResult":
        """This result without its graph and probe objects (they hold the user's modules): what
        can leave a worker process or go into the result cache."""
        return replace(self, graph=None, probe_report=None)

    def active_findings(self) -> list[Finding]:
        return [f for f in self.findings if not f.suppressed]

    def suppressed_findings(self) -> list[Finding]:
        """Findings an ``# actlint: ignore`` comment suppressed (listed with --show-suppressed)."""
        return [f for f in self.findings if f.suppressed]


@dataclass
class RunError:
    """A file (or model) that could not be linted, with a one-line reason."""

    file: str
    message: str


@dataclass
class LintRun:
    """All models linted in one invocation, plus the files that failed."""

    models: list[ModelResult] = field(default_factory=list)
    errors: list[RunError] = field(default_factory=list)
    #: ``--fix`` ran: the models of fixed files are their re-lint's, with the outcomes attached.
    fixing: bool = False
    #: Unsafe fixes were enabled (``--unsafe-fixes``).
    unsafe_fixes: bool = False
    #: The local source files the run's lints read (model files and the modules they import).
    read_files: list[str] = field(default_factory=list, repr=False)

    def findings(self) -> list[Finding]:
        return [f for m in self.models for f in m.active_findings()]

    def suppressed(self) -> list[Finding]:
        """Findings suppressed by comments in the user's files (not counted as problems)."""
        return [f for m in self.models for f in m.suppressed_findings()]

    def fix_outcomes(self) -> "list[FixOutcome]":
        """Every fix ``--fix`` tried, model by model."""
        return [o for m in self.models for o in m.fixes]

    def fixable(self, unsafe: bool) -> list[Finding]:
        """Problems (not refuted) whose fix ``--fix`` applies: safe fixes, and unsafe ones when ``unsafe``."""
        return [f for f in self.findings() if f.fixable(unsafe)]

    def fixable_only_unsafe(self) -> int:
        """Problems whose fix needs ``--unsafe-fixes``."""
        return len(self.fixable(True)) - len(self.fixable(False))

    def fixed(self) -> int:
        """Fixes ``--fix`` wrote and the re-lint bore out."""
        return sum(1 for o in self.fix_outcomes() if o.fixed)

    def partial_models(self) -> list[ModelResult]:
        """Models some selected rule could not run on ("All checks passed" is not true of them)."""
        return [m for m in self.models if m.incomplete_rules]

    def counts(self) -> dict[str, int]:
        """Problems by severity: findings the probe refuted are counted apart (:meth:`refuted`)."""
        counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for f in self.findings():
            if not f.refuted:
                counts[f.severity.label] += 1
        return counts

    def refuted(self) -> list[Finding]:
        """Static findings the probe measured and saw no problem in (shown, not failing the run)."""
        return [f for f in self.findings() if f.refuted]

    def exit_code(self, fail_on: Severity = Severity.WARNING, exit_zero: bool = False,
                  fail_on_refuted: bool = False) -> int:
        """0 clean, 1 findings at or above ``fail_on``, 2 when any file or model errored.

        Findings the probe refuted do not count unless ``fail_on_refuted``.
        """
        if self.errors:
            return 2
        if exit_zero:
            return 0
        counted = self.findings() if fail_on_refuted else [f for f in self.findings() if not f.refuted]
        return 1 if any(f.severity >= fail_on for f in counted) else 0


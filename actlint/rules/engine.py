"""The rule engine: choose rules, run them over a GraphView, and collect findings.

Selection follows ruff: ``select`` and ``ignore`` take rule IDs or prefixes (``ACT2``);
the most specific matching entry wins, and on a tie ``ignore`` wins.
"""

from __future__ import annotations

import os
import traceback

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from actlint.core.errors import one_line
from actlint.core.findings import Finding, Severity
from actlint.rules.base import Rule, RuleContext
from actlint.rules.registry import RuleRegistry


@dataclass(frozen=True)
class RuleSelection:
    """Which rules run, at which severity, with which options."""

    select: tuple[str, ...] = ("ACT",)
    ignore: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)  # rule id -> severity
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # rule id -> options

    def enabled(self, rule_id: str) -> bool:
        best_select = max((len(p) for p in self.select if _matches(rule_id, p)), default=-1)
        best_ignore = max((len(p) for p in self.ignore if _matches(rule_id, p)), default=-1)
        return best_select > best_ignore


def _matches(rule_id: str, prefix: str) -> bool:
    prefix = prefix.strip().upper()
    return prefix in ("ALL", "") or rule_id.upper().startswith(prefix)


def validate_codes(codes: Iterable[str], registry: RuleRegistry, what: str) -> tuple[str, ...]:
    """Normalise rule selectors; unknown codes or prefixes are a usage error."""
    out = []
    for code in codes:
        code = code.strip().upper()
        if not code:
            continue
        if code != "ALL" and not any(r.startswith(code) for r in registry.ids):
            raise ValueError(f"{what}: {code!r} matches no rule (rules are ACT101..., see `actlint rules`)")
        out.append(code)
    return tuple(out)


def instantiate_rules(registry: RuleRegistry, selection: RuleSelection) -> list[Rule]:
    """Rule instances for the enabled rules, with severity overrides and options applied."""
    for rule_id in list(selection.severity) + list(selection.options):
        if rule_id not in registry:
            raise ValueError(f"unknown rule {rule_id!r} in configuration")
    rules = []
    for cls in registry:
        if not selection.enabled(cls.id):
            continue
        rules.append(cls(severity=selection.severity.get(cls.id), **dict(selection.options.get(cls.id, {}))))
    return rules


@dataclass
class RuleOutcome:
    """Findings of one model plus the rules that could not run and why."""

    findings: list[Finding] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # rule id -> reason
    crashed: dict[str, str] = field(default_factory=dict)  # rule id -> exception (an internal error)


def missing_requirement(rule: Rule, ctx: RuleContext) -> str | None:
    """Why ``rule`` cannot run on this model, or None."""
    if "dataflow" in rule.requires and not ctx.graph.has_dataflow:
        return NO_DATAFLOW
    if "shapes" in rule.requires and not ctx.graph.has_shapes:
        return NO_SHAPES
    if "weights" in rule.requires and not ctx.graph.has_weights:
        return NO_WEIGHTS
    if "probe" in rule.requires and ctx.probe is None:
        return NO_PROBE
    if "training" in rule.requires:
        training = getattr(ctx.probe, "training", None)
        if training is None:
            return NO_TRAINING
        if not training.ok:
            status = {"skipped": "was skipped", "timeout": "timed out", "error": "failed"}.get(training.status,
                                                                                         training.status)
            return f"needs the training probe, which {status}: {training.reason}"
    return None


#: Why a rule could not run (short, so one line per model can list them all).
NO_DATAFLOW = "needs a dataflow graph (no tracing method worked, only the module tree is known)"
NO_SHAPES = "needs shapes (no example inputs)"
NO_WEIGHTS = "needs weight values (the model was linted on the meta device)"
NO_PROBE = "needs the probe run"
NO_TRAINING = "needs the training probe (--no-train-probe)"
_SHORT_REASONS = {NO_DATAFLOW: "no dataflow graph", NO_SHAPES: "no example inputs", NO_WEIGHTS: "no weight values",
                  NO_PROBE: "the probe did not run"}


def short_reason(reason: str) -> str:
    """``"no dataflow graph"`` for the summary line."""
    if reason.startswith("needs the training probe"):
        return "the training probe did not run"
    return _SHORT_REASONS.get(reason, reason)


def skipped_note(skipped: dict[str, str]) -> str | None:
    """One line for every rule that could not run: ``19 rules not run: ACT101, ... (needs ...)``."""
    if not skipped:
        return None
    by_reason: dict[str, list[str]] = {}
    for rule_id, reason in sorted(skipped.items()):
        by_reason.setdefault(reason, []).append(rule_id)
    parts = [f"{', '.join(ids)} ({reason})" for reason, ids in by_reason.items()]
    count = len(skipped)
    return f"{count} rule{'s' if count != 1 else ''} not run: " + "; ".join(parts)


def run_rules(rules: Iterable[Rule], make_context: Callable[[Rule], RuleContext]) -> RuleOutcome:
    """Run each rule once; a rule that crashes is reported, it does not stop the others."""
    outcome = RuleOutcome()
    for rule in rules:
        ctx = make_context(rule)
        reason = missing_requirement(rule, ctx)
        if reason:
            outcome.skipped[rule.id] = reason
            continue
        try:
            outcome.findings.extend(rule.check(ctx))
        except Exception as exc:  # noqa: BLE001 - a rule bug must not lose the other findings
            if os.environ.get("ACTLINT_DEBUG"):
                traceback.print_exc()
            outcome.crashed[rule.id] = one_line(exc)
    return outcome

"""Which fixes a run offers, file by file: safe ones, unsafe ones with ``--unsafe-fixes``.

A fix is taken from an active finding the probe did not refute (a refuted finding is a
static suspicion the measurement did not bear out: rewriting the model for it would change
a network that trains). Findings are matched across runs by :func:`finding_key`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from actlint.core.findings import Finding
from actlint.core.results import LintRun, ModelResult
from actlint.fixes.edits import Fix, apply_edits, combine


@dataclass(frozen=True)
class Candidate:
    """One fix offered for one finding of one model."""

    model: ModelResult
    finding: Finding
    fix: Fix

    @property
    def key(self) -> tuple:
        return finding_key(self.model, self.finding)


def finding_key(model: ModelResult, finding: Finding) -> tuple:
    """What identifies a finding in a second lint of the same file, whose lines may have moved."""
    return (model.selector, finding.rule, finding.module, finding.node)


def finding_counts(models: Iterable[ModelResult], severity=None) -> Counter:
    """How many active findings each :func:`finding_key` has (only at or above ``severity`` when given)."""
    return Counter(finding_key(m, f) for m in models for f in m.active_findings()
                   if severity is None or f.severity >= severity)


def candidates_by_file(run: LintRun, unsafe: bool, exclude: set[tuple] = frozenset()) -> dict[str, list[Candidate]]:
    """The fixes to apply, grouped by the (resolved) file they edit, in report order."""
    by_file: dict[str, list[Candidate]] = {}
    for model in run.models:
        for finding in sorted(model.active_findings(), key=Finding.sort_key):
            if finding.fixable(unsafe) and finding_key(model, finding) not in exclude:
                by_file.setdefault(finding.fix.file, []).append(Candidate(model, finding, finding.fix))
    return by_file


def fixed_text(original: str, candidates: list[Candidate]) -> tuple[str, list[Candidate], list[Candidate]]:
    """(text, applied, deferred): ``original`` with every fix applied whose edits do not overlap an earlier one's."""
    kept, _ = combine([c.fix for c in candidates])
    kept_ids = {id(f) for f in kept}
    applied = [c for c in candidates if id(c.fix) in kept_ids]
    deferred = [c for c in candidates if id(c.fix) not in kept_ids]
    return apply_edits(original, [c.fix for c in applied]), applied, deferred

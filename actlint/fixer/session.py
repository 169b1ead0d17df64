"""``actlint --fix``: write each file's fixes, lint it again, keep what the re-lint bears out.

Per file, in rounds (fixes whose edits overlap an applied one wait for the next round, made
against the fixed text, as ruff does): read the file again and refuse it if it changed since
the lint read it or is a symbolic link; combine the fixes, check the result compiles, write
it atomically; re-lint it with the same options (and so the same seed and inputs); a fix
whose finding is still there, or that brings a new error, is rolled back (the original text
is written back). When a new error cannot be pinned on one fix, each is tried alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from actlint.core.findings import Severity
from actlint.core.results import LintRun, ModelResult
from actlint.fixer.disk import FileOnDisk, NotWritable, compiles, read_unchanged, write_atomically
from actlint.fixer.plan import Candidate, candidates_by_file, finding_counts, finding_key, fixed_text
from actlint.fixes.outcome import FIXED, NOT_WRITTEN, ROLLED_BACK, FixOutcome

#: Lints the targets that named one file again: resolved path -> the run.
Relint = Callable[[str], LintRun]
#: The number a rule's fix should move, read from a model's result: (rule ID, model) -> (label, value).
Evidence = Callable[[str, ModelResult], "tuple[str, float] | None"]

#: Rounds per file: fixes deferred because their edits overlapped get this many more tries.
MAX_ROUNDS = 3


@dataclass
class FileFixes:
    """What fixing one file came to: the outcomes, and the lint of the file as it was left."""

    path: str
    outcomes: list[FixOutcome] = field(default_factory=list)
    models: list[ModelResult] | None = None  # the last accepted re-lint's models (None: file untouched)


def fix_run(run: LintRun, relint: Relint, evidence: Evidence, *, unsafe: bool = False) -> LintRun:
    """The run after ``--fix``: fixed files' models from their last re-lint, each model's outcomes attached."""
    files = [fix_file(path, candidates, [m for m in run.models if _resolved(m.file) == path], relint, evidence, unsafe)
             for path, candidates in candidates_by_file(run, unsafe).items()]
    replaced: dict[str, list[ModelResult]] = {}
    outcomes: dict[str, list[FixOutcome]] = {}
    for fixed in files:
        for outcome in fixed.outcomes:
            outcomes.setdefault(outcome.model, []).append(outcome)
        if fixed.models is not None:
            replaced[fixed.path] = fixed.models
    models: list[ModelResult] = []
    placed: set[str] = set()
    for model in run.models:
        path = _resolved(model.file)
        if path in replaced:
            if path not in placed:
                models.extend(replaced[path])
                placed.add(path)
            continue
        models.append(model)
    for index, model in enumerate(models):
        if model.selector in outcomes:
            models[index] = replace(model, fixes=outcomes[model.selector])
    return LintRun(models=models, errors=list(run.errors), fixing=True, unsafe_fixes=unsafe)


def fix_file(path: str, candidates: Sequence[Candidate], models: list[ModelResult], relint: Relint,
             evidence: Evidence, unsafe: bool) -> FileFixes:
    """Fix one file (``models``: its lint's models) in rounds; see the module docstring."""
    result = FileFixes(path)
    attempted: set[tuple] = set()
    for _ in range(MAX_ROUNDS):
        if not candidates:
            break
        try:
            disk = read_unchanged(candidates[0].fix)
        except NotWritable as exc:
            result.outcomes += [_outcome(c, NOT_WRITTEN, str(exc)) for c in candidates]
            break
        accepted, outcomes, deferred = _round(disk, list(candidates), models, relint, evidence)
        result.outcomes += outcomes
        waiting = {id(c) for c in deferred}
        attempted |= {c.key for c in candidates if id(c) not in waiting}
        if accepted is None:
            break
        result.models = models = accepted
        if not deferred:
            break
        fresh = LintRun(models=accepted)
        candidates = candidates_by_file(fresh, unsafe, exclude=attempted).get(path, [])
    return result


def _round(disk: FileOnDisk, candidates: list[Candidate], models: list[ModelResult], relint: Relint,
           evidence: Evidence) -> tuple[list[ModelResult] | None, list[FixOutcome], list[Candidate]]:
    """(the accepted re-lint's models or None, outcomes, fixes deferred to the next round)."""
    text, applied, deferred = fixed_text(disk.text, candidates)
    error = compiles(text, disk.path)
    if error is not None:
        return None, [_outcome(c, NOT_WRITTEN, f"the fixed file would not compile ({error})") for c in applied], []
    outcomes: list[FixOutcome] = []
    good = applied
    tried_alone = False
    try:
        while good:
            write_atomically(disk, fixed_text(disk.text, good)[0])
            rerun = relint(str(disk.path))
            bad, unexplained = _judge(good, models, rerun)
            if not bad and unexplained is None:
                after = {m.selector: m for m in rerun.models}
                outcomes += [_fixed(c, after.get(c.model.selector), evidence) for c in good]
                return rerun.models, outcomes, deferred
            write_atomically(disk, disk.text)
            if unexplained is not None:
                if len(good) == 1:
                    bad = {id(good[0]): unexplained}
                elif not tried_alone:
                    bad = _each_alone(disk, good, models, relint)
                    tried_alone = True
                else:
                    bad = {id(c): f"{unexplained} (with the other fixes of this file)" for c in good}
            outcomes += [_outcome(c, ROLLED_BACK, bad[id(c)]) for c in good if id(c) in bad]
            good = [c for c in good if id(c) not in bad]
    except BaseException:
        write_atomically(disk, disk.text)  # interrupted mid-verification: leave the file as it was
        raise
    return None, outcomes, []


def _each_alone(disk: FileOnDisk, fixes: list[Candidate], models: list[ModelResult], relint: Relint) -> dict[int, str]:
    """Which fixes fail when applied alone (the file is restored after each try)."""
    bad: dict[int, str] = {}
    for candidate in fixes:
        write_atomically(disk, fixed_text(disk.text, [candidate])[0])
        failed, unexplained = _judge([candidate], models, relint(str(disk.path)))
        if failed or unexplained:
            bad[id(candidate)] = failed.get(id(candidate)) or unexplained or ""
    write_atomically(disk, disk.text)
    return bad


def _judge(fixes: list[Candidate], before: list[ModelResult], rerun: LintRun) -> tuple[dict[int, str], str | None]:
    """({fix: why it failed} for fixes whose finding is still there, a new error no fix is blamed for or None)."""
    if rerun.errors:
        return {}, f"the fixed file could not be linted: {rerun.errors[0].message}"
    missing = {m.selector for m in before} - {m.selector for m in rerun.models}
    if missing:
        return {}, f"the re-lint no longer finds {sorted(missing)[0]}"
    old, new = finding_counts(before), finding_counts(rerun.models)
    fixed_here = Counter(c.key for c in fixes)
    bad = {id(c): "the re-lint still shows the finding" for c in fixes
           if new[c.key] > old[c.key] - fixed_here[c.key]}
    old_errors, new_errors = finding_counts(before, Severity.ERROR), finding_counts(rerun.models, Severity.ERROR)
    for model in rerun.models:
        for finding in model.active_findings():
            key = finding_key(model, finding)
            if finding.severity >= Severity.ERROR and new_errors[key] > old_errors[key]:
                return bad, f"the re-lint shows a new error, {finding.rule}: {finding.message}"
    return bad, None


def _fixed(candidate: Candidate, after: ModelResult | None, evidence: Evidence) -> FixOutcome:
    before = evidence(candidate.fix.rule, candidate.model)
    measured = evidence(candidate.fix.rule, after) if after is not None and before is not None else None
    outcome = _outcome(candidate, FIXED)
    if before is None:
        return outcome
    return replace(outcome, evidence=before[0], before=before[1], after=measured[1] if measured else None)


def _outcome(candidate: Candidate, status: str, reason: str | None = None) -> FixOutcome:
    loc = candidate.finding.location
    return FixOutcome(rule=candidate.fix.rule, title=candidate.fix.title, applicability=candidate.fix.applicability,
                      model=candidate.model.selector, file=candidate.fix.shown or candidate.fix.file,
                      line=loc.line if loc else None, column=loc.column if loc else None, status=status, reason=reason)


def _resolved(shown: str) -> str:
    """A model's file (as displayed) as the absolute path its fixes name."""
    return str(Path(shown).resolve())

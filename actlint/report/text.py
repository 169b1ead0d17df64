"""The default text format: ``path:line:col: ACT101 [error] message``, evidence, summary.

Colour only when writing to a terminal (and never when ``NO_COLOR`` is set).
"""

from __future__ import annotations

import os
from typing import TextIO

from actlint.core.findings import Finding, ProbeStatus, Severity
from actlint.core.numbers import short_number
from actlint.core.results import LintRun, ModelResult
from actlint.fixes.outcome import ROLLED_BACK, FixOutcome

_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.INFO: "36"}


def _use_color(out: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def format_finding(f: Finding, color: bool = False) -> list[str]:
    loc = f.location
    where = f"{loc.file}:{loc.line}:{loc.column}" if loc else "<unknown>"
    # A static finding the probe measured and refuted says so where the severity is read.
    sev = _paint(f"[{f.severity.label}{', refuted' if f.refuted else ''}]", _COLORS[f.severity], color)
    rule = _paint(f.rule, "1", color)
    lines = [f"{_paint(where, '1', color)}: {rule} {sev} {f.message}"]
    # Structural findings have nothing to measure and measured ones carry their numbers in
    # the message: only verdicts on static findings (confirmed, refuted, not probed) add a line.
    if f.probe and f.probe.evidence and f.probe.status not in (ProbeStatus.STRUCTURAL, ProbeStatus.MEASURED):
        status = f.probe.status.value
        evidence = f.probe.evidence
        if f.probe.status in (ProbeStatus.CONFIRMED, ProbeStatus.REFUTED) and not evidence.startswith(status):
            evidence = f"{status}: {evidence}"
        lines.append(f"    probe: {evidence}")
    for r in f.related:
        lines.append(f"    see: {r.file}:{r.line}:{r.column}")
    return lines


def plural(count: int, noun: str) -> str:
    """``1 problem``, ``2 problems``."""
    return f"{count} {noun}{'s' if count != 1 else ''}"


def format_fix(outcome: FixOutcome) -> str:
    """``model.py:12:9: ACT402 fixed: <title>; gradient at the output layer 3e-09 -> 0.21``."""
    where = f"{outcome.file}:{outcome.line}:{outcome.column}" if outcome.line else outcome.file
    if outcome.fixed:
        line = f"{where}: {outcome.rule} fixed: {outcome.title}"
        if outcome.evidence is not None:
            after = short_number(outcome.after) if outcome.after is not None else "not measured"
            line += f"; {outcome.evidence} {short_number(outcome.before)} -> {after}"
        return line
    verdict = "fix rolled back" if outcome.status == ROLLED_BACK else "fix not written"
    return f"{where}: {outcome.rule} {verdict}: {outcome.title} ({outcome.reason})"


def fix_summary(run: LintRun) -> str:
    """``; 3 fixed, 1 fixable with --unsafe-fixes`` (with --fix) or ``; 2 fixable with --fix`` (without)."""
    parts = []
    if run.fixing:
        fixed = run.fixed()
        parts.append(f"{fixed} fixed")
        failed = len(run.fix_outcomes()) - fixed
        if failed:
            parts.append(f"{plural(failed, 'fix')} rolled back or not written")
        if not run.unsafe_fixes:
            unsafe = run.fixable_only_unsafe()
            if unsafe:
                parts.append(f"{unsafe} fixable with --unsafe-fixes")
        return "; " + ", ".join(parts)
    safe = len(run.fixable(run.unsafe_fixes))
    if safe:
        parts.append(f"{safe} fixable with --fix" + (" --unsafe-fixes" if run.unsafe_fixes else ""))
    if not run.unsafe_fixes:
        unsafe = len(run.fixable(True)) - safe
        if unsafe:
            parts.append(f"{unsafe} {'more' if safe else 'fixable'} with --fix --unsafe-fixes")
    return "; " + ", ".join(parts) if parts else ""


def partial_summary(partial: list) -> str:
    """``1 model linted partially: 19 rules could not run (no dataflow graph)``."""
    from actlint.rules.engine import short_reason

    reasons = sorted({short_reason(r) for m in partial for r in m.incomplete_rules.values()})
    count = len({rule for m in partial for rule in m.incomplete_rules})
    models = f"{len(partial)} model{'s' if len(partial) != 1 else ''}"
    return f"{models} linted partially: {count} rule{'s' if count != 1 else ''} could not run ({', '.join(reasons)})"


def write_text(run: LintRun, out: TextIO, *, show_suppressed: bool = False) -> None:
    """Findings, notes and the summary; ``show_suppressed`` also lists suppressed findings."""
    for m in run.models:
        write_model(m, out, show_suppressed=show_suppressed)
    write_summary(run, out)


def write_model(m: ModelResult, out: TextIO, *, show_suppressed: bool = False) -> None:
    """One model's part of the report: its findings, fix outcomes and notes (the CLI streams these
    file by file as the run goes, then writes :func:`write_summary`)."""
    color = _use_color(out)
    shown = m.findings if show_suppressed else m.active_findings()
    for f in shown:
        lines = format_finding(f, color and not f.suppressed)
        if f.suppressed:
            by = f.suppressed_by
            lines.insert(1, f"    suppressed: by the comment at {by.file}:{by.line}:{by.column}" if by
                         else "    suppressed")
            lines = [_paint(line, "2", color) for line in lines]
        out.write("\n".join(lines) + "\n")
    for outcome in m.fixes:
        out.write(_paint(format_fix(outcome), "32" if outcome.fixed else "33", color) + "\n")
    for note in m.notes:
        out.write(f"{m.selector}: note: {note}\n")


def write_summary(run: LintRun, out: TextIO) -> None:
    """The last line: problems by severity, fixes, refuted, suppressed, files that failed."""
    color = _use_color(out)
    counts = run.counts()
    fixed = run.fixed()
    total = sum(counts.values()) + fixed
    models = len(run.models)
    suppressed = len(run.suppressed())
    parts = ", ".join(f"{n} {label}{'s' if n != 1 else ''}" for label, n in counts.items() if n)
    summary = f"Found {total} problem{'s' if total != 1 else ''}"
    if run.fixing:  # the severities are those of the problems left
        summary += f" in {models} model{'s' if models != 1 else ''}" + fix_summary(run)
        summary += f", {total - fixed} remaining" + (f" ({parts})" if parts else "")
    else:
        summary += (f" ({parts})" if parts else "") + f" in {models} model{'s' if models != 1 else ''}"
        summary += fix_summary(run)
    refuted = len(run.refuted())
    if refuted:
        summary += f"; {refuted} refuted by the probe"
    if suppressed:
        summary += f"; {suppressed} suppressed"
    if run.errors:
        summary += f"; {len(run.errors)} file{'s' if len(run.errors) != 1 else ''} could not be linted"
    timed_out = sum(1 for m in run.models if (m.probe or {}).get("status") == "timeout")
    if timed_out:
        summary += (f"; {timed_out} probe{'s' if timed_out != 1 else ''} ran out of time "
                    f"(its measured findings are missing; raise --probe-timeout)")
    partial = run.partial_models()
    if partial:
        summary += "; " + partial_summary(partial)
    if total == 0 and not run.errors and not partial and not run.fix_outcomes():
        summary = f"All checks passed ({models} model{'s' if models != 1 else ''}"
        summary += f", {suppressed} suppressed)." if suppressed else ")."
        if refuted:
            summary = summary[:-1] + f"; {refuted} finding{'s' if refuted != 1 else ''} refuted by the probe."
    out.write(_paint(summary, "1", color) + "\n")

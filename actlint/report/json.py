"""``--format json``: the public JSON contract (see shared/DESIGN.md, "Outputs").

stdout holds only this document. Every finding is a dict with a ``rule`` key.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from actlint.core.version import SCHEMA_VERSION, __version__
from actlint.core.findings import Finding
from actlint.core.location import SourceLocation
from actlint.core.results import LintRun, ModelResult


def finding_to_json(f: Finding) -> dict[str, Any]:
    loc = f.location
    probe = f.probe.to_json() if f.probe else {"status": "not-probed", "evidence": "", "metrics": {}}
    return {
        "rule": f.rule,
        "name": f.name,
        "severity": f.severity.label,
        "message": f.message,
        "module": f.module,
        "file": loc.file if loc else None,
        "line": loc.line if loc else None,
        "column": loc.column if loc else None,
        "probe": probe,
        "related": [{"file": r.file, "line": r.line, "column": r.column} for r in f.related],
        "suppressed": f.suppressed,
        "suppressed_by": _location(f.suppressed_by),
        # The rule's fix (ruff's shape: title, applicability, line edits of the file as read), or
        # null; ``no_fix`` says why a rule that fixes such findings offers none for this one.
        "fix": f.fix.to_json() if f.fix is not None else None,
        "no_fix": f.no_fix,
    }


def _location(loc: SourceLocation | None) -> dict[str, Any] | None:
    return {"file": loc.file, "line": loc.line, "column": loc.column} if loc else None


def model_to_json(m: ModelResult) -> dict[str, Any]:
    return {
        "name": m.name,
        "file": m.file,
        "trace": m.trace,
        "inputs": m.inputs,
        "parameters": m.parameters,
        "notes": list(m.notes),
        # Selected rules that could not run on this model, and why (the model was linted partially).
        "skipped_rules": dict(sorted(m.incomplete_rules.items())),
        "probe": m.probe,
        "findings": [finding_to_json(f) for f in m.active_findings()],
        # Findings an ``# actlint: ignore`` comment suppressed: not problems, still on record.
        "suppressed": [finding_to_json(f) for f in m.suppressed_findings()],
        # What ``--fix`` did with this model's fixes: fixed (with the number before and after),
        # rolled back or not written, and why. Empty without ``--fix``.
        "fixes": [o.to_json() for o in m.fixes],
    }


def run_to_json(run: LintRun) -> dict[str, Any]:
    return {
        "version": SCHEMA_VERSION,
        "tool": {"name": "actlint", "version": __version__},
        "models": [model_to_json(m) for m in run.models],
        "errors": [{"file": e.file, "message": e.message} for e in run.errors],
        "summary": run.counts(),
        "suppressed": len(run.suppressed()),
        # Findings the probe measured and refuted: listed above with their numbers, not failing the run.
        "refuted": len(run.refuted()),
        # Problems whose fix ``--fix`` would apply (safe) or ``--fix --unsafe-fixes`` (unsafe), and
        # how many ``--fix`` fixed in this run.
        "fixable": {"safe": len(run.fixable(False)), "unsafe": run.fixable_only_unsafe()},
        "fixed": run.fixed(),
    }


def write_json(run: LintRun, out: TextIO) -> None:
    json.dump(run_to_json(run), out, indent=2, default=_default)
    out.write("\n")


def _default(value: Any) -> Any:
    """Make numpy/torch scalars and other odd values JSON-safe."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)

"""What became of one fix under ``actlint --fix``: written and verified, rolled back, or not written.

A plain record (the fixer fills it, every report reads it): the fix's rule and title, where
its finding was, and, where the probe measured it, the number the fix should move before and
after (``gradient at the output layer 3e-09 -> 0.21``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actlint.core.numbers import json_number

#: The fix was written and the re-lint no longer shows its finding (nor a new error).
FIXED = "fixed"
#: The fix was written, the re-lint still showed its finding or a new error: the file was restored.
ROLLED_BACK = "rolled-back"
#: The fix was not written (the file changed on disk, is a symbolic link, ...): ``reason`` says why.
NOT_WRITTEN = "not-written"


@dataclass(frozen=True)
class FixOutcome:
    """One fix and its verdict."""

    rule: str
    title: str
    applicability: str  # "safe" or "unsafe"
    model: str  # the model's selector, file.py::Name
    file: str  # the file as the user named it
    line: int | None  # the finding's line in the file as it was before the fix
    column: int | None
    status: str  # FIXED, ROLLED_BACK or NOT_WRITTEN
    reason: str | None = None  # why it was rolled back or not written
    evidence: str | None = None  # what the number measures ("gradient at the output layer")
    before: float | None = None
    after: float | None = None

    @property
    def fixed(self) -> bool:
        return self.status == FIXED

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "title": self.title, "applicability": self.applicability, "status": self.status,
            "reason": self.reason, "file": self.file, "line": self.line, "column": self.column,
            "evidence": None if self.evidence is None else
            {"measure": self.evidence, "before": json_number(self.before), "after": json_number(self.after)},
        }

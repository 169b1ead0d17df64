"""A fix as data: text edits against the file as it was read, safe or unsafe, and how they combine.

Like ruff's fixes, an edit replaces a range of the original text, so fixes computed
independently on the pristine file can be applied together when their ranges do not
overlap (identical edits from two findings, say ACT301 and ACT302 on one init call, count once).
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, Sequence


#: Fix applicability: ``safe`` changes nothing but the problem; ``unsafe`` changes what the
#: model computes or how it trains and needs ``--unsafe-fixes``.
SAFE = "safe"
UNSAFE = "unsafe"


@dataclass(frozen=True)
class TextEdit:
    """Replace the original text's lines ``[first_line, end_line)`` (1-based) with ``content``."""

    first_line: int
    end_line: int  # exclusive; equal to first_line for a pure insertion
    content: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.first_line, "end_line": self.end_line, "content": self.content}


@dataclass(frozen=True)
class Fix:
    """A rule's fix for one finding: a title saying what it does, its applicability, its edits."""

    rule: str
    title: str
    applicability: str  # SAFE or UNSAFE
    file: str  # absolute path of the file the edits apply to
    edits: tuple[TextEdit, ...]
    #: The file as the user named it (where the fixer writes: a symbolic link there is refused).
    shown: str = ""
    #: :func:`digest` of the text the edits were computed against: the fixer writes only if the
    #: file on disk still reads the same.
    source_digest: str = ""

    @property
    def safe(self) -> bool:
        return self.applicability == SAFE

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "applicability": self.applicability,
                "edits": [e.to_json() for e in self.edits]}


@dataclass(frozen=True)
class NoFix:
    """Why a fixable rule offers no fix for this finding (the layer is built in a loop, in another file...)."""

    reason: str


def digest(text: str) -> str:
    """A short fingerprint of a file's text (the fixer compares it with the file on disk)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def edits_between(original: str, fixed: str) -> tuple[TextEdit, ...]:
    """The line edits that turn ``original`` into ``fixed`` (difflib's opcodes, unchanged lines left out)."""
    old = original.splitlines(keepends=True)
    new = fixed.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    return tuple(TextEdit(i1 + 1, i2 + 1, "".join(new[j1:j2]))
                 for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")


def _overlaps(a: TextEdit, b: TextEdit) -> bool:
    if a == b:
        return False
    if a.first_line == a.end_line or b.first_line == b.end_line:  # an insertion touching the other's range
        return a.first_line <= b.end_line and b.first_line <= a.end_line
    return a.first_line < b.end_line and b.first_line < a.end_line


def combine(fixes: Sequence[Fix]) -> tuple[list[Fix], list[Fix]]:
    """(applicable, deferred): fixes in order, each kept unless one of its edits overlaps a kept fix's."""
    kept: list[Fix] = []
    deferred: list[Fix] = []
    taken: list[TextEdit] = []
    for fix in fixes:
        if any(_overlaps(e, t) for e in fix.edits for t in taken):
            deferred.append(fix)
            continue
        kept.append(fix)
        taken.extend(fix.edits)
    return kept, deferred


def apply_edits(original: str, fixes: Iterable[Fix]) -> str:
    """``original`` with every edit of ``fixes`` applied (they must not overlap: see :func:`combine`)."""
    lines = original.splitlines(keepends=True)
    edits = sorted({e for fix in fixes for e in fix.edits}, key=lambda e: (e.first_line, e.end_line), reverse=True)
    for edit in edits:
        lines[edit.first_line - 1:edit.end_line - 1] = [edit.content] if edit.content else []
    return "".join(lines)


def unified_diff(original: str, fixed: str, path: str) -> str:
    """A ``diff -u`` of one file (empty when nothing changed)."""
    before, after = (path, path) if path.startswith("/") else (f"a/{path}", f"b/{path}")  # git's prefixes, relative paths only
    return "".join(difflib.unified_diff(original.splitlines(keepends=True), fixed.splitlines(keepends=True),
                                        fromfile=before, tofile=after))

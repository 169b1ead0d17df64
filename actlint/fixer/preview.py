"""``actlint --diff`` and ``result.diff()``: the unified diff the fixes would make, nothing written.

The diff is of the file as it is on disk now; a file that changed since the lint read it,
or a symbolic link, shows no diff but says why (``--fix`` would refuse it the same way).
Overlapping fixes wait for a later round under ``--fix``; the preview shows the first round.
"""

from __future__ import annotations

from dataclasses import dataclass

from actlint.core.results import LintRun
from actlint.fixer.disk import NotWritable, read_unchanged
from actlint.fixer.plan import candidates_by_file, fixed_text
from actlint.fixes.edits import unified_diff


@dataclass(frozen=True)
class FilePreview:
    """The diff the fixes would make to one file, or why the file would not be rewritten."""

    file: str  # as the user named it
    diff: str  # empty when refused
    fixes: int  # the fixes the diff applies
    refused: str | None = None


def preview(run: LintRun, unsafe: bool = False) -> list[FilePreview]:
    """One :class:`FilePreview` per file with fixes to apply."""
    previews = []
    for path, candidates in candidates_by_file(run, unsafe).items():
        shown = candidates[0].fix.shown or path
        try:
            disk = read_unchanged(candidates[0].fix)
        except NotWritable as exc:
            previews.append(FilePreview(shown, "", 0, str(exc)))
            continue
        text, applied, _ = fixed_text(disk.text, candidates)
        previews.append(FilePreview(shown, unified_diff(disk.text, text, shown), len(applied)))
    return previews

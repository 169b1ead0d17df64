"""The rule catalogue without importing the rules: `actlint rules` and `actlint explain`.

The rule classes import torch (through the op table), which costs a second and more; the
commands that only show documentation must not pay for it. ``python -m actlint.rules.docs``
writes ``actlint/rules/catalogue.json`` from the registry (a test fails when it is stale,
like the rule pages), and :func:`actlint.rules.docs.rule_entries` reads it back through
this module. This module imports nothing of actlint: it is the bottom of the docs layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_PATH = Path(__file__).parent / "catalogue.json"


@dataclass(frozen=True)
class RuleEntry:
    """What the documentation commands show of one rule."""

    id: str
    name: str
    severity: str
    probe: str  # "confirmed", "structural" or "measured"
    summary: str
    text: str  # the `actlint explain` page


def read_catalogue() -> list[RuleEntry] | None:
    """The generated catalogue's entries, in ID order; None when the file is missing."""
    if not CATALOGUE_PATH.is_file():
        return None
    return [RuleEntry(**item) for item in json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))]


def find(entries: list[RuleEntry], key: str) -> RuleEntry:
    """A rule by ID (``ACT101``, any case) or name (``softmax-in-hidden-layer``); KeyError otherwise."""
    key = key.strip()
    for entry in entries:
        if entry.id == key.upper() or entry.name == key:
            return entry
    raise KeyError(key)


__all__ = ["RuleEntry", "read_catalogue", "find", "CATALOGUE_PATH"]

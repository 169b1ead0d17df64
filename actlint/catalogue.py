"""The rule catalogue without importing the rules: `actlint rules` and `actlint explain`.

The rule classes import torch (through the op table), which costs a second and more; the
commands that only show documentation must not pay for it. ``python -m actlint.docs``
writes ``actlint/rules/catalogue.json`` from the registry (a test fails when it is stale,
like the rule pages), and these commands read it. When third-party rules are installed
(other ``actlint.rules`` entry points), their documentation lives in their classes, so the
full registry is loaded instead.
"""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_PATH = Path(__file__).parent / "rules" / "catalogue.json"


@dataclass(frozen=True)
class RuleEntry:
    """What the documentation commands show of one rule."""

    id: str
    name: str
    severity: str
    probe: str  # "confirmed", "structural" or "measured"
    summary: str
    text: str  # the `actlint explain` page


def _plugins_installed() -> bool:
    from actlint.rules.registry import BUILTIN_ENTRY_POINT, ENTRY_POINT_GROUP

    return any(ep.name != BUILTIN_ENTRY_POINT for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def rule_entries() -> list[RuleEntry]:
    """Every rule, in ID order: from the generated catalogue, or from the registry when plugins exist."""
    if not _plugins_installed() and CATALOGUE_PATH.is_file():
        return [RuleEntry(**item) for item in json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))]
    from actlint.docs import entries_from_rules
    from actlint.rules.registry import default_registry

    return entries_from_rules(default_registry())


def find(entries: list[RuleEntry], key: str) -> RuleEntry:
    """A rule by ID (``ACT101``, any case) or name (``softmax-in-hidden-layer``); KeyError otherwise."""
    key = key.strip()
    for entry in entries:
        if entry.id == key.upper() or entry.name == key:
            return entry
    raise KeyError(key)


__all__ = ["RuleEntry", "rule_entries", "find", "CATALOGUE_PATH"]

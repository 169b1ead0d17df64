"""Built-in rules, registered through the ``actlint.rules`` entry point like any plugin.

Rule modules are imported only when the registry is first needed (lazy loading).
"""

from __future__ import annotations

import importlib
import inspect

from actlint.rules.base import Rule

#: One module per rule family (ACT1xx activations, ACT2xx depth, ...).
RULE_MODULES = (
    "actlint.rules.families.activations",
    "actlint.rules.families.depth",
    "actlint.rules.families.normalization",
    "actlint.rules.families.usage",
    "actlint.rules.families.init",
    "actlint.rules.families.loss",
    "actlint.rules.families.measured",
    "actlint.rules.families.training_static",
    "actlint.rules.families.training_measured",
    "actlint.rules.families.meta",
)


def rules() -> list[type[Rule]]:
    """Every built-in rule class, ordered by ID."""
    found: list[type[Rule]] = []
    for module_name in RULE_MODULES:
        module = importlib.import_module(module_name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Rule) and obj is not Rule and obj.__module__ == module_name and getattr(obj, "id", None):
                found.append(obj)
    return sorted(found, key=lambda r: r.id)

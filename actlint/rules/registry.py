"""The rule registry, filled through the ``actlint.rules`` entry-point group.

Built-in rules are registered exactly the way third-party rules are (pytest/pluggy
style): ``pyproject.toml`` declares ``builtin = "actlint.rules.builtin:rules"`` in the
group, and a plugin package declares its own entry point returning rule classes. A
plugin can be blocked by entry-point name. Registering the same rule ID twice raises.
"""

from __future__ import annotations

import importlib.metadata
from typing import Iterable, Iterator

from actlint.rules import builtin
from actlint.rules.base import Rule

ENTRY_POINT_GROUP = "actlint.rules"
BUILTIN_ENTRY_POINT = "builtin"


class RuleRegistry:
    """Rule classes by ID."""

    def __init__(self) -> None:
        self._rules: dict[str, type[Rule]] = {}
        self._names: dict[str, str] = {}

    def register(self, rule: type[Rule]) -> None:
        problems = [p for p in (
            None if getattr(rule, "id", None) else "no id",
            None if getattr(rule, "name", None) else "no name",
        ) if p]
        if problems:
            raise ValueError(f"rule {rule.__qualname__} is invalid: {', '.join(problems)}")
        if rule.id in self._rules:
            raise ValueError(f"rule {rule.id} registered twice ({self._rules[rule.id].__qualname__}, {rule.__qualname__})")
        if rule.name in self._names:
            raise ValueError(f"rule name {rule.name!r} used by {self._names[rule.name]} and {rule.id}")
        self._rules[rule.id] = rule
        self._names[rule.name] = rule.id

    def register_all(self, rules: Iterable[type[Rule]]) -> None:
        for rule in rules:
            self.register(rule)

    def __iter__(self) -> Iterator[type[Rule]]:
        return iter(sorted(self._rules.values(), key=lambda r: r.id))

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: str) -> bool:
        return rule_id in self._rules

    def get(self, key: str) -> type[Rule]:
        """A rule by ID (``ACT101``) or name (``softmax-in-hidden-layer``)."""
        key = key.strip()
        if key.upper() in self._rules:
            return self._rules[key.upper()]
        if key in self._names:
            return self._rules[self._names[key]]
        raise KeyError(key)

    @property
    def ids(self) -> list[str]:
        return sorted(self._rules)


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def load_registry(blocked: Iterable[str] = ()) -> RuleRegistry:
    """Registry of built-in and plugin rules, minus blocked entry-point names."""
    blocked_set = set(blocked)
    registry = RuleRegistry()
    loaded_names: set[str] = set()
    for ep in _entry_points():
        if ep.name in blocked_set or ep.name in loaded_names:
            continue
        loaded_names.add(ep.name)
        provider = ep.load()
        registry.register_all(_rules_from(provider))
    if BUILTIN_ENTRY_POINT not in loaded_names and BUILTIN_ENTRY_POINT not in blocked_set:
        # Running from a source tree without installed metadata: register built-ins directly.
        registry.register_all(builtin.rules())
    return registry


def _rules_from(provider: object) -> Iterable[type[Rule]]:
    if callable(provider) and not isinstance(provider, type):
        return list(provider())  # type: ignore[operator]
    if isinstance(provider, type) and issubclass(provider, Rule):
        return [provider]
    rules = getattr(provider, "rules", None)
    if callable(rules):
        return list(rules())
    raise TypeError(f"entry point {provider!r} does not provide rule classes")


_DEFAULT: RuleRegistry | None = None


def default_registry() -> RuleRegistry:
    """The process-wide registry (loaded once, lazily)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_registry()
    return _DEFAULT

"""Rules: the base class, the registry and the built-in rule families."""

from actlint.rules.base import Example, Option, Rule, RuleContext

__all__ = ["Example", "Option", "Rule", "RuleContext"]

"""Resolving hyperparameter expressions of the user's file to values, without running it.

``Adam(model.parameters(), lr=args.lr * 2)``: a literal-only evaluator (constants, tuples,
arithmetic) whose names resolve, in order, through the model's attributes (``self.x``),
the enclosing function's defaults, the loaded namespace, module-level constants and
argparse defaults. Anything else is unresolved; nothing is executed.
"""

from __future__ import annotations

import ast
import math
from typing import Any, Iterable

from actlint.source.literals import Unresolved, evaluate_literal
from actlint.source.training_setup import TrainingSetup


class Resolver:
    """Resolves hyperparameter expressions of one file for one model (see module docstring)."""

    def __init__(self, setup: TrainingSetup, namespace: dict[str, Any], model: Any = None) -> None:
        self.setup, self.namespace, self.model = setup, namespace, model

    def value(self, expr: ast.AST | None, line: int | None = None) -> tuple[Any, bool]:
        """``(value, resolved)``."""
        if expr is None:
            return None, False
        self._line = line
        self._depth = 0
        try:
            return evaluate_literal(expr, self._lookup), True
        except (Unresolved, ArithmeticError, TypeError, ValueError):
            return None, False

    def _lookup(self, expr: ast.AST) -> Any:
        self._depth += 1
        if self._depth > 20:
            raise Unresolved
        chain = _chain(expr)
        if chain is None:
            raise Unresolved
        head, rest = chain[0], chain[1:]
        if head == "self" and self.model is not None and rest:
            return _number(_walk(self.model, rest))
        defaults = self.setup.function_defaults.get(self._line or -1, {})
        if not rest and head in defaults:
            return evaluate_literal(defaults[head], self._lookup)
        if head in self.namespace:
            try:
                return _number(_walk(self.namespace[head], rest))
            except Unresolved:
                pass
        if not rest and head in self.setup.constants:
            return evaluate_literal(self.setup.constants[head], self._lookup)
        if len(rest) == 1 and rest[0] in self.setup.argparse_defaults:
            return evaluate_literal(self.setup.argparse_defaults[rest[0]], self._lookup)
        raise Unresolved


def _chain(expr: ast.AST) -> list[Any] | None:
    parts: list[Any] = []
    while True:
        if isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        elif isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Constant):
            parts.append([expr.slice.value])
            expr = expr.value
        else:
            break
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return list(reversed(parts))


def _walk(obj: Any, parts: Iterable[Any]) -> Any:
    for part in parts:
        try:
            obj = obj[part[0]] if isinstance(part, list) else getattr(obj, part)
        except Exception:  # noqa: BLE001 - any failure means "not resolvable"
            raise Unresolved from None
    return obj


def _number(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, (int, float)) or (
            isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value)):
        if isinstance(value, float) and not math.isfinite(value):
            raise Unresolved
        return value
    raise Unresolved


__all__ = ["Resolver"]

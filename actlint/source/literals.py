"""A literal-only evaluator for expressions of the user's source (nothing is executed)."""

from __future__ import annotations

import ast
import operator
from typing import Any


class Unresolved(Exception):
    """The expression is not a literal (or its names do not resolve)."""


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv}


def evaluate_literal(expr: ast.AST, lookup: Any) -> Any:
    """A literal-only evaluator: constants, tuples, arithmetic; names through ``lookup``."""
    if isinstance(expr, ast.Constant):
        return expr.value
    if isinstance(expr, (ast.Tuple, ast.List)):
        return tuple(evaluate_literal(e, lookup) for e in expr.elts)
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, (ast.USub, ast.UAdd)):
        value = evaluate_literal(expr.operand, lookup)
        return -value if isinstance(expr.op, ast.USub) else value
    if isinstance(expr, ast.BinOp) and type(expr.op) in _BINARY:
        left, right = evaluate_literal(expr.left, lookup), evaluate_literal(expr.right, lookup)
        if not all(isinstance(v, (int, float)) for v in (left, right)):
            raise Unresolved
        return _BINARY[type(expr.op)](left, right)
    if isinstance(expr, (ast.Name, ast.Attribute, ast.Subscript)) and callable(lookup):
        return lookup(expr)
    raise Unresolved


__all__ = ["Unresolved", "evaluate_literal"]

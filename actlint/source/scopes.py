"""Where a statement of the user's file stands: the identifiers of its function or module.

Loss pairing and the training-setup reader both ask which model a loss or optimizer is
about; the answer starts from the names its enclosing function (or the module) mentions.
"""

from __future__ import annotations

import ast
from typing import Iterable


def mentioned_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Every identifier mentioned in ``nodes``: variable names and attribute names."""
    found: set[str] = set()
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Name):
                found.add(node.id)
            elif isinstance(node, ast.Attribute):
                found.add(node.attr)
    return found


def enclosing_scope(node: ast.AST, parents: dict[ast.AST, ast.AST], module_names: set[str]) -> tuple[set[str], str]:
    """Identifiers mentioned in ``node``'s enclosing function (plus enclosing class names) or module."""
    function = None
    classes = []
    cur = parents.get(node)
    while cur is not None:
        if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef)) and function is None:
            function = cur
        elif isinstance(cur, ast.ClassDef):
            classes.append(cur.name)
        cur = parents.get(cur)
    if function is None:
        return set(module_names) | set(classes), "at module level"
    names = mentioned_names(function.body) | {function.name} | set(classes)
    where = f"in {classes[0]}.{function.name}" if classes else f"in function {function.name}"
    return names, where


__all__ = ["enclosing_scope", "mentioned_names"]

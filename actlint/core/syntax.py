"""Reading names out of Python's ast: the one helper the loader and the source readers share."""

from __future__ import annotations

import ast


def dotted_name(node: ast.AST, *, through_calls: bool = True) -> str | None:
    """``torch.nn.init.xavier_uniform_`` for an attribute chain; None when it is not one.

    With ``through_calls`` a call inside the chain is kept as ``()``: the callee of
    ``torch.optim.SGD(...).step`` is ``torch.optim.SGD().step``, of ``Net().to`` is
    ``Net().to``. Without it such a chain is not a name (None).
    """
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if through_calls and isinstance(node, ast.Call):
        inner = dotted_name(node.func)
        if inner is None:
            return None
        parts.append(inner + "()")
        return ".".join(reversed(parts))
    return None


__all__ = ["dotted_name"]

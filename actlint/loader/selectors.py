"""Model selectors: ``file.py::Name`` or a call expression ``file.py::Net(upscale_factor=3)``.

The text after ``::`` is a Python expression evaluated in the file's namespace. Only
names, attributes, literals, containers, arithmetic, subscripts and calls are allowed: no
statements, lambdas, comprehensions or assignments, so a selector reads like a
constructor call and cannot smuggle in a program.
"""

from __future__ import annotations

import ast

from actlint.core.errors import UserError

_ALLOWED = (
    ast.Expression, ast.Call, ast.Name, ast.Attribute, ast.Constant, ast.keyword, ast.Tuple, ast.List,
    ast.Dict, ast.Set, ast.UnaryOp, ast.UAdd, ast.USub, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
    ast.FloorDiv, ast.Mod, ast.Pow, ast.Subscript, ast.Slice, ast.Load,
)


def split_selector(arg: str) -> tuple[str, str | None]:
    """``"models.py::Net"`` -> ``("models.py", "Net")``; no selector -> ``(arg, None)``.

    The selector is checked here (a bad one is a one-line error) but evaluated later, in
    the file's namespace.
    """
    if "::" not in arg:
        return arg, None
    path, _, text = arg.partition("::")
    parse_selector(text, where=arg)
    return path, text.strip()


def is_plain_name(selector: str) -> bool:
    return selector.strip().isidentifier()


def parse_selector(text: str, *, where: str | None = None) -> ast.Expression:
    """Parse and vet a selector; UserError (one line) when it is not a name or call expression."""
    where = where or text
    stripped = text.strip()
    if not stripped:
        raise UserError(f"{where}: nothing after '::' (expected a name such as Net or a call such as Net(width=64))")
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        raise UserError(f"{where}: '{stripped}' is not a Python name or call expression ({exc.msg})") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            what = type(node).__name__.lower()
            raise UserError(
                f"{where}: a model selector may use names, attributes, literals and calls only, not {what} "
                f"(e.g. file.py::Net(width=64))"
            )
    if not isinstance(tree.body, (ast.Name, ast.Attribute, ast.Call, ast.Subscript)):
        raise UserError(f"{where}: '{stripped}' is not a name or call expression (e.g. file.py::Net(width=64))")
    return tree


__all__ = ["split_selector", "parse_selector", "is_plain_name"]

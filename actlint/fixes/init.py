"""The init fix: rewrite the ``torch.nn.init`` call that set a layer's weight to the one matched to its activation."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from actlint.core.location import SourceLocation
from actlint.fixes.tree import CannotFix, SourceTree, last_name


@dataclass(frozen=True)
class InitCall:
    """One init call of the user's file and the call that should replace it.

    ``recommended`` is written with ``nn.init.`` and ``{w}`` for the weight
    (``nn.init.kaiming_normal_({w}, nonlinearity="relu")``).
    """

    site: SourceLocation
    recommended: str


def matched_init(tree: SourceTree, file: str, calls: list[InitCall]) -> dict:
    """Replacements of each init call by its recommended call, on the same weight expression."""
    replacements: dict = {}
    for init in calls:
        if init.site.file != file:
            raise CannotFix(f"the weight is initialised in another file ({init.site.file})")
        call = tree.call_at(init.site.line, init.site.column)
        name = last_name(call.func)
        if name is None or not name.endswith("_"):
            raise CannotFix(f"the call at line {init.site.line} is not an nn.init call")
        positional = [a for a in call.args if a.keyword is None]
        if not positional or positional[0].star:
            raise CannotFix(f"the init call at line {init.site.line} does not name its tensor first")
        if isinstance(call.func, cst.Attribute):
            prefix = tree.code(call.func.value) + "."
        elif tree.imports_name("nn"):
            prefix = "nn.init."
        else:
            raise CannotFix(f"the init function at line {init.site.line} is imported by name")
        text = init.recommended.replace("nn.init.", prefix).format(w=tree.code(positional[0].value))
        replacement = cst.parse_expression(text)
        assert isinstance(replacement, cst.Call)
        replacements[call] = replacement.with_changes(lpar=call.lpar, rpar=call.rpar)
    if not replacements:
        raise CannotFix("no init call to rewrite")
    return replacements

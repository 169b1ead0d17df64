"""Where an op is applied in the user's file: shared by every tracing method.

Tracers record, when an op is created or executed, the innermost frame running the
user's file (line and column span from the bytecode's position table: exact and cheap,
no stack formatting). :func:`locate` turns that site into the location findings show:
the call in ``forward`` for layers applied directly, the construction site for layers
reached through a container (``self.features(x)`` running ``features.3``).
"""

from __future__ import annotations

import itertools
import linecache
import re
import sys
from typing import Any

from actlint.graph.view import OpNode
from actlint.loader.provenance import module_construction_site
from actlint.core.location import SourceLocation

#: (line, start column, end column) of a call in the user's file.
CallSite = tuple[int, int, int]


def innermost_site(user_path: str, depth: int = 2) -> CallSite | None:
    """(line, start column, end column) of the innermost frame running the user's file."""
    frame = sys._getframe(depth)
    while frame is not None:
        if frame.f_code.co_filename == user_path:
            start = end = 0
            try:
                pos = next(itertools.islice(frame.f_code.co_positions(), frame.f_lasti // 2, None))
                start, end = pos[2] or 0, pos[3] or 0
            except (StopIteration, AttributeError):
                pass
            return frame.f_lineno, start, end
        frame = frame.f_back
    return None


def locate(node: OpNode, site: CallSite | None, user_path: str | None, raw_target: Any = None) -> SourceLocation | None:
    """Where ``node`` is applied in the user's file, or where its layer was constructed."""
    if node.op in ("placeholder", "output", "get_attr"):
        return None
    built = module_construction_site(node.module) if node.module is not None else None
    if site is None or user_path is None:
        return built
    line, start, end = site
    src = linecache.getline(user_path, line).rstrip("\n")
    span = src[start:end] if end > start else src
    if node.op == "call_module":
        attr = node.module_path.rsplit(".", 1)[-1] if node.module_path else ""
        # Applied directly (`self.fc(x)`): point there. Reached through a container
        # (`self.features(x)` running `features.3`): point where the layer was built.
        if not (attr and not attr.isdigit() and re.search(rf"\b{re.escape(attr)}\b", span)) and built:
            return built
        word = attr
    else:
        target = raw_target if raw_target is not None else node.target
        word = str(target) if isinstance(target, str) else getattr(target, "__name__", "")
    return SourceLocation(user_path, line, column_of(src, word, start))


def column_of(src: str, word: str, start: int) -> int:
    """1-based column of ``word`` in the expression starting at ``start``, else of the expression."""
    word = word.strip("_") if word.startswith("__") else word
    if word:
        m = re.compile(rf"\b{re.escape(word)}\b").search(src, start)
        if m:
            return m.start() + 1
    if start:
        return start + 1
    return len(src) - len(src.lstrip()) + 1

"""The user's file as a LibCST tree with positions and parents, and the queries fixes share.

LibCST was chosen over the alternatives (see README, "Fixes"): ``ast`` loses comments and
formatting, so fixes would be hand-made text splices with hand-made indentation; parso is
lossless but has no metadata (positions, parents, scopes) and no node-replacement API;
redbaron/baron are unmaintained and cannot parse current Python. LibCST round-trips the file
byte for byte, gives positions and parents through its metadata providers, and
``deep_replace`` rewrites one node while the rest of the file stays as written.
"""

from __future__ import annotations

import functools
from typing import Iterator, TypeVar

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from actlint.fixes.edits import TextEdit, edits_between

N = TypeVar("N", bound=cst.CSTNode)

#: Nodes whose body runs more than once: a construction inside one builds several layers.
LOOPS = (cst.For, cst.While, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


class CannotFix(Exception):
    """Raised by a rewrite that cannot be made exactly; its message says why (one line)."""


class SourceTree:
    """One parse of a file: its module, node positions (1-based lines, 0-based columns) and parents."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            wrapper = MetadataWrapper(cst.parse_module(source))
        except cst.ParserSyntaxError as exc:
            raise CannotFix(f"LibCST cannot parse the file ({str(exc).splitlines()[0]})") from None
        self.module = wrapper.module
        self.positions = wrapper.resolve(PositionProvider)
        self.parents = wrapper.resolve(ParentNodeProvider)

    # --- finding nodes -------------------------------------------------------------------

    def nodes(self, kind: type[N]) -> Iterator[N]:
        """Every node of ``kind``, in source order."""
        for node in self.positions:
            if isinstance(node, kind):
                yield node

    def line_of(self, node: cst.CSTNode) -> int:
        return self.positions[node].start.line

    def contains(self, node: cst.CSTNode, line: int, column: int) -> bool:
        """Does ``node`` span the 1-based ``line`` and 0-based ``column``?"""
        r = self.positions[node]
        return (r.start.line, r.start.column) <= (line, column) < (r.end.line, r.end.column)

    def call_at(self, line: int, column: int | None = None) -> cst.Call:
        """The innermost call spanning a finding's position (``column`` 1-based, as findings give it).

        Without a column (or when none spans it), the outermost call starting on ``line``.
        """
        calls = [c for c in self.nodes(cst.Call) if self.positions[c].start.line <= line <= self.positions[c].end.line]
        if column is not None:
            spanning = [c for c in calls if self.contains(c, line, column - 1)]
            if spanning:
                return min(spanning, key=self._span)
        starting = [c for c in calls if self.positions[c].start.line == line]
        if not starting:
            raise CannotFix(f"no call found at line {line}")
        return max(starting, key=self._span)

    def _span(self, node: cst.CSTNode) -> tuple[int, int]:
        r = self.positions[node]
        return (r.end.line - r.start.line, (r.end.column - r.start.column) if r.end.line == r.start.line else 0)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parents.get(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def enclosing(self, node: cst.CSTNode, kinds: tuple[type, ...]) -> cst.CSTNode | None:
        """The nearest ancestor of one of ``kinds`` inside the same function (None when there is none)."""
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, kinds):
                return ancestor
            if isinstance(ancestor, SCOPES):
                return None
        return None

    def enclosing_function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        return next((a for a in self.ancestors(node) if isinstance(a, cst.FunctionDef)), None)

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        """The statement (simple or compound) that contains ``node``, as it sits in a block's body."""
        for ancestor in (node, *self.ancestors(node)):
            if isinstance(ancestor, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return ancestor
        raise CannotFix("the expression is not inside a statement")

    def in_loop(self, node: cst.CSTNode) -> bool:
        """Is ``node`` evaluated repeatedly by a loop or comprehension of its own function?"""
        return self.enclosing(node, LOOPS) is not None

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def imports_name(self, name: str) -> bool:
        """Is ``name`` bound by a module-level ``import`` (``import torch``, ``import torch.nn as nn``)?"""
        for statement in self.module.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        bound = alias.asname.name.value if alias.asname else self.code(alias.name).split(".")[0]
                        if bound == name:
                            return True
                elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                    for alias in small.names:
                        bound = alias.asname.name.value if alias.asname else self.code(alias.name)
                        if bound == name:
                            return True
        return False

    # --- rewriting -----------------------------------------------------------------------

    def replaced(self, replacements: dict[cst.CSTNode, cst.CSTNode | cst.FlattenSentinel | cst.RemovalSentinel]) -> str:
        """The file's text with each node replaced (every other byte kept)."""
        return self.module.visit(_Replacer(replacements)).code

    def edits(self, fixed: str) -> tuple[TextEdit, ...]:
        edits = edits_between(self.source, fixed)
        if not edits:
            raise CannotFix("the rewrite changed nothing")
        return edits


class _Replacer(cst.CSTTransformer):
    """One pass over the pristine tree: nodes are matched by identity, so several replacements combine."""

    def __init__(self, replacements: dict) -> None:
        super().__init__()
        self.replacements = replacements

    def on_leave(self, original_node, updated_node):  # type: ignore[override]
        return self.replacements.get(original_node, updated_node)


@functools.lru_cache(maxsize=16)
def source_tree(source: str) -> SourceTree:
    """The parse of ``source``, shared by every fix offered on one file (parsed once)."""
    return SourceTree(source)


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``nn.init.normal_`` for an attribute chain of names, ``relu`` for a name, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted_name(node.value)
        return f"{head}.{node.attr.value}" if head is not None else None
    return None


def last_name(node: cst.BaseExpression) -> str | None:
    """The final name of a callee: ``relu`` of ``F.relu``, ``fc`` of ``self.fc``."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def renamed(func: cst.BaseExpression, name: str) -> cst.BaseExpression:
    """The callee with its final name replaced (``nn.BCELoss`` -> ``nn.BCEWithLogitsLoss``)."""
    if isinstance(func, cst.Name):
        return func.with_changes(value=name)
    if isinstance(func, cst.Attribute):
        return func.with_changes(attr=func.attr.with_changes(value=name))
    raise CannotFix(f"cannot rename the callee {type(func).__name__}")

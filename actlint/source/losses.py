"""Find the losses a model file uses, by reading its source (AST), and which model each is for.

A loss counts wherever it appears: assigned at module level (``criterion =
nn.CrossEntropyLoss()``), called inside a training function (``F.cross_entropy(out, y)``),
passed to a helper (``fit(model, criterion=nn.CrossEntropyLoss())``), or referenced without
a call (``loss_fn=F.cross_entropy``). Names are resolved through the imported file's
namespace first (so ``import torch.nn as tnn``, ``from torch.nn import CrossEntropyLoss as
CE`` and subclasses of the torch losses work), then by their last name for imports made
inside functions.

Each use remembers the identifiers its *scope* mentions: the enclosing function (with the
names of its enclosing classes), or the module-level statements. When a file defines
several models, a loss whose scope names one of them belongs to that model only; a loss
whose scope names none belongs to every model in the file.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

import torch.nn as nn
import torch.nn.functional as F

from actlint.core.syntax import dotted_name
from actlint.source.scopes import enclosing_scope, mentioned_names

#: Loss kinds.
CROSS_ENTROPY = "cross_entropy"  # takes logits
NLL = "nll"  # takes log-probabilities
BCE = "bce"  # takes probabilities
BCE_LOGITS = "bce_logits"  # takes logits
MSE = "mse"  # regression losses: the training probe pairs them with real-valued targets
L1 = "l1"
SMOOTH_L1 = "smooth_l1"

_CLASSES: dict[type, str] = {
    nn.CrossEntropyLoss: CROSS_ENTROPY,
    nn.NLLLoss: NLL,
    nn.BCELoss: BCE,
    nn.BCEWithLogitsLoss: BCE_LOGITS,
    nn.MSELoss: MSE,
    nn.L1Loss: L1,
    nn.SmoothL1Loss: SMOOTH_L1,
    nn.HuberLoss: SMOOTH_L1,
}
_FUNCTIONS: dict[Any, str] = {
    F.cross_entropy: CROSS_ENTROPY,
    F.nll_loss: NLL,
    F.binary_cross_entropy: BCE,
    F.binary_cross_entropy_with_logits: BCE_LOGITS,
    F.mse_loss: MSE,
    F.l1_loss: L1,
    F.smooth_l1_loss: SMOOTH_L1,
    F.huber_loss: SMOOTH_L1,
}
#: Fallback by the last component of the name (imports inside functions are not in the namespace).
_BY_NAME: dict[str, str] = {
    "CrossEntropyLoss": CROSS_ENTROPY, "cross_entropy": CROSS_ENTROPY,
    "NLLLoss": NLL, "nll_loss": NLL,
    "BCELoss": BCE, "binary_cross_entropy": BCE,
    "BCEWithLogitsLoss": BCE_LOGITS, "binary_cross_entropy_with_logits": BCE_LOGITS,
    "MSELoss": MSE, "mse_loss": MSE, "L1Loss": L1, "l1_loss": L1,
    "SmoothL1Loss": SMOOTH_L1, "smooth_l1_loss": SMOOTH_L1, "HuberLoss": SMOOTH_L1, "huber_loss": SMOOTH_L1,
}


@dataclass(frozen=True)
class LossUse:
    """One place the file uses a loss."""

    kind: str  # CROSS_ENTROPY, NLL, BCE, BCE_LOGITS, or a regression loss (MSE, L1, SMOOTH_L1)
    text: str  # as written, e.g. "nn.CrossEntropyLoss()"
    line: int
    column: int  # 1-based
    placement: str  # "at module level", "in function train", "passed as criterion= to fit"
    scope_names: frozenset[str]  # identifiers mentioned in the enclosing scope


def _resolve(dotted: str, namespace: dict[str, Any]) -> str | None:
    """The loss kind a dotted name refers to, or None."""
    head, *rest = dotted.split(".")
    obj: Any = namespace.get(head, _MISSING)
    if obj is _MISSING and head == "torch":
        import torch

        obj = torch
    for part in rest:
        if obj is _MISSING:
            break
        obj = getattr(obj, part, _MISSING)
    if obj is not _MISSING:
        if isinstance(obj, type):
            for cls, kind in _CLASSES.items():
                if issubclass(obj, cls):
                    return kind
            return None
        try:
            return _FUNCTIONS.get(obj)
        except TypeError:
            return None
    return _BY_NAME.get(dotted.rsplit(".", 1)[-1])


_MISSING = object()


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """Module-level statements, without the bodies of functions and classes."""
    return [s for s in tree.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def find_losses(source: str, namespace: dict[str, Any] | None = None) -> list[LossUse]:
    """Every loss use in ``source`` (empty when the file does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    namespace = namespace or {}
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    module_names = mentioned_names(_module_level(tree))
    uses: dict[tuple[str, int], LossUse] = {}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Name, ast.Attribute)) or not isinstance(getattr(node, "ctx", None), ast.Load):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute):
            continue  # only the full dotted expression
        if isinstance(parent, ast.ClassDef) and node in parent.bases:
            continue  # subclassing a loss is not using it (its instances are resolved as uses)
        dotted = dotted_name(node, through_calls=False)
        kind = _resolve(dotted, namespace) if dotted else None
        if kind is None:
            continue
        expr: ast.AST = parent if isinstance(parent, ast.Call) and parent.func is node else node
        scope, placement = enclosing_scope(expr, parents, module_names)
        keyword = parents.get(expr)
        if isinstance(keyword, ast.keyword) and keyword.arg and isinstance(parents.get(keyword), ast.Call):
            callee = dotted_name(parents[keyword].func, through_calls=False) or "a call"  # type: ignore[attr-defined]
            placement = f"passed as {keyword.arg}= to {callee}"
        key = (kind, expr.lineno)
        if key not in uses:
            uses[key] = LossUse(kind, ast.get_source_segment(source, expr) or dotted or kind, expr.lineno,
                                expr.col_offset + 1, placement, frozenset(scope))
    return sorted(uses.values(), key=lambda u: (u.line, u.column))


def model_identifiers(model: nn.Module, namespace: dict[str, Any], source: str, construction_line: int | None) -> set[str]:
    """Names by which the file refers to ``model``: its class (when defined in the file), the
    module-level names bound to it, and the factory function that built it."""
    ids = {name for name, value in namespace.items() if value is model}
    cls = type(model)
    if cls.__module__ == namespace.get("__name__"):
        ids.add(cls.__name__)
    if construction_line is not None:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return ids
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno <= construction_line <= (node.end_lineno or node.lineno):
                ids.add(node.name)
    return ids


def all_model_identifiers(namespace: dict[str, Any]) -> set[str]:
    """Names of every model candidate in the file: nn.Module classes defined there,
    module-level instances and zero-argument factory functions."""
    from actlint.files.prefilter import FACTORY_NAMES

    module_name = namespace.get("__name__")
    ids: set[str] = set()
    for name, value in namespace.items():
        if isinstance(value, type) and issubclass(value, nn.Module) and value.__module__ == module_name:
            if not issubclass(value, nn.modules.loss._Loss):
                ids.add(name)
        elif isinstance(value, nn.Module) and not isinstance(value, nn.modules.loss._Loss):
            ids.add(name)  # a module-level criterion is a loss, not a model
        elif name in FACTORY_NAMES and callable(value):
            ids.add(name)
    return ids


def applies_to(use: LossUse, mine: set[str], everyone: set[str]) -> bool:
    """Does ``use`` concern the model known by ``mine`` (out of all models ``everyone``)?"""
    mentioned = use.scope_names & (everyone | mine)
    return not mentioned or bool(mentioned & mine)


__all__ = ["LossUse", "find_losses", "model_identifiers", "all_model_identifiers", "applies_to",
           "CROSS_ENTROPY", "NLL", "BCE", "BCE_LOGITS",
           "MSE", "L1", "SMOOTH_L1"]

"""The logits-form fix: drop the model's final sigmoid/softmax and switch its loss to the form that takes logits.

Both edits are made together, and only when the model's output goes nowhere but into the
loss: a metric that thresholds the output at 0.5 or an ``argmax`` over probabilities would
silently change meaning, so the fix is not offered when the file uses the output elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from actlint.fixes.layers import LayerSite, removal
from actlint.fixes.tree import SCOPES, CannotFix, SourceTree, dotted_name, last_name, renamed

#: Loss callees and their logits form (None: already takes logits).
LOGITS_FORM = {
    "BCELoss": "BCEWithLogitsLoss", "binary_cross_entropy": "binary_cross_entropy_with_logits",
    "NLLLoss": "CrossEntropyLoss", "nll_loss": "cross_entropy",
    "BCEWithLogitsLoss": None, "binary_cross_entropy_with_logits": None,
    "CrossEntropyLoss": None, "cross_entropy": None,
}
#: What a training file usually calls its model and its loss.
MODEL_NAMES = frozenset({"model", "net", "network", "self.model", "self.net", "self.network"})
LOSS_NAMES = frozenset({"criterion", "loss_fn", "loss_func", "lossfn", "loss_function", "criterium"})
#: Methods that reshape the output on its way to the loss.
_RESHAPES = frozenset({"squeeze", "unsqueeze", "view", "reshape", "flatten", "float", "double", "contiguous"})


@dataclass(frozen=True)
class LossSite:
    line: int
    column: int  # 1-based


def logits_form(tree: SourceTree, output: LayerSite, losses: list[LossSite], model_names: set[str]) -> dict:
    """Replacements removing the output activation and renaming every loss use to its logits form."""
    replacements = dict(removal(tree, output))
    loss_names = set(LOSS_NAMES)
    for use in losses:
        call = tree.call_at(use.line, use.column)
        name = last_name(call.func)
        if name not in LOGITS_FORM:
            raise CannotFix(f"the loss at line {use.line} is not one actlint can switch to its logits form")
        target = LOGITS_FORM[name]
        if target is not None:
            replacements[call] = call.with_changes(func=renamed(call.func, target))
        assigned = _assigned_name(tree, call)
        if assigned:
            loss_names.add(assigned)
    _output_only_feeds_losses(tree, model_names | MODEL_NAMES, loss_names)
    return replacements


def _assigned_name(tree: SourceTree, call: cst.Call) -> str | None:
    parent = tree.parent(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        return dotted_name(parent.targets[0].target)
    return None


def _is_loss_call(call: cst.Call, loss_names: set[str]) -> bool:
    name = dotted_name(call.func)
    if name is not None and (name in loss_names or name.rpartition(".")[2] in loss_names):
        return True
    if last_name(call.func) in LOGITS_FORM:
        return True  # F.binary_cross_entropy(out, y)
    return isinstance(call.func, cst.Call) and last_name(call.func.func) in LOGITS_FORM  # nn.BCELoss()(out, y)


def _consumer(tree: SourceTree, node: cst.CSTNode) -> cst.CSTNode | None:
    """What uses the value of ``node``, through reshaping method calls."""
    while True:
        parent = tree.parent(node)
        if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in _RESHAPES:
            call = tree.parent(parent)
            if isinstance(call, cst.Call) and call.func is parent:
                node = call
                continue
        return parent


def _output_only_feeds_losses(tree: SourceTree, model_names: set[str], loss_names: set[str]) -> None:
    """Raise CannotFix when a call of the model has its output used anywhere but in a loss."""
    for call in tree.nodes(cst.Call):
        if dotted_name(call.func) not in model_names:
            continue
        function = tree.enclosing_function(call)
        if function is not None and function.name.value == "forward":
            continue  # a wrapper model calling its inner model: part of the model, not a use of its output
        consumer = _consumer(tree, call)
        if isinstance(consumer, cst.Arg) and isinstance(tree.parent(consumer), cst.Call) \
                and _is_loss_call(tree.parent(consumer), loss_names):
            continue
        if isinstance(consumer, cst.Assign) and len(consumer.targets) == 1 \
                and isinstance(consumer.targets[0].target, cst.Name):
            _name_only_feeds_losses(tree, consumer, consumer.targets[0].target.value, loss_names)
            continue
        raise CannotFix(f"the model's output is also used at line {tree.line_of(call)}, where it is expected "
                        f"to be probabilities")


def _name_only_feeds_losses(tree: SourceTree, assign: cst.Assign, name: str, loss_names: set[str]) -> None:
    scope = next((a for a in tree.ancestors(assign) if isinstance(a, SCOPES)), tree.module)
    for node in tree.nodes(cst.Name):
        if node.value != name or node is assign.targets[0].target:
            continue
        if next((a for a in tree.ancestors(node) if isinstance(a, SCOPES)), tree.module) is not scope:
            continue
        consumer = _consumer(tree, node)
        if isinstance(consumer, cst.Arg) and isinstance(tree.parent(consumer), cst.Call) \
                and _is_loss_call(tree.parent(consumer), loss_names):
            continue
        if isinstance(consumer, cst.AssignTarget):
            continue  # rebound
        raise CannotFix(f"the model's output ({name}) is also used at line {tree.line_of(node)}, where it is "
                        f"expected to be probabilities")

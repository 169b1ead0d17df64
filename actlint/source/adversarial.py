"""Two models trained against each other: a GAN's generator and discriminator, a Wasserstein critic.

In: the file's syntax tree and the optimizers it builds. Out: an :class:`AdversarialUse`
when the file trains two players with their own optimizers and feeds one player's output
to the other (``netD(netG(z))``, ``netD(fake.detach())`` after ``fake = netG(z)``), or
None. Neither player minimises a fixed loss on a fixed batch, so the training probe does
not judge their learning rates or update sizes by fitting one batch.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable

#: Names in an optimizer's parameter argument that do not name a player.
_NOT_PLAYERS = frozenset({"self", "parameters", "params", "list", "itertools", "chain", "filter", "p", "lambda"})


@dataclass(frozen=True)
class AdversarialUse:
    """Where the file pits two models against each other."""

    line: int
    column: int  # 1-based
    players: frozenset[str]  # the names of both players (as the optimizers' parameter arguments name them)
    kind: str  # "adversarial", or "wasserstein" (a critic's score as the loss, a gradient penalty)

    def describe(self) -> str:
        what = "a Wasserstein critic and its generator" if self.kind == "wasserstein" else \
            "two models trained against each other (a GAN)"
        return f"{what}: {' and '.join(sorted(self.players))} (line {self.line})"


def _player(func: ast.expr, players: frozenset[str]) -> str | None:
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return name if name in players else None


def _names(node: ast.AST) -> set[str]:
    found = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            found.add(n.id)
        elif isinstance(n, ast.Attribute):
            found.add(n.attr)
    return found - _NOT_PLAYERS


def find_adversarial(tree: ast.Module, parameter_arguments: list[ast.expr],
                     module_names: frozenset[str] = frozenset()) -> AdversarialUse | None:
    """The file's adversarial setup, given the parameter argument of each optimizer it builds.

    The players are the models the optimizers train, and the modules the file binds at module
    level (``module_names``: a file may build the discriminator's optimizer where actlint does
    not read it); at least one optimizer must train one of them.
    """
    groups = [frozenset(_names(arg)) for arg in parameter_arguments]
    groups = [g for g in groups if g]
    if not groups or any(a & b for i, a in enumerate(groups) for b in groups[i + 1:]):
        return None  # nothing trained, or optimizers over overlapping parameters
    players = frozenset().union(*groups) | module_names
    producer: dict[str, str] = {}  # fake = netG(z): "fake" -> "netG"
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            source = _player(node.value.func, players)
            if source is None and isinstance(node.value.func, ast.Attribute) and \
                    isinstance(node.value.func.value, ast.Call):  # netG(z).detach()
                source = _player(node.value.func.value.func, players)
            for target in node.targets:
                if isinstance(target, ast.Name) and source:
                    producer[target.id] = source
    feeds = _first_feed(tree, players, producer)
    if feeds is None:
        return None
    kind = "wasserstein" if _wasserstein(tree, lambda f: _player(f, players) is not None) else "adversarial"
    return AdversarialUse(feeds.lineno, feeds.col_offset + 1, players, kind)


def _first_feed(tree: ast.Module, players: frozenset[str], producer: dict[str, str]) -> ast.Call | None:
    """A call of one player on the other's output."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        consumer = _player(node.func, players)
        if consumer is None:
            continue
        for arg in node.args:
            for inner in ast.walk(arg):
                if isinstance(inner, ast.Call) and (_player(inner.func, players) or consumer) != consumer:
                    return node
                if isinstance(inner, ast.Name) and producer.get(inner.id, consumer) != consumer:
                    return node
    return None


def _wasserstein(tree: ast.Module, is_player: Callable[[ast.expr], bool]) -> bool:
    """``-critic(real).mean()`` as a loss, or a gradient penalty (``autograd.grad(..., create_graph=True)``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            call = node.operand
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "mean" \
                    and isinstance(call.func.value, ast.Call) and is_player(call.func.value.func):
                return True  # -critic(real).mean()
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "mean" \
                    and call.args and isinstance(call.args[0], ast.Call) and is_player(call.args[0].func):
                return True  # -torch.mean(critic(real))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "grad" and \
                any(k.arg == "create_graph" for k in node.keywords):
            return True
    return False


__all__ = ["AdversarialUse", "find_adversarial"]

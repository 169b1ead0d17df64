"""Rewrites of training code that must refuse rather than break training."""

from __future__ import annotations

import textwrap

import pytest

from actlint.fixes.training import evaluation_mode
from actlint.fixes.tree import CannotFix, source_tree

FIT = textwrap.dedent("""
    import torch

    def train_and_evaluate(model, optimizer, train_loader, loss_fn):
        for x, y in train_loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
""").lstrip()


def test_no_grad_is_never_put_around_a_loop_that_calls_backward():
    tree = source_tree(FIT)
    line = 6  # the model call of the training loop
    with pytest.raises(CannotFix, match=r"calls backward\(\): it trains"):
        evaluation_mode(tree, line, FIT.splitlines()[line - 1].index("model(") + 1, set_eval=True, no_grad=True)

"""Rule-engine scaling: lint generated models of 5k, 10k and 20k+ graph nodes.

Prints, side by side in one run, the fx trace time, the time of all static rules, their
ratio, and the rule time per 1,000 nodes (flat per-node cost = linear scaling).

    python bench/bench_rules.py [--nodes 20000]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from actlint.rules.engine import RuleSelection, instantiate_rules, run_rules
from actlint.loader.loaded import LoadedFile
from actlint.rules.base import RuleContext
from actlint.rules.registry import default_registry
from actlint.trace import trace_model


class Block(nn.Module):
    """Pre-norm residual block with hand-written attention-style gating (~14 fx nodes)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim)
        self.fc2 = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(x)
        weights = F.softmax(self.gate(h), dim=-1)
        h = self.fc2(F.gelu(self.fc1(h)) * weights)
        return x + h.transpose(0, 1).transpose(0, 1)


class Generated(nn.Module):
    def __init__(self, blocks: int, dim: int = 8) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim) for _ in range(blocks))
        self.head = nn.Linear(dim, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def measure(blocks: int) -> tuple[int, float, float]:
    model = Generated(blocks)
    start = time.perf_counter()
    traced = trace_model(model, user_file=__file__)
    trace_seconds = time.perf_counter() - start
    rules = [r for r in instantiate_rules(default_registry(), RuleSelection()) if not r.is_measured]
    file = LoadedFile(path=Path(__file__), display=__file__, source="", namespace={})
    start = time.perf_counter()
    outcome = run_rules(rules, lambda rule: RuleContext(rule, traced.graph, file))
    rule_seconds = time.perf_counter() - start
    assert not outcome.crashed, outcome.crashed
    return len(traced.graph), trace_seconds, rule_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=20000, help="size of the largest graph")
    args = parser.parse_args()
    base = measure(0)[0]
    per_block = (measure(10)[0] - base) / 10
    sizes = [args.nodes // 4, args.nodes // 2, args.nodes]
    print(f"{'nodes':>8} {'trace s':>9} {'rules s':>9} {'rules/trace':>12} {'rules ms/1k nodes':>18}")
    for target in sizes:
        nodes, trace_s, rule_s = measure(math.ceil((target - base) / per_block))
        print(f"{nodes:>8} {trace_s:>9.3f} {rule_s:>9.3f} {rule_s / trace_s:>12.3f} {1000 * rule_s / nodes * 1000:>18.2f}")


if __name__ == "__main__":
    main()

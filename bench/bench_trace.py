"""Executed-trace cost against plain forward passes, and fx tracing against plain fx.

DESIGN.md's target: the executed trace costs <= 3x one plain forward pass (measured on a
12-layer GPT-style transformer whose forward torch.fx cannot trace: it asserts on the
sequence length). Beside it, where fx works (the same transformer without the assert),
actlint's fx trace (`trace_model`: leaves, call sites, GraphView) against a bare
`torch.fx.symbolic_trace`, to show the fx path did not change. With torchview or
torchlens installed, their recorders are timed on the same model too (they were evaluated
as dependencies instead of actlint's own recorder).

    python bench/bench_trace.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F

from actlint.sandbox.preserved import preserved
from actlint.trace import trace_executed, trace_model


class Block(nn.Module):
    def __init__(self, d: int, heads: int, check_length: bool) -> None:
        super().__init__()
        self.heads, self.check_length = heads, check_length
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        if self.check_length:
            assert t <= 1024, "sequence too long"
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, -1).transpose(1, 2) for z in (q, k, v))
        att = F.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.size(-1)), dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, layers: int = 12, d: int = 256, vocab: int = 1000, check_length: bool = True) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, 4, check_length) for _ in range(layers))
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.emb(idx)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def best(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _alternatives(model: nn.Module, idx: torch.Tensor):
    """torchview and torchlens, when installed (pip install torchview==0.2.7 torchlens)."""
    try:
        from torchview import draw_graph

        yield "torchview.draw_graph", lambda: draw_graph(model, input_data=idx, depth=100, save_graph=False)
    except ImportError:
        pass
    try:
        import torchlens

        yield "torchlens.trace", lambda: torchlens.trace(model, idx)
    except ImportError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    idx = torch.randint(0, 1000, (8, 64))

    model = GPT()
    def plain() -> None:
        with torch.no_grad(), preserved(model):
            model(idx)
    forward = best(plain, args.repeat)
    executed = best(lambda: trace_executed(model, (idx,)), args.repeat)
    nodes = len(trace_executed(model, (idx,)))

    traceable = GPT(check_length=False)
    bare_fx = best(lambda: torch.fx.symbolic_trace(traceable), args.repeat)
    ours_fx = best(lambda: trace_model(traceable), args.repeat)

    print(f"12-layer GPT (d=256, batch 8 x 64 tokens), torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"plain forward pass (no grad):      {forward * 1000:7.1f} ms")
    print(f"executed trace ({nodes} nodes):     {executed * 1000:7.1f} ms   {executed / forward:.2f}x "
          f"(target <= 3x)")
    for name, run in _alternatives(model, idx):  # the libraries evaluated instead of our recorder
        seconds = best(run, 1)
        print(f"{name + ':':<35}{seconds * 1000:7.1f} ms   {seconds / forward:.2f}x")
    print(f"torch.fx.symbolic_trace:           {bare_fx * 1000:7.1f} ms")
    print(f"actlint fx trace (GraphView):      {ours_fx * 1000:7.1f} ms   {ours_fx / bare_fx:.2f}x")


if __name__ == "__main__":
    main()

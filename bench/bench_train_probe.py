"""The training probe's cost against the same number of plain optimizer steps (target <= 2x).

For each model, side by side in the same process (best of ``--repeat``): ``steps`` plain
training steps (zero_grad, forward, cross-entropy, backward, step) on a fixed batch, and
the training probe (a deep copy, the measured steps: loss and gradient norm per step,
update ratios at five sampled steps), with its step count pinned to the same ``steps``
so the two do the same optimizer work. Prints the ratio.

    python bench/bench_train_probe.py [--steps 30] [--repeat 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from actlint.probe.device import resolve_device  # noqa: E402
from actlint.probe.training import TrainingPlan, TrainingSettings, run_training_probe  # noqa: E402


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return F.relu(x + self.body(x))


def resnet_like() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), *[Block(32) for _ in range(4)],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


class Transformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(1000, 128)
        layer = nn.TransformerEncoderLayer(128, 4, 256, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 4)
        self.head = nn.Linear(128, 1000)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)))


MODELS = {
    "mlp": (lambda: nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                                  nn.Linear(512, 10)), lambda: (torch.randn(64, 256),)),
    "resnet-like cnn": (resnet_like, lambda: (torch.randn(16, 3, 32, 32),)),
    "transformer lm": (Transformer, lambda: (torch.randint(0, 1000, (8, 64)),)),
}


def plain_steps(model: nn.Module, inputs: tuple, steps: int, device: torch.device) -> float:
    model = model.to(device).train()
    inputs = tuple(x.to(device) for x in inputs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with torch.no_grad():
        out = model(*inputs)
    classes = out.shape[-1]
    target = torch.randint(0, classes, out.shape[:-1], device=device)
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(*inputs).reshape(-1, classes), target.reshape(-1))
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def probe_steps(model: nn.Module, inputs: tuple, steps: int, device: torch.device) -> tuple[float, int]:
    settings = TrainingSettings(device=str(device), steps=steps, max_steps=steps, min_steps=steps,
                                flop_budget=1e18, sweep_flop_budget=1e18, timeout=600)
    plan = TrainingPlan(loss="cross_entropy")  # Adam(lr=1e-3), not explicit: one run when it fits
    start = time.perf_counter()
    report = run_training_probe(model, inputs, plan, settings)
    seconds = time.perf_counter() - start
    assert report.ok, report.reason
    return seconds, len(report.run.losses) + sum(len(r.losses) for r in report.sweep)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"training probe vs {args.steps} plain Adam steps, device {device}, best of {args.repeat}")
    print(f"{'model':18} {'plain s':>8} {'probe s':>8} {'steps':>6} {'ratio':>6}")
    worst = 0.0
    for name, (build, make_inputs) in MODELS.items():
        torch.manual_seed(0)
        model, inputs = build(), make_inputs()
        plain = probe = float("inf")
        ran = 0
        for _ in range(args.repeat):
            plain = min(plain, plain_steps(build(), inputs, args.steps, device))
            seconds, ran = probe_steps(model, inputs, args.steps, device)
            probe = min(probe, seconds)
        ratio = probe / (plain * ran / args.steps)  # per step of optimizer work
        worst = max(worst, ratio)
        print(f"{name:18} {plain:8.2f} {probe:8.2f} {ran:6d} {ratio:6.2f}x")
    print(f"worst ratio {worst:.2f}x (target <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

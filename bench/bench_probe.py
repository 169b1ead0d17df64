"""Probe overhead: wall time and peak memory against the same number of plain passes.

For each model (a small CNN, a ResNet-50-sized bottleneck network written here because
torchvision is not installed, and a transformer encoder) this runs, each in a fresh
process so peak RSS is comparable:

* plain: the probe's number of passes of ``loss = sum(out * v); loss.backward()`` on
  inputs of the same shape, in train mode;
* probe: ``actlint.probe.gradient.run_probe`` with default settings (hooks, functional
  activation measurement, parameter snapshot and restore, fork_rng...).

Time is the best of ``--repeat`` runs; memory is the peak RSS growth over the RSS after
the model and inputs were built (ru_maxrss), i.e. what the passes themselves allocate.
Targets (DESIGN.md): probe <= 1.5x time and <= 1.3x peak memory.

    python bench/bench_probe.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
import torch.nn as nn


class Bottleneck(nn.Module):
    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + idt)


class ResNet50(nn.Module):
    """Same layer counts and widths as torchvision's resnet50 (25.6M parameters)."""

    def __init__(self, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for width, n, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for i in range(n):
                blocks.append(Bottleneck(cin, width, stride if i == 0 else 1))
                cin = width * 4
        self.layers = nn.Sequential(*blocks)
        self.fc = nn.Linear(2048, classes)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc = nn.Linear(64 * 16 * 16, 10)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


class Transformer(nn.Module):
    def __init__(self, vocab=8000, dim=256, depth=6):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, 8, 4 * dim, dropout=0.1, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.out = nn.Linear(dim, vocab)

    def forward(self, tokens):
        return self.out(self.encoder(self.emb(tokens)))


MODELS = {
    # name: (factory, inputs) - the shapes actlint infers by default (batch 8; 64x64 images)
    "small-cnn": (SmallCNN, lambda: (torch.randn(8, 3, 64, 64),)),
    "resnet50-sized": (ResNet50, lambda: (torch.randn(8, 3, 64, 64),)),
    "transformer": (Transformer, lambda: (torch.randint(0, 8000, (8, 128)),)),
}


def _rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() // 1024


def child(name: str, mode: str, device: str = "cpu") -> dict:
    from actlint.probe.gradient import ProbeSettings, plan_passes, run_probe

    # torch.autograd.grad imports sympy on its first call (0.45 s); actlint has it loaded
    # already (tracing uses it), so load it for both modes rather than bill it to the probe.
    import torch.fx.experimental.symbolic_shapes  # noqa: F401

    torch.manual_seed(0)
    factory, make_inputs = MODELS[name]
    model = factory().to(device)
    inputs = tuple(t.to(device) for t in make_inputs())
    passes = plan_passes(inputs[0].shape[0], ProbeSettings())
    base = _rss_kb()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() // 1024
    start = time.perf_counter()
    if mode == "probe":
        report = run_probe(model, inputs, ProbeSettings(device=device))
        assert report.status == "ok", report.reason
    else:
        model.train()
        for k in range(passes):
            x = inputs if k == 0 else tuple(
                torch.randn_like(t) if t.is_floating_point() else torch.randint_like(t, 0, 8000) for t in inputs
            )
            out = model(*x)
            (out * torch.randn_like(out)).sum().backward()
            del out
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated() // 1024 if device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return {"seconds": seconds, "peak_growth_mb": max(peak - base, 0) / 1024, "passes": passes,
            "params_mb": sum(p.numel() * 4 for p in model.parameters()) / 2**20}


def run(name: str, mode: str, device: str = "cpu") -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", name, mode, device], capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (peak memory: GPU allocations on cuda)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}")
    print(f"{'model':<16} {'passes':>6} {'plain s':>8} {'probe s':>8} {'time x':>7} {'plain MB':>9} {'probe MB':>9} {'mem x':>6}")
    for name in MODELS:
        plain = [run(name, "plain", args.device) for _ in range(args.repeat)]
        probe = [run(name, "probe", args.device) for _ in range(args.repeat)]
        t_plain = min(r["seconds"] for r in plain)
        t_probe = min(r["seconds"] for r in probe)
        m_plain = min(r["peak_growth_mb"] for r in plain)
        m_probe = min(r["peak_growth_mb"] for r in probe)
        print(f"{name:<16} {plain[0]['passes']:>6} {t_plain:>8.2f} {t_probe:>8.2f} {t_probe / t_plain:>6.2f}x "
              f"{m_plain:>9.0f} {m_probe:>9.0f} {m_probe / max(m_plain, 1e-9):>5.2f}x")


if __name__ == "__main__":
    main()

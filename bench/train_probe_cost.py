"""The training probe's cost model against its wall time, and the default run's cost.

The training probe chooses its steps by counted FLOPs (``torch.utils.flop_counter`` on its
first step, plus a per-parameter charge for the optimizer's update), so that the same
model gets the same steps on an idle and a busy machine. This bench checks that the count
predicts the wall time: for every model it prints the FLOPs the probe spent, the seconds
they predict at the rate the budget assumes (``CPU_FLOP_RATE``), and the seconds the probe
took; the target is within 2x either way.

Then the default run, each against its floor, measured side by side (best of ``--repeat``):

* ``actlint examples/`` (target under 6 s) against ``python -c "import torch"``;
* ``actlint torchvision.models:resnet50`` (target under 3x) against importing, building and
  tracing it (``import torchvision; resnet50(); symbolic_trace``), with torchvision;
* the training probe of a small model (target well under 1 s).

    python bench/train_probe_cost.py              # needs torchvision for the zoo rows
    python bench/train_probe_cost.py --no-zoo
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from actlint.probe.training import CPU_FLOP_RATE, TrainingSettings, run_training_probe  # noqa: E402

ZOO = ("resnet18", "resnet50", "mobilenet_v3_small", "efficientnet_b0", "densenet121", "squeezenet1_1",
       "convnext_tiny", "vit_b_16", "regnet_y_400mf", "shufflenet_v2_x1_0")


def _small_models() -> dict[str, tuple[nn.Module, tuple]]:
    torch.manual_seed(0)
    lstm = nn.LSTM(28, 64, batch_first=True)

    class Rows(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.head = lstm, nn.Linear(64, 10)

        def forward(self, x):
            return self.head(self.lstm(x)[0][:, -1])

    return {
        "mlp 784-256-10": (nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)),
                           (torch.randn(8, 1, 28, 28),)),
        "bn cnn 28x28": (nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                                       nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                                       nn.Flatten(), nn.Linear(32 * 49, 10)), (torch.randn(8, 1, 28, 28),)),
        "lstm rows": (Rows(), (torch.randn(8, 28, 28),)),
    }


def _zoo_models(size: int) -> dict[str, tuple[nn.Module, tuple]]:
    try:
        import torchvision
    except ImportError:
        return {}
    models = {}
    for name in ZOO:
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)(weights=None)
        side = 224 if name.startswith("vit") else size
        models[f"torchvision {name} {side}px"] = (model, (torch.randn(8, 3, side, side),))
    return models


def cost_rows(models: dict[str, tuple[nn.Module, tuple]]) -> list[tuple[str, float, float, float, int]]:
    rows = []
    for name, (model, inputs) in models.items():
        report = run_training_probe(model, inputs, settings=TrainingSettings(device="cpu"))
        predicted = report.flops / CPU_FLOP_RATE
        steps = len(report.run.losses) + sum(len(r.losses) for r in report.sweep) if report.run else 0
        rows.append((name, report.flops, predicted, report.seconds, steps))
        print(f"{name:38} {report.status:8} steps={steps:4d} {report.flops / 1e9:9.1f} GFLOPs  predicted "
              f"{predicted:6.2f} s  measured {report.seconds:6.2f} s  ratio {report.seconds / max(predicted, 1e-9):5.2f}",
              flush=True)
    return rows


def _best(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return min(times)


def default_runs(repeat: int, zoo: bool) -> None:
    py = sys.executable
    examples = _best([py, "-m", "actlint", "examples/"], repeat)
    floor = _best([py, "-c", "import torch"], repeat)
    print(f"\nactlint examples/: {examples:.2f} s (target < 6 s); import torch {floor:.2f} s: {examples / floor:.2f}x")
    small_model, inputs = _small_models()["mlp 784-256-10"]
    seconds = statistics.median(run_training_probe(small_model, inputs, settings=TrainingSettings(device="cpu")).seconds
                                for _ in range(repeat))
    print(f"training probe of a small MLP: {seconds:.2f} s (target well under 1 s)")
    if zoo:
        lint = _best([py, "-m", "actlint", "torchvision.models:resnet50"], repeat)
        floor = _best([py, "-c", "import torch, torchvision; from torch.fx import symbolic_trace; "
                       "symbolic_trace(torchvision.models.resnet50())"], repeat)
        print(f"actlint torchvision.models:resnet50: {lint:.2f} s; import + build + trace {floor:.2f} s: "
              f"{lint / floor:.2f}x (target < 3x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-zoo", action="store_true")
    parser.add_argument("--size", type=int, default=64, help="spatial size of the zoo's inputs")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    models = _small_models()
    if not args.no_zoo:
        models.update(_zoo_models(args.size))
    rows = cost_rows(models)
    ratios = [measured / predicted for _, _, predicted, measured, _ in rows if predicted > 0]
    within = sum(0.5 <= r <= 2.0 for r in ratios)
    print(f"\ncost model within 2x: {within} of {len(ratios)} (measured / predicted: "
          f"{min(ratios):.2f} to {max(ratios):.2f})")
    default_runs(args.repeat, zoo=not args.no_zoo)
    return 0


if __name__ == "__main__":
    sys.exit(main())

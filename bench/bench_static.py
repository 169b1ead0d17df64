"""Static lint wall time against the floor of importing torch and fx-tracing the model.

DESIGN.md's target: a static lint of resnet50 takes <= 1.15x the floor
``python -c "import torch; fx.symbolic_trace(resnet50())"``. torchvision is optional
here, so the model is the ResNet-50 written in tests/corpus (same topology); with
torchvision installed, ``--torchvision`` measures torchvision's own resnet50.

    python bench/bench_static.py [--repeat 5] [--torchvision]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS_MODEL = REPO / "tests" / "corpus" / "healthy_resnet.py"
TORCHVISION_MODEL = """
from torchvision.models import resnet50

def build_model():
    return resnet50()
"""


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--torchvision", action="store_true", help="use torchvision's resnet50")
    args = parser.parse_args()
    if args.torchvision:
        model_file = Path(tempfile.mkdtemp()) / "tv_resnet50.py"
        model_file.write_text(TORCHVISION_MODEL)
        floor_code = "import torch, torchvision, torch.fx as fx; fx.symbolic_trace(torchvision.models.resnet50())"
    else:
        model_file = CORPUS_MODEL
        floor_code = (
            f"import sys; sys.path.insert(0, {str(model_file.parent)!r}); import torch, torch.fx as fx; "
            "from healthy_resnet import ResNet50; fx.symbolic_trace(ResNet50())"
        )
    floor_cmd = [sys.executable, "-c", floor_code]
    lint_cmd = [sys.executable, "-m", "actlint", str(model_file), "--exit-zero"]
    if "--no-probe" in subprocess.run([sys.executable, "-m", "actlint", "check", "--help"],
                                      capture_output=True, text=True).stdout:
        lint_cmd.append("--no-probe")
    floors, lints = [], []
    for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
        floors.append(timed(floor_cmd))
        lints.append(timed(lint_cmd))
    floor, lint = statistics.median(floors), statistics.median(lints)
    print(f"model: {'torchvision resnet50' if args.torchvision else 'tests/corpus ResNet50'}")
    print(f"floor (import torch + fx trace): {floor:.2f} s (median of {args.repeat})")
    print(f"actlint static lint:             {lint:.2f} s")
    print(f"ratio:                           {lint / floor:.2f}x (target <= 1.15x)")


if __name__ == "__main__":
    main()

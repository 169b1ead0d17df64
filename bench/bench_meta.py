"""Lint a 7B-parameter LLaMA-shaped model (built from a config dataclass) on the meta device.

DESIGN.md's target: under 30 s and under 2 GB peak RSS on a 2-core machine. The model's
weights alone would take 27 GB in float32; actlint builds it on the meta device first,
sees it is over the memory budget and lints it there (static rules that need no weight
values). Each run is a fresh process, so its peak RSS is its own; the floor beside it is
`import torch` plus building the same model on meta.

    python bench/bench_meta.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "tests" / "real_files" / "llama_7b.py"

MEASURE = """
import json, resource, sys, time
start = time.perf_counter()
{body}
print(json.dumps({{"seconds": time.perf_counter() - start,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
LINT = """
from click.testing import CliRunner
from actlint.cli import main
result = CliRunner().invoke(main, [{model!r}, "--format", "json"])
doc = json.loads(result.stdout)
assert doc["models"][0]["parameters"] > 6.5e9, doc
"""
FLOOR = """
import importlib.util, os, sys, torch
sys.path.insert(0, os.path.dirname({model!r}))
spec = importlib.util.spec_from_file_location("llama_7b", {model!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
with torch.device("meta"):
    module.LLaMA7B(module.ModelArgs7B())
"""


def measure(body: str) -> dict:
    code = MEASURE.format(body=body.format(model=str(MODEL)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lint = [measure(LINT) for _ in range(args.repeat)]
    floor = [measure(FLOOR) for _ in range(args.repeat)]
    seconds = statistics.median(r["seconds"] for r in lint)
    rss = max(r["rss_mb"] for r in lint)
    floor_seconds = statistics.median(r["seconds"] for r in floor)
    print(f"model: {MODEL.relative_to(REPO)} (6.7e9 parameters, 27 GB of float32 weights)")
    print(f"floor (import torch + build on meta): {floor_seconds:.2f} s, "
          f"{max(r['rss_mb'] for r in floor):.0f} MB peak RSS")
    print(f"actlint lint on meta:                 {seconds:.2f} s (target < 30 s), "
          f"{rss:.0f} MB peak RSS (target < 2048 MB)")
    print(f"ratio to the floor:                   {seconds / floor_seconds:.2f}x")


if __name__ == "__main__":
    main()

"""The result cache: a second ``actlint examples/`` against the first, side by side in one run.

Each repetition lints a fresh copy of examples/ three times with the cache on: cold (an
empty cache), warm (nothing changed: the stored report is replayed) and after editing one
file (that file is linted again, the others come from the per-file cache); and once with
``--no-cache`` for reference. Target: warm under 0.2x cold.

    python bench/bench_cache.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _time(args: list[str], cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "ACTLINT_NO_CACHE"}
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    runs: dict[str, list[float]] = {"no cache": [], "cold": [], "warm": [], "one file edited": []}
    command = [sys.executable, "-m", "actlint", "examples"]
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(REPO / "examples", Path(tmp) / "examples")
            runs["no cache"].append(_time([*command, "--no-cache"], Path(tmp)))
            runs["cold"].append(_time(command, Path(tmp)))
            runs["warm"].append(_time(command, Path(tmp)))
            edited = Path(tmp) / "examples" / "linear_collapse.py"
            edited.write_text(edited.read_text() + "\n# edited\n")
            runs["one file edited"].append(_time(command, Path(tmp)))
    median = {k: statistics.median(v) for k, v in runs.items()}
    print(f"actlint examples/ ({len(list((REPO / 'examples').glob('*.py')))} files, probe on), median of {args.repeat}")
    for name, value in median.items():
        print(f"  {name:<16} {value:6.2f} s  {value / median['cold']:.2f}x cold")
    print(f"  warm / cold: {median['warm'] / median['cold']:.3f}x (target < 0.2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

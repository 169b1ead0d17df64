"""Isolated workers vs linting in the command's own process, side by side in one run.

The ``actlint`` command lints each file in a worker process forked from itself (a file that
ends or crashes its interpreter costs one error line). This measures what that costs on a
directory of small models: the same CLI, the same files, the same options, with the user's
code in a forked worker (``python -m actlint``) and in-process (``main()`` called from a
plain ``python -c``, which is not the command's own process and so does not fork).
Target: isolated under 1.10x in-process.

    python bench/bench_isolation.py [--repeat 3] [--probe]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCES = [REPO / "examples", REPO / "tests" / "corpus"]


def _time(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{args}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--probe", action="store_true", help="run the probes too (default: static rules only)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "models"
        folder.mkdir()
        for source in SOURCES:
            for path in sorted(source.glob("*.py")):
                shutil.copy(path, folder / f"{source.name}_{path.name}")
        flags = ["--no-cache"] + ([] if args.probe else ["--no-probe"])
        isolated = [sys.executable, "-m", "actlint", *flags, "-j", "1", str(folder)]
        in_process = [sys.executable, "-c",
                      "import sys; from actlint.cli import main; "
                      f"sys.argv = ['actlint', *{flags!r}, '-j', '1', {str(folder)!r}]; main()"]
        runs: dict[str, list[float]] = {"isolated": [], "in-process": []}
        for _ in range(args.repeat):  # interleaved, so drift hits both alike
            runs["in-process"].append(_time(in_process, REPO))
            runs["isolated"].append(_time(isolated, REPO))
    median = {k: statistics.median(v) for k, v in runs.items()}
    print(f"{sum(len(list(s.glob('*.py'))) for s in SOURCES)} model files, {'probe' if args.probe else 'static'}, "
          f"median of {args.repeat}")
    for name, value in median.items():
        print(f"  {name:<11} {value:6.2f} s")
    ratio = median["isolated"] / median["in-process"]
    print(f"  isolated / in-process: {ratio:.2f}x (target < 1.10x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One benchmark suite: every figure a ratio measured side by side in the same run.

    python bench/run.py [--repeat 3] [--quick] [--markdown bench/RESULTS.md]

Rows (targets from DESIGN.md):
- static lint of ResNet-50 and ViT-B/16 vs the floor (import torch + build + fx.symbolic_trace); <= 1.15x
  (torchvision's models when torchvision is installed, else the same topologies from tests/corpus);
- the rule engine on generated graphs of 1k, 10k and 100k nodes (linear: ms per 1,000 nodes flat);
- the probe vs the same number of plain forward/backward passes (time <= 1.5x, peak memory <= 1.3x);
- the training probe vs the same number of plain optimizer steps (<= 2x);
- the executed trace of a 12-layer transformer vs one plain forward pass (<= 3x);
- the CLI on a small model vs `python -c "import torch"`;
- `actlint rules`, `actlint explain` and `actlint --help` vs `python -c pass` (they never import torch);
- `-j 2` vs `-j 1` on a folder of 10 models;
- a 7B-parameter LLaMA config linted on the meta device (< 30 s, < 2 GB peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"


def _python(code: str, cwd: Path = REPO) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def _cli(*args: str, cwd: Path = REPO) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "actlint", *args], cwd=cwd, capture_output=True)
    return time.perf_counter() - start


def median(fn, repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def _has_torchvision() -> bool:
    return subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True).returncode == 0


FLOOR = """
import torch, torch.fx
{build}
torch.fx.symbolic_trace(model)
"""


def static_rows(repeat: int) -> list[tuple[str, float, str, str]]:
    rows = []
    tv = _has_torchvision()
    for name in ("resnet50", "vit_b_16"):
        if tv:
            build = f"import torchvision\nmodel = torchvision.models.{name}()"
            source = f"import torchvision\n\ndef build_model():\n    return torchvision.models.{name}()\n"
        else:
            corpus = {"resnet50": ("healthy_resnet.py", "ResNet50"),
                      "vit_b_16": ("healthy_transformer.py", "VisionTransformer")}[name]
            path = REPO / "tests" / "corpus" / corpus[0]
            if not path.exists():
                continue
            build = (f"import importlib.util\nspec = importlib.util.spec_from_file_location('m', {str(path)!r})\n"
                     f"m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\nmodel = m.{corpus[1]}()")
            source = path.read_text()
        with tempfile.TemporaryDirectory() as tmp:
            model_file = Path(tmp) / f"{name}_model.py"
            model_file.write_text(source)
            target = str(model_file) if tv else f"{model_file}::{corpus[1]}"  # that one model, as the floor
            floor = median(lambda: _python(FLOOR.format(build=build)), repeat)
            lint = median(lambda: _cli(target, "--no-probe"), repeat)
        origin = "torchvision" if tv else "tests/corpus"
        rows.append((f"static lint {name} ({origin}) vs import+build+fx.symbolic_trace", lint / floor, "<= 1.15x",
                     f"{lint:.2f} s vs {floor:.2f} s"))
    return rows


def rule_rows() -> list[tuple[str, float, str, str]]:
    sys.path.insert(0, str(BENCH))
    import bench_rules  # noqa: E402 - the generator and timer live there

    rows = []
    per_k = []
    for blocks in (100, 1000, 10000):
        nodes, trace_s, rules_s = bench_rules.measure(blocks)
        per_k.append(rules_s / nodes * 1000)
        rows.append((f"rule engine, {nodes} nodes: rules time / trace time", rules_s / trace_s, "linear",
                     f"{rules_s:.2f} s, {rules_s / nodes * 1e6:.0f} ms per 1k nodes"))
    rows.append(("rule engine: ms per 1k nodes at the largest vs the smallest graph", per_k[-1] / per_k[0],
                 "~1x (linear)", ""))
    return rows


def probe_rows() -> list[tuple[str, float, str, str]]:
    out = subprocess.run([sys.executable, str(BENCH / "bench_probe.py")], cwd=REPO, capture_output=True, text=True)
    rows = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 8 and parts[-1].endswith("x") and parts[4].endswith("x"):
            rows.append((f"probe vs plain passes, {parts[0]}: time", float(parts[4][:-1]), "<= 1.5x",
                         f"{parts[3]} s vs {parts[2]} s"))
            rows.append((f"probe vs plain passes, {parts[0]}: peak memory", float(parts[7][:-1]), "<= 1.3x",
                         f"{parts[6]} MB vs {parts[5]} MB"))
    return rows


def train_probe_rows() -> list[tuple[str, float, str, str]]:
    out = subprocess.run([sys.executable, str(BENCH / "bench_train_probe.py")], cwd=REPO, capture_output=True,
                         text=True)
    rows = []
    for line in out.stdout.splitlines():
        parts = line.rsplit(None, 4)
        if len(parts) == 5 and parts[-1].endswith("x") and parts[-1][:-1].replace(".", "", 1).isdigit():
            rows.append((f"training probe vs plain Adam steps, {parts[0].strip()}", float(parts[-1][:-1]), "<= 2x",
                         f"{parts[2]} s for {parts[3]} steps vs {parts[1]} s"))
    return rows


def trace_rows() -> list[tuple[str, float, str, str]]:
    out = subprocess.run([sys.executable, str(BENCH / "bench_trace.py"), "--repeat", "5"], cwd=REPO,
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        if line.startswith("executed trace"):
            rows.append(("executed trace of a 12-layer GPT vs one plain forward", float(line.split()[-4][:-1]),
                         "<= 3x", line.split(":", 1)[1].split("  ")[0].strip()))
        if line.startswith("actlint fx trace"):
            rows.append(("actlint fx trace vs bare fx.symbolic_trace (fx path unchanged)", float(line.split()[-1][:-1]),
                         "~1x", ""))
    return rows


SMALL = """
import torch.nn as nn

def build_model():
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
"""


def cli_rows(repeat: int) -> list[tuple[str, float, str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.py"
        small.write_text(SMALL)
        torch_import = median(lambda: _python("import torch"), repeat)
        lint = median(lambda: _cli(str(small)), repeat)
        rows.append(("CLI on a small model (probe on) vs python -c 'import torch'", lint / torch_import, "small",
                     f"{lint:.2f} s vs {torch_import:.2f} s"))
        bare = median(lambda: _python("pass"), repeat)
        for args in (("rules",), ("explain", "ACT101"), ("--help",)):
            t = median(lambda: _cli(*args), repeat)
            rows.append((f"actlint {' '.join(args)} vs python -c pass (no torch import)", t / bare, "small",
                         f"{t:.2f} s vs {bare:.2f} s"))
        folder = Path(tmp) / "ten"
        folder.mkdir()
        for i in range(10):
            (folder / f"m{i}.py").write_text(SMALL.replace("32", str(16 + 8 * i)))
        serial = median(lambda: _cli(str(folder), "-j", "1"), repeat)
        parallel = median(lambda: _cli(str(folder), "-j", "2"), repeat)
        rows.append(("-j 2 vs -j 1 on a folder of 10 models", parallel / serial, "< 1x on 2 cores",
                     f"{parallel:.2f} s vs {serial:.2f} s"))
    return rows


def meta_rows() -> list[tuple[str, float, str, str]]:
    out = subprocess.run([sys.executable, str(BENCH / "bench_meta.py"), "--repeat", "1"], cwd=REPO,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("actlint lint on meta"):
            seconds = float(line.split(":")[1].split()[0])
            rss = float(line.split("),")[1].split()[0])
            return [("7B LLaMA config on meta: seconds / 30 s target", seconds / 30, "< 1", f"{seconds:.2f} s"),
                    ("7B LLaMA config on meta: peak RSS / 2 GB target", rss / 2048, "< 1", f"{rss:.0f} MB")]
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip the probe and meta rows")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table as Markdown here")
    args = parser.parse_args()
    rows = static_rows(args.repeat) + rule_rows() + trace_rows() + cli_rows(args.repeat)
    if not args.quick:
        rows += probe_rows() + train_probe_rows() + meta_rows()
    import torch

    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"torch {torch.__version__}, {time.strftime('%Y-%m-%d')}; load average "
               f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    width = max(len(r[0]) for r in rows)
    print(machine)
    print(f"{'measure':<{width}}  {'ratio':>8}  {'target':<16} detail")
    for name, ratio, target, detail in rows:
        print(f"{name:<{width}}  {ratio:>7.2f}x  {target:<16} {detail}")
    if args.markdown:
        lines = ["# Benchmark results", "", f"Machine: {machine}.", "", "Produced by `python bench/run.py "
                 f"--markdown {args.markdown}`.", "", "| measure | ratio | target | detail |", "|---|---|---|---|"]
        lines += [f"| {n} | {r:.2f}x | {t} | {d} |" for n, r, t, d in rows]
        args.markdown.write_text("\n".join(lines) + "\n")
    print(json.dumps({"rows": len(rows)}))


if __name__ == "__main__":
    main()

"""Calibration margins of the measured rules' thresholds (ACT701-ACT707).

Runs the probe on the healthy corpus (tests/corpus/healthy_*.py and
tests/probe_corpus/healthy_*.py) and on the planted bugs (tests/probe_corpus/bug_*.py),
computes each rule's statistic per model, and prints for every threshold the worst
healthy value, the healthiest buggy value among the bugs planted for that rule, and the
margin between each of them and the threshold in orders of magnitude (log10) or in
percentage points for fractions. A positive margin on both sides means the threshold
separates the corpus.

    python bench/probe_calibration.py
"""

from __future__ import annotations

import ast
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from actlint.rules.engine import RuleSelection  # noqa: E402
from actlint.options import LintOptions  # noqa: E402
from actlint.pipeline import lint_paths  # noqa: E402
from actlint.rules import confirmation  # noqa: E402
from actlint.rules.families import measured  # noqa: E402

HEALTHY = sorted((REPO / "tests" / "corpus").glob("healthy_*.py")) + sorted((REPO / "tests" / "probe_corpus").glob("healthy_*.py"))
BUGS = sorted((REPO / "tests" / "probe_corpus").glob("bug_*.py"))


def planted(path: Path) -> tuple[str, ...]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PLANTED":
            return tuple(ast.literal_eval(node.value))
    return ()


def reports(path: Path) -> list:
    run = lint_paths([str(path)], LintOptions(selection=RuleSelection(select=("ACT7",))))
    return [(f"{path.stem}::{m.name}", m.probe_report) for m in run.models if m.probe_report.ok]


def stats(report) -> dict[str, float | None]:
    """Each rule's statistic; larger = worse for 'max' rules, smaller = worse for 'min' rules."""
    sig = confirmation.signal_ratio(report)
    fwd = confirmation.forward_endpoints(report)
    dead = [s.dead_fraction for s in report.layers if s.dead_fraction is not None and (s.units or 0) >= 4]
    sat = [s.saturated_fraction for s in report.layers if s.saturated_fraction is not None]
    return {
        "ACT701": sig[0] if sig else None,
        "ACT702": sig[0] if sig else None,
        "ACT703": max(dead) if dead else None,
        "ACT704": max(sat) if sat else None,
        "ACT705": 1.0 if report.first_nonfinite else 0.0,
        "ACT706": float(len(report.params_without_grad) + len(report.params_zero_grad)),
        "ACT707 low": fwd[0] if fwd else None,
        "ACT707 high": fwd[0] if fwd else None,
    }


# statistic, threshold, direction (bug when value < threshold: "below"; > threshold: "above"), scale
THRESHOLDS = {
    "ACT701": (measured.VanishingGradients.options["threshold"].default, "below", "log"),
    "ACT702": (measured.ExplodingGradients.options["threshold"].default, "above", "log"),
    "ACT703": (measured.DeadReLU.options["threshold"].default, "above", "lin"),
    "ACT704": (measured.SaturatedActivation.options["threshold"].default, "above", "lin"),
    "ACT705": (0.5, "above", "lin"),
    "ACT706": (0.5, "above", "count"),
    "ACT707 low": (measured.ForwardSignalCollapse.options["low"].default, "below", "log"),
    "ACT707 high": (measured.ForwardSignalCollapse.options["high"].default, "above", "log"),
}


def margin(value: float, threshold: float, scale: str) -> str:
    if scale == "log":
        if value <= 0:
            return "inf decades"
        return f"{abs(math.log10(value) - math.log10(threshold)):.1f} decades"
    if scale == "count":
        return f"{abs(value - threshold):.1f}"
    return f"{abs(value - threshold) * 100:.0f} pts"


def main() -> None:
    healthy = [(name, stats(r)) for p in HEALTHY for name, r in reports(p)]
    bugs = [(name, stats(r), planted(p)) for p in BUGS for name, r in reports(p)]
    print(f"{len(healthy)} healthy models, {len(bugs)} planted bugs\n")
    print(f"{'rule':<12} {'threshold':>9}  {'worst healthy':<42} {'healthiest bug':<40} {'margins (healthy | bug)'}")
    for key, (threshold, direction, scale) in THRESHOLDS.items():
        sign = 1 if direction == "above" else -1
        values = [(name, s[key]) for name, s in healthy if s[key] is not None]
        worst = max(values, key=lambda v: sign * v[1]) if values else None
        rule = key.split()[0]
        buggy = [(name, s[key]) for name, s, rules in bugs if rule in rules and s[key] is not None]
        if key == "ACT707 low":
            buggy = [(n, v) for n, v in buggy if v < 1]
        elif key == "ACT707 high":
            buggy = [(n, v) for n, v in buggy if v > 1]
        best = min(buggy, key=lambda v: sign * v[1]) if buggy else None
        ok_h = worst is None or (sign * (threshold - worst[1]) > 0)
        ok_b = best is None or (sign * (best[1] - threshold) > 0)
        w = f"{worst[1]:.3g} ({worst[0]})" if worst else "-"
        b = f"{best[1]:.3g} ({best[0]})" if best else "-"
        mh = margin(worst[1], threshold, scale) if worst else "-"
        mb = margin(best[1], threshold, scale) if best else "-"
        flag = "" if ok_h and ok_b else "   <-- does not separate"
        print(f"{key:<12} {threshold:>9.3g}  {w:<42} {b:<40} {mh} | {mb}{flag}")


if __name__ == "__main__":
    main()

"""The training probe's verdict on the ground-truth corpus (tests/train_corpus).

Each file states ``TRAINS``: whether 300 real training steps on a teacher task train it
(``python bench/train_calibration.py`` measures that, and the learning-rate sweeps, and
prints the margins). The probe must agree: a training-probe finding (ACT806, ACT851-853,
or ACT802 confirmed by it) on every planted bug, none on its repaired twin.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from actlint.rules.engine import RuleSelection
from actlint.options import LintOptions
from actlint.pipeline import lint_paths

CORPUS = Path(__file__).parent.parent / "train_corpus"
PROBE_RULES = {"ACT806", "ACT851", "ACT852", "ACT853"}


def _trains(path: Path) -> bool:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "TRAINS":
            return bool(ast.literal_eval(node.value))
    raise AssertionError(f"{path.name} states no TRAINS")


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.py")), ids=lambda p: p.stem)
def test_training_probe_agrees_with_real_training(path):
    run = lint_paths([str(path)], LintOptions(selection=RuleSelection(select=("ACT8",))))
    assert not run.errors, run.errors
    fired = sorted({f.rule for f in run.findings() if f.rule in PROBE_RULES
                    or (f.rule == "ACT802" and f.probe is not None and f.probe.status.value == "confirmed")})
    assert (not fired) == _trains(path), (path.stem, fired, [f.message for f in run.findings()])


def test_ground_truth_of_one_pair_by_real_training():
    """The bench's real training says the dead-bias MLP does not train and its twin does."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "bench"))
    import train_calibration as bench

    cases = {c.name: c for c in bench.corpus_cases()}
    results = {}
    for name in ("twin_mlp_adam", "bug_mlp_dead_bias"):
        _, _, example = bench.probe(cases[name])
        accuracy, majority, finite, _ = bench.real_training(cases[name], example)
        results[name] = accuracy - majority if finite else 0.0
    assert results["twin_mlp_adam"] > 0.2
    assert results["bug_mlp_dead_bias"] < results["twin_mlp_adam"] / 2

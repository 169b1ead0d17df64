"""The training probe against real training on real data (bench/real_training.py).

``bench/real_training.json`` records what real training of each file of
``tests/real_train_corpus/`` does on scikit-learn's digits and the standard library's
documentation text (the file's optimizer, loss, batch size and schedule, its learning rate
and a decade either side, several seeds). Every test run checks that ``actlint FILE``
still tells the same story; a small subset is trained for real here too, so the recorded
ground truth cannot drift from what the bench measures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "bench"))

import real_training as bench  # noqa: E402

RECORDED = json.loads(bench.RESULT.read_text())


def test_every_corpus_file_has_a_recorded_ground_truth():
    files = {p.stem for p in bench.CORPUS.glob("*.py")}
    assert files == set(bench.CASES) == set(RECORDED), (files ^ set(RECORDED))
    verdicts = {t["verdict"] for t in RECORDED.values()}
    # Every verdict kind the training rules give has real-data rows.
    assert {"trains", "too low", "too high", "cannot fit"} <= verdicts, verdicts


@pytest.mark.parametrize("name", sorted(RECORDED), ids=str)
def test_actlint_agrees_with_real_training(name):
    truth = bench.Truth(**{k: v for k, v in RECORDED[name].items() if k in bench.Truth.__dataclass_fields__})
    truth.actlint, _, messages = bench.actlint_findings(name)
    truth.why_806, truth.why_853 = messages["ACT806"], messages["ACT853"]
    agrees, why = bench.agreement(truth)
    assert agrees, (name, truth.verdict, truth.actlint, why, messages)


@pytest.mark.parametrize("name", ["mlp_sgd_lr_tiny", "mlp_dead_bias"])
def test_real_training_reproduces_the_recorded_verdict(name):
    """Two cheap rows trained for real (one seed): the same verdict as the bench recorded."""
    pytest.importorskip("sklearn")
    spec = bench.CASES[name]
    data = bench.digits()
    _, plan, _ = bench.load(name, 0, spec.model)
    runs = [bench.train_classifier(name, spec, float(f"{plan.lr * factor:.6g}"), 0, data) for factor in spec.rates]
    verdict, _ = bench.judge_runs(spec, plan.lr, runs)
    assert verdict == RECORDED[name]["verdict"], [(r.lr, r.score) for r in runs]

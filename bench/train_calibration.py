"""Does the training probe agree with real training? Agreement table and threshold margins.

Ground truth: each model file is trained for real, ``STEPS`` steps of fresh batches of
``BATCH`` samples on a learnable synthetic task: the labels of a teacher network (the
healthy twin's architecture, another seed; logits standardised per class so the ten
classes are balanced), with the file's optimizer, learning rate and clipping. A run
*trains* when its held-out accuracy gain over the majority class reaches half of the
reference gain (the twin's, or the best of the architecture's learning-rate sweep) and
its loss stays finite.

The probe's verdict: the file "will not train" when a training-probe rule fires
(ACT806, ACT851, ACT852, ACT853) or the probe confirms ACT802 (an unclipped recurrent
model whose gradient norm grew), as ``actlint FILE`` reports it.

Corpus: tests/train_corpus/ (planted bugs next to their repaired twins, with ``TRAINS``
stating the expected verdict) and a learning-rate sweep generated here: an MLP, a
batch-norm CNN and an LSTM classifier under Adam 1e-4..1 and SGD(momentum 0.9) 1e-3..10.

    python bench/train_calibration.py            # the whole table (a few minutes on 2 cores)
    python bench/train_calibration.py --quick    # the planted bugs only
"""

from __future__ import annotations

import argparse
import ast
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from actlint.rules.engine import RuleSelection  # noqa: E402
from actlint.loader.models import load_models  # noqa: E402
from actlint.options import LintOptions  # noqa: E402
from actlint.pipeline import lint_paths  # noqa: E402
from actlint.rules.families.training_measured import (  # noqa: E402
    CannotFitBatch, TrainingDiverges, UpdateRatioOutOfRange,
)
from actlint.rules.families.training_static import RNNWithoutClipping  # noqa: E402
from actlint.probe.replay import training_plan  # noqa: E402
from actlint.source.pairing import training_for  # noqa: E402

CORPUS = REPO / "tests" / "train_corpus"
PROBE_RULES = ("ACT806", "ACT851", "ACT852", "ACT853")
STEPS = 300
BATCH = 64
CLASSES = 10

_HEADER = '"""{doc}"""\n\nimport torch\nimport torch.nn as nn\n\n'
_LOOP = '''

model = Net()
optimizer = torch.optim.{optimizer}
criterion = nn.CrossEntropyLoss()


def train(loader):
    for x, y in loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
'''
ARCHITECTURES = {
    "mlp": '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.body(x)
''',
    "cnn": '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
        )

    def forward(self, x):
        return self.body(x)


def example_inputs():
    return (torch.randn(8, 3, 16, 16),)
''',
    "lstm": '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 64, num_layers=2, batch_first=True)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


def example_inputs():
    return (torch.randn(8, 12, 16),)
''',
}
SWEEP = {
    "Adam": ("Adam(model.parameters(), lr={lr})", (1e-4, 1e-3, 1e-2, 1e-1, 1.0)),
    "SGD": ("SGD(model.parameters(), lr={lr}, momentum=0.9)", (1e-3, 1e-2, 1e-1, 1.0, 10.0)),
}


@dataclass
class Case:
    name: str
    path: Path
    group: str  # cases judged against the same reference gain
    teacher: Path  # the file whose model class (another seed) labels the data
    expected: bool | None  # the corpus's TRAINS, or None for the sweep


@dataclass
class Outcome:
    case: Case
    optimizer: str
    accuracy: float
    majority: float
    finite: bool
    probe: dict
    fired: list
    trains: bool = False

    @property
    def gain(self) -> float:
        return self.accuracy - self.majority if self.finite else 0.0

    @property
    def probe_trains(self) -> bool:
        return not self.fired


def _constant(path: Path, name: str):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return ast.literal_eval(node.value)
    return None


def corpus_cases() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.py")):
        twin = _constant(path, "TWIN")
        cases.append(Case(path.stem, path, twin, CORPUS / f"{twin}.py", _constant(path, "TRAINS")))
    return cases


def sweep_cases(folder: Path) -> list[Case]:
    cases = []
    for arch, body in ARCHITECTURES.items():
        for opt, (call, lrs) in SWEEP.items():
            for lr in lrs:
                path = folder / f"sweep_{arch}_{opt.lower()}_{lr:g}.py"
                path.write_text(_HEADER.format(doc=f"{arch} with {opt} lr={lr:g}") + body
                                + _LOOP.format(optimizer=call.format(lr=lr)))
                cases.append(Case(path.stem, path, f"sweep {arch}", path, None))
    return cases


def _model(path: Path, seed: int):
    torch.manual_seed(seed)
    (loaded,) = load_models(str(path))
    return loaded


def real_training(case: Case, example: torch.Tensor) -> tuple[float, float, bool, str]:
    """(held-out accuracy, majority share, loss stayed finite, optimizer) of a real run."""
    loaded = _model(case.path, seed=0)
    model = loaded.model
    plan = training_plan(training_for(loaded.file, model))
    teacher = _model(case.teacher, seed=123).model.eval()
    gen = torch.Generator().manual_seed(1)
    shape = tuple(example.shape[1:])
    with torch.no_grad():
        reference = teacher(torch.randn(4096, *shape, generator=gen))
        mean, std = reference.mean(0), reference.std(0) + 1e-9

        def labelled(n: int) -> tuple[torch.Tensor, torch.Tensor]:
            x = torch.randn(n, *shape, generator=gen)
            return x, ((teacher(x) - mean) / std).argmax(1)

    held_x, held_y = labelled(2000)
    majority = float(torch.bincount(held_y, minlength=CLASSES).max()) / len(held_y)
    optimizer = getattr(torch.optim, plan.optimizer)(model.parameters(), **dict(plan.hyperparameters))
    model.train()
    finite = True
    for _ in range(STEPS):
        x, y = labelled(BATCH)
        loss = F.cross_entropy(model(x), y)
        if not torch.isfinite(loss):
            finite = False
            break
        optimizer.zero_grad()
        loss.backward()
        if plan.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), plan.clip_norm)
        optimizer.step()
    model.eval()
    with torch.no_grad():
        out = model(held_x)
        accuracy = float((out.argmax(1) == held_y).float().mean()) if torch.isfinite(out).all() else 0.0
    return accuracy, majority, finite, plan.describe()


def probe(case: Case) -> tuple[dict, list, torch.Tensor]:
    run = lint_paths([str(case.path)], LintOptions(selection=RuleSelection(select=("ACT8",))))
    (model,) = run.models
    report = model.probe_report
    training = report.training
    # ACT802 counts when the training probe confirmed it (the gradient norm of an unclipped RNN grew).
    fired = sorted({f.rule for f in model.findings if f.rule in PROBE_RULES
                    or (f.rule == "ACT802" and f.probe is not None and f.probe.status.value == "confirmed")})
    stats = {}
    if training is not None and training.ok:
        r = training.run
        recurrent = any(isinstance(m, (torch.nn.RNNBase, torch.nn.RNNCellBase)) for m in model.graph.model.modules())
        stats = dict(reduction=r.reduction, growth=r.growth,
                     grad_growth=r.grad_growth if recurrent and not training.clipping else math.nan,
                     ratio=r.median_ratio(),
                     steps=len(r.losses), sweep=[s.lr for s in training.sweep])
    return stats, fired, report.inputs[0]


def _f(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.3g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the planted bugs and twins only")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        cases = corpus_cases() + ([] if args.quick else sweep_cases(Path(tmp)))
        outcomes = []
        for case in cases:
            stats, fired, example = probe(case)
            accuracy, majority, finite, optimizer = real_training(case, example)
            outcomes.append(Outcome(case, optimizer, accuracy, majority, finite, stats, fired))
    references: dict[str, float] = {}
    for o in outcomes:
        if o.case.group.startswith("sweep") or o.case.name == o.case.group:
            references[o.case.group] = max(references.get(o.case.group, 0.0), o.gain)
    for o in outcomes:
        o.trains = o.finite and o.gain >= references.get(o.case.group, 0.0) / 2
    print(f"Training probe vs real training ({STEPS} steps x {BATCH} samples on a teacher task), "
          f"{len(outcomes)} cases, {time.perf_counter() - start:.0f}s\n")
    header = (f"{'case':34} {'setup':42} {'acc':>5} {'maj':>5} {'real':>6} {'reduct':>7} {'growth':>8} "
              f"{'g-grow':>8} {'ratio':>8} {'probe':>6} rules")
    print(header)
    print("-" * len(header))
    agree = 0
    for o in outcomes:
        p = o.probe
        same = o.trains == o.probe_trains and (o.case.expected is None or o.case.expected == o.trains)
        agree += same
        print(f"{o.case.name:34} {o.optimizer[:42]:42} {o.accuracy:5.2f} {o.majority:5.2f} "
              f"{'trains' if o.trains else 'fails':>6} {_f(p.get('reduction')):>7} {_f(p.get('growth')):>8} "
              f"{_f(p.get('grad_growth')):>8} {_f(p.get('ratio')):>8} {'trains' if o.probe_trains else 'fails':>6} "
              f"{','.join(o.fired) or '-'}{'' if same else '   <-- DISAGREES'}")
    print(f"\nagreement: {agree} of {len(outcomes)}")
    _margins(outcomes)
    return 0 if agree == len(outcomes) else 1


def _margins(outcomes: list[Outcome]) -> None:
    """For each threshold: the worst value on setups that really train, and the bug nearest to it."""
    healthy = [o.probe for o in outcomes if o.trains and o.probe]
    failing = [o.probe for o in outcomes if not o.trains and o.probe]
    rows = [
        ("ACT852 min-reduction", CannotFitBatch.options["min-reduction"].default, "reduction", "low"),
        ("ACT851 loss-growth", TrainingDiverges.options["loss-growth"].default, "growth", "high"),
        ("ACT802 gradient-growth", RNNWithoutClipping.options["gradient-growth"].default, "grad_growth", "high"),
        ("ACT853 low", UpdateRatioOutOfRange.options["low"].default, "ratio", "low"),
        ("ACT853 high", UpdateRatioOutOfRange.options["high"].default, "ratio", "high"),
    ]
    print("\nthreshold margins (positive = on the right side):")
    print(f"{'threshold':26} {'value':>8} {'worst healthy':>14} {'margin':>7} {'nearest caught bug':>19} {'margin':>7}")
    for label, threshold, key, bad_side in rows:
        # Reductions are fractions (margins in percentage points); the rest are ratios (log10).
        linear = key == "reduction"
        values = [p[key] for p in healthy if _usable(p.get(key), linear)]
        bugs = [p[key] for p in failing if _usable(p.get(key), linear)]
        if bad_side == "low":
            worst = min(values, default=None)
            nearest = max((b for b in bugs if b < threshold), default=None)
        else:
            worst = max(values, default=None)
            nearest = min((b for b in bugs if b >= threshold), default=None)
        print(f"{label:26} {threshold:8.3g} {_f(worst):>14} {_margin(worst, threshold, bad_side, linear):>7} "
              f"{_f(nearest):>19} {_margin(threshold, nearest, bad_side, linear):>7}")
    print("(reduction margins in percentage points; nearest caught bug: the failing setup closest to the threshold "
          "on its bad side)")


def _usable(value: float | None, linear: bool) -> bool:
    return value is not None and math.isfinite(value) and (linear or value > 0)


def _margin(a: float | None, b: float | None, bad_side: str, linear: bool) -> str:
    """How far ``a`` is above ``b`` on the healthy side (a healthy value vs the threshold, or the threshold vs a bug)."""
    if a is None or b is None:
        return "-"
    if linear:
        return f"{100 * (a - b) if bad_side == 'low' else 100 * (b - a):+.0f}pp"
    return f"{math.log10(a / b) if bad_side == 'low' else math.log10(b / a):+.2f}"


if __name__ == "__main__":
    sys.exit(main())

"""Ground truth on real data: does the training probe's advice agree with real training?

Each file of ``tests/real_train_corpus/`` (the shapes of public example scripts, and
planted mistakes on the same models) is trained for real on real data that ships inside
a package, so the check runs offline:

* images: scikit-learn's handwritten digits (1797 8x8 images), upsampled to 28x28 and
  normalised like MNIST (``(x - 0.1307) / 0.3081``), 1437 for training, 360 held out;
  siamese pairs are drawn from the same split (same digit or not);
* text: the Python standard library's own documentation corpus (``pydoc_data.topics``,
  about 1 MB of English), next-character prediction, the last 10% held out;
* GANs: the generator is scored by a classifier trained on the real digits (an
  inception-score-like confidence-and-diversity number, 1 = one class, 10 = ideal).

Every run uses the file's model, optimizer and hyperparameters (read by actlint's own
loader and training-setup reader), the file's loss and batch size, and the file's
learning-rate schedule compressed into the step budget, at the file's learning rate and
a decade either side, for several seeds. Per run it records the held-out score, the loss
curve (spikes, recovery, non-finite values) and the update-to-weight ratios of the first
steps, the numbers the probe's verdicts are about.

Ground truth, per file (the criteria the rules are held to):

* **trains**: at the file's rate the held-out score is within ``MARGIN`` of the best rate
  tried (accuracy points; for GANs 20% of the score);
* **too low / too high**: a rate a decade higher / lower beats the file's by more than
  ``MARGIN`` and halves its held-out error (or, too high, the file's rate diverges);
* **diverges**: the loss becomes non-finite, or ends above where it started;
* **cannot fit**: no rate gets the held-out score ``MARGIN`` above chance;
* **update ratios**: the median over weight tensors of the median update-to-weight
  ratio at the steps the training probe samples (``actlint.probe.training.RATIO_STEPS``:
  0, 1, 2, 4, ..., 48), compared with the probe's on its fixed batch.

The verdicts are then compared with what ``actlint FILE`` reports (ACT806, ACT851-853,
ACT802). ``--json`` writes ``bench/real_training.json``, which the test-suite reads
(tests/e2e/test_real_training.py checks that actlint's findings still agree with it).

    python bench/real_training.py              # the whole table (about 15 minutes on 2 cores)
    python bench/real_training.py --only logreg_sgd --seeds 1
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

CORPUS = REPO / "tests" / "real_train_corpus"
RESULT = REPO / "bench" / "real_training.json"
MARGIN = 3.0  # accuracy points
PROBE_RULES = ("ACT806", "ACT851", "ACT852", "ACT853")


@dataclass(frozen=True)
class CaseSpec:
    """How a corpus file trains: its task, input layout, batch size and schedule."""

    task: str  # "classify", "siamese", "lm", "gan", "wgan"
    layout: str = "image"  # "image" (B,1,28,28), "rows" (B,28,28), "flat" (B,784), "tokens"
    batch: int = 64
    steps: int = 800
    #: The file's epochs and StepLR gamma: the schedule is compressed into ``steps``.
    epochs: int = 1
    gamma: float = 1.0
    model: str | None = None  # which model of the file (GANs: the discriminator is judged too)
    rates: tuple[float, ...] = (0.1, 1.0, 10.0)  # multiples of the file's rate
    seeds: int | None = None  # fewer seeds than --seeds for a long schedule


CASES: dict[str, CaseSpec] = {
    "mnist_cnn_adadelta": CaseSpec("classify", steps=600, epochs=14, gamma=0.7),
    # The file's own schedule in MNIST-sized epochs (14 x 938 steps): Adadelta at 0.1 warms up
    # slowly, and a compressed schedule decays its rate before it gets going (62% at 1200 steps).
    "mnist_rnn_adadelta": CaseSpec("classify", steps=14 * 938, epochs=14, gamma=0.7, rates=(1.0, 10.0), seeds=1),
    "siamese_resnet_adadelta": CaseSpec("siamese", steps=250, epochs=14, gamma=0.7),
    "bn_cnn_adam": CaseSpec("classify", steps=400),
    "logreg_sgd": CaseSpec("classify", layout="flat", batch=100, steps=800),
    "lstm_rows_adam": CaseSpec("classify", layout="rows", steps=800),
    "char_lstm_lm": CaseSpec("lm", layout="tokens", batch=32, steps=500),
    "mlp_adam": CaseSpec("classify", steps=600),
    "mlp_adam_lr1": CaseSpec("classify", steps=600, rates=(0.001, 0.01, 0.1, 1.0)),
    "mlp_sgd_lr_tiny": CaseSpec("classify", steps=600, rates=(1.0, 10.0, 100.0, 1000.0)),
    "mlp_sgd_lr_large": CaseSpec("classify", steps=600, rates=(0.01, 0.1, 1.0)),
    "mlp_dead_bias": CaseSpec("classify", steps=600, rates=(0.1, 1.0, 10.0, 100.0)),
    "dcgan": CaseSpec("gan", batch=64, steps=600, model="netD"),
    # WGAN-GP trains the generator every fifth step: 3000 critic steps are 600 generator steps.
    "wgan_gp": CaseSpec("wgan", batch=64, steps=3000, model="critic"),
}


# --- data ------------------------------------------------------------------------------------


def digits(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train x, train y, test x, test y): scikit-learn's digits at 1x28x28, MNIST-normalised."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False).clamp(0, 1)
    x = (x - 0.1307) / 0.3081
    y = torch.tensor(data.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    return x[:1437], y[:1437], x[1437:], y[1437:]


def text_corpus() -> str:
    import pydoc_data.topics as topics

    return "\n".join(topics.topics[k] for k in sorted(topics.topics))


def encode(text: str, vocab: int) -> torch.Tensor:
    codes = torch.tensor([min(max(ord(c) - 31, 0), vocab - 1) if c != "\n" else 0 for c in text])
    return codes


def shaped(x: torch.Tensor, layout: str) -> torch.Tensor:
    return {"image": x, "rows": x.view(-1, 28, 28), "flat": x.view(-1, 784)}[layout]


# --- the file's setup ------------------------------------------------------------------------


def load(name: str, seed: int, model_name: str | None = None):
    """The file's model (built by actlint's loader under ``seed``) and its training plan."""
    from actlint.loader.models import load_models

    torch.manual_seed(seed)
    loaded = load_models(str(CORPUS / f"{name}.py"))
    by_name = {m.name.split("::")[-1]: m for m in loaded}
    chosen = by_name[model_name] if model_name else loaded[0]
    return chosen.model, plan_of(chosen), by_name


def plan_of(loaded) -> Any:
    """The training plan actlint's probe replays for one loaded model."""
    from actlint.probe.replay import training_plan
    from actlint.source.pairing import training_for

    return training_plan(training_for(loaded.file, loaded.model))


def optimizer_for(plan, params, lr: float) -> torch.optim.Optimizer:
    hyper = dict(plan.hyperparameters)
    hyper["lr"] = lr
    return getattr(torch.optim, plan.optimizer)(params, **hyper)


def schedule(optimizer, spec: CaseSpec) -> Callable[[int], None]:
    """The file's StepLR, compressed: ``epochs`` epochs of ``steps / epochs`` steps."""
    per_epoch = max(spec.steps // max(spec.epochs, 1), 1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=spec.gamma)

    def after(step: int) -> None:
        if spec.gamma != 1.0 and (step + 1) % per_epoch == 0:
            scheduler.step()

    return after


class Ratios:
    """Update-to-weight ratios of the weight tensors (dim >= 2) at the steps the training probe samples."""

    def __init__(self, model: nn.Module) -> None:
        self.weights = [(n, p) for n, p in model.named_parameters() if p.requires_grad and p.dim() >= 2]
        self.values: dict[str, list[float]] = {}

    def before(self, step: int) -> list[torch.Tensor] | None:
        from actlint.probe.training import RATIO_STEPS

        return [p.detach().clone() for _, p in self.weights] if step in RATIO_STEPS else None

    def after(self, before: list[torch.Tensor] | None) -> None:
        if before is None:
            return
        with torch.no_grad():
            for (name, p), old in zip(self.weights, before):
                w = float(old.norm())
                if w > 0:
                    self.values.setdefault(name, []).append(float((p - old).norm()) / w)

    def median(self) -> float:
        per_tensor = [statistics.median(v) for v in self.values.values() if v]
        return statistics.median(per_tensor) if per_tensor else math.nan


@dataclass
class Run:
    """One real training run at one learning rate and seed."""

    lr: float
    seed: int
    score: float  # held-out accuracy in percent (LM: -bits per char; GAN: digit score)
    losses: list[float] = field(default_factory=list)
    nonfinite: bool = False
    update_ratio: float = math.nan

    @property
    def spike(self) -> float:
        finite = [v for v in self.losses if math.isfinite(v)]
        return max(finite) / finite[0] if finite and finite[0] > 0 else math.nan

    @property
    def end_over_start(self) -> float:
        finite = [v for v in self.losses if math.isfinite(v)]
        if len(finite) < 20 or finite[0] <= 0:
            return math.inf if self.nonfinite else math.nan
        return statistics.mean(finite[-20:]) / statistics.mean(finite[:5])

    @property
    def diverged(self) -> bool:
        return self.nonfinite or self.end_over_start > 1.0


def _step(loss: torch.Tensor, optimizer, params, plan, ratios: Ratios, step: int, run: Run) -> bool:
    value = float(loss.detach())
    run.losses.append(value)
    if not math.isfinite(value):
        run.nonfinite = True
        return False
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if plan.clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(params, plan.clip_norm)
    before = ratios.before(step)
    optimizer.step()
    ratios.after(before)
    return True


def _loss(kind: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if kind == "nll":
        return F.nll_loss(out, y)
    return F.cross_entropy(out, y)


def train_classifier(name: str, spec: CaseSpec, lr: float, seed: int, data) -> Run:
    model, plan, _ = load(name, seed)
    xs, ys, xt, yt = data
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = optimizer_for(plan, params, lr)
    after = schedule(optimizer, spec)
    ratios, run = Ratios(model), Run(lr, seed, 0.0)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(spec.steps):
        idx = torch.randint(len(ys), (spec.batch,), generator=gen)
        loss = _loss(plan.loss or "cross_entropy", model(shaped(xs[idx], spec.layout)), ys[idx])
        if not _step(loss, optimizer, params, plan, ratios, step, run):
            break
        after(step)
    model.eval()
    with torch.no_grad():
        out = model(shaped(xt, spec.layout))
    run.score = 100.0 * float((out.argmax(1) == yt).float().mean()) if torch.isfinite(out).all() else 0.0
    run.update_ratio = ratios.median()
    return run


def _pairs(x: torch.Tensor, y: torch.Tensor, n: int, gen: torch.Generator):
    first = torch.randint(len(y), (n,), generator=gen)
    same = torch.rand(n, generator=gen) < 0.5
    second = torch.randint(len(y), (n,), generator=gen)
    for i in range(n):  # half the pairs share a digit
        if bool(same[i]):
            candidates = (y == y[first[i]]).nonzero().flatten()
            second[i] = candidates[torch.randint(len(candidates), (1,), generator=gen)]
    return x[first], x[second], (y[first] == y[second]).float()


def train_siamese(name: str, spec: CaseSpec, lr: float, seed: int, data) -> Run:
    model, plan, _ = load(name, seed)
    xs, ys, xt, yt = data
    params = list(model.parameters())
    optimizer = optimizer_for(plan, params, lr)
    after = schedule(optimizer, spec)
    ratios, run = Ratios(model), Run(lr, seed, 0.0)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(spec.steps):
        a, b, t = _pairs(xs, ys, spec.batch, gen)
        if not _step(F.binary_cross_entropy(model(a, b).squeeze(), t), optimizer, params, plan, ratios, step, run):
            break
        after(step)
    model.eval()
    a, b, t = _pairs(xt, yt, 1000, torch.Generator().manual_seed(99))
    with torch.no_grad():
        out = model(a, b).squeeze()
    run.score = 100.0 * float(((out > 0.5).float() == t).float().mean()) if torch.isfinite(out).all() else 0.0
    run.update_ratio = ratios.median()
    return run


def train_lm(name: str, spec: CaseSpec, lr: float, seed: int, data) -> Run:
    model, plan, _ = load(name, seed)
    tokens = data
    vocab = model.head.out_features
    seq = 64
    split = int(len(tokens) * 0.9)
    params = list(model.parameters())
    optimizer = optimizer_for(plan, params, lr)
    ratios, run = Ratios(model), Run(lr, seed, 0.0)
    gen = torch.Generator().manual_seed(seed)
    model.train()

    def batch(lo: int, hi: int, n: int, g: torch.Generator):
        starts = torch.randint(lo, hi - seq - 1, (n,), generator=g)
        chunk = torch.stack([tokens[s:s + seq + 1] for s in starts.tolist()])
        return chunk[:, :-1], chunk[:, 1:]

    for step in range(spec.steps):
        x, y = batch(0, split, spec.batch, gen)
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        if not _step(loss, optimizer, params, plan, ratios, step, run):
            break
    model.eval()
    x, y = batch(split, len(tokens), 256, torch.Generator().manual_seed(99))
    with torch.no_grad():
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
    # Higher is better, like accuracy: 100 - 10 x bits per character (a 3-bit model scores 70).
    run.score = 100.0 - 10.0 * float(loss) / math.log(2) if math.isfinite(float(loss)) else 0.0
    run.update_ratio = ratios.median()
    return run


class DigitJudge:
    """A classifier of real digits that scores generated images (confidence and diversity)."""

    def __init__(self, data) -> None:
        xs, ys, _, _ = data
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        for _ in range(400):
            idx = torch.randint(len(ys), (128,))
            loss = F.cross_entropy(self.net(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.net.eval()

    def score(self, images: torch.Tensor) -> float:
        """exp(E[KL(p(y|x) || p(y))]): 1 when every sample looks alike or like nothing, 10 at best."""
        with torch.no_grad():
            p = F.softmax(self.net(images), dim=1)
            marginal = p.mean(0, keepdim=True)
            kl = (p * (p.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(1).mean()
        return float(kl.exp()) if torch.isfinite(kl) else 1.0


def train_gan(name: str, spec: CaseSpec, lr: float, seed: int, data, judge: DigitJudge) -> Run:
    """Both players at ``lr`` (the files give them the same rate); the discriminator's ratios recorded."""
    _, _, models = load(name, seed)
    wasserstein = spec.task == "wgan"
    gen_name, disc_name = ("generator", "critic") if wasserstein else ("netG", "netD")
    netG, netD = models[gen_name].model, models[disc_name].model
    planD, planG = plan_of(models[disc_name]), plan_of(models[gen_name])
    xs = data[0]
    latent = 64
    optD = optimizer_for(planD, netD.parameters(), lr)
    optG = optimizer_for(planG, netG.parameters(), lr * planG.lr / planD.lr)
    ratios, run = Ratios(netD), Run(lr, seed, 0.0)
    gen = torch.Generator().manual_seed(seed)
    real_images = xs.clamp(-1, 1 / 0.3081) * 0.3081 + 0.1307  # back to [0, 1]
    real_images = real_images * 2 - 1  # the generators end in tanh

    def noise(n: int) -> torch.Tensor:
        z = torch.randn(n, latent, generator=gen)
        return z if wasserstein else z.view(n, latent, 1, 1)

    for step in range(spec.steps):
        real = real_images[torch.randint(len(xs), (spec.batch,), generator=gen)]
        fake = netG(noise(spec.batch))
        if wasserstein:
            alpha = torch.rand(spec.batch, 1, 1, 1, generator=gen)
            mixed = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
            grads = torch.autograd.grad(netD(mixed).sum(), mixed, create_graph=True)[0]
            penalty = ((grads.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
            d_loss = -netD(real).mean() + netD(fake.detach()).mean() + 10 * penalty
        else:
            d_loss = F.binary_cross_entropy(netD(real), torch.ones(spec.batch)) + \
                F.binary_cross_entropy(netD(fake.detach()), torch.zeros(spec.batch))
        if not _step(d_loss, optD, list(netD.parameters()), planD, ratios, step, run):
            break
        if not wasserstein or step % 5 == 0:
            out = netD(netG(noise(spec.batch)))
            g_loss = -out.mean() if wasserstein else F.binary_cross_entropy(out, torch.ones(spec.batch))
            optG.zero_grad(set_to_none=True)
            g_loss.backward()
            optG.step()
    netG.eval()
    with torch.no_grad():
        samples = netG(noise(500)).view(500, 1, 28, 28)
    samples = ((samples + 1) / 2 - 0.1307) / 0.3081
    run.score = judge.score(samples) if torch.isfinite(samples).all() else 1.0
    run.update_ratio = ratios.median()
    return run


# --- verdicts --------------------------------------------------------------------------------


@dataclass
class Truth:
    """What real training says about one file, and what actlint reports on it."""

    name: str
    setup: str
    file_lr: float
    scores: dict[str, list[float]]  # lr -> score per seed
    ratio: float  # real median update ratio at the file's rate (first steps)
    spike: float  # largest loss over the first, at the file's rate
    end_over_start: float
    verdict: str  # "trains", "too low", "too high", "diverges", "cannot fit"
    actlint: list[str] = field(default_factory=list)
    probe_ratio: float = math.nan
    agrees: bool = False
    why: str = ""
    why_806: str = ""  # ACT806's message ("too low" or "too high")
    why_853: str = ""  # ACT853's message ("updates too small" or "too large")


def judge_runs(spec: CaseSpec, file_lr: float, runs: list[Run]) -> tuple[str, dict[float, float]]:
    by_lr: dict[float, list[Run]] = {}
    for run in runs:
        by_lr.setdefault(run.lr, []).append(run)
    mean = {lr: statistics.mean(r.score for r in rs) for lr, rs in by_lr.items()}
    mine = mean[file_lr]
    chance = {"classify": 10.0, "siamese": 50.0, "lm": 0.0, "gan": 1.0, "wgan": 1.0}[spec.task]
    margin = 0.2 * max(mean.values()) if spec.task in ("gan", "wgan") else MARGIN
    if max(mean.values()) < chance + margin:
        return "cannot fit", mean
    if any(r.nonfinite or (r.diverged and spec.task not in ("gan", "wgan")) for r in by_lr[file_lr]) \
            and mine < max(mean.values()) - margin:
        return "diverges", mean
    best_lr = max(mean, key=mean.get)
    best = mean[best_lr]
    error = lambda score: max(100.0 - score, 1e-9)  # noqa: E731
    beaten = best - mine > margin and (spec.task in ("gan", "wgan", "lm") or error(best) <= error(mine) / 2)
    if not beaten:
        return "trains", mean
    return ("too low" if best_lr > file_lr else "too high"), mean


def actlint_findings(name: str) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    """ACT8xx findings of ``actlint FILE`` on the judged model, its training-probe report, ACT806/853's messages."""
    from actlint.options import LintOptions
    from actlint.pipeline import lint_paths
    from actlint.rules.engine import RuleSelection

    run = lint_paths([str(CORPUS / f"{name}.py")], LintOptions(selection=RuleSelection(select=("ACT8",))))
    spec = CASES[name]
    model = next(m for m in run.models if spec.model is None or m.name == spec.model)
    found = sorted(f"{f.rule}[{f.severity.label}]" for f in model.findings
                   if f.rule in PROBE_RULES or (f.rule == "ACT802"))
    report = model.probe_report.training if model.probe_report is not None else None
    messages = {rule: " ".join(f.message for f in model.findings if f.rule == rule) for rule in ("ACT806", "ACT853")}
    return found, (report.to_json() if report is not None else {}), messages


def ratio_side(ratio: float, low: float = 3e-4, high: float = 0.5) -> str:
    """ACT853's reading of a median update ratio: "small", "large" or "ok"."""
    return "small" if ratio < low else "large" if ratio > high else "ok"


def agreement(truth: Truth) -> tuple[bool, str]:
    """Does actlint's story match real training's? (the learning-rate verdict, and ACT853's side)"""
    rules = {f.split("[")[0] for f in truth.actlint}
    says_low = "ACT806" in rules and "too low" in truth.why_806
    says_high = "ACT806" in rules and "too high" in truth.why_806
    expected = {
        "trains": (not rules & {"ACT806", "ACT851", "ACT852"}, "no learning-rate, divergence or fit verdict"),
        "too low": (says_low, "ACT806 too low"),
        "too high": (says_high or "ACT851" in rules, "ACT806 too high or ACT851"),
        "diverges": ("ACT851" in rules or says_high, "ACT851 (or ACT806 too high)"),
        "cannot fit": ("ACT852" in rules, "ACT852"),
    }
    ok, wanted = expected.get(truth.verdict, (False, "a known verdict"))
    real_side = ratio_side(truth.ratio)
    # ACT853's story must be real training's: too small with a rate too low or a model that cannot
    # learn (or real ratios that small), too large with a rate too high (or real ratios that large),
    # and quiet where the file's setting trains.
    side = "small" if "updates too small" in truth.why_853 else "large" if "updates too large" in truth.why_853 else ""
    if side == "small":
        ratio_ok = truth.verdict in ("too low", "cannot fit") or real_side == "small"
    elif side == "large":
        ratio_ok = truth.verdict in ("too high", "diverges") or real_side == "large"
    else:
        ratio_ok = truth.verdict != "trains" or real_side == "ok"
    why = f"{wanted}; ACT853 {side or 'quiet'}, real ratio {real_side}"
    return ok and ratio_ok, why


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--json", action="store_true", help=f"write {RESULT.relative_to(REPO)}")
    parser.add_argument("--probe-only", action="store_true", help="re-run actlint against the recorded ground truth")
    parser.add_argument("--truth-only", action="store_true", help="real training only (recorded with --json)")
    parser.add_argument("--markdown", action="store_true", help="print the agreement table for bench/RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    data = digits()
    tokens = encode(text_corpus(), 96)
    judge = DigitJudge(data)
    recorded = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    truths: list[Truth] = []
    start = time.perf_counter()
    for name, spec in CASES.items():
        if args.only and name not in args.only:
            continue
        if args.probe_only:
            truth = Truth(**{k: v for k, v in recorded[name].items() if k in Truth.__dataclass_fields__})
        else:
            _, plan, _ = load(name, 0, spec.model)
            runs = []
            for factor in spec.rates:
                lr = float(f"{plan.lr * factor:.6g}")
                for seed in range(min(args.seeds, spec.seeds or args.seeds)):
                    if spec.task == "classify":
                        runs.append(train_classifier(name, spec, lr, seed, data))
                    elif spec.task == "siamese":
                        runs.append(train_siamese(name, spec, lr, seed, data))
                    elif spec.task == "lm":
                        runs.append(train_lm(name, spec, lr, seed, tokens))
                    else:
                        runs.append(train_gan(name, spec, lr, seed, data, judge))
            verdict, mean = judge_runs(spec, plan.lr, runs)
            mine = [r for r in runs if r.lr == plan.lr]
            truth = Truth(
                name=name, setup=plan.describe(), file_lr=plan.lr,
                scores={f"{lr:g}": [round(r.score, 2) for r in runs if r.lr == lr] for lr in mean},
                ratio=statistics.median(r.update_ratio for r in mine),
                spike=max(r.spike for r in mine), end_over_start=max(r.end_over_start for r in mine),
                verdict=verdict)
            if args.json:  # recorded case by case: a long run that stops keeps what it measured
                recorded[name] = {k: v for k, v in asdict(truth).items() if k in _RECORDED}
                RESULT.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        if args.truth_only:
            print(_row(truth), flush=True)
            continue
        truth.actlint, report, messages = actlint_findings(name)
        truth.why_806, truth.why_853 = messages["ACT806"], messages["ACT853"]
        run = report.get("run") or {}
        ratios = [v for v in (run.get("update_ratios") or {}).values() if isinstance(v, (int, float))]
        truth.probe_ratio = statistics.median(ratios) if ratios else math.nan
        truth.agrees, truth.why = agreement(truth)
        truths.append(truth)
        print(_row(truth), flush=True)
    agree = sum(t.agrees for t in truths)
    print(f"\nagreement: {agree} of {len(truths)} ({time.perf_counter() - start:.0f}s)")
    if args.markdown and truths:
        print(markdown(truths))
    return 0 if agree == len(truths) or args.truth_only else 1


#: The ground-truth fields bench/real_training.json keeps (actlint's side is re-measured).
_RECORDED = ("name", "setup", "file_lr", "scores", "ratio", "spike", "end_over_start", "verdict")


def markdown(truths: list[Truth]) -> str:
    """The agreement table of bench/RESULTS.md."""
    lines = ["| file (shape) | setup | held-out score by lr (mean of seeds) | real training | real / probe update "
             "ratio | actlint | agrees |", "|---|---|---|---|---|---|---|"]
    for t in truths:
        scores = ", ".join(f"{lr}: {statistics.mean(v):.1f}" + (f" ({len(v)} seeds)" if len(v) > 1 else " (1 seed)")
                           for lr, v in sorted(t.scores.items(), key=lambda kv: float(kv[0])))
        found = ", ".join(t.actlint) or "nothing"
        if t.why_806:
            found = found.replace("ACT806", "ACT806 " + ("too low" if "too low" in t.why_806 else "too high"))
        if t.why_853:
            found = found.replace("ACT853", "ACT853 " + ("small" if "too small" in t.why_853 else "large"))
        lines.append(f"| {t.name} | {t.setup} | {scores} | {t.verdict} | {t.ratio:.1e} / {t.probe_ratio:.1e} | "
                     f"{found} | {'yes' if t.agrees else '**no**'} |")
    return "\n".join(lines)


def _row(t: Truth) -> str:
    scores = "  ".join(f"{lr}:{statistics.mean(v):.1f}" for lr, v in sorted(t.scores.items(), key=lambda kv: float(kv[0])))
    return (f"{t.name:26} {t.setup:38} real={t.verdict:10} ratio={t.ratio:.1e} probe_ratio={t.probe_ratio:.1e} "
            f"spike={t.spike:.3g} end/start={t.end_over_start:.3g} | {scores} | actlint={','.join(t.actlint) or '-'} "
            f"{'AGREE' if t.agrees else 'DISAGREE'} ({t.why})")


if __name__ == "__main__":
    sys.exit(main())

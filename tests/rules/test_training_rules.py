"""Training-setup rules (ACT801-ACT806) and the training probe (ACT851-ACT853) on real file shapes.

Every rule's VALID/INVALID examples run in test_rule_examples.py; these are the shapes of
the files people have: a plain training script that parses argv, a LightningModule whose
optimizer reads ``self.hparams``, a library file with no training code, helpers called
from loops, evaluation functions whose caller sets eval mode.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn as nn

from actlint.rules.engine import RuleSelection
from actlint.options import LintOptions
from actlint.pipeline import lint_paths
from actlint.probe.objectives import make_objective
from actlint.probe.training import TrainingPlan, TrainingSettings, run_training_probe
from actlint.source.training_setup import read_training_setup

from helpers import invoke_cli as invoke, write_model

SCRIPT = """
import argparse
import torch
import torch.nn as nn

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=20)
parser.add_argument("--data", required=True)
args = parser.parse_args()


class RNNModel(nn.Module):
    def __init__(self, ntoken=1000, ninp=64, nhid=64, nlayers=2):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x):
        out, _ = self.rnn(self.encoder(x))
        return self.decoder(out)


model = RNNModel()
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)


def train(data):
    model.train()
    for x, y in data:
        output = model(x)
        loss = criterion(output.view(-1, 1000), y.view(-1))
        loss.backward()
        optimizer.step()


for epoch in range(10):
    train(open(args.data))
"""


def _lint(tmp_path, source, name="model.py", **options):
    path = write_model(tmp_path, source, name)
    selection = options.pop("selection", RuleSelection())
    run = lint_paths([str(path)], LintOptions(selection=selection, **options))
    assert not run.errors, run.errors
    return run


def _rules(run, prefix="ACT8"):
    return sorted(f.rule for f in run.findings() if f.rule.startswith(prefix))


def test_plain_training_script_gets_its_training_advice(tmp_path):
    """The issue's script: LSTM, SGD at lr=20 from argparse, no clipping, no zero_grad()."""
    write_model(tmp_path, SCRIPT, "train.py")
    result = invoke(str(tmp_path / "train.py"), "--format", "json")
    assert result.exit_code == 1, result.output
    (model,) = json.loads(result.stdout)["models"]
    rules = {f["rule"]: f for f in model["findings"]}
    assert {"ACT801", "ACT802", "ACT851", "ACT806"} <= set(rules), sorted(rules)
    assert rules["ACT801"]["line"] == 33  # loss.backward() in the loop that never zeroes
    assert rules["ACT806"]["line"] == 25  # the optimizer, whose lr came from argparse's default
    training = model["probe"]["training"]
    assert training["optimizer"] == "SGD(lr=20)" and training["optimizer_origin"] == "the file (line 25)"
    assert training["loss"] == "cross_entropy" and training["loss_origin"] == "the file (line 24)"
    assert len(training["run"]["losses"]) >= 2 and training["sweep"]  # the sweep found a rate that fits
    assert rules["ACT802"]["probe"]["status"] in ("confirmed", "refuted")


def test_library_file_without_training_code_has_no_training_findings(tmp_path):
    run = _lint(tmp_path, """
        import torch.nn as nn

        class Classifier(nn.Module):
            def __init__(self, width=64):
                super().__init__()
                self.net = nn.Sequential(nn.Linear(32, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(0.1),
                                         nn.Linear(width, 10))

            def forward(self, x):
                return self.net(x)
        """)
    assert _rules(run) == [] and not [f for f in run.findings() if f.severity.label == "error"]
    (model,) = run.models
    training = model.probe["training"]
    assert training["status"] == "ok"
    assert training["optimizer"] == "Adam(lr=0.001)"
    assert training["optimizer_origin"].startswith("default")  # and the report says so
    assert training["loss_origin"].startswith("matched to the output")
    assert training["run"]["loss_reduction"] >= 0.2  # fitted: ACT852's threshold


LIGHTNING_LIKE = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class LitClassifier(nn.Module):
    def __init__(self, lr=0.02, weight_decay=1e-4):
        super().__init__()
        self.lr = lr
        self.weight_decay = weight_decay
        self.net = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
"""


def test_lightning_style_module_replays_configure_optimizers_with_its_hyperparameters(tmp_path):
    run = _lint(tmp_path, LIGHTNING_LIKE)
    (model,) = run.models
    assert model.probe["training"]["optimizer"] == "Adam(lr=0.02, weight_decay=0.0001)"
    # Lightning's automatic optimisation: no loop of the file's own, no ACT801; *_step is not evaluation.
    assert _rules(run) == ["ACT803"]


def test_real_lightning_module_reads_self_hparams(tmp_path):
    pytest.importorskip("lightning")
    source = LIGHTNING_LIKE.replace("import torch.nn.functional as F", "import torch.nn.functional as F\nimport lightning as L")
    source = source.replace("class LitClassifier(nn.Module):", "class LitClassifier(L.LightningModule):")
    source = source.replace("        self.lr = lr\n        self.weight_decay = weight_decay\n", "        self.save_hyperparameters()\n")
    source = source.replace("lr=self.lr, weight_decay=self.weight_decay", "lr=self.hparams.lr")
    run = _lint(tmp_path, source)
    (model,) = run.models
    assert model.probe["training"]["optimizer"] == "Adam(lr=0.02)"
    assert _rules(run) == []


def test_helper_called_from_a_loop_is_part_of_the_loop(tmp_path):
    run = _lint(tmp_path, """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()

        def fit(batches):
            for x, y in batches:
                optimizer.zero_grad(set_to_none=True)
                step(x, y)

        def fit_badly(batches):
            for x, y in batches:
                step(x, y)
        """, selection=RuleSelection(select=("ACT801",)))
    findings = run.findings()
    assert len(findings) == 1 and "line 18" in findings[0].message, [f.message for f in findings]


def test_evaluation_whose_caller_sets_eval_mode_and_no_grad_is_quiet(tmp_path):
    source = """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))

            def forward(self, x):
                return self.fc(x)

        def test(model, loader):
            total = 0
            for x, y in loader:
                total += (model(x).argmax(1) == y).sum().item()
            return total

        def main(loader):
            model = Net()
            model.eval()
            with torch.no_grad():
                test(model, loader)
        """
    assert _rules(_lint(tmp_path, source, selection=RuleSelection(select=("ACT805",)))) == []
    broken = source.replace("            model.eval()\n", "").replace("with torch.no_grad():", "if True:")
    run = _lint(tmp_path, broken, "broken.py", selection=RuleSelection(select=("ACT805",)))
    (finding,) = run.findings()
    assert "training mode (Dropout" in finding.message and "torch.no_grad()" in finding.message
    assert finding.location.line == 15


def test_pytest_functions_are_not_evaluation(tmp_path):
    run = _lint(tmp_path, """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(16, 32), nn.Dropout(0.5), nn.Linear(32, 4))

        def test_shapes():
            for n in (1, 2):
                assert model(torch.randn(n, 16)).shape == (n, 4)
        """, selection=RuleSelection(select=("ACT805",)))
    assert _rules(run) == []


@pytest.mark.parametrize("line, fires", [
    ("optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=args.wd)", True),
    ("optimizer = torch.optim.Adam(model.parameters(), 1e-3, (0.9, 0.999), 1e-8, 0.01)", True),  # positional
    ("optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=unknown())", False),
    ("optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)", False),
])
def test_adam_weight_decay_resolves_values(tmp_path, line, fires):
    run = _lint(tmp_path, f"""
        import argparse
        import torch
        import torch.nn as nn

        parser = argparse.ArgumentParser()
        parser.add_argument("--weight-decay", dest="wd", type=float, default=5e-4)
        model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

        def unknown():
            return 0.1

        {line}
        """, selection=RuleSelection(select=("ACT803",)), probe=False)
    assert _rules(run) == (["ACT803"] if fires else [])


def test_normalized_pipeline_and_scaled_reads_are_quiet(tmp_path):
    run = _lint(tmp_path, """
        import torch
        import torch.nn as nn
        try:
            from torchvision import transforms
            from torchvision.io import read_image
        except ImportError:
            transforms = read_image = None

        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

        def pipeline():
            return transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])

        def load(path):
            return read_image(path).float().div(255)
        """, selection=RuleSelection(select=("ACT804",)), probe=False)
    assert _rules(run) == []


def test_no_train_probe_turns_it_off_without_a_partial_lint_note(tmp_path):
    source = "import torch.nn as nn\n\nmodel = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))\n"
    write_model(tmp_path, source)
    result = invoke(str(tmp_path / "model.py"), "--no-train-probe", "--format", "json")
    (model,) = json.loads(result.stdout)["models"]
    assert model["probe"]["status"] == "ok" and model["probe"]["training"] is None
    assert not any(r.startswith("ACT85") or r == "ACT806" for r in model["skipped_rules"])
    assert not any("ACT85" in note for note in model["notes"])
    (tmp_path / "pyproject.toml").write_text("[tool.actlint.probe]\ntraining = false\n")
    result = invoke(str(tmp_path / "model.py"), "--format", "json")
    assert json.loads(result.stdout)["models"][0]["probe"]["training"] is None
    result = invoke(str(tmp_path / "model.py"), "--train-probe", "--format", "json")
    assert json.loads(result.stdout)["models"][0]["probe"]["training"]["status"] == "ok"


def test_the_users_model_and_optimizer_are_untouched():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = run_training_probe(model, (torch.randn(8, 8),), TrainingPlan(optimizer="SGD", hyperparameters=(("lr", 0.1),)),
                                TrainingSettings(device="cpu"))
    assert report.ok and len(report.run.losses) >= 12  # a run that clearly fits stops early
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters()) and model.training
    assert optimizer.state_dict()["state"] == {}


def test_targets_are_per_sample_so_sequence_outputs_can_be_memorised():
    gen = torch.Generator().manual_seed(0)
    out = torch.randn(4, 7, 11)  # [batch, time, vocab]
    objective = make_objective("cross_entropy", out, gen)
    assert 0 < objective.constant_loss <= math.log(4) + 1e-6  # four distinct sample labels at most
    regression = make_objective("mse", torch.randn(4, 3, 5, 5), gen)
    assert regression(torch.zeros(4, 3, 5, 5)) > regression.constant_loss * 0.5


def test_a_model_without_trainable_parameters_is_skipped_with_the_reason():
    frozen = nn.Linear(4, 2).requires_grad_(False)
    report = run_training_probe(frozen, (torch.randn(8, 4),), settings=TrainingSettings(device="cpu"))
    assert report.status == "skipped" and "no trainable parameters" in report.reason


def test_clipping_and_schedulers_are_read():
    setup = read_training_setup("""
import torch
opt = torch.optim.SGD(params, lr=0.1)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=100)
for x in data:
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 0.5)
    opt.step(); sched.step()
""")
    assert [o.name for o in setup.optimizers] == ["SGD"] and len(setup.schedulers) == 1
    assert [c.kind for c in setup.clipping] == ["norm"] and setup.loops and setup.loops[0].zeroes


def test_steps_are_budgeted_in_counted_flops_so_reports_do_not_depend_on_load():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(16, 10))
    inputs = (torch.randn(8, 3, 32, 32),)
    tight = TrainingSettings(device="cpu", flop_budget=1e8, sweep_flop_budget=1e10)
    first = run_training_probe(model, inputs, settings=tight)
    second = run_training_probe(model, inputs, settings=tight)
    assert first.steps == second.steps == 12  # the minimum: the budget covers 7
    assert first.run.losses == second.run.losses
    assert any("GFLOPs" in note for note in first.notes)
    skipped = run_training_probe(model, inputs, settings=TrainingSettings(device="cpu", sweep_flop_budget=1e8))
    assert skipped.status == "skipped" and "GFLOPs" in skipped.reason


def test_small_example_batches_are_resampled_to_eight_samples():
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 10))
    report = run_training_probe(model, (torch.randn(2, 16),), settings=TrainingSettings(device="cpu"))
    assert report.batch_size == 8 and any("resampled to 8" in n for n in report.notes)


def test_dense_outputs_are_fitted_against_a_teacher_of_the_same_shape():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.Tanh(), nn.Conv2d(16, 4, 3, padding=1),
                          nn.PixelShuffle(2))
    report = run_training_probe(model, (torch.randn(8, 1, 16, 16),), TrainingPlan(loss="mse"),
                                TrainingSettings(device="cpu"))
    assert report.ok and report.run.reduction >= 0.2, report.run  # a local model can express the targets


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_cuda_without_cuda_is_a_usage_error():
    from actlint.core.errors import UserError

    with pytest.raises(UserError, match="CUDA is not available"):
        run_training_probe(nn.Linear(4, 2), (torch.randn(8, 4),), settings=TrainingSettings(device="cuda"))


def test_flop_budgets_scale_with_the_device(monkeypatch):
    """CUDA gets 100x the CPU budget: the same model runs all its steps there (device logic, on CPU)."""
    import actlint.probe.training as tp

    seen = {}
    real_replace = tp.replace

    def spy(settings, **changes):
        seen.update(changes)
        return real_replace(settings, **changes)

    monkeypatch.setattr(tp, "replace", spy)
    monkeypatch.setattr("actlint.probe.training.resolve_device", lambda spec: torch.device("cuda"))
    report = tp.run_training_probe(nn.Linear(4, 2), (torch.randn(8, 4),))
    assert report.status == "error"  # no CUDA here: moving the copy fails, after the budgets are set
    assert seen["flop_budget"] == tp.CPU_FLOP_BUDGET * tp.CUDA_SPEEDUP


def test_api_lint_reads_the_model_files_training_code():
    import actlint

    result = actlint.lint(_ApiNet(), torch.randn(8, 16))
    training = result.model.probe["training"]
    assert training["optimizer"] == "SGD(lr=0.05, momentum=0.9)", training
    assert training["optimizer_origin"].startswith("the file")


class _ApiNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4))

    def forward(self, x):
        return self.net(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)


GAN = """
import torch
import torch.nn as nn

G = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 784), nn.Tanh())
D = nn.Sequential(nn.Linear(784, 256), nn.LeakyReLU(0.2), nn.Linear(256, 256), nn.LeakyReLU(0.2),
                  nn.Linear(256, 1), nn.Sigmoid())
criterion = nn.BCELoss()
d_optimizer = torch.optim.Adam(D.parameters(), lr=0.0002)
g_optimizer = torch.optim.Adam(G.parameters(), lr=0.0002)


def train(loader):
    for images, _ in loader:
        d_loss = criterion(D(images), torch.ones(images.size(0), 1))
        d_optimizer.zero_grad()
        d_loss.backward()
        d_optimizer.step()
        fake = G(torch.randn(images.size(0), 64))
        g_loss = criterion(D(fake), torch.ones(images.size(0), 1))
        g_optimizer.zero_grad()
        g_loss.backward()
        g_optimizer.step()
"""


def test_gan_generator_is_not_paired_with_the_discriminators_bce(tmp_path):
    """yunjey's GAN tutorial, shape for shape: BCE takes D's output; G's tanh images get a matched loss."""
    run = _lint(tmp_path, GAN, selection=RuleSelection(select=("ACT8",)))
    by_name = {m.name: m.probe["training"] for m in run.models}
    assert by_name["G"]["loss"] == "mse" and "takes probabilities" in by_name["G"]["loss_origin"]
    assert by_name["D"]["loss"] == "bce" and by_name["D"]["loss_origin"] == "the file (line 7)"
    assert by_name["G"]["optimizer"] == by_name["D"]["optimizer"] == "Adam(lr=0.0002)"
    assert _rules(run) == []


def test_a_healthy_lstm_whose_gradient_norm_grows_while_it_fits_is_not_diverging(tmp_path):
    """yunjey's sequence-MNIST LSTM at Adam(lr=0.01): the gradient norm grows ~9x on one batch, the
    loss falls, and it trains; ACT851 judges the loss, and ACT802 (no clipping) carries the growth."""
    run = _lint(tmp_path, """
        import torch
        import torch.nn as nn

        class RNN(nn.Module):
            def __init__(self, input_size=28, hidden_size=128, num_layers=2, num_classes=10):
                super().__init__()
                self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
                self.fc = nn.Linear(hidden_size, num_classes)

            def forward(self, x):
                out, _ = self.lstm(x)
                return self.fc(out[:, -1, :])

        model = RNN()
        criterion = nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

        def train(loader):
            for images, labels in loader:
                loss = criterion(model(images.reshape(-1, 28, 28)), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

        def example_inputs():
            return (torch.randn(8, 28, 28),)
        """, selection=RuleSelection(select=("ACT8",)))
    assert _rules(run) == ["ACT802"]
    (finding,) = run.findings()
    assert finding.probe.status.value in ("confirmed", "refuted") and "gradient norm grew" in finding.probe.evidence


def test_json_stays_strict_when_the_training_probe_diverges(tmp_path):
    """NaN/Inf losses and growths are strings in the document (no NaN/Infinity tokens)."""
    from actlint.rules.families.training_measured import TrainingDiverges

    write_model(tmp_path, TrainingDiverges.invalid[0].source)
    result = invoke(str(tmp_path / "model.py"), "--format", "json")

    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    document = json.loads(result.stdout, parse_constant=refuse)
    (model,) = document["models"]
    assert any(f["rule"] == "ACT851" for f in model["findings"])
    assert len(model["probe"]["training"]["run"]["losses"]) >= 2


def test_actor_critic_value_loss_is_not_paired_with_the_action_probabilities(tmp_path):
    """pytorch/examples' actor_critic.py: smooth_l1 is for the value head (second output)."""
    run = _lint(tmp_path, """
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class Policy(nn.Module):
            def __init__(self):
                super().__init__()
                self.affine1 = nn.Linear(4, 128)
                self.action_head = nn.Linear(128, 2)
                self.value_head = nn.Linear(128, 1)

            def forward(self, x):
                x = F.relu(self.affine1(x))
                return F.softmax(self.action_head(x), dim=-1), self.value_head(x)

        model = Policy()
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)

        def finish_episode(values, returns):
            losses = [F.smooth_l1_loss(v, torch.tensor([r])) for v, r in zip(values, returns)]
            optimizer.zero_grad()
            torch.stack(losses).sum().backward()
            optimizer.step()
        """, selection=RuleSelection(select=("ACT8",)))
    (model,) = run.models
    training = model.probe["training"]
    assert training["loss"] == "nll" and "probability distribution" in training["loss_origin"]
    assert _rules(run) == []


def test_vae_bce_reconstruction_needs_no_normalize(tmp_path):
    source = """
        import torch.nn as nn
        import torch.nn.functional as F
        try:
            from torchvision import transforms
        except ImportError:
            transforms = None

        model = nn.Sequential(nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 784), nn.Sigmoid())

        def pipeline():
            return transforms.ToTensor()

        def loss_function(recon_x, x):
            return F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
        """
    assert _rules(_lint(tmp_path, source, selection=RuleSelection(select=("ACT804",)), probe=False)) == []
    without_bce = source.replace('F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")',
                                 "F.mse_loss(recon_x, x.view(-1, 784))")
    run = _lint(tmp_path, without_bce, "mse.py", selection=RuleSelection(select=("ACT804",)), probe=False)
    assert _rules(run) == ["ACT804"]

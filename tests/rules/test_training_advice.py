"""Training advice that agrees with real training: the shapes where it did not, through the CLI.

Each case is the shape of a public example whose verdict bench/real_training.py checked
against real training on real data (tests/e2e/test_real_training.py holds the whole
table): a loss spike that recovers is no divergence, a slow rate that trains is not "too
low", two models trained against each other are not judged by fitting one batch, an
assumed optimizer is not the user's error, and models whose layers need care to copy
(weight norm, spectral norm) still get the training probe.
"""

from __future__ import annotations

import json

import torch
import torch.nn as nn

from actlint.probe.copying import model_copy
from actlint.probe.training import TrainingRun

from helpers import REPO, invoke_cli as invoke, write_model

CORPUS = REPO / "tests" / "real_train_corpus"


def _models(*args: str) -> dict[str, dict]:
    result = invoke(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return {m["name"]: m for m in json.loads(result.stdout)["models"]}


def _rules(model: dict) -> dict[str, dict]:
    return {f["rule"]: f for f in model["findings"]}


# --- a spike that recovers, a slow rate that trains ------------------------------------------


def test_siamese_resnet_spike_at_step_one_is_not_divergence():
    """pytorch/examples' siamese network: Adadelta lr=1 spikes at step 1 and trains to 98.5% on real pairs."""
    (model,) = _models(str(CORPUS / "siamese_resnet_adadelta.py"), "--select", "ACT8").values()
    rules = _rules(model)
    assert not {"ACT851", "ACT853", "ACT806"} & set(rules), sorted(rules)
    run = model["probe"]["training"]["run"]
    ratios = [v for v in run["update_ratios"].values() if isinstance(v, float)]
    # The update ratios come from the steps before the batch is memorised: none is zero.
    assert ratios and min(ratios) > 3e-4


def test_adadelta_warming_up_on_an_lstm_is_not_too_low():
    """pytorch/examples' mnist_rnn: Adadelta lr=0.1 fits one batch slowly; on real data it trains."""
    (model,) = _models(str(CORPUS / "mnist_rnn_adadelta.py"), "--select", "ACT8").values()
    assert "ACT806" not in _rules(model)
    assert model["probe"]["training"]["sweep"], "the probe did look at other rates"


def test_rate_decades_too_low_is_reported_with_its_negligible_updates():
    (model,) = _models(str(CORPUS / "mlp_sgd_lr_tiny.py"), "--select", "ACT8").values()
    finding = _rules(model)["ACT806"]
    assert "too low" in finding["message"] and "median" in finding["message"]


def test_huge_transient_spike_still_makes_the_rate_too_high_but_not_an_error():
    """Adam at lr=1: the loss jumps 200x at step 1 and comes back; real training reaches 11%."""
    (model,) = _models(str(CORPUS / "mlp_adam_lr1.py"), "--select", "ACT8").values()
    rules = _rules(model)
    assert "too high" in rules["ACT806"]["message"]
    assert "ACT851" not in rules  # no persistent growth, nothing non-finite


def test_persistent_growth_is_divergence_and_never_comes_with_too_small_updates():
    (model,) = _models(str(CORPUS / "mlp_sgd_lr_large.py"), "--select", "ACT8").values()
    rules = _rules(model)
    assert rules["ACT851"]["severity"] == "error"
    assert "too small" not in rules.get("ACT853", {}).get("message", "")


def test_recovered_spike_and_persistent_growth_are_told_apart():
    def run(losses):
        return TrainingRun(1.0, tuple(losses), (1.0,) * len(losses), None, ())

    transient = run([0.7, 3.7, 0.37] + [0.01] * 27)  # the siamese probe run
    persistent = run([6.9, 4.0, 2.7, 23.3, 10.3, 16.0, 21.0, 12.9, 24.8, 12.3, 13.7] + [1.1] * 19)  # LSTM, SGD 20
    assert not transient.grew(3.0, 5) and transient.fitted(0.05, 20.0, 3.0, 5)
    assert persistent.grew(3.0, 5) and not persistent.fitted(0.05, 20.0, 3.0, 5)


# --- two models trained against each other ---------------------------------------------------


def test_gans_get_no_learning_rate_fit_or_update_verdicts():
    models = {**_models(str(CORPUS / "dcgan.py")), **_models(str(CORPUS / "wgan_gp.py"))}
    assert set(models) == {"netG", "netD", "generator", "critic"}
    for name, model in models.items():
        rules = set(_rules(model))
        assert not rules & {"ACT806", "ACT852", "ACT853"}, (name, sorted(rules))
        training = model["probe"]["training"]
        assert training["status"] == "ok", (name, training["reason"])
        assert training["objective"] and not training["sweep"]
        assert any("recognised" in note for note in model["notes"]), model["notes"]
    assert "Wasserstein" in models["critic"]["probe"]["training"]["objective"]


def test_gan_that_goes_non_finite_is_still_reported(tmp_path):
    old = "optimizer_D = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))"
    source = (CORPUS / "wgan_gp.py").read_text()
    assert old in source
    path = write_model(tmp_path, source.replace(old, "optimizer_D = torch.optim.SGD(critic.parameters(), lr=1e3)"))
    models = _models(str(path), "--select", "ACT851")
    assert "non-finite" in _rules(models["critic"])["ACT851"]["message"]


def test_a_generator_takes_a_latent_code():
    """DCGAN's generator starts from (B, nz, 1, 1): a 64x64 'image' of latents made one step cost 85 GFLOPs."""
    models = _models(str(CORPUS / "dcgan.py"), "--no-train-probe")
    assert "8x64x1x1" in models["netG"]["inputs"]


# --- assumptions, precision ------------------------------------------------------------------


def test_assumed_optimizer_findings_say_so_first_and_stay_warnings(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 10)).half()
        """)
    (model,) = _models(str(path), "--select", "ACT8", "--severity", "ACT851=error").values()
    findings = [f for f in model["findings"] if f["rule"] in ("ACT851", "ACT852", "ACT853", "ACT806")]
    assert len(findings) == 1, findings  # one finding, with the cause and the fix
    (finding,) = findings
    assert finding["message"].startswith("assuming Adam(lr=0.001) (the file builds no optimizer)")
    assert finding["severity"] == "warning"
    assert "float16" in finding["message"] and "GradScaler" in finding["message"]
    assert "autocast" in finding["message"]


def test_files_own_float16_optimizer_is_an_error_with_the_cause(tmp_path):
    path = write_model(tmp_path, """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 10)).half()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        """)
    (model,) = _models(str(path), "--select", "ACT851").values()
    finding = _rules(model)["ACT851"]
    assert finding["severity"] == "error" and "master weights" in finding["message"]


# --- layers that need care to copy -----------------------------------------------------------


WEIGHT_NORMED = """
import torch
import torch.nn as nn
from torch.nn.utils import spectral_norm, weight_norm
from torch.nn.utils.parametrizations import weight_norm as parametrized_weight_norm


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = spectral_norm(nn.Linear(32, 64))
        self.mid = parametrized_weight_norm(nn.Linear(64, 64))
        self.last = weight_norm(nn.Linear(64, 10, bias=False))
        self.last.weight_g.data.fill_(1)

    def forward(self, x):
        return self.last(torch.relu(self.mid(torch.relu(self.fc(x)))))


model = Head()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
criterion = nn.CrossEntropyLoss()
"""


def test_weight_normed_models_get_the_training_probe(tmp_path):
    """DINO heads and WaveNet/HiFi-GAN layers: deepcopy refuses the weight weight_norm computes."""
    path = write_model(tmp_path, WEIGHT_NORMED)
    (model,) = _models(str(path)).values()
    assert model["probe"]["training"]["status"] == "ok", model["probe"]["training"]["reason"]
    assert not model.get("incomplete_rules") and not model.get("skipped_rules"), model


def test_model_copy_leaves_the_weight_normed_model_as_it_was():
    layer = torch.nn.utils.weight_norm(nn.Linear(4, 3))
    layer(torch.randn(2, 4))  # the hook stores a computed, non-leaf weight
    before = layer.weight
    copy = model_copy(layer)
    assert layer.weight is before and not before.is_leaf  # the original is untouched
    x = torch.randn(5, 4)
    assert torch.allclose(copy(x), layer(x))
    with torch.no_grad():
        copy.weight_g.mul_(2)
    assert not torch.allclose(copy(x), layer(x))  # a copy, not an alias


# --- recall: validation inside fit(), uint8 arrays -------------------------------------------


FIT_WITH_VALIDATION = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))

    def forward(self, x):
        return self.body(x)


model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()


def fit(train_loader, val_loader, epochs=10):
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        {eval_line}
        correct = 0
        {no_grad_line}
        for x, y in val_loader:
            correct += (model(x).argmax(1) == y).sum().item()
        print(epoch, correct)
"""


def test_validation_loop_inside_fit_is_found(tmp_path):
    path = write_model(tmp_path, FIT_WITH_VALIDATION.format(eval_line="pass", no_grad_line="pass"))
    (model,) = _models(str(path), "--select", "ACT805").values()
    message = _rules(model)["ACT805"]["message"]
    assert "val_loader in fit" in message and "training mode" in message and "no_grad" in message


def test_validation_loop_inside_fit_done_right_is_quiet(tmp_path):
    source = FIT_WITH_VALIDATION.format(eval_line="model.eval()", no_grad_line="with torch.no_grad():")
    source = source.replace("        for x, y in val_loader:\n            correct",
                            "            for x, y in val_loader:\n                correct")
    path = write_model(tmp_path, source)
    (model,) = _models(str(path), "--select", "ACT805").values()
    assert "ACT805" not in _rules(model), model["findings"]


NUMPY_IMAGES = """
import numpy as np
import torch
import torch.nn as nn

model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()


def train(images, labels):
    \"\"\"images: an (N, H, W, 3) uint8 array.\"\"\"
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float(){scale}
    optimizer.zero_grad()
    criterion(model(x), torch.from_numpy(labels).long()).backward()
    optimizer.step()
"""


def test_uint8_arrays_cast_to_float_unscaled_are_found(tmp_path):
    (model,) = _models(str(write_model(tmp_path, NUMPY_IMAGES.format(scale=""))), "--select", "ACT804").values()
    assert "0-255" in _rules(model)["ACT804"]["message"]


def test_uint8_arrays_divided_by_255_are_quiet(tmp_path):
    path = write_model(tmp_path, NUMPY_IMAGES.format(scale=" / 255.0"))
    (model,) = _models(str(path), "--select", "ACT804").values()
    assert "ACT804" not in _rules(model)


def test_float_arrays_the_file_does_not_call_8_bit_are_quiet(tmp_path):
    path = write_model(tmp_path, NUMPY_IMAGES.format(scale="").replace(" uint8", ""))
    (model,) = _models(str(path), "--select", "ACT804").values()
    assert "ACT804" not in _rules(model)


# --- severity earned by measurement ----------------------------------------------------------


def test_rnn_without_clipping_is_advice_until_the_probe_sees_growth():
    """Three public LSTM scripts without clipping trained on real data without a blow-up."""
    (model,) = _models(str(CORPUS / "lstm_rows_adam.py"), "--select", "ACT802").values()
    finding = _rules(model)["ACT802"]
    assert finding["severity"] == "info"


def test_refuted_static_finding_is_marked_and_not_counted(tmp_path):
    """A 300-layer residual MLP: ACT302 predicts growth, the probe measures it inside the allowed range."""
    path = write_model(tmp_path, """
        import torch
        import torch.nn as nn


        class DeepResidual(nn.Module):
            def __init__(self, depth=300, width=16):
                super().__init__()
                self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

            def forward(self, x):
                for layer in self.layers:
                    x = x + 0.1 * layer(x).relu()
                return x


        model = DeepResidual()
        """)
    result = invoke(str(path), "--select", "ACT302", "--no-train-probe")
    assert "ACT302 [error, refuted]" in result.output, result.output
    assert "probe: refuted: measured" in result.output
    assert "All checks passed (1 model); 1 finding refuted by the probe." in result.output
    assert result.exit_code == 0

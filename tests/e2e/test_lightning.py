"""A real LightningModule (optional: Lightning in the zoo extra; skipped without it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("lightning")

from helpers import invoke_cli, write_model  # noqa: E402

pytestmark = pytest.mark.zoo


def test_lightning_module_with_a_zeros_example_input_array_has_no_act706(tmp_path):
    path = write_model(tmp_path, """
        import lightning as L
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        class LitClassifier(L.LightningModule):
            def __init__(self, hidden: int = 32, lr: float = 1e-3):
                super().__init__()
                self.save_hyperparameters()
                self.example_input_array = torch.zeros(4, 20)
                self.net = nn.Sequential(nn.Linear(20, hidden), nn.ReLU(), nn.Linear(hidden, 3))

            def forward(self, x):
                return self.net(x)

            def training_step(self, batch, batch_idx):
                x, y = batch
                loss = F.cross_entropy(self(x), y)
                self.log("train_loss", loss)
                return loss

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
    """)
    result = invoke_cli(str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.stdout)["models"]
    assert model["name"] == "LitClassifier" and model["probe"]["status"] == "ok"
    assert "constant floating values replaced by random ones" in model["inputs"]
    assert model["findings"] == []


def _module_and_data(hidden_activation: str):
    import lightning as L
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    class Lit(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(20, 32), nn.Linear(32, 3)
            self.steps = 0

        def forward(self, x):
            h = self.fc1(x)
            h = torch.softmax(h, dim=-1) if hidden_activation == "softmax" else torch.relu(h)
            return self.fc2(h)

        def training_step(self, batch, batch_idx):
            self.steps += 1
            x, y = batch
            return F.cross_entropy(self(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = TensorDataset(torch.randn(64, 20), torch.randint(0, 3, (64,)))
    return Lit(), DataLoader(data, batch_size=16)


def _trainer(callback, logger=False):
    import lightning as L

    # fast_dev_run replaces loggers with a dummy: with a logger, one real step instead.
    run = dict(fast_dev_run=True) if logger is False else dict(max_steps=1, limit_train_batches=1)
    return L.Trainer(accelerator="cpu", callbacks=[callback], logger=logger, enable_progress_bar=False,
                     enable_model_summary=False, enable_checkpointing=False, **run)


def test_callback_lints_on_the_first_real_batch_and_stops_on_errors(capsys):
    import actlint
    from actlint.integrations.lightning import ActlintCallback

    module, loader = _module_and_data("softmax")
    callback = ActlintCallback(fail_on="error")
    with pytest.raises(actlint.LintError, match="ACT101"):
        _trainer(callback).fit(module, loader)
    assert module.steps == 0  # stopped before the first optimizer step
    assert callback.result.model.inputs.startswith("float32[16x20] (lint() arguments")  # the real batch
    assert "ACT101 [error]" in capsys.readouterr().out


def test_callback_lets_a_healthy_run_train_and_runs_once(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    from actlint.integrations.lightning import ActlintCallback

    module, loader = _module_and_data("relu")
    callback = ActlintCallback(fail_on="warning")
    logger = CSVLogger(tmp_path)
    _trainer(callback, logger).fit(module, loader)
    logger.save()
    metrics = (Path(logger.log_dir) / "metrics.csv").read_text()
    assert "actlint/errors" in metrics and "actlint/warnings" in metrics
    assert module.steps == 1 and callback.result.ok
    assert callback.result.model.probe["status"] == "ok"
    first = callback.result
    callback.on_train_batch_start(None, module, None, 1)  # a second batch: no second lint
    assert callback.result is first

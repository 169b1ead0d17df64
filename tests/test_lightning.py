"""A real LightningModule (optional: Lightning in the zoo extra; skipped without it)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("lightning")

from conftest import invoke_cli, write_model  # noqa: E402

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
    assert "constant values replaced by random ones" in model["inputs"]
    assert model["findings"] == []

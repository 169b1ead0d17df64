"""actlint's HuggingFace Trainer callback with a real Trainer: tiny random models on CPU, two steps.

Optional (the zoo extra): skipped where transformers or accelerate is not installed.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import actlint  # noqa: E402
from actlint.integrations.transformers import ActlintCallback  # noqa: E402


class TokenData(torch.utils.data.Dataset):
    def __init__(self, n: int = 16, length: int = 12, vocab: int = 64) -> None:
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, vocab, (n, length), generator=generator)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def _arguments(tmp_path) -> "transformers.TrainingArguments":
    return transformers.TrainingArguments(
        output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4, logging_steps=1, report_to=[],
        save_strategy="no", disable_tqdm=True, use_cpu=True, seed=0)


def test_the_callback_lints_once_before_the_first_step_and_logs_the_counts(tmp_path, capsys):
    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=64, n_positions=32)
    model = transformers.GPT2LMHeadModel(config)
    callback = ActlintCallback(fail_on="error")
    trainer = transformers.Trainer(model=model, args=_arguments(tmp_path), train_dataset=TokenData(),
                                   callbacks=[callback])
    trainer.train()
    assert trainer.state.global_step == 2  # training went on
    assert callback.result is not None and callback.linted_at_step == 0  # before any optimizer step
    model_result = callback.result.model
    assert model_result.trace == "executed" and model_result.probe["status"] == "ok", model_result.notes
    assert [f for f in callback.result.findings if f.severity.label == "error"] == []
    logged = [entry for entry in trainer.state.log_history if "actlint/errors" in entry]
    assert len(logged) == 1 and logged[0]["actlint/errors"] == 0.0
    assert {"actlint/warnings", "actlint/infos"} <= set(logged[0])
    assert "actlint: " in capsys.readouterr().out


class HiddenSoftmaxLM(nn.Module):
    """A toy language model with a softmax between its layers (ACT101), in the Trainer's calling convention."""

    def __init__(self, vocab: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.hidden = nn.Linear(32, 32)
        self.squash = nn.Softmax(dim=-1)
        self.head = nn.Linear(32, vocab)

    def forward(self, input_ids=None, labels=None):
        logits = self.head(self.squash(self.hidden(self.embed(input_ids))))
        if labels is None:
            return {"logits": logits}
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten())
        return {"loss": loss, "logits": logits}


def test_the_callback_stops_training_at_fail_on_before_any_update(tmp_path):
    model = HiddenSoftmaxLM()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    callback = ActlintCallback(fail_on="error")
    trainer = transformers.Trainer(model=model, args=_arguments(tmp_path), train_dataset=TokenData(),
                                   callbacks=[callback])
    with pytest.raises(actlint.LintError) as raised:
        trainer.train()
    assert any(f.rule == "ACT101" for f in raised.value.result.findings)
    assert trainer.state.global_step == 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # no step was taken

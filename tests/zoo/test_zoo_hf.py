"""HuggingFace transformers (GPT-2, BERT, LLaMA, BART, ViT) with tiny configs (no weights downloaded): linted with a dataflow
trace (torch.fx cannot trace their forwards, so the executed trace) and the probe, no errors.

Optional: needs the zoo extra (``pip install -e ".[zoo]"``); skipped without transformers.
"""

from __future__ import annotations

import json
import re

import pytest

transformers = pytest.importorskip("transformers")

from helpers import invoke_cli, write_model  # noqa: E402

pytestmark = pytest.mark.zoo

MODELS = {
    "gpt2": "GPT2LMHeadModel(GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=128, n_positions=64))",
    "bert": "BertModel(BertConfig(num_hidden_layers=2, num_attention_heads=2, hidden_size=32, intermediate_size=64, "
            "vocab_size=128, max_position_embeddings=64))",
    "llama": "LlamaForCausalLM(LlamaConfig(num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, "
             "hidden_size=32, intermediate_size=64, vocab_size=128, max_position_embeddings=64))",
    "bart": "BartForConditionalGeneration(BartConfig(encoder_layers=2, decoder_layers=2, d_model=32, "
            "encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, "
            "vocab_size=128, max_position_embeddings=64))",
    "vit": "ViTForImageClassification(ViTConfig(num_hidden_layers=2, num_attention_heads=2, hidden_size=32, "
           "intermediate_size=64, image_size=32, patch_size=8, num_labels=5))",
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tiny_huggingface_model_is_linted_with_dataflow_and_probe(tmp_path, name):
    # The names the expression uses, imported one by one: ``from transformers import *``
    # imports every lazy submodule, and some need optional packages (SmolVLMProcessor in 4.57).
    names = sorted(set(re.findall(r"\b([A-Z][A-Za-z0-9]+)\(", MODELS[name])))
    path = write_model(tmp_path, f"""
        from transformers import {", ".join(names)}

        def build_model():
            return {MODELS[name]}
    """)
    result = invoke_cli(str(path), "--format", "json")
    assert result.exit_code in (0, 1), result.output
    (model,) = json.loads(result.stdout)["models"]
    assert model["trace"] == "executed", model["notes"]
    assert model["probe"]["status"] == "ok", model["probe"]
    assert model["skipped_rules"] == {}
    assert [f for f in model["findings"] if f["severity"] == "error"] == []

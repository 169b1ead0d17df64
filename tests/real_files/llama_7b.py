"""A 7B-parameter LLaMA config: far too large for memory, so actlint lints it on the meta device.

The layers are those of llama_args.py; this file only makes them LLaMA-7B sized.
"""
from dataclasses import dataclass
from typing import Optional

from llama_args import ModelArgs, Transformer


@dataclass
class ModelArgs7B(ModelArgs):
    dim: int = 4096
    n_layers: int = 32
    n_heads: int = 32
    n_kv_heads: Optional[int] = None
    vocab_size: int = 32000
    multiple_of: int = 256
    norm_eps: float = 1e-5
    max_seq_len: int = 2048


class LLaMA7B(Transformer):
    def __init__(self, params: ModelArgs7B):
        super().__init__(params)

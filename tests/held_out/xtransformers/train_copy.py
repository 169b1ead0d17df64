# shape of lucidrains/x-transformers train_copy.py: an encoder-only classifier over tokens
import torch
from x_transformers import TransformerWrapper, Encoder

NUM_TOKENS = 16 + 2
ENC_SEQ_LEN = 32

model = TransformerWrapper(
    num_tokens=NUM_TOKENS,
    max_seq_len=ENC_SEQ_LEN,
    attn_layers=Encoder(dim=32, depth=1, heads=2)
)

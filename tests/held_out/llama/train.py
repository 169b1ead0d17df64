# shape of karpathy/llama2.c train.py: globals, a config dict, and the model built by init_from
import math
import os
import time
from functools import partial

import torch
from model import Transformer, ModelArgs

out_dir = "out"
eval_interval = 2000
init_from = "scratch"
batch_size = 8
max_seq_len = 64
vocab_size = 96
dim = 64
n_layers = 2
n_heads = 4
n_kv_heads = 4
multiple_of = 32
dropout = 0.0
learning_rate = 5e-4
max_iters = 100000
config_keys = [k for k, v in globals().items() if not k.startswith("_") and isinstance(v, (int, float, bool, str))]
config = {k: globals()[k] for k in config_keys}

os.makedirs(out_dir, exist_ok=True)
torch.manual_seed(1337)
device = "cpu"

model_args = dict(dim=dim, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv_heads, vocab_size=vocab_size,
                  multiple_of=multiple_of, max_seq_len=max_seq_len, dropout=dropout)
if init_from == "scratch":
    print("Initializing a new model from scratch")
    gptconf = ModelArgs(**model_args)
    model = Transformer(gptconf)
elif init_from == "resume":
    ckpt_path = os.path.join(out_dir, "ckpt.pt")
    checkpoint = torch.load(ckpt_path, map_location=device)
    gptconf = ModelArgs(**checkpoint["model_args"])
    model = Transformer(gptconf)
    model.load_state_dict(checkpoint["model"])
model.to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
iter_batches = partial(iter, range(10))
while True:
    X, Y = next(iter_batches())
    logits = model(X, Y)
    loss = model.last_loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)

# shape of lucidrains/x-transformers train_enwik8.py: constants, the wrapped model at top level, data from gzip
import gzip
import random
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from x_transformers import TransformerWrapper, Decoder
from x_transformers.autoregressive_wrapper import AutoregressiveWrapper

NUM_BATCHES = int(1e5)
BATCH_SIZE = 4
LEARNING_RATE = 1e-4
SEQ_LEN = 64


def cycle(loader):
    while True:
        for data in loader:
            yield data


model = TransformerWrapper(
    num_tokens=256,
    max_seq_len=SEQ_LEN,
    attn_layers=Decoder(dim=64, depth=2, heads=4)
)
model = AutoregressiveWrapper(model)

with gzip.open('./data/enwik8.gz') as file:
    data = np.frombuffer(file.read(int(95e6)), dtype=np.uint8).copy()
    data_train, data_val = np.split(data, [int(90e6)])
    data_train, data_val = map(torch.from_numpy, (data_train, data_val))

optim = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
for i in range(NUM_BATCHES):
    model.train()
    loss = model(next(iter([data_train[:SEQ_LEN + 1]])).long()[None])
    loss.backward()
    optim.step()
    optim.zero_grad()

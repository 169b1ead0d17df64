import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 32)
        self.layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
        self.head = nn.Linear(32, 2)

    def forward(self, tokens, key_padding_mask):
        x = self.layer(self.embed(tokens), src_key_padding_mask=key_padding_mask)
        return self.head(x.mean(1))


def example_inputs():
    # token ids, and a mask of all False: no padding
    return torch.randint(0, 100, (4, 10)), torch.zeros(4, 10, dtype=torch.bool)

import torch
import torch.nn.functional as F
from torch import nn


class AutoregressiveWrapper(nn.Module):
    def __init__(self, net, ignore_index=-100, pad_value=0):
        super().__init__()
        self.pad_value = pad_value
        self.ignore_index = ignore_index
        self.net = net
        self.max_seq_len = net.max_seq_len

    def forward(self, x, **kwargs):
        inp, target = x[:, :-1], x[:, 1:]
        logits = self.net(inp, **kwargs)
        return F.cross_entropy(logits.transpose(1, 2), target, ignore_index=self.ignore_index)

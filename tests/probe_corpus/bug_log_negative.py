"""Planted bug: log() of pre-activations that are negative half of the time -> NaN."""

import torch
import torch.nn as nn

PLANTED = ("ACT705",)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 64)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        h = torch.log(self.fc2(h))  # fc2's output is negative for about half the units
        return self.head(h)

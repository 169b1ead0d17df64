"""Planted bug: tanh after layers initialised with std 1 (not 1/sqrt(fan_in)): saturated."""

import torch.nn as nn
import torch.nn.functional as F

PLANTED = ("ACT704",)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 128)
        self.head = nn.Linear(128, 10)
        for fc in (self.fc1, self.fc2):
            nn.init.normal_(fc.weight, std=1.0)

    def forward(self, x):
        return self.head(F.tanh(self.fc2(F.tanh(self.fc1(x)))))

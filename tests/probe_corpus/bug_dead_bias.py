"""Planted bug: biases initialised at -4 before ReLU: the layer is dead at init."""

import torch.nn as nn

PLANTED = ("ACT703",)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 128)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(128, 128)
        self.act2 = nn.ReLU()
        self.head = nn.Linear(128, 10)
        nn.init.constant_(self.fc2.bias, -4.0)

    def forward(self, x):
        return self.head(self.act2(self.fc2(self.act1(self.fc1(x)))))

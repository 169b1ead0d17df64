"""Initialisation changed after construction at module level: the lint must see it."""
import torch
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


model = MLP()
nn.init.constant_(model.fc2.weight, 0.1)  # a bug: every unit of fc2 starts identical
with torch.no_grad():
    model.fc1.bias.zero_()

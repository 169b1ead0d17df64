"""Three Linear layers and no activation: the model is one matrix (ACT102, ACT103)."""

import torch.nn as nn


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(20, 128)
        self.fc2 = nn.Linear(128, 128)
        self.drop = nn.Dropout(0.2)
        self.fc3 = nn.Linear(128, 1)

    def forward(self, x):
        return self.fc3(self.drop(self.fc2(self.fc1(x))))

"""A 3-layer ReLU MLP, Adam(lr=1e-3): healthy."""

import torch
import torch.nn as nn

TRAINS = True  # ground truth: python bench/train_calibration.py trains it for real
TWIN = "twin_mlp_adam"  # the repaired twin (its model is the teacher of the real training run)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.body(x)


model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()


def train(loader):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()

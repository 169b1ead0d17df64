"""SGD at lr=10 with momentum: the loss explodes."""

import torch
import torch.nn as nn

TRAINS = False  # ground truth: python bench/train_calibration.py trains it for real
TWIN = "twin_mlp_sgd"  # the repaired twin (its model is the teacher of the real training run)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.body(x)


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=10.0, momentum=0.9)
criterion = nn.CrossEntropyLoss()


def train(loader):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()

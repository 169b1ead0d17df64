"""A 10-layer sigmoid MLP with SGD: gradients vanish, the loss does not move."""

import torch
import torch.nn as nn

TRAINS = False  # ground truth: python bench/train_calibration.py trains it for real
TWIN = "twin_relu_deep"  # the repaired twin (its model is the teacher of the real training run)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = [nn.Linear(32, 64), nn.Sigmoid()]
        for _ in range(9):
            layers += [nn.Linear(64, 64), nn.Sigmoid()]
        self.body = nn.Sequential(*layers, nn.Linear(64, 10))

    def forward(self, x):
        return self.body(x)


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
criterion = nn.CrossEntropyLoss()


def train(loader):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()

"""The same LSTM at SGD(lr=20) without clipping: gradients explode."""

import torch
import torch.nn as nn

TRAINS = False  # ground truth: python bench/train_calibration.py trains it for real
TWIN = "twin_lstm_clipped"  # the repaired twin (its model is the teacher of the real training run)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 64, num_layers=2, batch_first=True)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


def example_inputs():
    return (torch.randn(8, 12, 16),)


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=20.0)
criterion = nn.CrossEntropyLoss()


def train(loader):
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()

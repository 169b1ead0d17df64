"""Binary classifier training script (the shape of countless tutorials): Sigmoid + BCELoss."""
import argparse

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset


class Classifier(nn.Module):
    def __init__(self, n_features=30, hidden=64):
        super(Classifier, self).__init__()
        self.layer_1 = nn.Linear(n_features, hidden)
        self.layer_2 = nn.Linear(hidden, hidden)
        self.layer_out = nn.Linear(hidden, 1)

        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()   # probabilities for BCELoss

    def forward(self, inputs):
        x = self.relu(self.layer_1(inputs))
        x = self.relu(self.layer_2(x))
        x = self.layer_out(x)
        return self.sigmoid(x)


def train(model, loader, epochs):
    criterion = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for epoch in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            y_pred = model(xb)
            loss = criterion(y_pred, yb.unsqueeze(1))
            loss.backward()
            optimizer.step()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    X = torch.randn(256, 30)
    y = (X[:, 0] > 0).float()
    train(Classifier(), DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True), args.epochs)

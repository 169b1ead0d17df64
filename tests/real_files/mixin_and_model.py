"""A mixin without a forward and the model class that uses it (needs its sizes)."""
import torch
import torch.nn as nn


class SaveLoadMixin(nn.Module):
    def save(self, path):
        torch.save(self.state_dict(), path)


class Regressor(SaveLoadMixin):
    def __init__(self, n_features, n_hidden):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, n_hidden), nn.ReLU(), nn.Linear(n_hidden, 1))

    def forward(self, x):
        return self.net(x)

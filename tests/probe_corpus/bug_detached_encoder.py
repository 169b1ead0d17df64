"""Planted bug: the encoder's output is detached, so the encoder never trains."""

import torch.nn as nn

PLANTED = ("ACT706",)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.decoder = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        z = self.encoder(x).detach()  # meant to stop gradients to a target network, applied to the wrong branch
        return self.decoder(z)

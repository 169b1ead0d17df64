"""A script that exits at the end of its top level (after training would have run)."""
import sys

import torch.nn as nn


class Scorer(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 1))

    def forward(self, x):
        return self.net(x)


def main():
    model = Scorer()
    print(model)
    return 0


sys.exit(main())

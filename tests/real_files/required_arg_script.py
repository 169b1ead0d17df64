"""A script whose argument parser requires --dataset."""
import argparse

import torch.nn as nn

parser = argparse.ArgumentParser()
parser.add_argument("--dataset", required=True, help="cifar10 | lsun | mnist")
parser.add_argument("--width", type=int, default=64)
opt = parser.parse_args()

channels = 1 if opt.dataset == "mnist" else 3


class Encoder(nn.Module):
    def __init__(self, channels, width):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width * 2, 4, 2, 1), nn.BatchNorm2d(width * 2), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width * 2, 10),
        )

    def forward(self, x):
        return self.net(x)


netE = Encoder(channels, opt.width)
print(netE)

"""Healthy: an Inception-style network that returns auxiliary outputs in train mode."""

import torch
import torch.nn as nn


def conv_bn(cin, cout, k=3, s=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Aux(nn.Module):
    def __init__(self, cin, classes):
        super().__init__()
        self.conv = conv_bn(cin, 32, 1)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.conv(x), 1), 1))


class Net(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn(3, 32, 3, 2)
        self.block1 = nn.Sequential(conv_bn(32, 64), conv_bn(64, 64))
        self.aux = Aux(64, classes)
        self.block2 = nn.Sequential(conv_bn(64, 128, 3, 2), conv_bn(128, 128))
        self.fc = nn.Linear(128, classes)

    def forward(self, x):
        x = self.block1(self.stem(x))
        aux = self.aux(x) if self.training else None
        x = self.block2(x)
        logits = self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
        return (logits, aux) if self.training else logits

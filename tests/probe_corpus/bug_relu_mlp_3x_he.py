"""Planted bug: a 16-layer ReLU MLP initialised at 3x the He scale: signals explode."""

import math

import torch.nn as nn

PLANTED = ("ACT702", "ACT707")


def build_model():
    layers = []
    for _ in range(16):
        fc = nn.Linear(64, 64)
        nn.init.normal_(fc.weight, std=3 * math.sqrt(2 / 64))
        nn.init.zeros_(fc.bias)
        layers += [fc, nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(64, 10))

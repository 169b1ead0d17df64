"""Planted bug: a 12-layer sigmoid MLP (no normalization, no skips): gradients vanish."""

import torch.nn as nn

PLANTED = ("ACT701", "ACT707")


def build_model():
    layers = []
    for _ in range(12):
        layers += [nn.Linear(64, 64), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(64, 10))

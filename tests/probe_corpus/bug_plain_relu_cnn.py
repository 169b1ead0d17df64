"""Planted bug: a 30-layer plain ReLU CNN (default init, no normalization, no skips)."""

import torch
import torch.nn as nn

PLANTED = ("ACT701", "ACT707")


def build_model():
    layers = [nn.Conv2d(3, 16, 3, padding=1), nn.ReLU()]
    for _ in range(29):
        layers += [nn.Conv2d(16, 16, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def example_inputs():
    return (torch.randn(8, 3, 32, 32),)

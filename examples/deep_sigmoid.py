"""A deep MLP of sigmoids with no normalization: its gradients vanish (ACT201, ACT203)."""

import torch.nn as nn


def build_model():
    layers = [nn.Linear(32, 64), nn.Sigmoid()]
    for _ in range(11):
        layers += [nn.Linear(64, 64), nn.Sigmoid()]
    layers.append(nn.Linear(64, 10))
    return nn.Sequential(*layers)

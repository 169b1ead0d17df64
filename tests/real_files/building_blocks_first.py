"""Building blocks (which need sizes) first, then the model, configured by a dataclass."""
from dataclasses import dataclass, field

import torch.nn as nn


class FeedForward(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        return self.net(x)


class Layer(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, hidden)

    def forward(self, x):
        return x + self.ff(self.norm(x))


@dataclass
class MixerConfig:
    dim: int = 32
    hidden: int = 64
    depth: int = 3
    classes: list = field(default_factory=lambda: list(range(5)))


class Mixer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed = nn.Linear(16, cfg.dim)
        self.layers = nn.Sequential(*[Layer(cfg.dim, cfg.hidden) for _ in range(cfg.depth)])
        self.head = nn.Linear(cfg.dim, len(cfg.classes))

    def forward(self, x):
        return self.head(self.layers(self.embed(x)))

from dataclasses import dataclass

import torch.nn as nn


@dataclass
class Config:
    depth: int = 1
    width: int = 8


config = Config()
for option in ("deeper", "wider"):
    if option == "deeper":
        config.depth += 2
    else:
        config.width *= 2


class Net(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.layers = nn.Sequential(*[nn.Sequential(nn.Linear(config.width, config.width), nn.ReLU())
                                      for _ in range(config.depth)])

    def forward(self, x):
        return self.layers(x)


model = Net(config)

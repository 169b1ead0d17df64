"""VGG-11 with batch norm, and an EfficientNet-style MBConv stack (SiLU, SE gating)."""

import torch
import torch.nn as nn


def build_model():
    cfg = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    layers, ch = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(ch, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            ch = v
    return nn.Sequential(
        *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(512, 512), nn.ReLU(True), nn.Dropout(), nn.Linear(512, 10),
    )


class MBConv(nn.Module):
    def __init__(self, ch, expand=4):
        super().__init__()
        hidden = ch * expand
        self.expand = nn.Sequential(nn.Conv2d(ch, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.SiLU())
        self.dw = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden, bias=False),
                                nn.BatchNorm2d(hidden), nn.SiLU())
        self.se_reduce = nn.Conv2d(hidden, ch // 4, 1)
        self.se_expand = nn.Conv2d(ch // 4, hidden, 1)
        self.project = nn.Sequential(nn.Conv2d(hidden, ch, 1, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x):
        h = self.dw(self.expand(x))
        s = torch.sigmoid(self.se_expand(nn.functional.silu(self.se_reduce(h.mean((2, 3), keepdim=True)))))
        return x + self.project(h * s)


class EfficientNetLike(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.SiLU())
        self.blocks = nn.Sequential(*[MBConv(32) for _ in range(8)])
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))

"""MobileNetV3-style network: inverted residuals, linear bottlenecks, squeeze-excitation."""

import torch.nn as nn
import torch.nn.functional as F


class SqueezeExcite(nn.Module):
    def __init__(self, ch, reduced):
        super().__init__()
        self.fc1 = nn.Conv2d(ch, reduced, 1)
        self.fc2 = nn.Conv2d(reduced, ch, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s


class InvertedResidual(nn.Module):
    def __init__(self, inp, out, expand, stride, use_se):
        super().__init__()
        hidden = inp * expand
        self.use_res = stride == 1 and inp == out
        layers = [
            nn.Conv2d(inp, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.Hardswish(),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.Hardswish(),
        ]
        if use_se:
            layers.append(SqueezeExcite(hidden, max(8, hidden // 4)))
        layers += [nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out)]  # linear bottleneck
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return x + y if self.use_res else y


class MobileNetV3(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        cfg = [(16, 16, 1, 1, False), (16, 24, 4, 2, False), (24, 24, 3, 1, False), (24, 40, 3, 2, True),
               (40, 40, 3, 1, True), (40, 80, 6, 2, False), (80, 80, 2, 1, False), (80, 112, 6, 1, True),
               (112, 160, 6, 2, True), (160, 160, 6, 1, True)]
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish())
        self.blocks = nn.Sequential(*[InvertedResidual(*c) for c in cfg])
        self.head = nn.Sequential(
            nn.Conv2d(160, 960, 1, bias=False), nn.BatchNorm2d(960), nn.Hardswish(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(960, 1280), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(1280, num_classes),
        )

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))

"""
Backbone modules (shape of facebookresearch/detr models/backbone.py, with a small CNN).
"""
import torch
import torch.nn.functional as F
from torch import nn


class FrozenBatchNorm2d(torch.nn.Module):
    def __init__(self, n):
        super(FrozenBatchNorm2d, self).__init__()
        self.register_buffer("weight", torch.ones(n))
        self.register_buffer("bias", torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def forward(self, x):
        w = self.weight.reshape(1, -1, 1, 1)
        b = self.bias.reshape(1, -1, 1, 1)
        rv = self.running_var.reshape(1, -1, 1, 1)
        rm = self.running_mean.reshape(1, -1, 1, 1)
        scale = w * (rv + 1e-5).rsqrt()
        return x * scale + (b - rm * scale)


class Backbone(nn.Module):
    def __init__(self, num_channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 7, stride=2, padding=3, bias=False), FrozenBatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, num_channels, 3, stride=2, padding=1, bias=False), FrozenBatchNorm2d(num_channels), nn.ReLU())
        self.num_channels = num_channels

    def forward(self, x):
        return self.body(x)


def build_backbone(args):
    return Backbone(args.backbone_channels)

"""Regression tests for four healthy timm families that once looked broken, each rebuilt as a
small local model of the same shape (random init, no network, no timm):

- CaiT: talking-heads attention (a Linear mixes the heads of the softmaxed map before it
  weights V) and LayerScale at 1e-5;
- gMLP: the spatial gating unit, a projection initialised near zero with bias 1;
- ReXNet: the residual is added to a channel slice, cat([x[:, :c] + shortcut, x[:, c:]]);
- ResMLP: Affine layers (per-channel scale and shift) instead of normalization.
"""

from __future__ import annotations

import json

import pytest

from helpers import invoke_cli, write_model

CAIT = """
import torch
import torch.nn as nn


class TalkingHeadAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj_l = nn.Linear(heads, heads)
        self.proj_w = nn.Linear(heads, heads)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = self.proj_l(attn.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        attn = attn.softmax(dim=-1)
        attn = self.proj_w(attn.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class LayerScaleBlock(nn.Module):
    def __init__(self, dim, heads, init_values=1e-5):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = TalkingHeadAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))
        self.gamma_1 = nn.Parameter(init_values * torch.ones(dim))
        self.gamma_2 = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        x = x + self.gamma_1 * self.attn(self.norm1(x))
        return x + self.gamma_2 * self.mlp(self.norm2(x))


class CaiTLike(nn.Module):
    def __init__(self, dim=48, depth=6, heads=4, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, 8)
        self.pos = nn.Parameter(torch.randn(1, 16, dim) * 0.02)
        self.blocks = nn.Sequential(*[LayerScaleBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        return self.head(self.norm(self.blocks(x)).mean(1))


def example_inputs():
    return (torch.randn(8, 3, 32, 32),)
"""

GMLP = """
import torch
import torch.nn as nn


class SpatialGatingUnit(nn.Module):
    def __init__(self, dim, seq_len):
        super().__init__()
        self.norm = nn.LayerNorm(dim // 2)
        self.proj = nn.Linear(seq_len, seq_len)
        nn.init.normal_(self.proj.weight, std=1e-6)  # the paper's recipe: the gate starts as identity
        nn.init.ones_(self.proj.bias)

    def forward(self, x):
        u, v = x.chunk(2, dim=-1)
        v = self.proj(self.norm(v).transpose(-1, -2))
        return u * v.transpose(-1, -2)


class GatedMlpBlock(nn.Module):
    def __init__(self, dim, seq_len):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, dim * 4)
        self.act = nn.GELU()
        self.gate = SpatialGatingUnit(dim * 4, seq_len)
        self.fc2 = nn.Linear(dim * 2, dim)

    def forward(self, x):
        return x + self.fc2(self.gate(self.act(self.fc1(self.norm(x)))))


class GMLPLike(nn.Module):
    def __init__(self, dim=32, seq_len=16, depth=4, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 8, 8)
        self.blocks = nn.Sequential(*[GatedMlpBlock(dim, seq_len) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        return self.head(self.norm(self.blocks(x)).mean(1))


def example_inputs():
    return (torch.randn(8, 3, 32, 32),)
"""

REXNET = """
import torch
import torch.nn as nn


class SEWithBatchNorm(nn.Module):
    # ReXNet's squeeze-excite: fc1 -> BatchNorm -> ReLU -> fc2 (fc1's bias gets zero gradient)
    def __init__(self, chs, rd):
        super().__init__()
        self.fc1 = nn.Conv2d(chs, rd, 1)
        self.bn = nn.BatchNorm2d(rd)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(rd, chs, 1)

    def forward(self, x):
        return x * self.fc2(self.act(self.bn(self.fc1(x.mean((2, 3), keepdim=True))))).sigmoid()


class LinearBottleneck(nn.Module):
    def __init__(self, in_chs, out_chs):
        super().__init__()
        self.in_channels = in_chs
        mid = in_chs * 2
        self.conv_exp = nn.Sequential(nn.Conv2d(in_chs, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU())
        self.conv_dw = nn.Sequential(nn.Conv2d(mid, mid, 3, padding=1, groups=mid, bias=False), nn.BatchNorm2d(mid))
        self.se = SEWithBatchNorm(mid, max(8, mid // 4))
        self.act = nn.ReLU6()
        self.conv_pwl = nn.Sequential(nn.Conv2d(mid, out_chs, 1, bias=False), nn.BatchNorm2d(out_chs))

    def forward(self, x):
        shortcut = x
        x = self.conv_pwl(self.act(self.se(self.conv_dw(self.conv_exp(x)))))
        # the residual goes into the first in_channels channels (ReXNet grows its width)
        return torch.cat([x[:, 0:self.in_channels] + shortcut, x[:, self.in_channels:]], dim=1)


class ReXNetLike(nn.Module):
    def __init__(self, blocks=10, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.SiLU())
        widths = [16 + 4 * i for i in range(blocks + 1)]
        self.features = nn.Sequential(*[LinearBottleneck(a, b) for a, b in zip(widths, widths[1:])])
        self.head = nn.Linear(widths[-1], classes)

    def forward(self, x):
        return self.head(self.features(self.stem(x)).mean((2, 3)))


def example_inputs():
    return (torch.randn(2, 3, 16, 16),)
"""

RESMLP = """
import torch
import torch.nn as nn


class Affine(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(dim))
        self.beta = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return self.alpha * x + self.beta


class ResBlock(nn.Module):
    def __init__(self, dim, patches, init_values=0.1):
        super().__init__()
        self.norm1 = Affine(dim)
        self.attn = nn.Linear(patches, patches)
        self.norm2 = Affine(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.ls1 = nn.Parameter(init_values * torch.ones(dim))
        self.ls2 = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        x = x + self.ls1 * self.attn(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.ls2 * self.mlp(self.norm2(x))


class ResMLPLike(nn.Module):
    def __init__(self, dim=32, patches=16, depth=6, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 8, 8)
        self.blocks = nn.Sequential(*[ResBlock(dim, patches) for _ in range(depth)])
        self.norm = Affine(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)
        return self.head(self.norm(self.blocks(x)).mean(1))


def example_inputs():
    return (torch.randn(8, 3, 32, 32),)
"""

FAMILIES = {"cait": CAIT, "gmlp": GMLP, "rexnet": REXNET, "resmlp": RESMLP}


@pytest.mark.parametrize("tracer", ["auto", "executed"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_healthy_family_has_no_errors_and_no_unrefuted_warnings(tmp_path, family, tracer):
    path = write_model(tmp_path, FAMILIES[family], name=f"{family}.py")
    result = invoke_cli(str(path), "--format", "json", "--trace", tracer)
    assert result.exit_code == 0, result.output  # refuted findings do not fail the run
    (model,) = json.loads(result.stdout)["models"]
    assert model["probe"]["status"] == "ok", model["probe"]
    loud = [(f["rule"], f["probe"]["status"], f["message"][:120]) for f in model["findings"]
            if f["severity"] in ("error", "warning") and f["probe"]["status"] != "refuted"]
    assert loud == []


def test_slice_residual_and_gate_mechanisms_are_what_clears_them(tmp_path):
    """The same shapes with the design removed are reported: the fixes did not blind the rules.

    (Talking-heads attention next to a real hidden softmax is ACT101's VALID/INVALID examples.)
    """
    path = write_model(tmp_path, REXNET, name="rexnet.py")
    result = invoke_cli(str(path), "--format", "json", "--no-probe", "--select", "ACT202")
    assert json.loads(result.stdout)["models"][0]["findings"] == []  # the slice residual is a skip
    rexnet = REXNET.replace("torch.cat([x[:, 0:self.in_channels] + shortcut, x[:, self.in_channels:]], dim=1)", "x")
    path = write_model(tmp_path, rexnet, name="plain.py")
    result = invoke_cli(str(path), "--format", "json", "--no-probe", "--select", "ACT202")
    assert [f["rule"] for f in json.loads(result.stdout)["models"][0]["findings"]] == ["ACT202"]
    gmlp = GMLP.replace("nn.init.ones_(self.proj.bias)", "nn.init.zeros_(self.proj.bias)")
    path = write_model(tmp_path, gmlp.replace("return x + self.fc2", "return self.fc2"), name="dead_gate.py")
    result = invoke_cli(str(path), "--format", "json", "--no-probe", "--select", "ACT302")
    assert [f["rule"] for f in json.loads(result.stdout)["models"][0]["findings"]] == ["ACT302"]


SMALL_HEAD = """
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))

    def forward(self, x):
        return x + self.mlp(self.norm(x))


class BEiTLikeHead(nn.Module):
    # BEiT's head_init_scale=0.001: the logits start tiny on purpose
    def __init__(self, dim=32, depth=4, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, 8)
        self.blocks = nn.Sequential(*[Block(dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)
        with torch.no_grad():
            self.head.weight.mul_(0.001)
            self.head.bias.mul_(0.001)

    def forward(self, x):
        return self.head(self.norm(self.blocks(self.patch(x).flatten(2).transpose(1, 2))).mean(1))
"""


def test_small_initialised_head_is_not_a_forward_collapse(tmp_path):
    path = write_model(tmp_path, SMALL_HEAD, name="beit_head.py")
    result = invoke_cli(str(path), "--format", "json", "--select", "ACT7")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["models"][0]["findings"] == []
    collapsed = SMALL_HEAD.replace("self.head.weight.mul_(0.001)", "self.blocks[0].mlp[2].weight.mul_(1e-5)\n"
                                   "            self.patch.weight.mul_(1e3)")
    path = write_model(tmp_path, collapsed.replace("return x + self.mlp(self.norm(x))", "return self.mlp(self.norm(x))"),
                       name="collapsed.py")
    result = invoke_cli(str(path), "--format", "json", "--select", "ACT707")
    assert [f["rule"] for f in json.loads(result.stdout)["models"][0]["findings"]] == ["ACT707"]


ZERO_INIT_RESNET = """
import torch.nn as nn


class Bottleneck(nn.Module):
    def __init__(self, channels):
        super().__init__()
        mid = channels // 4
        self.conv1 = nn.Conv2d(channels, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(channels)
        nn.init.zeros_(self.bn3.weight)  # timm's zero_init_last: each block starts as the identity
        self.act = nn.ReLU()

    def forward(self, x):
        out = self.act(self.bn1(self.conv1(x)))
        out = self.act(self.bn2(self.conv2(out)))
        return self.act(self.bn3(self.conv3(out)) + x)


class DeepResNet(nn.Module):
    # ResNet-101/152's layer3: 23/36 bottlenecks on one residual stream
    def __init__(self, blocks=30, channels=64):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU())
        self.blocks = nn.Sequential(*[Bottleneck(channels) for _ in range(blocks)])
        self.head = nn.Linear(channels, 10)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))
"""


def test_zero_initialised_residual_stream_is_not_a_collapse(tmp_path):
    path = write_model(tmp_path, ZERO_INIT_RESNET, name="deep_resnet.py")
    result = invoke_cli(str(path), "--format", "json", "--no-probe", "--select", "ACT3")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["models"][0]["findings"] == []

"""ACT301-ACT304: fire on planted init bugs, stay quiet on every standard init, options work,
and the probe confirms (or refutes) what the static prediction says."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from actlint.rules.engine import RuleSelection
from actlint.core.findings import ProbeStatus, Severity
from actlint.graph.signal import gaussian_moments
from actlint.graph.weights import weight_stats
from actlint.probe.symmetry import measure_symmetry
from actlint.rules.families.init import symmetry_verdict
from actlint.trace import trace_model

from helpers import lint_source

INIT = ("ACT301", "ACT302", "ACT303", "ACT304")


def findings(tmp_path, source, rules=INIT, probe=False, **kwargs):
    run = lint_source(tmp_path, source, select=rules, probe=probe, **kwargs)
    assert not run.errors, run.errors
    return run.findings()


# --- healthy models with each standard init: all four rules quiet ------------------------------

MLP = """
import torch.nn as nn

def build_model():
    layers = []
    for _ in range({depth}):
        layer = nn.Linear(128, 128)
        {init}
        layers += [layer, nn.{act}()]
    return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), *layers, nn.Linear(128, 10))
"""

HEALTHY_INITS = {
    "kaiming": ('nn.init.kaiming_normal_(layer.weight, nonlinearity="relu"); nn.init.zeros_(layer.bias)', "ReLU"),
    "kaiming-uniform-fan-out": ('nn.init.kaiming_uniform_(layer.weight, mode="fan_out", nonlinearity="relu")', "ReLU"),
    "kaiming-leaky": ('nn.init.kaiming_normal_(layer.weight, a=0.2, nonlinearity="leaky_relu")', "LeakyReLU"),
    "xavier-tanh": ('nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain("tanh"))', "Tanh"),
    "xavier-sigmoid": ("nn.init.xavier_normal_(layer.weight)", "Sigmoid"),  # shallow: deep sigmoid stacks vanish
    "orthogonal": ("nn.init.orthogonal_(layer.weight, gain=2 ** 0.5)", "ReLU"),
    "default": ("pass", "ReLU"),
    "default-gelu": ("pass", "GELU"),
}


@pytest.mark.parametrize("name", sorted(HEALTHY_INITS))
def test_standard_inits_are_quiet(tmp_path, name):
    init, act = HEALTHY_INITS[name]
    depth = 3 if name in ("default", "default-gelu", "xavier-sigmoid") else 12
    assert findings(tmp_path, MLP.format(depth=depth, init=init, act=act)) == []


def test_transformer_with_trunc_normal_init_is_quiet(tmp_path):
    # trunc_normal(std=0.02) is 4x below LeCun at width 64, and would be flagged in a plain MLP;
    # in a transformer every Linear feeds a norm, a residual add, attention or a single GELU layer.
    source = """
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, d=64):
            super().__init__()
            self.norm1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.norm2 = nn.LayerNorm(d)
            self.fc1 = nn.Linear(d, 4 * d)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(4 * d, d)

        def forward(self, x):
            q, k, v = self.qkv(self.norm1(x)).chunk(3, dim=-1)
            attn = (q @ k.transpose(-2, -1) / 8).softmax(dim=-1)
            x = x + self.proj(attn @ v)
            return x + self.fc2(self.act(self.fc1(self.norm2(x))))

    class ViT(nn.Module):
        def __init__(self, d=64, depth=6):
            super().__init__()
            self.embed = nn.Linear(48, d)
            self.blocks = nn.Sequential(*[Block(d) for _ in range(depth)])
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, 10)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=0.02)
                    nn.init.zeros_(m.bias)
            nn.init.zeros_(self.head.weight)  # zero head (torchvision ViT)

        def forward(self, x):
            return self.head(self.norm(self.blocks(self.embed(x))).mean(1))

    def example_inputs():
        import torch
        return (torch.randn(2, 16, 48),)
    """
    assert findings(tmp_path, source) == []


def test_resnet_style_network_with_its_own_init_is_quiet(tmp_path):
    source = """
    import torch.nn as nn

    class Bottleneck(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c // 4, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c // 4)
            self.conv2 = nn.Conv2d(c // 4, c // 4, 3, padding=1, groups=2, bias=False)
            self.bn2 = nn.BatchNorm2d(c // 4)
            self.conv3 = nn.Conv2d(c // 4, c, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(c)
            nn.init.zeros_(self.bn3.weight)  # zero_init_residual

        def forward(self, x):
            y = self.bn1(self.conv1(x)).relu()
            y = self.bn2(self.conv2(y)).relu()
            return (x + self.bn3(self.conv3(y))).relu()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
            self.blocks = nn.Sequential(*[Bottleneck(32) for _ in range(8)])
            self.fc = nn.Linear(32, 10)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

        def forward(self, x):
            return self.fc(self.blocks(self.stem(x)).mean((2, 3)))
    """
    assert findings(tmp_path, source) == []


def test_depthwise_separable_stack_with_default_init_is_quiet(tmp_path):
    source = """
    import torch.nn as nn

    def build_model():
        layers = [nn.Conv2d(3, 32, 3, padding=1), nn.ReLU6()]
        for _ in range(6):
            layers += [nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.BatchNorm2d(32), nn.ReLU6(),
                       nn.Conv2d(32, 32, 1), nn.BatchNorm2d(32), nn.ReLU6()]
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    """
    assert findings(tmp_path, source) == []


# --- ACT301 ------------------------------------------------------------------------------------


def test_act301_fires_with_measured_and_expected_scale_and_the_fix(tmp_path):
    source = MLP.format(depth=4, init="nn.init.normal_(layer.weight, std=0.002)", act="ReLU")
    found = [f for f in findings(tmp_path, source) if f.rule == "ACT301"]
    assert found
    message = found[0].message
    assert "std*sqrt(fan_in)" in message and " is 0.02" in message  # 0.002 * sqrt(128) = 0.0226
    assert "1.41 (He)" in message
    assert 'nn.init.kaiming_normal_(' in message and 'nonlinearity="relu"' in message


def test_act301_leaky_relu_gain_uses_the_slope(tmp_path):
    # He for slope 0.01 is ~sqrt(2); with slope 3 it is sqrt(2/10) = 0.447, so He-ReLU init (1.41)
    # is within 3x but 4x He-ReLU is not.
    source = MLP.format(depth=4, init="nn.init.normal_(layer.weight, std=4 * (2 / 128) ** 0.5)", act="ReLU")
    assert "ACT301" in [f.rule for f in findings(tmp_path, source)]
    leaky = source.replace("nn.ReLU()", "nn.LeakyReLU(3.0)")
    found = [f for f in findings(tmp_path, leaky) if f.rule == "ACT301"]
    assert found and "slope 3" in found[0].message


def test_act301_ratio_option_changes_behaviour(tmp_path):
    source = MLP.format(depth=4, init="nn.init.normal_(layer.weight, std=0.02)", act="ReLU")  # 6.2x below He
    assert any(f.rule == "ACT301" for f in findings(tmp_path, source))
    relaxed = RuleSelection(select=("ACT301",), options={"ACT301": {"ratio": 10.0}})
    run = lint_source(tmp_path, source, select=("ACT301",), probe=False)
    from actlint.options import LintOptions
    from actlint.pipeline import lint_paths

    run = lint_paths([str(tmp_path / "model.py")], LintOptions(selection=relaxed, probe=False))
    assert [f.rule for f in run.findings()] == []


def test_fan_in_of_grouped_depthwise_and_transposed_convs():
    model = nn.Sequential(
        nn.Conv2d(32, 64, 3, groups=4), nn.Conv2d(64, 64, 3, groups=64), nn.Linear(10, 20),
        nn.ConvTranspose2d(16, 8, 4, stride=2), nn.Embedding(10, 4),
    )
    graph = trace_model(nn.Sequential(model[0], model[1])).graph
    convs = graph.of_kind("conv")
    assert [weight_stats(n).fan_in for n in convs] == [8 * 9, 9]
    lin = trace_model(nn.Sequential(model[2])).graph.of_kind("linear")[0]
    assert weight_stats(lin).fan_in == 10
    tconv = trace_model(nn.Sequential(model[3])).graph.of_kind("conv_transpose")[0]
    assert weight_stats(tconv).fan_in == 16 * 16 // 4  # in * k*k / stride^2
    # Default PyTorch init: std * sqrt(fan_in) = 1/sqrt(3) for every layer type.
    assert weight_stats(convs[1]).scale == pytest.approx(1 / math.sqrt(3), rel=0.1)


def test_gaussian_moments_match_closed_forms():
    relu_q, relu_var = gaussian_moments(torch.relu, 0.0, 4.0)
    assert relu_q == pytest.approx(2.0, rel=1e-3)
    assert relu_var == pytest.approx(4.0 * (0.5 - 1 / (2 * math.pi)), rel=1e-2)  # the kink converges slowly
    tanh_q, _ = gaussian_moments(torch.tanh, 0.0, 1.0)
    assert tanh_q == pytest.approx(0.394, abs=2e-3)


# --- ACT302 ------------------------------------------------------------------------------------

DEEP = """
import torch.nn as nn

def build_model():
    layers = []
    for _ in range(20):
        layer = nn.Linear(64, 64)
        nn.init.normal_(layer.weight, std={scale} * (2 / 64) ** 0.5)
        nn.init.zeros_(layer.bias)
        layers += [layer, nn.ReLU(){norm}]
    return nn.Sequential(*layers, nn.Linear(64, 10))
"""


def test_act302_fires_on_20_layer_relu_mlp_at_3x_he(tmp_path):
    found = [f for f in findings(tmp_path, DEEP.format(scale=3, norm="")) if f.rule == "ACT302"]
    assert len(found) == 1 and found[0].severity is Severity.ERROR
    # Reported once, where the signal first leaves [1e-3, 1e3]: about 3x (RMS) per ReLU layer.
    assert "grows" in found[0].message and "2.9x per layer" in found[0].message


def test_act302_fires_on_collapse_and_is_quiet_with_he_or_normalization(tmp_path):
    assert any("shrinks" in f.message for f in findings(tmp_path, DEEP.format(scale=0.3, norm=""), rules=("ACT302",)))
    assert findings(tmp_path, DEEP.format(scale=1, norm=""), rules=("ACT302",)) == []
    assert findings(tmp_path, DEEP.format(scale=3, norm=", nn.LayerNorm(64)"), rules=("ACT302",)) == []


def test_act302_quiet_on_shallow_default_init(tmp_path):
    assert findings(tmp_path, MLP.format(depth=4, init="pass", act="ReLU"), rules=("ACT302",)) == []


RESIDUAL = """
import torch.nn as nn

class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 64)
        nn.init.kaiming_normal_(self.fc.weight, nonlinearity="relu")
        nn.init.zeros_(self.fc.bias)
        {scale}

    def forward(self, x):
        return x + self.fc(x).relu()

def build_model():
    return nn.Sequential(nn.Linear(16, 64), *[Res() for _ in range(30)], nn.Linear(64, 2))
"""


def test_act302_residual_branches_add_variances(tmp_path):
    # Without normalization, a He-initialised branch adds the stream's own variance: it doubles
    # every block (2^15 in RMS after 30), the explosion Fixup/zero-init residuals avoid.
    found = findings(tmp_path, RESIDUAL.format(scale=""), rules=("ACT302",))
    assert [f.rule for f in found] == ["ACT302"] and "grows" in found[0].message
    # Fixup-style branch scaled by 1/sqrt(depth): the stream grows like sqrt(2) overall.
    fixup = RESIDUAL.format(scale="self.fc.weight.data.mul_(30 ** -0.5)")
    assert findings(tmp_path, fixup, rules=("ACT302",)) == []


def test_act302_options_change_behaviour(tmp_path):
    from actlint.options import LintOptions
    from actlint.pipeline import lint_paths

    source = DEEP.format(scale=1.4, norm="")  # 1.4^20 ~ 8e2: inside [1e-3, 1e3]
    assert findings(tmp_path, source, rules=("ACT302",)) == []
    strict = RuleSelection(select=("ACT302",), options={"ACT302": {"max": 10.0}})
    run = lint_paths([str(tmp_path / "model.py")], LintOptions(selection=strict, probe=False))
    assert [f.rule for f in run.findings()] == ["ACT302"]
    strict = RuleSelection(select=("ACT302",), options={"ACT302": {"min": 0.5}})
    lint_source(tmp_path, DEEP.format(scale=0.9, norm=""), select=("ACT302",), probe=False)
    run = lint_paths([str(tmp_path / "model.py")], LintOptions(selection=strict, probe=False))
    assert [f.rule for f in run.findings()] == ["ACT302"]


def test_act302_confirmed_by_the_probe(tmp_path):
    found = [f for f in findings(tmp_path, DEEP.format(scale=3, norm=""), rules=("ACT302",), probe=True)]
    assert found[0].probe.status is ProbeStatus.CONFIRMED, found[0].probe
    assert found[0].probe.metrics["forward_ratio"] > 1e3


# --- ACT303 ------------------------------------------------------------------------------------


def test_act303_zero_gamma_on_main_path_fires_but_not_at_residual_end(tmp_path):
    source = """
    import torch.nn as nn

    def build_model():
        model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
        nn.init.zeros_(model[1].weight)
        return model
    """
    found = findings(tmp_path, source, rules=("ACT303",))
    assert [f.module for f in found] == ["1"] and "gamma" in found[0].message


def test_act303_zero_bias_and_constant_norm_gamma_are_fine(tmp_path):
    source = """
    import torch.nn as nn

    def build_model():
        model = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 2))
        nn.init.zeros_(model[0].bias)
        return model
    """
    assert findings(tmp_path, source, rules=("ACT303",)) == []


def _constant_mlp(second: str) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))
    nn.init.constant_(model[0].weight, 0.1)
    nn.init.zeros_(model[0].bias)
    if second == "constant":  # the classic bug: every parameter set to one value
        for p in model.parameters():
            nn.init.constant_(p, 0.1)
    return model


def test_symmetry_probe_confirms_when_everything_is_constant_and_refutes_otherwise():
    x = (torch.randn(16, 8),)
    sym = symmetry_verdict(measure_symmetry(_constant_mlp("constant"), x, "0"), "0")
    assert sym.status is ProbeStatus.CONFIRMED and sym.metrics["grad_spread"] < 1e-5
    broken = symmetry_verdict(measure_symmetry(_constant_mlp("random"), x, "0"), "0")
    assert broken.status is ProbeStatus.REFUTED and broken.metrics["grad_spread"] > 1e-3


def test_symmetry_probe_leaves_the_model_untouched():
    model = _constant_mlp("random")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    measure_symmetry(model, (torch.randn(4, 8),), "0")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_act303_confirmation_through_the_pipeline(tmp_path):
    source = """
    import torch.nn as nn

    def build_model():
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.weight)
        return model
    """
    found = findings(tmp_path, source, rules=("ACT303",), probe=True)
    assert {f.module for f in found} == {"0", "2"}
    assert all(f.probe.status is ProbeStatus.CONFIRMED for f in found), [f.probe for f in found]


# --- ACT304 ------------------------------------------------------------------------------------

DEAD = """
import torch.nn as nn

def build_model():
    model = nn.Sequential(nn.Linear(16, 64), nn.{norm}ReLU(), nn.Linear(64, 4))
    nn.init.constant_(model[0].bias, {bias})
    {extra}
    return model
"""


def test_act304_fires_on_negative_bias_and_is_confirmed(tmp_path):
    found = findings(tmp_path, DEAD.format(norm="", bias=-3.0, extra=""), rules=("ACT304",), probe=True)
    assert len(found) == 1 and "100% of the 64 units" in found[0].message
    assert found[0].probe.status is ProbeStatus.CONFIRMED, found[0].probe


def test_act304_quiet_on_small_bias_and_fires_on_negative_batchnorm_beta(tmp_path):
    assert findings(tmp_path, DEAD.format(norm="", bias=-0.1, extra=""), rules=("ACT304",)) == []
    source = DEAD.format(norm="", bias=0.0, extra="").replace(
        "nn.ReLU()", "nn.BatchNorm1d(64), nn.ReLU()").replace(
        "return model", "nn.init.constant_(model[1].bias, -4.0)\n    return model")
    assert [f.rule for f in findings(tmp_path, source, rules=("ACT304",))] == ["ACT304"]


def test_act304_options_change_behaviour(tmp_path):
    from actlint.options import LintOptions
    from actlint.pipeline import lint_paths

    # bias -1 with pre-activation sd ~ sqrt(64 * (1/(3*16))) ~ 0.58 (default init, unit inputs): ~1.7 sd.
    lint_source(tmp_path, DEAD.format(norm="", bias=-1.0, extra=""), select=("ACT304",), probe=False)
    path = [str(tmp_path / "model.py")]
    quiet = lint_paths(path, LintOptions(selection=RuleSelection(select=("ACT304",)), probe=False))
    assert quiet.findings() == []
    loose = RuleSelection(select=("ACT304",), options={"ACT304": {"sigmas": 1.0}})
    assert [f.rule for f in lint_paths(path, LintOptions(selection=loose, probe=False)).findings()] == ["ACT304"]
    lint_source(tmp_path, DEAD.format(norm="", bias=-3.0, extra=""), select=("ACT304",), probe=False)
    high = RuleSelection(select=("ACT304",), options={"ACT304": {"fraction": 1.0}})
    assert lint_paths(path, LintOptions(selection=high, probe=False)).findings() == []


def test_act301_confirmed_by_the_probe(tmp_path):
    source = MLP.format(depth=4, init="nn.init.normal_(layer.weight, std=1.0)", act="ReLU")
    found = [f for f in findings(tmp_path, source, rules=("ACT301",), probe=True)]
    assert found and all(f.probe.status is ProbeStatus.CONFIRMED for f in found), [f.probe for f in found]
    assert found[0].probe.metrics["gain"] > 3

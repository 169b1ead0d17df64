"""Optional zoo: 81 timm architectures across families, randomly initialised, probe on.

Zero error findings on every one of them, and no warning the probe did not refute (the
warnings that remain are justified in the README's zoo table). Needs timm (the zoo extra:
``pip install -e ".[zoo]"``); skipped otherwise. About 6 minutes on 2 CPU cores:

    python -m pytest -m zoo tests/zoo/test_zoo_timm.py
"""

from __future__ import annotations

import pytest

timm = pytest.importorskip("timm")

import torch  # noqa: E402

import actlint  # noqa: E402

pytestmark = pytest.mark.zoo

#: Transformers, hybrids, MLP-mixers, NFNets, re-parameterisable nets, mobile nets, CNNs.
MODELS = [
    "vit_tiny_patch16_224", "deit_tiny_patch16_224", "cait_xxs24_224", "swin_tiny_patch4_window7_224",
    "pit_ti_224", "xcit_nano_12_p16_224", "tnt_s_patch16_224", "coat_lite_tiny", "crossvit_tiny_240",
    "levit_128s", "mobilevit_xxs", "efficientformer_l1", "poolformer_s12", "convit_tiny", "pvt_v2_b0",
    "edgenext_xx_small", "gcvit_xxtiny", "coatnet_0_rw_224", "maxvit_tiny_tf_224", "mixer_s16_224",
    "resmlp_12_224", "gmlp_s16_224", "nf_resnet26", "nfnet_l0", "eca_nfnet_l0", "repvgg_a0", "mobileone_s0",
    "fastvit_t8", "repghostnet_050", "mobilenetv3_small_100", "mobilenetv2_050", "efficientnet_b0",
    "ghostnet_100", "mnasnet_small", "lcnet_050", "tinynet_e", "fbnetv3_b", "hardcorenas_a", "rexnet_100",
    "mobilenetv4_conv_small", "resnet18", "resnet26d", "resnext26ts", "seresnext26d_32x4d", "regnetx_002",
    "regnety_002", "densenet121", "dla34", "dpn48b", "hrnet_w18_small", "cspresnet50", "convnext_atto",
    "convnextv2_atto", "inception_v3", "xception41", "res2net50_14w_8s", "resnest14d", "skresnet18",
    "selecsls42b", "ese_vovnet19b_dw", "botnet26t_256", "halonet26t", "lambda_resnet26t", "gernet_s",
    "hgnetv2_b0", "inception_next_tiny", "rdnet_tiny", "tiny_vit_5m_224", "davit_tiny", "focalnet_tiny_srf",
    "sequencer2d_s", "volo_d1_224", "visformer_tiny", "vgg11_bn", "efficientvit_b0", "mobilevitv2_050",
    "beit_base_patch16_224", "eva02_tiny_patch14_224", "deit3_small_patch16_224", "flexivit_small",
    "twins_svt_small",
]

#: Warnings the probe refutes on these healthy models (README: "Zoo results").
REFUTED_WARNINGS = {
    "resmlp_12_224": {"ACT203"},  # Affine layers instead of normalization; measured healthy
    "lcnet_050": {"ACT202"},  # a plain 33-layer mobile net; measured healthy
    "tinynet_e": {"ACT202"},  # plain runs between its residual stages; measured healthy
}


@pytest.mark.parametrize("name", MODELS)
def test_timm_model_has_no_errors_and_no_unrefuted_warnings(name):
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    size = model.pretrained_cfg.get("input_size", (3, 224, 224))
    result = actlint.lint(model, (2, *size), probe_timeout=120)
    assert result.errors == []
    assert result.model.probe["status"] == "ok", result.model.probe
    errors = [f"{f.rule} {f.message}" for f in result.findings if f.severity.label == "error"]
    assert errors == []
    warnings = {f.rule for f in result.findings if f.severity.label == "warning"}
    refuted = {f.rule for f in result.findings if f.severity.label == "warning" and f.probe.status.value == "refuted"}
    assert warnings - refuted == set(), [f.message for f in result.findings if f.severity.label == "warning"]
    assert refuted <= REFUTED_WARNINGS.get(name, set())

"""Held-out real-file shapes (tests/held_out/), linted unchanged as a new user would.

Fifteen public repositories actlint was not developed against, one folder each (package
layouts keep their ``__init__.py`` files and relative or absolute self-imports). Every
file is either

* linted fully: the models named here, each exactly as the file builds it (the
  parameter count and leaf layer types below are worked out by reading the file, and
  checked on the model actlint built), traced into a dataflow graph with example inputs;
* or given one line that names the model and the fix (the constructor arguments to pass,
  the statement the model depends on, the argument that downloads weights), or, for a
  model linted without inputs, the note that says how to give them.

No file touches the network or a dataset: data loading and training never run.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from actlint.graph.view import parameter_count
from actlint.loader.models import load_models
from helpers import invoke_cli

CORPUS = Path(__file__).parent.parent / "held_out"

# The repositories whose shapes the corpus keeps (one folder each; tutorials holds hunkim's).
REPOSITORIES = {
    "nlp": "graykode/nlp-tutorial", "gan": "eriklindernoren/PyTorch-GAN", "unet_pkg": "milesial/Pytorch-UNet",
    "llama": "karpathy/llama2.c", "mingpt_pkg": "karpathy/minGPT", "clip": "openai/CLIP",
    "detr_pkg": "facebookresearch/detr", "diffusion": "lucidrains/denoising-diffusion-pytorch",
    "dino": "facebookresearch/dino", "xtransformers": "lucidrains/x-transformers",
    "attention_pkg": "jadore801120/attention-is-all-you-need-pytorch", "tutorials": "hunkim/PyTorchZeroToAll",
    "morvan": "MorvanZhou/PyTorch-Tutorial", "collections": "znxlwm/pytorch-generative-model-collections",
    "captioning": "sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning",
}


@dataclass(frozen=True)
class Built:
    """A model as the file builds it: its selector name, parameter count and leaf layer types."""

    name: str
    parameters: int
    layers: frozenset[str]
    inputs: bool = True  # example inputs found (False: the note says how to give them)


def built(name: str, parameters: int, *layers: str, inputs: bool = True) -> Built:
    return Built(name, parameters, frozenset(layers), inputs)


def conv(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def rnn(n_in: int, hidden: int, gates: int = 1) -> int:
    """nn.RNN (1 gate), nn.GRU (3), nn.LSTM (4): input and hidden weights plus two biases per gate."""
    return gates * (hidden * n_in + hidden * hidden + 2 * hidden)


def mha(d: int) -> int:
    """nn.MultiheadAttention(d): in_proj (3 d x d + 3 d) and out_proj (d x d + d)."""
    return 3 * d * d + 3 * d + linear(d, d)


def layer_norm(d: int) -> int:
    return 2 * d


batch_norm = layer_norm


def unet_double_conv(c_in: int, c_out: int) -> int:
    return conv(c_in, c_out, 3, bias=False) + batch_norm(c_out) + conv(c_out, c_out, 3, bias=False) + batch_norm(c_out)


def diffusion_resnet(c_in: int, c_out: int, time: int) -> int:
    """lucidrains' ResnetBlock: a scale/shift MLP, two conv+GroupNorm blocks, a 1x1 residual conv when widths differ."""
    residual = conv(c_in, c_out, 1) if c_in != c_out else 0
    return linear(time, 2 * c_out) + conv(c_in, c_out, 3) + 2 * c_out + conv(c_out, c_out, 3) + 2 * c_out + residual


def vit_block(d: int, mlp: int, qkv_bias: bool) -> int:
    return layer_norm(d) + linear(d, 3 * d, qkv_bias) + linear(d, d) + layer_norm(d) + linear(d, mlp) + linear(mlp, d)


def clip_block(d: int) -> int:
    return mha(d) + layer_norm(d) + linear(d, 4 * d) + linear(4 * d, d) + layer_norm(d)


def xt_layers(d: int, depth: int, heads: int) -> int:
    """x-transformers' AttentionLayers: per depth LayerNorm+Attention (64-wide heads, no bias) and LayerNorm+FeedForward."""
    inner = 64 * heads
    attention = linear(d, inner, False) + linear(d, 2 * inner, False) + linear(inner, d, False)
    feed_forward = linear(d, 4 * d) + linear(4 * d, d)
    return depth * (layer_norm(d) + attention + layer_norm(d) + feed_forward) + layer_norm(d)


def llama(dim: int, layers: int, vocab: int, hidden: int) -> int:
    """llama2.c's Transformer: tied embeddings, RMSNorm weights, SwiGLU feed-forward of width ``hidden``."""
    block = 4 * dim * dim + 3 * dim * hidden + 2 * dim
    return layers * block + vocab * dim + dim


def gpt_nano(vocab: int, block: int, d: int = 48, layers: int = 3) -> int:
    per_block = layer_norm(d) + linear(d, 3 * d) + linear(d, d) + layer_norm(d) + linear(d, 4 * d) + linear(4 * d, d)
    return layers * per_block + vocab * d + block * d + layer_norm(d) + linear(d, vocab, False)


GAN_MLP = ("Linear", "BatchNorm1d", "LeakyReLU", "Tanh")

# file -> the models it builds, in discovery order
LINTED: dict[str, list[Built]] = {
    # graykode/nlp-tutorial: the classes read globals that only the __main__ block sets
    "nlp/nnlm.py": [built("NNLM", 7 * 2 + linear(4, 2, False) + 2 + linear(2, 7, False) + linear(4, 7, False) + 7,
                          "Embedding", "Linear")],
    "nlp/textcnn.py": [built("TextCNN", 16 * 2 + linear(9, 2, False) + 2 + 3 * (3 * 1 * 2 * 2 + 3),
                             "Embedding", "Linear", "Conv2d")],
    "nlp/textrnn.py": [built("TextRNN", rnn(7, 5) + linear(5, 7, False) + 7, "RNN", "Linear")],
    "nlp/seq2seq.py": [built("Seq2Seq", 2 * rnn(29, 128) + linear(128, 29), "RNN", "Linear")],
    "nlp/word2vec.py": [built("Word2Vec", 2 * linear(8, 2, False), "Linear")],
    # eriklindernoren/PyTorch-GAN: argparse defaults read by the classes, weights_init applied
    "gan/dcgan.py": [
        built("generator", linear(100, 128 * 8 * 8) + batch_norm(128) + conv(128, 128, 3) + batch_norm(128)
              + conv(128, 64, 3) + batch_norm(64) + conv(64, 1, 3),
              "Linear", "BatchNorm2d", "Upsample", "Conv2d", "LeakyReLU", "Tanh"),
        built("discriminator", conv(1, 16, 3) + conv(16, 32, 3) + batch_norm(32) + conv(32, 64, 3) + batch_norm(64)
              + conv(64, 128, 3) + batch_norm(128) + linear(128 * 2 * 2, 1),
              "Conv2d", "LeakyReLU", "Dropout2d", "BatchNorm2d", "Linear", "Sigmoid"),
    ],
    "gan/cgan.py": [
        built("generator", 10 * 10 + linear(110, 128) + linear(128, 256) + batch_norm(256) + linear(256, 512)
              + batch_norm(512) + linear(512, 1024), "Embedding", *GAN_MLP),
        built("discriminator", 10 * 10 + linear(1034, 512) + linear(512, 512) + linear(512, 1),
              "Embedding", "Linear", "LeakyReLU", "Dropout"),
    ],
    "gan/wgan_gp.py": [
        built("generator", linear(100, 128) + linear(128, 256) + batch_norm(256) + linear(256, 512) + batch_norm(512)
              + linear(512, 784), *GAN_MLP),
        built("discriminator", linear(784, 512) + linear(512, 256) + linear(256, 1), "Linear", "LeakyReLU"),
    ],
    "gan/cyclegan/cyclegan.py": [built("G_AB", conv(3, 64, 7) + 2 * 2 * conv(64, 64, 3) + conv(64, 3, 7),
                                       "ReflectionPad2d", "Conv2d", "InstanceNorm2d", "ReLU", "Tanh")],
    # milesial/Pytorch-UNet: the package's relative star import; the net built in __main__
    **{f"unet_pkg/{script}": [built(name, unet_double_conv(3, 16) + unet_double_conv(16, 32) + unet_double_conv(32, 64)
                                    + conv(64, 32, 2) + unet_double_conv(64, 32) + conv(32, 16, 2)
                                    + unet_double_conv(32, 16) + conv(16, 2, 1),
                                    "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "ConvTranspose2d")]
       for script, name in (("train.py", "model"), ("predict.py", "net"))},
    # karpathy/llama2.c: a 7B default linted on the meta device; train.py's if on init_from
    "llama/model.py": [built("Transformer", llama(4096, 32, 32000, 11008), "Embedding", "Dropout", "Linear",
                             "RMSNorm")],
    "llama/train.py": [built("model", llama(64, 2, 96, 192), "Embedding", "Dropout", "Linear", "RMSNorm")],
    # karpathy/minGPT: a package importing itself, the config completed in __main__
    "mingpt_pkg/adder.py": [built("model", gpt_nano(vocab=10, block=6), "Embedding", "Dropout", "LayerNorm",
                                  "Linear", "NewGELU")],
    # openai/CLIP: two towers, a forward that assigns self.attn_mask, inputs from the README usage
    "clip/zero_shot.py": [built(
        "model",
        conv(3, 64, 8, bias=False) + 64 + 17 * 64 + layer_norm(64) + 2 * clip_block(64) + layer_norm(64) + 64 * 64
        + 2 * clip_block(64) + 100 * 64 + 16 * 64 + layer_norm(64) + 64 * 64 + 1,
        "Conv2d", "LayerNorm", "NonDynamicallyQuantizableLinear", "Linear", "QuickGELU", "Embedding")],
    # facebookresearch/detr: main(args) from the __main__ block, build_model(args) through the package
    "detr_pkg/main.py": [built(
        "model",
        conv(3, 32, 7, bias=False) + conv(32, 64, 3, bias=False)
        + 2 * (mha(64) + linear(64, 128) + linear(128, 64) + 2 * layer_norm(64)) + layer_norm(64)
        + 2 * (2 * mha(64) + linear(64, 128) + linear(128, 64) + 3 * layer_norm(64)) + layer_norm(64)
        + linear(64, 92) + 2 * linear(64, 64) + linear(64, 4) + 10 * 64 + conv(64, 64, 1) + 64,
        "Conv2d", "FrozenBatchNorm2d", "ReLU", "NonDynamicallyQuantizableLinear", "Linear", "Dropout", "LayerNorm",
        "Embedding")],
    # lucidrains/denoising-diffusion-pytorch: timesteps beside the images; the diffusion wrapper at top level
    **{script: [built(name, conv(channels, 16, 7) + linear(16, 64) + linear(64, 64)
                      + diffusion_resnet(16, 16, 64) + conv(16, 16, 4) + diffusion_resnet(16, 16, 64) + conv(16, 32, 3)
                      + diffusion_resnet(32, 32, 64) + diffusion_resnet(48, 32, 64) + conv(32, 16, 3)
                      + diffusion_resnet(32, 16, 64) + conv(16, 16, 3) + diffusion_resnet(32, 16, 64)
                      + conv(16, channels, 1),
                      "Conv2d", "SinusoidalPosEmb", "Linear", "GELU", "SiLU", "GroupNorm", "Identity", "Upsample")]
       for script, name, channels in (("diffusion/sample_unet.py", "model", 1), ("diffusion/train.py", "diffusion", 3))},
    # facebookresearch/dino: the backbone from a factory picked by name, a linear probe on its width
    "dino/eval_linear.py": [built("LinearClassifier", linear(192 * 4, 1000), "Linear")],
    "dino/vision_transformer.py": [built("VisionTransformer", conv(3, 64, 8) + 64 + 17 * 64
                                         + 2 * vit_block(64, 256, qkv_bias=False) + layer_norm(64),
                                         "Conv2d", "Linear", "Dropout", "Identity", "LayerNorm", "GELU")],
    # lucidrains/x-transformers: the package imports itself absolutely; a wrapper around the model
    "xtransformers/train_copy.py": [built("model", 18 * 32 + 32 * 32 + xt_layers(32, 1, 2) + linear(32, 18),
                                          "Embedding", "Dropout", "LayerNorm", "Linear", "Attend", "GELU")],
    "xtransformers/train_enwik8.py": [built("model", 256 * 64 + 64 * 64 + xt_layers(64, 2, 4) + linear(64, 256),
                                            "Embedding", "Dropout", "LayerNorm", "Linear", "Attend", "GELU")],
    # hunkim/PyTorchZeroToAll: tutorial scripts that train at top level
    "tutorials/zero_linear_regression.py": [built("model", linear(1, 1), "Linear")],
    "tutorials/zero_cnn_mnist.py": [built("model", conv(1, 10, 5) + conv(10, 20, 5) + linear(320, 10),
                                          "Conv2d", "MaxPool2d", "Linear")],
    "tutorials/zero_hello_rnn.py": [built("model", rnn(5, 5), "RNN")],
    "tutorials/zero_inception.py": [built(
        "model",
        conv(1, 10, 5) + conv(88, 20, 5) + linear(1408, 10)
        + sum(conv(c, 16, 1) * 3 + conv(16, 24, 5) + conv(16, 24, 3) + conv(24, 24, 3) + conv(c, 24, 1) for c in (10, 20)),
        "Conv2d", "MaxPool2d", "Linear")],
    "tutorials/zero_seq2seq.py": [built("encoder", 128 * 32 + rnn(32, 32, gates=3), "Embedding", "GRU"),
                                  built("decoder", 128 * 32 + rnn(32, 32, gates=3) + linear(32, 128),
                                        "Embedding", "GRU", "Linear", inputs=False)],
    # MorvanZhou/PyTorch-Tutorial
    "morvan/regression.py": [built("net", linear(1, 10) + linear(10, 1), "Linear")],
    "morvan/build_nn_quickly.py": [built("net1", linear(1, 10) + linear(10, 1), "Linear"),
                                   built("net2", linear(1, 10) + linear(10, 1), "Linear", "ReLU")],
    "morvan/cnn.py": [built("cnn", conv(1, 16, 5) + conv(16, 32, 5) + linear(32 * 7 * 7, 10),
                            "Conv2d", "ReLU", "MaxPool2d", "Linear")],
    "morvan/rnn_classifier.py": [built("rnn", rnn(28, 64, gates=4) + linear(64, 10), "LSTM", "Linear")],
    "morvan/gan.py": [built("G", linear(5, 128) + linear(128, 15), "Linear", "ReLU"),
                      built("D", linear(15, 128) + linear(128, 1), "Linear", "ReLU", "Sigmoid")],
    "morvan/batch_normalization.py": [
        built("nets[0]", batch_norm(1) + linear(1, 10) + 7 * linear(10, 10) + linear(10, 1), "BatchNorm1d", "Linear"),
        built("nets[1]", batch_norm(1) + linear(1, 10) + 7 * linear(10, 10) + 8 * batch_norm(10) + linear(10, 1),
              "BatchNorm1d", "Linear"),
    ],
    # znxlwm/pytorch-generative-model-collections: lowercase classes; the models inside a plain trainer object
    "collections/GAN.py": [
        built("generator", linear(100, 1024) + batch_norm(1024) + linear(1024, 128 * 8 * 8) + batch_norm(128 * 8 * 8)
              + conv(128, 64, 4) + batch_norm(64) + conv(64, 1, 4),
              "Linear", "BatchNorm1d", "ReLU", "ConvTranspose2d", "BatchNorm2d", "Tanh"),
        built("discriminator", conv(1, 64, 4) + conv(64, 128, 4) + batch_norm(128) + linear(128 * 8 * 8, 1024)
              + batch_norm(1024) + linear(1024, 1),
              "Conv2d", "LeakyReLU", "BatchNorm2d", "Linear", "BatchNorm1d", "Sigmoid"),
    ],
    "collections/main.py": [
        built("gan.G", linear(62, 1024) + batch_norm(1024) + linear(1024, 128 * 7 * 7) + batch_norm(128 * 7 * 7)
              + conv(128, 64, 4) + batch_norm(64) + conv(64, 1, 4),
              "Linear", "BatchNorm1d", "ReLU", "ConvTranspose2d", "BatchNorm2d", "Tanh"),
        built("gan.D", conv(1, 64, 4) + conv(64, 128, 4) + batch_norm(128) + linear(128 * 7 * 7, 1024)
              + batch_norm(1024) + linear(1024, 1),
              "Conv2d", "LeakyReLU", "BatchNorm2d", "Linear", "BatchNorm1d", "Sigmoid"),
    ],
    # a library module linted without inputs: its note names the flag
    "detr_pkg/models/transformer.py": [built(
        "Transformer", 6 * (mha(512) + linear(512, 2048) + linear(2048, 512) + 2 * layer_norm(512)) + layer_norm(512)
        + 6 * (2 * mha(512) + linear(512, 2048) + linear(2048, 512) + 3 * layer_norm(512)) + layer_norm(512),
        "NonDynamicallyQuantizableLinear", "Linear", "Dropout", "LayerNorm", inputs=False)],
    "xtransformers/x_transformers/attend.py": [built("Attend", 0, "Attend", inputs=False)],
}

NEEDS = "needs constructor arguments"
NO_MODEL = "no model found"
# file -> fragments of the one line on stderr (the model and the fix)
MESSAGE: dict[str, list[str]] = {
    "gan/cyclegan/models.py": [f"GeneratorResNet {NEEDS} (input_shape, num_residual_blocks)",
                               "::GeneratorResNet(input_shape=..."],
    "gan/esrgan_models.py": ["FeatureExtractor() tried to download pretrained weights",
                             "build the model with pretrained=False"],
    "gan/backbones.py": [NO_MODEL, "zero-argument build_model() factory"],
    "unet_pkg/unet/unet_model.py": [f"UNet {NEEDS} (n_channels, n_classes)", "::UNet(n_channels=..."],
    "unet_pkg/unet/unet_parts.py": [f"Down {NEEDS} (in_channels, out_channels)"],
    "unet_pkg/utils/data_loading.py": [NO_MODEL],
    "mingpt_pkg/chargpt.py": ["model not built", "config is changed by line 44, data loading, which actlint does not run",
                              "the __main__ block"],
    "mingpt_pkg/mingpt/model.py": [f"GPT {NEEDS} (config)", "::GPT(config=...)"],
    "mingpt_pkg/mingpt/utils.py": [NO_MODEL],
    "clip/model.py": [f"CLIP {NEEDS} (embed_dim, image_resolution, vision_layers", "::CLIP(embed_dim=..."],
    "detr_pkg/models/detr.py": [f"DETR {NEEDS} (backbone, transformer, num_classes, num_queries)"],
    "detr_pkg/models/backbone.py": [f"Backbone {NEEDS} (num_channels)"],
    "detr_pkg/util/misc.py": [NO_MODEL],
    "diffusion/denoising_diffusion_pytorch/denoising_diffusion_pytorch.py": [f"Unet {NEEDS} (dim)", "::Unet(dim=...)"],
    "xtransformers/x_transformers/x_transformers.py": [f"Encoder {NEEDS} (dim, depth)", "::Encoder(dim=..."],
    "xtransformers/x_transformers/autoregressive_wrapper.py": [f"AutoregressiveWrapper {NEEDS} (net)"],
    "attention_pkg/train.py": ["no attribute 'src_vocab_size'",
                               "opt.src_vocab_size would be set by line 31, data loading, which actlint does not run",
                               "main()"],
    "attention_pkg/transformer/Models.py": [f"Transformer {NEEDS} (n_src_vocab, n_trg_vocab, src_pad_idx, trg_pad_idx)"],
    "attention_pkg/transformer/Layers.py": [f"EncoderLayer {NEEDS} (d_model, d_inner, n_head, d_k, d_v)"],
    "attention_pkg/transformer/SubLayers.py": [f"MultiHeadAttention {NEEDS} (n_head, d_model, d_k, d_v)"],
    "attention_pkg/transformer/Modules.py": [f"ScaledDotProductAttention {NEEDS} (temperature)"],
    "attention_pkg/transformer/Constants.py": [NO_MODEL],
    "tutorials/seq2seq_models.py": [f"EncoderRNN {NEEDS} (input_size, hidden_size)"],
    "collections/utils.py": [NO_MODEL],
    "captioning/models.py": ["Encoder() tried to download pretrained weights", "pretrained=False"],
    "captioning/backbones.py": [NO_MODEL],
    "captioning/train.py": ["decoder, encoder not built",
                            "word_map comes from line 19, checkpoint I/O, which actlint does not run", "main()"],
}


def _files() -> list[str]:
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.py") if p.name != "__init__.py")


def test_the_corpus_covers_enough_files_and_repositories():
    files = _files()
    assert set(files) == set(LINTED) | set(MESSAGE), set(files) ^ (set(LINTED) | set(MESSAGE))
    assert len(files) >= 60
    assert {f.split("/")[0] for f in files} == set(REPOSITORIES) and len(REPOSITORIES) >= 12


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A private copy (whatever a file writes lands there, not in the repository)."""
    root = tmp_path_factory.mktemp("held_out")
    shutil.copytree(CORPUS, root, dirs_exist_ok=True)
    return root


@pytest.mark.parametrize("name", sorted(LINTED))
def test_held_out_file_is_linted_as_the_file_builds_it(corpus, name):
    expected = LINTED[name]
    result = invoke_cli(str(corpus / name), "--format", "json", "--no-probe", "--exit-zero")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["errors"] == [], doc["errors"]
    assert [m["name"] for m in doc["models"]] == [b.name for b in expected]
    for model, want in zip(doc["models"], expected):
        assert model["parameters"] == want.parameters, (model["name"], model["parameters"], want.parameters)
        assert model["trace"] in ("fx", "fx-partial", "executed"), model["notes"]
        if want.inputs:
            assert "cannot infer" not in model["inputs"], model["inputs"]
            assert not any("rules not run" in n for n in model["notes"] if "meta device" not in n), model["notes"]
        else:  # the one line that says how to give inputs
            assert "cannot infer inputs" in model["inputs"] and "--input-shape" in model["inputs"]


@pytest.mark.parametrize("name", sorted(LINTED))
def test_held_out_model_is_exactly_the_one_the_file_builds(corpus, name):
    models = load_models(str(corpus / name))
    assert [m.name for m in models] == [b.name for b in LINTED[name]]
    for loaded, want in zip(models, LINTED[name]):
        assert parameter_count(loaded.model.parameters()) == want.parameters
        leaves = {type(m).__name__ for m in loaded.model.modules() if not list(m.children())}
        assert leaves == set(want.layers), (loaded.name, sorted(leaves))


@pytest.mark.parametrize("name", sorted(MESSAGE))
def test_held_out_file_gets_one_line_naming_the_model_and_the_fix(corpus, name):
    result = invoke_cli(str(corpus / name), "--no-probe")
    assert result.exit_code == 2, result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, err
    for fragment in MESSAGE[name]:
        assert fragment in err[0], err[0]
    assert "Traceback" not in result.output and "internal error" not in err[0]


def test_a_package_folder_lints_its_package_modules(corpus):
    result = invoke_cli(str(corpus / "unet_pkg"), "--format", "json", "--no-probe", "--exit-zero")
    doc = json.loads(result.stdout)
    assert [(m["file"].rsplit("/", 1)[-1], m["name"]) for m in doc["models"]] == [("train.py", "model")]
    assert doc["errors"] == []


def test_a_llama_style_model_built_by_a_selector_falls_through_the_tracer_chain(corpus):
    """fx cannot trace it (slicing RoPE buffers by a traced length): the executed trace takes over."""
    selector = "Transformer(ModelArgs(dim=64, n_layers=2, n_heads=4, vocab_size=100, max_seq_len=32))"
    result = invoke_cli(f"{corpus / 'llama/model.py'}::{selector}", "--format", "json", "--no-probe")
    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.stdout)["models"]
    # hidden width: 2/3 of 4 x 64 = 170, rounded up to multiple_of=256
    assert model["trace"] == "executed" and model["parameters"] == llama(64, 2, 100, 256)
    assert not any("was skipped: it raised" in n for n in model["notes"])

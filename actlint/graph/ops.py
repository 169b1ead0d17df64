"""The op-kind table: one name per operation, whatever form the user wrote it in.

``nn.Softmax``, ``F.softmax``, ``torch.softmax`` and ``Tensor.softmax`` are all the op kind
``"softmax"``. Rules speak in kinds and kind groups, never in torch.fx targets.

The table follows fvcore's flop-counter: registering the same target twice raises, and
targets nobody registered are reported as ``"unknown"`` (the GraphView lists them) rather
than silently guessed.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

# --- kind groups used by rules -------------------------------------------------------

#: Layers computing ``W x + b`` (the layers that collapse into one matrix without a nonlinearity).
AFFINE = frozenset({"linear", "conv", "conv_transpose"})
RECURRENT = frozenset({"rnn", "lstm", "gru", "rnn_cell", "lstm_cell", "gru_cell"})
#: Layers that own trainable weights and count toward network depth.
WEIGHT_LAYERS = AFFINE | RECURRENT | frozenset({"bilinear", "embedding", "attention", "transformer"})
#: Activations that output exact zeros for negative inputs (dead units are possible).
RECTIFIERS = frozenset({"relu", "relu6", "threshold"})
#: The ReLU family: rectifier-like activations (He initialisation territory).
RELU_FAMILY = RECTIFIERS | frozenset(
    {"leaky_relu", "prelu", "rrelu", "elu", "selu", "celu", "gelu", "silu", "mish", "hardswish"}
)
#: Bounded activations with flat regions: stacks of these vanish gradients.
SATURATING = frozenset({"sigmoid", "tanh", "hardsigmoid", "hardtanh", "softsign"})
SOFTMAX = frozenset({"softmax", "log_softmax", "softmin"})
ACTIVATIONS = (
    RELU_FAMILY
    | SATURATING
    | SOFTMAX
    | frozenset({"softplus", "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "glu"})
)
NORMALIZATION = frozenset(
    {"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm"}
)
DROPOUT = frozenset({"dropout"})
AVG_POOL = frozenset({"avg_pool"})
POOLING = AVG_POOL | frozenset({"max_pool", "lp_pool"})
#: Ops that only move, select or relabel elements (linear and shape-only).
RESHAPE = frozenset(
    {
        "reshape", "flatten", "unflatten", "permute", "transpose", "squeeze", "unsqueeze",
        "contiguous", "getitem", "expand", "identity", "cast", "clone", "chunk", "split",
        "pixel_shuffle",
    }
)
#: The one pass-through set: ops a value crosses unchanged in kind (moved, selected, relabelled
#: or dropped out). Rules that look through the graph for a layer's real neighbour skip
#: these, and name what else they skip on top (pooling, padding) where their question allows it.
PASS_THROUGH = RESHAPE | DROPOUT
#: Ops that weight one tensor by another (attention, gating): a softmax feeding them is fine.
WEIGHTING = frozenset({"matmul", "einsum", "sdpa", "mul", "baddbmm"})
MERGE = frozenset({"add", "cat"})
#: Leaf modules that are whole residual, normalised blocks (nn.TransformerEncoderLayer & co).
SELF_NORMALIZED_BLOCKS = frozenset({"transformer"})
#: Kinds that produce no tensor data flow (sizes, dtypes) and are ignored by dataflow rules.
NON_TENSOR = frozenset({"size", "input", "output", "param", "constant"})


class OpTable:
    """Maps module classes, functions and method names to op kinds."""

    def __init__(self) -> None:
        self._modules: dict[type, str] = {}
        self._functions: dict[Any, str] = {}
        self._methods: dict[str, str] = {}

    def register_module(self, cls: type, kind: str) -> None:
        if cls in self._modules:
            raise ValueError(f"module {cls.__qualname__} already registered as {self._modules[cls]!r}")
        self._modules[cls] = kind

    def register_function(self, fn: Callable[..., Any], kind: str) -> None:
        if fn in self._functions:
            raise ValueError(f"function {fn!r} already registered as {self._functions[fn]!r}")
        self._functions[fn] = kind

    def register_method(self, name: str, kind: str) -> None:
        if name in self._methods:
            raise ValueError(f"method {name!r} already registered as {self._methods[name]!r}")
        self._methods[name] = kind

    def module_kind(self, module: nn.Module) -> str | None:
        # Walk the MRO so subclasses (timm's LayerNorm2d, NonDynamicallyQuantizableLinear) map too.
        for cls in type(module).__mro__:
            kind = self._modules.get(cls)
            if kind is not None:
                return kind
        return None

    def function_kind(self, fn: Any) -> str | None:
        try:
            return self._functions.get(fn)
        except TypeError:  # unhashable target
            return None

    def method_kind(self, name: str) -> str | None:
        return self._methods.get(name)


def _functions(table: OpTable, kind: str, *fns: Any) -> None:
    seen: set[int] = set()
    for fn in fns:
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        table.register_function(fn, kind)


def _maybe(obj: Any, *names: str) -> list[Any]:
    """Attributes that exist in this torch version (the table must not break on older torch)."""
    return [getattr(obj, n) for n in names if hasattr(obj, n)]


def build_default_table() -> OpTable:
    """The built-in op table covering torch.nn, torch.nn.functional, torch and Tensor methods."""
    t = OpTable()
    modules: dict[str, list[str]] = {
        "linear": ["Linear", "LazyLinear"],
        "bilinear": ["Bilinear"],
        "conv": ["Conv1d", "Conv2d", "Conv3d", "LazyConv1d", "LazyConv2d", "LazyConv3d"],
        "conv_transpose": [
            "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
            "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
        ],
        "embedding": ["Embedding", "EmbeddingBag"],
        "rnn": ["RNN"], "lstm": ["LSTM"], "gru": ["GRU"],
        "rnn_cell": ["RNNCell"], "lstm_cell": ["LSTMCell"], "gru_cell": ["GRUCell"],
        "attention": ["MultiheadAttention"],
        "transformer": [
            "Transformer", "TransformerEncoder", "TransformerDecoder",
            "TransformerEncoderLayer", "TransformerDecoderLayer",
        ],
        "relu": ["ReLU"], "relu6": ["ReLU6"], "leaky_relu": ["LeakyReLU"], "prelu": ["PReLU"],
        "rrelu": ["RReLU"], "elu": ["ELU"], "selu": ["SELU"], "celu": ["CELU"], "gelu": ["GELU"],
        "silu": ["SiLU"], "mish": ["Mish"], "hardswish": ["Hardswish"], "threshold": ["Threshold"],
        "sigmoid": ["Sigmoid"], "tanh": ["Tanh"], "hardsigmoid": ["Hardsigmoid"],
        "hardtanh": ["Hardtanh"], "softsign": ["Softsign"], "softplus": ["Softplus"],
        "logsigmoid": ["LogSigmoid"], "tanhshrink": ["Tanhshrink"], "softshrink": ["Softshrink"],
        "hardshrink": ["Hardshrink"], "glu": ["GLU"],
        "softmax": ["Softmax", "Softmax2d"], "log_softmax": ["LogSoftmax"], "softmin": ["Softmin"],
        "batch_norm": [
            "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm",
            "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
        ],
        "layer_norm": ["LayerNorm"],
        "group_norm": ["GroupNorm"],
        "instance_norm": [
            "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
            "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
        ],
        "rms_norm": ["RMSNorm"],
        "local_response_norm": ["LocalResponseNorm"],
        "dropout": ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"],
        "avg_pool": [
            "AvgPool1d", "AvgPool2d", "AvgPool3d",
            "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
        ],
        "max_pool": [
            "MaxPool1d", "MaxPool2d", "MaxPool3d",
            "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
        ],
        "lp_pool": ["LPPool1d", "LPPool2d", "LPPool3d"],
        "flatten": ["Flatten"], "unflatten": ["Unflatten"], "identity": ["Identity"],
        "pixel_shuffle": ["PixelShuffle", "PixelUnshuffle"],
        "upsample": ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"],
        "pad": ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d",
                "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
                "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
                "CircularPad2d", "CircularPad3d"],
    }
    for kind, names in modules.items():
        for name in names:
            cls = getattr(nn, name, None)
            if cls is not None:
                t.register_module(cls, kind)

    functions: dict[str, list[Any]] = {
        "linear": _maybe(F, "linear"),
        "bilinear": _maybe(F, "bilinear"),
        "conv": _maybe(F, "conv1d", "conv2d", "conv3d"),
        "conv_transpose": _maybe(F, "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"),
        "embedding": _maybe(F, "embedding", "embedding_bag"),
        "relu": _maybe(F, "relu", "relu_") + _maybe(torch, "relu", "relu_"),
        "relu6": _maybe(F, "relu6"),
        "leaky_relu": _maybe(F, "leaky_relu", "leaky_relu_"),
        "prelu": _maybe(F, "prelu") + _maybe(torch, "prelu"),
        "rrelu": _maybe(F, "rrelu", "rrelu_"),
        "elu": _maybe(F, "elu", "elu_"),
        "selu": _maybe(F, "selu") + _maybe(torch, "selu"),
        "celu": _maybe(F, "celu"),
        "gelu": _maybe(F, "gelu"),
        "silu": _maybe(F, "silu"),
        "mish": _maybe(F, "mish"),
        "hardswish": _maybe(F, "hardswish"),
        "threshold": _maybe(F, "threshold"),
        "sigmoid": _maybe(torch, "sigmoid") + _maybe(F, "sigmoid"),
        "tanh": _maybe(torch, "tanh") + _maybe(F, "tanh"),
        "hardsigmoid": _maybe(F, "hardsigmoid"),
        "hardtanh": _maybe(F, "hardtanh", "hardtanh_"),
        "softsign": _maybe(F, "softsign"),
        "softplus": _maybe(F, "softplus"),
        "logsigmoid": _maybe(F, "logsigmoid"),
        "tanhshrink": _maybe(F, "tanhshrink"),
        "softshrink": _maybe(F, "softshrink"),
        "hardshrink": _maybe(F, "hardshrink"),
        "glu": _maybe(F, "glu"),
        "softmax": _maybe(F, "softmax") + _maybe(torch, "softmax") + _maybe(torch.special, "softmax"),
        "log_softmax": _maybe(F, "log_softmax") + _maybe(torch, "log_softmax")
        + _maybe(torch.special, "log_softmax"),
        "softmin": _maybe(F, "softmin"),
        "batch_norm": _maybe(F, "batch_norm"),
        "layer_norm": _maybe(F, "layer_norm"),
        "group_norm": _maybe(F, "group_norm"),
        "instance_norm": _maybe(F, "instance_norm"),
        "rms_norm": _maybe(F, "rms_norm"),
        "local_response_norm": _maybe(F, "local_response_norm"),
        "dropout": _maybe(F, "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
                          "feature_alpha_dropout"),
        "avg_pool": _maybe(F, "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
                           "adaptive_avg_pool2d", "adaptive_avg_pool3d"),
        "max_pool": _maybe(F, "max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool1d",
                           "adaptive_max_pool2d", "adaptive_max_pool3d"),
        "lp_pool": _maybe(F, "lp_pool1d", "lp_pool2d", "lp_pool3d"),
        "sdpa": _maybe(F, "scaled_dot_product_attention"),
        "attention": _maybe(F, "multi_head_attention_forward"),
        "matmul": [operator.matmul] + _maybe(torch, "matmul", "mm", "bmm", "mv"),
        "baddbmm": _maybe(torch, "baddbmm", "addmm", "addbmm"),
        "einsum": _maybe(torch, "einsum"),
        "add": [operator.add, operator.iadd] + _maybe(torch, "add"),
        "sub": [operator.sub, operator.isub] + _maybe(torch, "sub", "subtract"),
        "mul": [operator.mul, operator.imul] + _maybe(torch, "mul", "multiply"),
        "div": [operator.truediv, operator.itruediv, operator.floordiv] + _maybe(torch, "div", "divide"),
        "neg": [operator.neg] + _maybe(torch, "neg"),
        "cat": _maybe(torch, "cat", "concat", "concatenate", "stack", "hstack", "vstack"),
        "getitem": [operator.getitem],
        "reshape": _maybe(torch, "reshape"),
        "flatten": _maybe(torch, "flatten"),
        "unflatten": _maybe(torch, "unflatten"),
        "permute": _maybe(torch, "permute", "movedim", "swapaxes"),
        "transpose": _maybe(torch, "transpose", "t"),
        "squeeze": _maybe(torch, "squeeze"),
        "unsqueeze": _maybe(torch, "unsqueeze"),
        "chunk": _maybe(torch, "chunk", "tensor_split", "unbind"),
        "split": _maybe(torch, "split"),
        "pixel_shuffle": _maybe(F, "pixel_shuffle", "pixel_unshuffle"),
        "upsample": _maybe(F, "interpolate", "upsample", "upsample_nearest", "upsample_bilinear"),
        "pad": _maybe(F, "pad"),
        "exp": _maybe(torch, "exp"),
        "log": _maybe(torch, "log"),
        "sqrt": _maybe(torch, "sqrt", "rsqrt"),
        "pow": [operator.pow] + _maybe(torch, "pow", "square"),
        "mean": _maybe(torch, "mean"),
        "sum": _maybe(torch, "sum"),
        "size": [getattr] + _maybe(torch, "numel"),
        "clamp": _maybe(torch, "clamp", "clip"),
        "abs": _maybe(torch, "abs"),
        "normalize": _maybe(F, "normalize"),
        "one_hot": _maybe(F, "one_hot"),
        "cumsum": _maybe(torch, "cumsum"),
    }
    for kind, fns in functions.items():
        _functions(t, kind, *fns)

    methods: dict[str, list[str]] = {
        "relu": ["relu", "relu_"], "sigmoid": ["sigmoid", "sigmoid_"], "tanh": ["tanh", "tanh_"],
        "softmax": ["softmax"], "log_softmax": ["log_softmax"],
        "matmul": ["matmul", "mm", "bmm", "__matmul__", "mv"],
        "baddbmm": ["baddbmm", "addmm"],
        "add": ["add", "add_", "__add__", "__radd__", "__iadd__"],
        "sub": ["sub", "sub_", "__sub__", "__rsub__"],
        "mul": ["mul", "mul_", "__mul__", "__rmul__"],
        "div": ["div", "div_", "__truediv__", "__rtruediv__"],
        "neg": ["neg", "__neg__"],
        "reshape": ["view", "reshape", "view_as", "reshape_as"],
        "flatten": ["flatten"], "unflatten": ["unflatten"],
        "permute": ["permute", "movedim", "swapaxes"],
        "transpose": ["transpose", "t", "mT"],
        "squeeze": ["squeeze", "squeeze_"], "unsqueeze": ["unsqueeze", "unsqueeze_"],
        "contiguous": ["contiguous"],
        "expand": ["expand", "expand_as", "repeat", "repeat_interleave"],
        "cast": ["to", "type", "float", "double", "half", "bfloat16", "type_as", "cpu", "cuda"],
        "clone": ["clone"],
        "chunk": ["chunk", "unbind", "tensor_split"], "split": ["split"],
        "size": ["size", "dim", "numel", "shape"],
        "exp": ["exp"], "log": ["log"], "sqrt": ["sqrt", "rsqrt"], "pow": ["pow", "__pow__", "square"],
        "mean": ["mean"], "sum": ["sum"], "clamp": ["clamp", "clamp_", "clip"], "abs": ["abs"],
        "masked_fill": ["masked_fill", "masked_fill_"],
        "detach": ["detach", "detach_"],
        "cumsum": ["cumsum"],
    }
    for kind, names in methods.items():
        for name in names:
            t.register_method(name, kind)
    return t


DEFAULT_TABLE = build_default_table()

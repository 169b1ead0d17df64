"""ACT1xx: activation placement (softmax in hidden layers, missing or redundant activations)."""

from __future__ import annotations

from typing import Iterable

from actlint.graph import ops
from actlint.core.findings import Finding, ProbeVerdict, Severity
from actlint.graph.view import GraphView, NodeRef, OpNode
from actlint.graph.queries import is_gate, is_weighting
from actlint.fixes.edits import SAFE, UNSAFE
from actlint.fixes.layers import removal, replacement_activation
from actlint.rules.base import Example, Rule, RuleContext
from actlint.rules.fixing import first_layer_gradient, layer_site
from actlint.rules.confirmation import SOFTMAX_PASS_THROUGH, confirm_model_linearity, confirm_saturation, confirm_segment_linearity, confirm_softmax

#: Ops that pass values through unchanged in sign and in linearity (looked through).
# Consumers that start a nonlinear branch of their own.
_NONLINEAR_BRANCH = ops.NORMALIZATION | ops.ACTIVATIONS


_AXIS_MOVES = frozenset({"permute", "transpose"})


def attention_map_mixers(graph: GraphView) -> set[int]:
    """Linears that mix the heads of a softmaxed attention map which then weights a tensor.

    Talking-heads attention (CaiT) permutes the softmax output so the head axis is last,
    applies ``Linear(heads, heads)``, permutes back and multiplies with V: the mixed map
    still weights V. Such a linear is reached from a softmax through reshapes that move an
    axis, keeps its width, and reaches a weighting op through reshapes and dropout only.
    """
    mixers: set[int] = set()
    for softmax in graph.of_kind(ops.SOFTMAX):
        frontier = [(u, False) for u in graph.succs(softmax)]
        seen: set[int] = set()
        while frontier:
            node, moved = frontier.pop()
            if node.index in seen:
                continue
            seen.add(node.index)
            if node.kind in ops.PASS_THROUGH:
                frontier.extend((u, moved or node.kind in _AXIS_MOVES) for u in graph.succs(node))
            elif node.kind == "linear" and moved and _keeps_width(node) and _weights_downstream(graph, node):
                mixers.add(node.index)
    return mixers


def _keeps_width(node: OpNode) -> bool:
    module = node.module
    return module is not None and getattr(module, "in_features", None) == getattr(module, "out_features", -1)


def _weights_downstream(graph: GraphView, start: OpNode) -> bool:
    frontier, seen = list(graph.succs(start)), set()
    while frontier:
        node = frontier.pop()
        if node.index in seen:
            continue
        seen.add(node.index)
        if is_weighting(graph, node):
            return True
        if node.kind in ops.PASS_THROUGH:
            frontier.extend(graph.succs(node))
    return False


def reaches_layer_unweighted(graph: GraphView) -> list[bool]:
    """For each node: does its value reach a weight layer without passing a weighting op?

    One reverse walk over the graph (linear time), shared by every softmax node. Linears
    that only mix the heads of an attention map (:func:`attention_map_mixers`) are not
    layers the softmax feeds: the mixed map goes on to weight a tensor.
    """
    mixers = attention_map_mixers(graph)
    reaches = [False] * len(graph.nodes)
    for node in reversed(graph.nodes):
        if is_weighting(graph, node):
            continue
        if node.is_weight_layer and node.index not in mixers:
            reaches[node.index] = True
            continue
        reaches[node.index] = any(reaches[u] for u in node.users)
    return reaches


def first_layer_downstream(graph: GraphView, start: OpNode, limit: int = 200) -> OpNode | None:
    """The nearest weight layer downstream of ``start`` (bounded search, for messages)."""
    frontier = list(graph.succs(start))
    seen = {start.index}
    while frontier and limit > 0:
        frontier.sort(key=lambda n: n.index)
        node = frontier.pop(0)
        limit -= 1
        if node.index in seen:
            continue
        seen.add(node.index)
        if node.is_weight_layer:
            return node
        if not is_weighting(graph, node):
            frontier.extend(graph.succs(node))
    return None


class SoftmaxInHiddenLayer(Rule):
    id = "ACT101"
    name = "softmax-in-hidden-layer"
    severity = Severity.ERROR
    summary = "Softmax/log-softmax output feeds further layers instead of weighting a tensor."
    what = (
        "Finds softmax, log_softmax and softmin (module, functional, torch or Tensor method form) "
        "whose output flows into another weight layer. Softmax used as weights, the way attention "
        "(matmul/bmm/einsum/scaled_dot_product_attention) and gating (elementwise multiply with "
        "another tensor) use it, is fine and not reported, also when a Linear mixes the heads of the "
        "attention map before it weights V (talking-heads attention, CaiT)."
    )
    why = (
        "Softmax squashes a hidden representation onto the probability simplex: one unit "
        "dominates, the others are pushed toward 0, and the Jacobian diag(p) - p p^T vanishes as "
        "outputs saturate, so gradients to everything before it shrink. The layer after it sees "
        "features that always sum to 1, losing scale information. It is almost always a slip from "
        "copying an output head into the middle of a network."
    )
    instead = (
        "Use a ReLU-family activation (ReLU, GELU, SiLU) between hidden layers. Keep softmax for "
        "the final output (or leave it to the loss) and for attention or gating weights."
    )
    confirmed_by = "gradient attenuation across the softmax"

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        return confirm_softmax(finding, ctx)

    valid = (
        Example(
            """
            import torch
            import torch.nn as nn

            class Attention(nn.Module):
                def __init__(self, dim=32):
                    super().__init__()
                    self.qkv = nn.Linear(dim, 3 * dim)
                    self.proj = nn.Linear(dim, dim)

                def forward(self, x):
                    q, k, v = self.qkv(x).chunk(3, dim=-1)
                    weights = torch.softmax(q @ k.transpose(-2, -1) / 32 ** 0.5, dim=-1)
                    return self.proj(weights @ v)
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class Gated(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.gate = nn.Linear(16, 16)
                    self.value = nn.Linear(16, 16)
                    self.out = nn.Linear(16, 4)

                def forward(self, x):
                    mix = self.gate(x).softmax(dim=-1) * self.value(x)
                    return self.out(mix)
            """
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax(dim=1))
            """
        ),
        Example(
            """
            import torch.nn as nn

            class Encoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.attn = nn.MultiheadAttention(32, 4, batch_first=True)
                    self.fc = nn.Linear(32, 10)

                def forward(self, x):
                    y, _ = self.attn(x, x, x)
                    return self.fc(y)
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class TalkingHeadAttention(nn.Module):
                # CaiT: a Linear mixes the heads of the softmaxed map, which then weights V.
                def __init__(self, dim=32, heads=4):
                    super().__init__()
                    self.heads = heads
                    self.qkv = nn.Linear(dim, dim * 3)
                    self.proj_l = nn.Linear(heads, heads)
                    self.proj_w = nn.Linear(heads, heads)
                    self.proj = nn.Linear(dim, dim)

                def forward(self, x):
                    b, n, c = x.shape
                    q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
                    attn = q @ k.transpose(-2, -1)
                    attn = self.proj_l(attn.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
                    attn = attn.softmax(dim=-1)
                    attn = self.proj_w(attn.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
                    return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Linear(8, 16),
                    nn.Softmax(dim=1),
                    nn.Linear(16, 3),
                )
            """,
            line=6,
            fixed="""
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Linear(8, 16),
                    nn.ReLU(),
                    nn.Linear(16, 3),
                )
            """,
        ),
        Example(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(8, 16)
                    self.fc2 = nn.Linear(16, 3)

                def forward(self, x):
                    h = F.softmax(self.fc1(x), dim=-1)
                    return self.fc2(h)
            """,
            line=11,
            fixed="""
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(8, 16)
                    self.fc2 = nn.Linear(16, 3)

                def forward(self, x):
                    h = F.relu(self.fc1(x))
                    return self.fc2(h)
            """,
        ),
        Example(
            # Built in a loop whose last softmax is the output: no single edit replaces only the
            # hidden ones, so the finding comes without a fix (and says why).
            """
            import torch.nn as nn

            def build_model(depth=3):
                layers = []
                for _ in range(depth):
                    layers += [nn.Linear(16, 16), nn.Softmax(dim=1)]
                return nn.Sequential(*layers)
            """,
            line=6,
        ),
    )
    fixable = UNSAFE

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        softmaxes = graph.of_kind(ops.SOFTMAX)
        if not softmaxes:
            return
        reaches = reaches_layer_unweighted(graph)
        for node in softmaxes:
            feeding = [u for u in graph.succs(node) if not is_weighting(graph, u) and reaches[u.index]]
            if not feeding:
                continue
            layer = first_layer_downstream(graph, node)
            target = layer.describe() if layer is not None else feeding[0].describe()
            site = layer_site(ctx, node)
            yield ctx.finding(
                f"{node.kind} output feeds the layer {target}: softmax in a hidden layer squashes "
                f"features onto a simplex and attenuates gradients; use ReLU/GELU here",
                node=node,
                fix=ctx.fix(f"replace the hidden {node.kind} with ReLU",
                            lambda tree: replacement_activation(tree, site, "ReLU", "relu")),
            )

    def fix_evidence(self, model):
        return first_layer_gradient(model)


class MissingActivation(Rule):
    id = "ACT102"
    name = "missing-activation"
    severity = Severity.WARNING
    summary = "Two affine layers are adjacent with no nonlinearity between them."
    what = (
        "Follows the dataflow from every Linear/Conv layer through reshapes, dropout and average "
        "pooling; if the next thing it reaches is another Linear/Conv, the pair is reported. A "
        "normalization, a residual add, a nonlinearity or max pooling between them clears it, as "
        "does a depthwise conv followed by a pointwise 1x1 conv (a separable convolution) or a "
        "depthwise conv opening a block after a patchify/downsampling conv (ConvNeXt). A layer whose "
        "output also feeds a normalization or activation is not reported: the pair is a projection "
        "shortcut beside a nonlinear branch (MaxViT)."
    )
    why = (
        "W2 (W1 x + b1) + b2 is a single affine map: the second layer adds parameters and compute "
        "but no expressive power, and the network is shallower than it looks."
    )
    instead = (
        "Insert an activation (nn.ReLU, nn.GELU, nn.SiLU) between the layers, or merge them into "
        "one layer if a low-rank factorisation was intended."
    )
    confirmed_by = "linearity check"

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        return confirm_segment_linearity(finding, ctx, SOFTMAX_PASS_THROUGH)

    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))
            """
        ),
        Example(
            """
            import torch.nn as nn

            class LinearBottleneck(nn.Module):
                '''MobileNetV2: the projection conv is linear on purpose (conv -> BN -> conv).'''

                def __init__(self):
                    super().__init__()
                    self.expand = nn.Sequential(nn.Conv2d(16, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU6())
                    self.project = nn.Sequential(nn.Conv2d(64, 16, 1, bias=False), nn.BatchNorm2d(16))
                    self.next = nn.Conv2d(16, 32, 1)

                def forward(self, x):
                    return self.next(x + self.project(self.expand(x)))
            """
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Conv2d(3, 32, 3, padding=1),
                    nn.ReLU(),
                    nn.Conv2d(32, 32, 3, padding=1, groups=32),
                    nn.Conv2d(32, 64, 1),
                    nn.ReLU(),
                )
            """
        ),
        Example(
            """
            import torch.nn as nn

            class Block(nn.Module):
                '''MaxViT: a linear stem conv also feeds a pooled 1x1 projection shortcut.'''

                def __init__(self):
                    super().__init__()
                    self.stem = nn.Conv2d(3, 16, 3, padding=1)
                    self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(16, 32, 1))
                    self.branch = nn.Sequential(
                        nn.BatchNorm2d(16), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.GELU()
                    )

                def forward(self, x):
                    x = self.stem(x)
                    return self.shortcut(x) + self.branch(x)
            """
        ),
        Example(
            """
            import torch
            import torch.nn as nn
            import torch.nn.functional as F

            class BlurPool(nn.Module):
                '''Anti-aliasing (TResNet, BlurPool): a fixed blur filter, a buffer, before a strided conv.'''

                def __init__(self, channels):
                    super().__init__()
                    kernel = torch.tensor([1.0, 2.0, 1.0])
                    self.register_buffer("filt", (kernel[:, None] * kernel[None, :] / 16).repeat(channels, 1, 1, 1))
                    self.channels = channels

                def forward(self, x):
                    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, groups=self.channels)

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
                    self.blur = BlurPool(16)
                    self.down = nn.Conv2d(16, 32, 3, stride=2, padding=1)
                    self.head = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

                def forward(self, x):
                    return self.head(self.down(self.blur(self.stem(x))))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Linear(8, 16),
                    nn.Dropout(0.1),
                    nn.Linear(16, 16),
                    nn.ReLU(),
                    nn.Linear(16, 3),
                )
            """,
            line=7,
        ),
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 8, 3)
                    self.pool = nn.AdaptiveAvgPool2d(1)
                    self.fc = nn.Linear(8, 10)

                def forward(self, x):
                    x = self.pool(self.conv(x)).flatten(1)
                    return self.fc(x)
            """,
            line=12,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        through = SOFTMAX_PASS_THROUGH
        for first in graph.of_kind(ops.AFFINE):
            consumers = graph.walk_forward(first, through)
            # A layer whose output also feeds a nonlinear branch is not redundant: the affine
            # pair is then a projection shortcut (MaxViT's stem conv -> pool -> 1x1 conv),
            # and merging the two layers would change the other branch.
            if any(c.kind in _NONLINEAR_BRANCH for c in consumers):
                continue
            if _fixed_filter(graph, first):
                continue
            for second in consumers:
                if second.kind not in ops.AFFINE or _is_factorised_conv(first, second) \
                        or _fixed_filter(graph, second):
                    continue
                yield ctx.finding(
                    f"{first.describe()} feeds {second.describe()} with no activation between: "
                    f"two affine layers compose into one matrix; add a nonlinearity (ReLU/GELU)",
                    node=second,
                )


def _fixed_filter(graph: GraphView, node: OpNode) -> bool:
    """A functional conv or linear whose weight is a buffer, not a parameter: a fixed filter
    (TResNet's and BlurPool's anti-aliasing blur) that adds no parameters to compose away."""
    if node.module is not None or node.op == "call_module":
        return False
    weight = node.arg(1, "weight")
    if not isinstance(weight, NodeRef) or not 0 <= weight.index < len(graph.nodes):
        return False
    source = graph.nodes[weight.index]
    if source.op != "get_attr":
        return False
    try:
        graph.model.get_parameter(str(source.target))
    except AttributeError:
        return True
    return False


def _is_depthwise(module: object) -> bool:
    groups = getattr(module, "groups", 1)
    return groups > 1 and groups == getattr(module, "in_channels", 0)


def _is_factorised_conv(first: OpNode, second: OpNode) -> bool:
    """Pairs that are deliberate factorisations of one convolution, not a missing activation.

    A depthwise conv followed by a pointwise conv is a separable convolution (Xception,
    MobileNet). A depthwise conv right after another layer is the spatial filter that opens
    a block (ConvNeXt: patchify/downsample conv -> depthwise 7x7 -> LayerNorm -> MLP).
    """
    a, b = first.module, second.module
    if a is None or b is None or second.kind != "conv":
        return False
    if _is_depthwise(b):
        return True
    pointwise = all(k == 1 for k in getattr(b, "kernel_size", (0,)))
    return first.kind == "conv" and _is_depthwise(a) and pointwise


# Ops treated as linear in the input for ACT103 (everything else, unknown ops included,
# counts as a nonlinearity so the rule stays quiet when unsure).
_LINEAR_OPS = (
    ops.AFFINE | ops.RESHAPE | ops.DROPOUT | ops.AVG_POOL
    | {"add", "sub", "neg", "cat", "batch_norm", "pad", "upsample", "mean", "sum", "cast", "identity", "input", "output", "param", "size"}
)


class LinearModelCollapse(Rule):
    id = "ACT103"
    name = "linear-model-collapse"
    severity = Severity.ERROR
    summary = "The whole model is one affine map: no nonlinearity on any input-to-output path."
    what = (
        "Reports models with two or more Linear/Conv layers where no input-to-output path passes "
        "through a nonlinearity (activation, max pooling, attention, layer/group norm, ...). "
        "BatchNorm counts as affine, since it is one at inference."
    )
    why = (
        "A composition of affine maps is affine. However deep, the model can only learn what a "
        "single Linear layer (logistic/linear regression) can learn."
    )
    instead = "Add activations between the layers (nn.ReLU(), nn.GELU(), nn.SiLU())."
    confirmed_by = "linearity check f(x+y) = f(x) + f(y) - f(0)"

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        return confirm_model_linearity(finding, ctx)

    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
            """
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(8, 3))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(8, 32)
                    self.bn = nn.BatchNorm1d(32)
                    self.fc2 = nn.Linear(32, 32)
                    self.fc3 = nn.Linear(32, 3)

                def forward(self, x):
                    return self.fc3(self.fc2(self.bn(self.fc1(x))) + 1.0)
            """,
            line=12,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        on_path = _on_input_output_path(graph)
        affine = [n for n in graph.nodes if on_path[n.index] and n.kind in ops.AFFINE]
        if len(affine) < 2:
            return
        nonlinear = [
            n for n in graph.nodes
            if on_path[n.index] and (n.kind not in _LINEAR_OPS or _is_nonlinear_product(graph, n))
        ]
        if nonlinear:
            return
        names = ", ".join(n.describe() for n in affine[:6]) + (", ..." if len(affine) > 6 else "")
        yield ctx.finding(
            f"the model is a single affine map: {len(affine)} affine layers ({names}) and no "
            f"nonlinearity on any input-to-output path; add activations between them",
            node=affine[-1],
        )


def _is_nonlinear_product(graph: GraphView, node: OpNode) -> bool:
    return node.kind in ("mul", "div", "matmul", "einsum") and len(graph.data_preds(node)) >= 2


def _on_input_output_path(graph: GraphView) -> list[bool]:
    """Nodes reachable from an input that also reach the output (two linear walks)."""
    n = len(graph.nodes)
    from_input = [False] * n
    for node in graph.nodes:
        from_input[node.index] = node.op == "placeholder" or any(from_input[i] for i in node.inputs)
    to_output = [False] * n
    for node in reversed(graph.nodes):
        to_output[node.index] = node.op == "output" or any(to_output[u] for u in node.users)
    return [a and b for a, b in zip(from_input, to_output)]


_LOGIT_CLIPPERS = frozenset({"relu", "relu6", "leaky_relu", "prelu", "rrelu", "elu", "selu", "celu",
                             "gelu", "silu", "mish", "hardswish", "threshold", "softplus"})


class ActivationOnLogits(Rule):
    id = "ACT104"
    name = "activation-on-logits"
    severity = Severity.WARNING
    summary = "A ReLU-family activation is applied to the final layer's output (the logits)."
    what = (
        "Reports a ReLU-family activation (ReLU, LeakyReLU, GELU, SiLU, ELU, Softplus, ...) "
        "whose input is the last Linear/Conv layer and whose output is the model's output."
    )
    why = (
        "Logits must be free to be negative: the loss (cross-entropy, MSE on centred targets) "
        "pushes wrong classes below zero. ReLU clips them at 0, so those units stop receiving "
        "gradient (dead outputs), and the model cannot express low-confidence classes."
    )
    instead = (
        "Return the raw output of the last layer and let the loss apply softmax/sigmoid. For "
        "non-negative regression targets, prefer Softplus or predict the log of the target."
    )
    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Linear(8, 16),
                    nn.ReLU(),
                    nn.Linear(16, 3),
                    nn.ReLU(),
                )
            """,
            line=8,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        for out in graph.outputs:
            candidates = [out] if out.kind not in ops.PASS_THROUGH else graph.walk_backward(out, ops.PASS_THROUGH)
            for act in candidates:
                if act.kind not in _LOGIT_CLIPPERS:
                    continue
                for layer in graph.walk_backward(act, ops.PASS_THROUGH):
                    if layer.kind in ops.AFFINE:
                        yield ctx.finding(
                            f"{act.kind} is applied to the logits from {layer.describe()}: negative "
                            f"outputs are clipped and stop learning; return the raw layer output",
                            node=act,
                        )
                        break


_IDEMPOTENT = frozenset({"relu", "relu6", "hardtanh", "threshold"})
_NON_NEGATIVE = frozenset({"relu", "relu6", "sigmoid", "softmax", "softplus", "hardsigmoid", "threshold"})
_BOUNDED_BELOW_SIX = frozenset({"sigmoid", "softmax", "hardsigmoid"})


class RedundantActivation(Rule):
    id = "ACT105"
    name = "redundant-activation"
    severity = Severity.INFO
    summary = "An activation is applied to the output of the same or a subsuming activation."
    what = (
        "Reports an activation applied directly (through reshapes/dropout only) to the output of "
        "an activation that makes it a no-op: ReLU after ReLU, ReLU after sigmoid/softmax/"
        "softplus, ReLU6 after ReLU, and idempotent activations applied twice."
    )
    why = (
        "The second activation changes nothing but costs memory and time; more often it signals "
        "a layer that was meant to be between them (a missing Linear/Conv) or a copy-paste slip."
    )
    instead = "Remove the redundant activation, or put the missing layer back between the two."
    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(8, 16)
                    self.act = nn.ReLU()
                    self.fc2 = nn.Linear(16, 2)

                def forward(self, x):
                    x = F.relu(self.act(self.fc1(x)))
                    return self.fc2(x)
            """,
            line=12,
            fixed="""
            import torch.nn as nn
            import torch.nn.functional as F

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc1 = nn.Linear(8, 16)
                    self.act = nn.ReLU()
                    self.fc2 = nn.Linear(16, 2)

                def forward(self, x):
                    x = self.act(self.fc1(x))
                    return self.fc2(x)
            """,
        ),
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Linear(8, 16),
                    nn.ReLU(),
                    nn.ReLU(inplace=True),  # a copy-paste slip
                    nn.Linear(16, 2),
                )
            """,
            line=7,
            fixed="""
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Linear(8, 16),
                    nn.ReLU(),
                    nn.Identity(),  # a copy-paste slip
                    nn.Linear(16, 2),
                )
            """,
        ),
        Example(
            """
            import torch
            import torch.nn as nn

            class Head(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 4)

                def forward(self, x):
                    return torch.sigmoid(self.fc(x)).relu()
            """,
            line=10,
            fixed="""
            import torch
            import torch.nn as nn

            class Head(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 4)

                def forward(self, x):
                    return torch.sigmoid(self.fc(x))
            """,
        ),
    )
    fixable = SAFE

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        for node in graph.of_kind(ops.ACTIVATIONS):
            for prev in graph.walk_backward(node, ops.PASS_THROUGH):
                if _redundant(prev.kind, node.kind):
                    site = layer_site(ctx, node)
                    yield ctx.finding(
                        f"{node.kind} applied to the output of {prev.kind} ({prev.describe()}) "
                        f"changes nothing; remove it or add the missing layer between them",
                        node=node,
                        fix=ctx.fix(f"remove the redundant {node.kind}", lambda tree: removal(tree, site)),
                    )
                    break


def _redundant(inner: str, outer: str) -> bool:
    if inner == outer and outer in _IDEMPOTENT:
        return True
    if outer == "relu" and inner in _NON_NEGATIVE:
        return True
    if outer == "relu6" and inner in _BOUNDED_BELOW_SIX:
        return True
    return outer == "relu6" and inner == "relu"


class TanhHiddenActivation(Rule):
    id = "ACT106"
    name = "tanh-hidden-activation"
    severity = Severity.INFO
    summary = "Tanh is used as the hidden activation of a non-recurrent network."
    what = (
        "Reports Tanh used between layers of a feed-forward model (no RNN/LSTM/GRU). Tanh used "
        "as part of a gate (tanh(x) * sigmoid(y), tanh-approximated GELU) is not reported."
    )
    why = (
        "Tanh saturates for |x| > 2: its derivative falls below 0.07 and, stacked, gradients "
        "shrink geometrically. ReLU-family activations keep a unit derivative on half the input "
        "range and train deep feed-forward nets faster and more reliably."
    )
    instead = "Use nn.ReLU, nn.GELU or nn.SiLU for hidden layers of feed-forward networks."
    confirmed_by = "saturation"

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        return confirm_saturation(finding, ctx)

    valid = (
        Example(
            """
            import torch
            import torch.nn as nn

            class GatedUnit(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.a = nn.Linear(16, 16)
                    self.b = nn.Linear(16, 16)
                    self.out = nn.Linear(16, 2)

                def forward(self, x):
                    return self.out(torch.tanh(self.a(x)) * torch.sigmoid(self.b(x)))
            """
        ),
        Example(
            """
            import torch.nn as nn

            class LSTMTagger(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lstm = nn.LSTM(8, 16, batch_first=True)
                    self.proj = nn.Linear(16, 16)
                    self.act = nn.Tanh()
                    self.out = nn.Linear(16, 4)

                def forward(self, x):
                    h, _ = self.lstm(x)
                    return self.out(self.act(self.proj(h)))
            """
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 2))
            """,
            line=4,
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        graph = ctx.graph
        if graph.is_recurrent:
            return
        tanhs = graph.of_kind("tanh")
        if not tanhs:
            return
        downstream = _reaches_weight_layer(graph)
        for node in tanhs:
            if is_gate(graph, node) or not any(downstream[u] for u in node.users):
                continue
            yield ctx.finding(
                "tanh as a hidden activation saturates and slows training of feed-forward "
                "networks; prefer ReLU/GELU/SiLU",
                node=node,
            )


def _reaches_weight_layer(graph: GraphView) -> list[bool]:
    reaches = [False] * len(graph.nodes)
    for node in reversed(graph.nodes):
        reaches[node.index] = node.is_weight_layer or any(reaches[u] for u in node.users)
    return reaches

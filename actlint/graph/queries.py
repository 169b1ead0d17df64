"""Graph queries several rule families share, each linear in the graph's size.

Where a layer's output goes (followers, gates, weighting ops), what lies downstream of it
(weight layers, plain layers), residual branches, and what the model's outputs end in.
"""

from __future__ import annotations

from actlint.graph import ops
from actlint.graph.view import GraphView, OpNode

#: What the signal pass and the ACT3xx rules look through: pass-through ops, pooling,
#: padding and upsampling (they rescale positions, not the per-element signal).
SIGNAL_PASS_THROUGH = ops.PASS_THROUGH | ops.POOLING | frozenset({"pad", "upsample", "detach"})
#: What an output is looked back through for its final activation (a detached copy too).
OUTPUT_PASS_THROUGH = ops.PASS_THROUGH | frozenset({"detach"})


def followers(graph: GraphView, node: OpNode) -> list[OpNode]:
    """What consumes ``node``'s output, looking through reshapes, dropout, pooling and padding."""
    return graph.walk_forward(node, SIGNAL_PASS_THROUGH)


def feeds_weight_layer(graph: GraphView) -> list[bool]:
    """For each node: does its value reach some weight layer downstream? (one reverse walk)"""
    reaches = [False] * len(graph.nodes)
    for node in reversed(graph.nodes):
        reaches[node.index] = any(reaches[u] or graph.nodes[u].is_weight_layer for u in node.users)
    return reaches


def weight_layers_after(graph: GraphView) -> list[int]:
    """For each node: the most weight layers on any path from it to an output (one reverse walk)."""
    after = [0] * len(graph.nodes)
    for node in reversed(graph.nodes):
        after[node.index] = max(
            (after[u] + (1 if graph.nodes[u].is_weight_layer else 0) for u in node.users), default=0
        )
    return after


def plain_layers_after(graph: GraphView) -> list[int]:
    """For each node: weight layers on the longest path after it within one plain chain.

    A chain ends at a normalization (the scale is reset), a residual merge (the branch's scale
    is relative to the skip path), a weighting op (attention, gates: the branch scales another
    tensor) or the output. Init mismatches compound only along such chains.
    """
    skips = graph.skip_connections
    after = [0] * len(graph.nodes)
    for node in reversed(graph.nodes):
        best = 0
        for u in node.users:
            user = graph.nodes[u]
            if user.kind in ops.NORMALIZATION or u in skips or is_weighting(graph, user):
                continue
            best = max(best, after[u] + (1 if user.is_weight_layer else 0))
        after[node.index] = best
    return after


def residual_branch_nodes(graph: GraphView) -> list[bool]:
    """For each node: does its value reach a residual merge before any normalization?

    One reverse walk. Such a node is inside a residual branch (``x + f(x)``): a small signal
    there makes the block start near the identity, which is a design, not a collapse.
    """
    skips = graph.skip_connections
    inside = [False] * len(graph.nodes)
    for node in reversed(graph.nodes):
        for u in node.users:
            user = graph.nodes[u]
            if (u in skips and user.kind in ("add", "sub")) or (user.kind not in ops.NORMALIZATION and inside[u]):
                inside[node.index] = True
                break
    return inside


def only_gates(graph: GraphView, node: OpNode) -> bool:
    """True when everything ``node``'s output reaches (through reshapes) is a weighting op."""
    consumers = followers(graph, node)
    return bool(consumers) and all(is_weighting(graph, c) for c in consumers)


def is_residual_branch_end(graph: GraphView, node: OpNode) -> bool:
    """True when ``node``'s output is added to a skip path (the end of a residual branch).

    Looks through reshapes, dropout, normalization and layer-scale multiplications, so a
    zero-initialised conv before a BatchNorm or a zero gamma before the add both count.
    """
    through = SIGNAL_PASS_THROUGH | ops.NORMALIZATION | {"mul"}
    for follower in graph.walk_forward(node, through):
        if follower.kind in ("add", "sub") and len(graph.data_preds(follower)) >= 2:
            return True
    return False


def is_weighting(graph: GraphView, node: OpNode) -> bool:
    """True when ``node`` weights one tensor by another (attention, gating)."""
    if node.kind in ("matmul", "einsum", "sdpa", "baddbmm", "attention"):
        return True
    return node.kind == "mul" and len(graph.data_preds(node)) >= 2


_SCALAR_OPS = frozenset({"add", "sub", "neg", "mul", "div"})


def is_gate(graph: GraphView, node: OpNode) -> bool:
    """Is ``node``'s output used as a gate (multiplied with another tensor soon after)?"""
    frontier = list(graph.succs(node))
    seen: set[int] = set()
    steps = 0
    while frontier and steps < 8:
        n = frontier.pop()
        steps += 1
        if n.index in seen:
            continue
        seen.add(n.index)
        single_input = len(graph.data_preds(n)) < 2
        if n.kind == "mul" and not single_input:
            return True
        # Look through shifts and scalings by constants: 0.5 * x * (1 + tanh(...)) is a gate.
        if n.kind in ops.PASS_THROUGH or (n.kind in _SCALAR_OPS and single_input):
            frontier.extend(graph.succs(n))
    return False


def output_activations(graph: GraphView) -> tuple[list[tuple[OpNode, str]], bool]:
    """The activations the model's outputs end in, and whether some output is raw (logits).

    Returns ``[(node, kind)]`` where kind is "softmax", "log_softmax" (``torch.log`` of a
    softmax counts) or "sigmoid", looking back through reshapes, dropout and casts; and True
    when another output ends in a bare Linear/Conv (then the loss likely takes that one).
    """
    found: list[tuple[OpNode, str]] = []
    raw = False
    for out in graph.outputs:
        ends = [out] if out.kind not in OUTPUT_PASS_THROUGH else graph.walk_backward(out, OUTPUT_PASS_THROUGH)
        for end in ends:
            kind = end.kind
            if kind == "log":
                inner = graph.walk_backward(end, OUTPUT_PASS_THROUGH)
                if inner and inner[0].kind == "softmax":
                    found.append((end, "log_softmax"))
                continue
            if kind in ("softmax", "log_softmax", "sigmoid"):
                found.append((end, kind))
            elif kind in ops.AFFINE:
                raw = True
    return found, raw


def output_ends(graph: GraphView) -> list[OpNode]:
    """The ops the model's outputs end in, looking back through reshapes, dropout and casts."""
    ends: list[OpNode] = []
    for out in graph.outputs:
        ends += [out] if out.kind not in OUTPUT_PASS_THROUGH else graph.walk_backward(out, OUTPUT_PASS_THROUGH)
    return ends


__all__ = [
    "OUTPUT_PASS_THROUGH", "SIGNAL_PASS_THROUGH", "feeds_weight_layer", "followers", "is_gate", "is_residual_branch_end",
    "is_weighting", "only_gates", "output_activations", "output_ends", "plain_layers_after", "residual_branch_nodes",
    "weight_layers_after",
]

"""GraphView: the dataflow graph rules query, independent of torch.fx.

A GraphView is a list of :class:`OpNode` in topological (forward) order. Each node has a
unified op *kind* (see :mod:`actlint.graph.ops`), the module it calls or runs inside, a source
location in the user's file, its tensor inputs and users, and shape metadata when example
inputs are known. Derived analyses (weight depth, skip connections) are computed once,
lazily, in a single linear walk each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Iterator, Sequence

import torch.nn as nn
from torch.nn.parameter import is_lazy

from actlint.graph import ops
from actlint.core.location import SourceLocation
from actlint.loader.provenance import module_construction_site


#: Trace methods whose GraphView has dataflow edges (``modules``, the module tree, has none).
DATAFLOW_METHODS = frozenset({"fx", "fx-partial", "executed"})


@dataclass(frozen=True)
class NodeRef:
    """A reference to another node inside an :class:`OpNode`'s args/kwargs."""

    index: int


@dataclass(eq=False)
class OpNode:
    """One operation of the model's forward pass."""

    index: int
    name: str  # the fx node name (unique)
    op: str  # fx opcode: placeholder, call_module, call_function, call_method, get_attr, output
    kind: str  # unified op kind ("linear", "softmax", ...); "unknown" when no table entry matched
    target: str  # readable target: module path, function qualname, or method name
    module_path: str | None = None  # the called module's path (call_module), else the enclosing module
    module: nn.Module | None = None  # the called module (call_module only)
    args: tuple[Any, ...] = ()  # with NodeRef in place of other nodes
    kwargs: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[int, ...] = ()  # indices of the nodes this one reads (data and parameters)
    users: list[int] = field(default_factory=list)
    location: SourceLocation | None = None
    shape: tuple[int, ...] | None = None  # output shape, when known
    dtype: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # analysis passes annotate here

    @property
    def is_weight_layer(self) -> bool:
        return self.kind in ops.WEIGHT_LAYERS

    def arg(self, position: int, name: str, default: Any = None) -> Any:
        """An argument by keyword or position (for functions and methods)."""
        if name in self.kwargs:
            return self.kwargs[name]
        if position < len(self.args):
            return self.args[position]
        return default

    def describe(self) -> str:
        """Short human name: the module path for layers, else the kind and node name."""
        if self.op == "call_module" and self.module_path:
            if self.module is not None:
                return f"{self.module_path} ({type(self.module).__name__})"
            return self.module_path
        return f"{self.target} ({self.name})" if self.target != self.name else self.name

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"OpNode({self.index}, {self.name!r}, kind={self.kind!r}, module={self.module_path!r})"


class GraphView:
    """The model's forward dataflow, as rules see it.

    ``trace_method`` names how it was built: ``"fx"`` (torch.fx, the full dataflow),
    ``"fx-partial"`` (fx with submodules it could not trace as opaque layers),
    ``"executed"`` (one real forward pass recorded op by op) or ``"modules"`` (no
    tracing method worked: nodes are the leaf modules in definition order, with no edges,
    and rules that need dataflow are skipped; ``has_dataflow`` is False).
    """

    def __init__(
        self,
        nodes: Sequence[OpNode],
        model: nn.Module,
        *,
        trace_method: str = "fx",
        notes: Iterable[str] = (),
        has_shapes: bool = False,
    ) -> None:
        self.nodes: list[OpNode] = list(nodes)
        self.model = model
        self.trace_method = trace_method
        self.notes: list[str] = list(notes)
        self.has_shapes = has_shapes
        # Meta tensors (a model too large for memory) have shapes but no values.
        self.has_weights = not any(t.is_meta for t in model.parameters())
        self._by_name = {n.name: n for n in self.nodes}

    # --- basic queries ---------------------------------------------------------------

    @property
    def has_dataflow(self) -> bool:
        """True for every method that recorded edges (fx, fx-partial, executed), not the module tree."""
        return self.trace_method in DATAFLOW_METHODS

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[OpNode]:
        return iter(self.nodes)

    def node(self, name: str) -> OpNode:
        return self._by_name[name]

    def preds(self, node: OpNode) -> list[OpNode]:
        """Nodes whose outputs this node reads (data inputs first, in argument order)."""
        return [self.nodes[i] for i in node.inputs]

    def data_preds(self, node: OpNode) -> list[OpNode]:
        """Predecessors that carry tensor data (not parameters, sizes or constants)."""
        return [p for p in self.preds(node) if p.kind not in ops.NON_TENSOR or p.kind == "input"]

    def succs(self, node: OpNode) -> list[OpNode]:
        return [self.nodes[i] for i in node.users]

    def of_kind(self, *kinds: str | Iterable[str]) -> list[OpNode]:
        """Nodes whose kind is one of ``kinds`` (strings or kind groups)."""
        wanted: set[str] = set()
        for k in kinds:
            wanted.update([k] if isinstance(k, str) else k)
        return [n for n in self.nodes if n.kind in wanted]

    def has_kind(self, *kinds: str | Iterable[str]) -> bool:
        return bool(self.of_kind(*kinds))

    @cached_property
    def placeholders(self) -> list[OpNode]:
        return [n for n in self.nodes if n.op == "placeholder"]

    @cached_property
    def output_node(self) -> OpNode | None:
        for n in reversed(self.nodes):
            if n.op == "output":
                return n
        return None

    @cached_property
    def outputs(self) -> list[OpNode]:
        """The nodes whose values the model returns."""
        out = self.output_node
        return self.preds(out) if out is not None else []

    @cached_property
    def modules(self) -> dict[str, nn.Module]:
        return dict(self.model.named_modules())

    @cached_property
    def unknown_targets(self) -> list[str]:
        """Targets the op table does not know (reported, never silently guessed)."""
        return sorted({n.target for n in self.nodes if n.kind == "unknown"})

    # --- walks -----------------------------------------------------------------------

    def walk_forward(self, node: OpNode, through: Iterable[str]) -> list[OpNode]:
        """First nodes downstream of ``node`` whose kind is not in ``through``.

        Nodes whose kind is in ``through`` (e.g. reshapes, dropout) are looked through.
        """
        return self._walk(node, set(through), forward=True)

    def walk_backward(self, node: OpNode, through: Iterable[str]) -> list[OpNode]:
        """First data nodes upstream of ``node`` whose kind is not in ``through``."""
        return self._walk(node, set(through), forward=False)

    def _walk(self, start: OpNode, through: set[str], *, forward: bool) -> list[OpNode]:
        found: list[OpNode] = []
        seen = {start.index}
        stack = list(self.succs(start) if forward else self.data_preds(start))
        while stack:
            n = stack.pop()
            if n.index in seen:
                continue
            seen.add(n.index)
            if n.kind in through:
                stack.extend(self.succs(n) if forward else self.data_preds(n))
            else:
                found.append(n)
        found.sort(key=lambda n: n.index)
        return found

    # --- derived analyses (one linear walk each, cached) -----------------------------

    @cached_property
    def weight_depth(self) -> list[int]:
        """For each node, the most weight layers on any path from an input up to and including it."""
        depth = [0] * len(self.nodes)
        for n in self.nodes:
            best = max((depth[i] for i in n.inputs), default=0)
            depth[n.index] = best + (1 if n.is_weight_layer else 0)
        return depth

    @cached_property
    def skip_connections(self) -> set[int]:
        """Merge nodes (add/cat) whose inputs arrive through different numbers of weight layers.

        A residual ``x + f(x)`` or a DenseNet concatenation gives gradients a shorter route
        to the earlier layers; that shorter route is what makes deep networks trainable.
        """
        depth = self.weight_depth
        skips: set[int] = set()
        for n in self.nodes:
            if n.kind not in ops.MERGE:
                continue
            tensor_inputs = self.data_preds(n)
            depths = {depth[p.index] for p in tensor_inputs}
            if len(tensor_inputs) >= 2 and len(depths) >= 2:
                skips.add(n.index)
            elif n.kind == "cat" and any(self._carries_skip(p, skips) for p in tensor_inputs):
                # A slice residual: cat([x[:, :c] + shortcut, x[:, c:]]) (ReXNet) puts the
                # residual add back into the full tensor; the cat carries the skip onwards.
                skips.add(n.index)
        return skips

    def _carries_skip(self, node: OpNode, skips: set[int]) -> bool:
        """``node`` is a residual add, possibly seen through reshapes (nodes come in topological order)."""
        while node.index not in skips and node.kind in ops.RESHAPE:
            preds = self.data_preds(node)
            if len(preds) != 1:
                return False
            node = preds[0]
        return node.index in skips and node.kind in ("add", "sub")

    @cached_property
    def plain_depth(self) -> list[int]:
        """Weight layers on the longest path ending at each node since the last skip connection."""
        skips = self.skip_connections
        depth = [0] * len(self.nodes)
        for n in self.nodes:
            if n.index in skips or n.kind in ops.SELF_NORMALIZED_BLOCKS:
                depth[n.index] = 0
                continue
            best = max((depth[i] for i in n.inputs), default=0)
            depth[n.index] = best + (1 if n.is_weight_layer else 0)
        return depth

    @cached_property
    def longest_weight_path(self) -> list[OpNode]:
        """The weight layers on one longest input-to-output path (by weight-layer count)."""
        if not self.nodes:
            return []
        depth = self.weight_depth
        end = max(self.nodes, key=lambda n: (depth[n.index], -n.index))
        path: list[OpNode] = []
        node: OpNode | None = end
        while node is not None:
            if node.is_weight_layer:
                path.append(node)
            preds = self.preds(node)
            node = max(preds, key=lambda p: depth[p.index]) if preds else None
        path.reverse()
        return path

    @cached_property
    def has_normalization(self) -> bool:
        """True when the model normalises activations anywhere.

        Counts normalization ops and also hand-written normalization modules (a class whose
        name contains ``Norm``, such as a custom RMSNorm traced through by fx).
        """
        if self.has_kind(ops.NORMALIZATION, ops.SELF_NORMALIZED_BLOCKS):
            return True
        return any("Norm" in type(m).__name__ for m in self.modules.values())

    @cached_property
    def is_recurrent(self) -> bool:
        return self.has_kind(ops.RECURRENT)

    def location_of_module(self, path: str) -> SourceLocation | None:
        """Where the module at ``path`` is applied (first call) or, failing that, constructed."""
        for n in self.nodes:
            if n.op == "call_module" and n.module_path == path and n.location is not None:
                return n.location
        module = self.modules.get(path)
        return module_construction_site(module) if module is not None else None


def parameter_count(parameters: Iterable[nn.Parameter]) -> int:
    """Number of elements, skipping uninitialised lazy parameters (their size is unknown)."""
    return sum(p.numel() for p in parameters if not is_lazy(p))

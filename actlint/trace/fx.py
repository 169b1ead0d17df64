"""torch.fx tracing into a :class:`~actlint.graph.view.GraphView` (methods ``fx`` and ``fx-partial``).

1. Symbolic tracing with stack traces recorded; torch.nn built-in layers are leaves.
2. If a user submodule cannot be traced (data-dependent control flow, ...), that submodule
   becomes an opaque leaf and tracing is retried; the GraphView notes which modules are opaque.
3. If the top-level forward itself cannot be traced, the GraphView falls back to the
   module tree (leaf modules, no dataflow) and rules needing dataflow are skipped.

Shapes come from propagating fake tensors (no real compute) when example inputs are known.
"""

from __future__ import annotations

import contextlib
import inspect
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
import torch.fx as fx
import torch.nn as nn

from actlint.graph import ops
from actlint.loader.build import model_bytes
from actlint.core.errors import one_line
from actlint.graph.view import GraphView, NodeRef, OpNode
from actlint.trace.modules import module_tree_view
from actlint.trace.sites import innermost_site, locate
from actlint.sandbox.preserved import preserved, quiet_torch_logs

_MAX_OPAQUE_RETRIES = 25


@dataclass
class TraceResult:
    """The GraphView plus what the probe may reuse (the fx GraphModule, when tracing worked)."""

    graph: GraphView
    graph_module: fx.GraphModule | None
    error: str | None = None  # why full tracing failed, when it did


class _Tracer(fx.Tracer):
    """fx tracer that records, for each node, the innermost frame in the user's file.

    Cheaper than ``record_stack_traces`` (which formats whole stacks and reads every
    torch source file through linecache) and exact: the column comes from the bytecode's
    position table, not from searching text.
    """

    def __init__(self, opaque: set[nn.Module], user_path: str | None) -> None:
        super().__init__()
        self._opaque = opaque
        self._user_path = user_path

    def create_node(self, *args: Any, **kwargs: Any) -> fx.Node:
        node = super().create_node(*args, **kwargs)
        if self._user_path is not None:
            site = innermost_site(self._user_path)
            if site is not None:
                node.meta["actlint_site"] = site
        return node

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if m in self._opaque:
            return True
        return super().is_leaf_module(m, module_qualified_name)


def trace_model(
    model: nn.Module,
    *,
    user_file: str | Path | None = None,
    example_inputs: Sequence[Any] | None = None,
    table: ops.OpTable = ops.DEFAULT_TABLE,
) -> TraceResult:
    """Trace ``model``; never raises for an untraceable model (falls back instead)."""
    user_path = str(Path(user_file).resolve()) if user_file else None
    opaque: set[nn.Module] = set()
    notes: list[str] = []
    last_error: str | None = None
    for _ in range(_MAX_OPAQUE_RETRIES):
        tracer = _Tracer(opaque, user_path)
        try:
            # A forward that assigns to its module (``self.attn_mask = ...``) would leave a
            # Proxy in the user's model: what it changed is restored before the GraphModule
            # copies its attributes, and fx's own tensor constants are removed once it has.
            with preserved(model):
                with preserved(model, remove_added=False):
                    fx_graph = tracer.trace(model, concrete_args=none_arguments(model))
                gm = fx.GraphModule(tracer.root, fx_graph)
        except Exception as exc:  # noqa: BLE001 - any tracing failure means "fall back"
            last_error = one_line(exc)
            culprit = _failing_submodule(exc, model)
            if culprit is None or culprit is model or culprit in opaque:
                break
            opaque.add(culprit)
            continue
        if opaque:
            paths = sorted(p for p, m in model.named_modules() if m in opaque)
            notes.append(
                "trace fx-partial: fx could not trace inside "
                + ", ".join(paths)
                + f" ({last_error}); analysed as opaque layers"
            )
        view = _build_view(gm, model, fx_graph, user_path, table, notes)
        if opaque:
            view.trace_method = "fx-partial"
        if example_inputs is not None:
            propagate_shapes(gm, view, example_inputs)
        return TraceResult(view, gm, None)
    notes.append(f"trace modules: fx could not trace the model ({last_error}); fell back to the module tree")
    return TraceResult(module_tree_view(model, table, notes), None, last_error)


def none_arguments(model: nn.Module) -> dict[str, Any] | None:
    """``forward``'s optional ``None`` parameters, traced as the constant ``None``.

    actlint calls the model with its required inputs only, so ``mask=None`` is None. As a
    Proxy, ``if mask is None:`` would take the other branch and fx would record a model
    that never runs (timm's Hiera without its classifier head). A forward whose parameters
    all have defaults (``forward(input_ids=None, ...)``) keeps its first one as the input.
    """
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return None  # fx cannot bind concrete arguments around *args/**kwargs
    optional = [p for p in positional if p.default is not inspect.Parameter.empty]
    if len(optional) == len(positional):
        optional = optional[1:]
    concrete = {p.name: None for p in optional if p.default is None}
    return concrete or None


def _failing_submodule(exc: BaseException, root: nn.Module) -> nn.Module | None:
    """The innermost module of ``root`` whose forward was running when tracing failed."""
    members = {id(m): m for m in root.modules()}
    culprit = None
    tb = exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("self")
        if isinstance(candidate, nn.Module) and id(candidate) in members and tb.tb_frame.f_code.co_name == "forward":
            culprit = candidate
        tb = tb.tb_next
    return culprit


def _target_name(node: fx.Node) -> str:
    t = node.target
    if isinstance(t, str):
        return t
    module = getattr(t, "__module__", None) or ""
    name = getattr(t, "__qualname__", None) or getattr(t, "__name__", None) or repr(t)
    if module in ("_operator", "operator"):
        return f"operator.{name}"
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    if module.startswith("torch") or isinstance(t, types.BuiltinFunctionType):
        return f"torch.{getattr(t, '__name__', name)}"
    return f"{module}.{name}" if module else name


def _build_view(
    gm: fx.GraphModule,
    model: nn.Module,
    fx_graph: fx.Graph,
    user_path: str | None,
    table: ops.OpTable,
    notes: list[str],
) -> GraphView:
    index_of: dict[fx.Node, int] = {}
    nodes: list[OpNode] = []
    for i, n in enumerate(fx_graph.nodes):
        index_of[n] = i
        module: nn.Module | None = None
        module_path: str | None = None
        if n.op == "placeholder":
            kind = "input"
        elif n.op == "output":
            kind = "output"
        elif n.op == "get_attr":
            kind = "param"
        elif n.op == "call_module":
            module = model.get_submodule(str(n.target))
            module_path = str(n.target)
            kind = table.module_kind(module) or "unknown"
        elif n.op == "call_function":
            kind = table.function_kind(n.target) or "unknown"
        else:  # call_method
            kind = table.method_kind(str(n.target)) or "unknown"
        if module_path is None:
            stack = n.meta.get("nn_module_stack")
            if stack:
                module_path = list(stack.keys())[-1] or None

        def to_ref(a: Any) -> Any:
            return NodeRef(index_of[a]) if isinstance(a, fx.Node) else a

        args = tuple(fx.node.map_aggregate(n.args, to_ref))
        kwargs = dict(fx.node.map_aggregate(dict(n.kwargs), to_ref))
        inputs = tuple(dict.fromkeys(index_of[a] for a in n.all_input_nodes))
        node = OpNode(
            index=i,
            name=n.name,
            op=n.op,
            kind=kind,
            target=_target_name(n),
            module_path=module_path,
            module=module,
            args=args,
            kwargs=kwargs,
            inputs=inputs,
        )
        node.location = locate(node, n.meta.get("actlint_site"), user_path, raw_target=n.target)
        nodes.append(node)
    _follow_slice_writes(nodes)
    for node in nodes:
        for i in node.inputs:
            nodes[i].users.append(node.index)
    return GraphView(nodes, model, trace_method="fx", notes=notes)


def _follow_slice_writes(nodes: list[OpNode]) -> None:
    """Make later reads of ``x`` read what ``x[idx] = v`` wrote (fx keeps reading the old node).

    ``x[:, :c] += shortcut`` (ReXNet's residual) traces as ``v = getitem(x) + shortcut;
    setitem(x, idx, v)``, and every later op still points at ``x``, so the residual add
    would hang off the graph. Pointing later reads at ``v`` puts the add (a skip
    connection) back on the path; ``v`` itself depends on ``x`` through the getitem.
    """
    written: dict[int, int] = {}  # node index -> the node whose value now stands for it
    for node in nodes:
        if written:
            def remap(value: Any) -> Any:
                if isinstance(value, NodeRef) and value.index in written:
                    return NodeRef(written[value.index])
                return value

            node.args = tuple(fx.node.map_aggregate(node.args, remap))
            node.kwargs = dict(fx.node.map_aggregate(node.kwargs, remap))
            node.inputs = tuple(dict.fromkeys(written.get(i, i) for i in node.inputs))
        if node.target == "operator.setitem" and len(node.args) >= 3:
            target, value = node.args[0], node.args[2]
            if isinstance(target, NodeRef) and isinstance(value, NodeRef):
                written[target.index] = value.index


_SHAPE_PRESERVING = (ops.NORMALIZATION | ops.DROPOUT | ops.ACTIVATIONS) - {"glu"}
#: Models below this size get their shapes from one real no-grad forward pass: for them it
#: is faster than the meta device, whose first use imports torch._dynamo (~1.3 s).
REAL_SHAPE_PASS_MAX_BYTES = 512 * 1024**2


class _ShapeRecorder(fx.Interpreter):
    """Runs the traced graph and records each node's output shape and dtype in node.meta."""

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        if isinstance(result, torch.Tensor):
            n.meta["actlint_shape"] = (tuple(int(d) for d in result.shape), result.dtype)
        return result


class _MetaShapeRecorder(_ShapeRecorder):
    """The same on the meta device: shapes only, no data, no compute, no memory.

    Parameters and buffers are swapped for meta copies per call, so nothing the user owns
    is touched (BatchNorm's running stats update meta tensors, not real ones).
    """

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        module = self.fetch_attr(target)
        if ops.DEFAULT_TABLE.module_kind(module) in _SHAPE_PRESERVING and args and isinstance(args[0], torch.Tensor):
            # Norms, dropout and elementwise activations keep the input's shape.
            return args[0]
        state = {name: to_meta(t) for name, t in module.named_parameters()}
        state.update({name: to_meta(t) for name, t in module.named_buffers()})
        return torch.func.functional_call(module, state, args, kwargs)

    def get_attr(self, target: Any, args: Any, kwargs: Any) -> Any:
        return to_meta(super().get_attr(target, args, kwargs))


def to_meta(value: Any) -> Any:
    """A tensor's meta twin (same shape and dtype, no storage); anything else unchanged."""
    if isinstance(value, torch.Tensor) and not value.is_meta:
        return torch.empty_like(value, device="meta")
    return value


@contextlib.contextmanager
def _real_pass(model: nn.Module) -> Iterator[None]:
    """One real forward without autograd, in eval mode, the model restored afterwards.

    eval(): shapes do not depend on the mode, and batch statistics of tiny inputs can fail.
    """
    with torch.no_grad(), preserved(model):
        model.eval()
        yield


def _record_shapes(gm: fx.GraphModule, model: nn.Module, example_inputs: Sequence[Any]) -> None:
    for fx_node in gm.graph.nodes:
        fx_node.meta.pop("actlint_shape", None)
    if runs_for_real(model):
        with _real_pass(model):
            _ShapeRecorder(gm).run(*example_inputs)
    else:
        with torch.no_grad(), quiet_torch_logs():
            _MetaShapeRecorder(gm).run(*(to_meta(x) for x in example_inputs))


def forward_error(model: nn.Module, example_inputs: Sequence[Any]) -> str | None:
    """Run ``model`` once for real (no grad, eval, restored); the one-line error if it raises.

    For models that could not be traced: shape propagation is what runs the forward
    otherwise. Models too big for a real pass are not run (None: nothing to report).
    """
    if not runs_for_real(model):
        return None
    try:
        with _real_pass(model):
            model(*example_inputs)
    except Exception as exc:  # noqa: BLE001 - the caller decides whether this is fatal
        return one_line(exc)
    return None


def runs_for_real(model: nn.Module) -> bool:
    """True when shape propagation runs the real model (not the meta device)."""
    return model_bytes(model) <= REAL_SHAPE_PASS_MAX_BYTES


def propagate_shapes(
    gm: fx.GraphModule, view: GraphView, example_inputs: Sequence[Any], *, note_failure: bool = True
) -> str | None:
    """Annotate each node's output shape and dtype by running the traced graph once.

    Small models run for real under no_grad (the model is restored afterwards); large ones
    run on the meta device, without memory or compute. Returns None on success, else the
    one-line error (noted in the view when ``note_failure``).
    """
    try:
        _record_shapes(gm, view.model, example_inputs)
    except Exception as exc:  # noqa: BLE001 - shapes are optional metadata
        error = one_line(exc)
        if note_failure:
            view.notes.append(f"shape propagation failed ({error}); shape-based checks skipped")
        return error
    for node, fx_node in zip(view.nodes, gm.graph.nodes):
        recorded = fx_node.meta.get("actlint_shape")
        if recorded is not None:
            node.shape = recorded[0]
            node.dtype = str(recorded[1]).replace("torch.", "")
    view.has_shapes = True
    return None


__all__ = ["TraceResult", "trace_model", "module_tree_view", "propagate_shapes", "forward_error", "to_meta"]

"""The ``executed`` trace: one real forward pass recorded into the same GraphView fx fills.

For forwards torch.fx cannot trace (Python control flow on sizes or values, asserts,
``len()`` of a tensor, einops, third-party layers, HuggingFace models), the model simply
runs once on the example inputs while a recorder watches:

* a ``TorchFunctionMode`` sees every torch function, ``torch.nn.functional`` call and
  Tensor method the user's code calls (``x + y`` arrives as ``Tensor.__add__`` and is
  recorded as ``operator.add``, as fx records it);
* forward pre/post hooks on every module of the model mark where each module starts and
  ends: torch.nn's built-in layers are leaves (one ``call_module`` node, nothing recorded
  inside, as fx does), other modules only name the enclosing module of the ops inside;
* every tensor that comes out remembers the node that made it, so edges follow tensor
  identity; an in-place op on a view (``x[:, :c] += shortcut``) also updates the tensor
  it views, so slice residuals are edges too;
* each node keeps the innermost frame of the user's file that called it (the same
  call sites fx nodes get) and the real output shape and dtype.

The pass runs in the model's current train/eval mode (what fx would see), without
autograd, and the model is restored afterwards (buffers, modes). Ops whose results hold
no tensor (``x.size()``, ``x.shape``, ``bool(t)``) carry no dataflow and are not nodes.

Evaluated against torchlens 2.36 and torchview 0.2.7 as dependencies, on a 12-layer GPT
(bench/bench_trace.py times them when installed): torchlens took 19x a plain forward pass,
torchview 1.5x but records no user-file call sites and builds graphviz objects; this
recorder takes about 1.4x and keeps call sites, so actlint has its own.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from actlint.graph import ops
from actlint.graph.view import GraphView, NodeRef, OpNode
from actlint.sandbox.preserved import preserved
from actlint.trace.sites import CallSite, innermost_site, locate

#: Tensor magic methods and the operator fx records for them (reflected ones swap operands).
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "__add__": (operator.add, False), "__radd__": (operator.add, True), "__iadd__": (operator.iadd, False),
    "__sub__": (operator.sub, False), "__rsub__": (operator.sub, True), "__isub__": (operator.isub, False),
    "__mul__": (operator.mul, False), "__rmul__": (operator.mul, True), "__imul__": (operator.imul, False),
    "__truediv__": (operator.truediv, False), "__rtruediv__": (operator.truediv, True),
    "__itruediv__": (operator.itruediv, False), "__floordiv__": (operator.floordiv, False),
    "__matmul__": (operator.matmul, False), "__rmatmul__": (operator.matmul, True),
    "__pow__": (operator.pow, False), "__rpow__": (operator.pow, True), "__neg__": (operator.neg, False),
    "__getitem__": (operator.getitem, False), "__setitem__": (operator.setitem, False),
    "__mod__": (operator.mod, False), "__gt__": (operator.gt, False), "__lt__": (operator.lt, False),
    "__ge__": (operator.ge, False), "__le__": (operator.le, False), "__eq__": (operator.eq, False),
    "__ne__": (operator.ne, False), "__and__": (operator.and_, False), "__or__": (operator.or_, False),
    "__invert__": (operator.invert, False), "__abs__": (operator.abs, False),
}
#: Calls that only read metadata or convert to Python values: never dataflow.
_METADATA = {"size", "dim", "numel", "shape", "dtype", "device", "is_contiguous", "item", "tolist", "__bool__",
             "__len__", "__index__", "__int__", "__float__", "__format__", "__repr__", "data_ptr", "stride",
             "element_size", "requires_grad", "is_floating_point", "__hash__", "__iter__", "__contains__",
             "ndim", "is_cuda", "layout", "names", "get_device", "storage_offset", "nelement", "grad_fn",
             "__get__"}


def _is_leaf(module: nn.Module) -> bool:
    """fx's default leaves: torch.nn's own layers (containers are not)."""
    return (module.__module__.startswith(("torch.nn", "torch.ao.nn"))
            and not isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)))


def _tensors(value: Any) -> list[torch.Tensor]:
    leaves, _ = tree_flatten(value)
    return [v for v in leaves if isinstance(v, torch.Tensor)]


class CallRecorder(TorchFunctionMode):
    """Builds OpNodes while the forward pass runs (see the module docstring)."""

    def __init__(self, model: nn.Module, user_path: str | None, table: ops.OpTable) -> None:
        super().__init__()
        self.model = model
        self.user_path = user_path
        self.table = table
        self.nodes: list[OpNode] = []
        self.sites: list[CallSite | None] = []
        self.raw_targets: list[Any] = []
        self.producer: dict[int, int] = {}  # id(tensor) -> node index
        self.keep: list[torch.Tensor] = []  # tensors stay alive so their ids are never reused
        self.names: dict[str, int] = {}
        self.module_paths = {id(m): path for path, m in model.named_modules()}
        self.param_names = {id(p): name for name, p in model.named_parameters(remove_duplicate=False)}
        self.param_names.update({id(b): name for name, b in model.named_buffers(remove_duplicate=False)})
        self.stack: list[str] = []  # paths of the modules whose forward is running
        self.inside_leaf = 0
        self.leaf_calls: list[tuple[nn.Module, tuple, dict, CallSite | None]] = []

    # --- nodes ---------------------------------------------------------------------

    def _unique(self, base: str) -> str:
        base = base.replace(".", "_").strip("_") or "op"
        count = self.names.get(base, 0)
        self.names[base] = count + 1
        return base if count == 0 else f"{base}_{count}"

    def _ref(self, value: Any) -> Any:
        """A tensor argument becomes a NodeRef to its producer (parameters get a get_attr node)."""
        if not isinstance(value, torch.Tensor):
            return value
        index = self.producer.get(id(value))
        if index is None:
            name = self.param_names.get(id(value))
            if name is None:
                return value  # a tensor from outside the model: a constant
            index = self._add("get_attr", "param", name, raw=name, module_path=name.rpartition(".")[0] or None)
            self._produced(value, index)
        return NodeRef(index)

    def _map(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            mapped = [self._map(v) for v in value]
            return type(value)(mapped) if not hasattr(value, "_fields") else type(value)(*mapped)
        if isinstance(value, dict):
            return {k: self._map(v) for k, v in value.items()}
        if isinstance(value, slice):
            return slice(self._map(value.start), self._map(value.stop), self._map(value.step))
        return self._ref(value)

    def _add(self, op: str, kind: str, target: str, *, raw: Any = None, args: tuple = (), kwargs: dict | None = None,
             module: nn.Module | None = None, module_path: str | None = None, site: CallSite | None = None) -> int:
        index = len(self.nodes)
        kwargs = kwargs or {}
        inputs = tuple(dict.fromkeys(r.index for r in _refs((args, kwargs))))
        node = OpNode(index=index, name=self._unique(target if op != "call_module" else target),
                      op=op, kind=kind, target=target, module_path=module_path, module=module,
                      args=args, kwargs=kwargs, inputs=inputs)
        for i in inputs:
            self.nodes[i].users.append(index)
        self.nodes.append(node)
        self.sites.append(site)
        self.raw_targets.append(raw)
        return index

    def _produced(self, tensor: torch.Tensor, index: int) -> None:
        self.producer[id(tensor)] = index
        self.keep.append(tensor)

    def _outputs(self, result: Any, index: int, *, in_place: bool = False) -> None:
        node = self.nodes[index]
        tensors = _tensors(result)
        for t in tensors:
            self._produced(t, index)
            base = t._base if in_place else None
            if base is not None and id(base) in self.producer:
                self.producer[id(base)] = index  # x[:, :c] += y changes x too
        if tensors:
            node.shape = tuple(int(d) for d in tensors[0].shape)
            node.dtype = str(tensors[0].dtype).replace("torch.", "")

    def _site(self) -> CallSite | None:
        return innermost_site(self.user_path, depth=3) if self.user_path else None

    # --- inputs, calls, outputs --------------------------------------------------------

    def add_inputs(self, names: Sequence[str], values: Sequence[Any]) -> None:
        for name, value in zip(names, values):
            index = self._add("placeholder", "input", name)
            self._outputs(value, index)

    def add_output(self, result: Any) -> None:
        self._add("output", "output", "output", args=(self._map(result),))

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if self.inside_leaf:
            return result
        name = getattr(func, "__name__", "")
        if name in _METADATA or not _tensors(result):
            return result
        site = self._site()
        module_path = self.stack[-1] if self.stack else None
        method = _tensor_method_name(func)
        if method in _OPERATORS:
            fn, swapped = _OPERATORS[method]
            call_args = tuple(reversed(args[:2])) + tuple(args[2:]) if swapped else tuple(args)
            kind = self.table.function_kind(fn) or "unknown"
            index = self._add("call_function", kind, f"operator.{fn.__name__}", raw=fn,
                              args=self._map(call_args), kwargs=self._map(kwargs),
                              module_path=module_path, site=site)
        elif method is not None:
            kind = self.table.method_kind(method) or "unknown"
            index = self._add("call_method", kind, method, raw=method, args=self._map(tuple(args)),
                              kwargs=self._map(kwargs), module_path=module_path, site=site)
        else:
            kind = self.table.function_kind(func) or "unknown"
            index = self._add("call_function", kind, _function_name(func), raw=func, args=self._map(tuple(args)),
                              kwargs=self._map(kwargs), module_path=module_path, site=site)
        in_place = bool(method) and (method.endswith("_") and not method.startswith("__")
                                     or method.startswith("__i") or method == "__setitem__")
        if method == "__setitem__" and args and isinstance(args[0], torch.Tensor):
            self._produced(args[0], index)  # x[idx] = y: later reads of x see the write
        self._outputs(result, index, in_place=in_place)
        return result

    # --- module hooks --------------------------------------------------------------------

    def pre_hook(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        path = self.module_paths.get(id(module))
        if path is None:
            return
        if self.inside_leaf:
            self.inside_leaf += 1
            return
        if path and _is_leaf(module):
            self.leaf_calls.append((module, args, kwargs, self._site()))
            self.inside_leaf = 1
            return
        self.stack.append(path)

    def post_hook(self, module: nn.Module, args: tuple, kwargs: dict, result: Any) -> None:
        path = self.module_paths.get(id(module))
        if path is None:
            return
        if self.inside_leaf:
            self.inside_leaf -= 1
            if self.inside_leaf:
                return
            called, call_args, call_kwargs, site = self.leaf_calls.pop()
            kind = self.table.module_kind(called) or "unknown"
            index = self._add("call_module", kind, path, args=self._map(tuple(call_args)),
                              kwargs=self._map(dict(call_kwargs)), module=called, module_path=path, site=site)
            self._outputs(result, index)
            return
        if self.stack and self.stack[-1] == path:
            self.stack.pop()


def _refs(value: Any) -> list[NodeRef]:
    if isinstance(value, NodeRef):
        return [value]
    if isinstance(value, (list, tuple)):
        return [r for v in value for r in _refs(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, slice):
        return _refs([value.start, value.stop, value.step])
    return []


def _tensor_method_name(func: Any) -> str | None:
    """``Tensor.view`` -> ``"view"``; None for functions (torch.relu, F.softmax)."""
    name = getattr(func, "__name__", None)
    if name is None:
        return None
    qualname = getattr(func, "__qualname__", "") or ""
    if qualname.startswith(("TensorBase.", "Tensor.", "_TensorBase.")):
        return name
    if getattr(torch.Tensor, name, None) is func:
        return name
    return None


def _function_name(func: Any) -> str:
    module = getattr(func, "__module__", None) or ""
    name = getattr(func, "__name__", None) or repr(func)
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    if module.startswith("torch") or not module:
        return f"torch.{name}"
    return f"{module}.{name}"


def _input_names(model: nn.Module, count: int, kw_names: Sequence[str]) -> list[str]:
    import inspect

    try:
        params = [p.name for p in inspect.signature(model.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = params[:count] + [f"input_{i}" for i in range(len(params), count)]
    return names + list(kw_names)


def trace_executed(
    model: nn.Module,
    inputs: Sequence[Any],
    *,
    kwargs: dict[str, Any] | None = None,
    user_file: str | Path | None = None,
    table: ops.OpTable = ops.DEFAULT_TABLE,
    notes: Sequence[str] = (),
) -> GraphView:
    """Run ``model(*inputs, **kwargs)`` once and return the recorded GraphView.

    Raises whatever the forward pass raises; the caller decides what a failure means.
    """
    user_path = str(Path(user_file).resolve()) if user_file else None
    kwargs = dict(kwargs or {})
    recorder = CallRecorder(model, user_path, table)
    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(recorder.pre_hook, with_kwargs=True))
        handles.append(module.register_forward_hook(recorder.post_hook, with_kwargs=True, always_call=True))
    recorder.add_inputs(_input_names(model, len(inputs), list(kwargs)), [*inputs, *kwargs.values()])
    try:
        with torch.no_grad(), preserved(model), recorder:
            result = model(*inputs, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    recorder.add_output(result)
    for node, site, raw in zip(recorder.nodes, recorder.sites, recorder.raw_targets):
        node.location = locate(node, site, user_path, raw_target=raw)
    return GraphView(recorder.nodes, model, trace_method="executed", notes=list(notes), has_shapes=True)


__all__ = ["trace_executed"]

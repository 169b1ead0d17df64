"""Example inputs for a model: from the user, from the file, or inferred from the first layer.

Resolution order (first that applies):

1. ``--input-shape 8,3,224,224`` (repeatable for several inputs) with ``--input-dtype``;
2. a module-level ``example_inputs()`` in the user's file returning a tensor or a tuple;
3. the model's ``example_input_array`` attribute (PyTorch Lightning's convention);
4. the inputs the file's own example calls the model with (``net(torch.randn(1, 3, 32, 32))``
   in the ``__main__`` block, ``main()``, a ``test_*`` function or a docstring), when they run;
5. inference from the first layer the input reaches (Linear, Conv1d/2d/3d, Embedding ->
   integer tokens, RNN/LSTM/GRU honouring ``batch_first``, norms), trying candidate sizes
   with fake tensors (no real compute) until the forward pass type-checks.

If nothing works, :class:`InputResolution` carries ``inputs=None`` and the reason plus the
flag that fixes it, so static rules still run and the probe reports itself as skipped.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import torch
import torch.nn as nn
from torch.nn.parameter import is_lazy

from actlint.graph import ops
from actlint.core.errors import UserError, one_line
from actlint.graph.view import GraphView, OpNode
from actlint.trace.input_hints import input_hints
from actlint.sandbox.preserved import preserved, quiet_torch_logs

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "float": torch.float32, "float64": torch.float64, "double": torch.float64,
    "float16": torch.float16, "half": torch.float16, "bfloat16": torch.bfloat16,
    "int64": torch.int64, "long": torch.int64, "int32": torch.int32, "int": torch.int32,
    "bool": torch.bool,
}

# Spatial sizes tried for conv inputs: 64 first (cheap and large enough for most CNNs),
# then the sizes fixed-resolution models (ViT 224, Inception 299, CIFAR 32, MNIST 28) need.
_SPATIAL_SIZES = (64, 224, 32, 28, 299, 128, 96, 256, 16, 48, 112, 8)
# Lengths a forward may reshape into (28: MNIST rows fed to an LSTM) come after the usual ones.
_SEQUENCE_LENGTHS = (16, 32, 64, 128, 8, 256, 512, 1, 28, 7, 14, 10, 20, 24, 50, 100)


#: Type-checks candidate inputs: returns (ok, one-line error).
ShapeCheck = Callable[[tuple[Any, ...]], tuple[bool, str]]


@dataclass(frozen=True)
class InputResolution:
    """The example inputs (or why there are none) and where they came from."""

    inputs: tuple[Any, ...] | None
    source: str  # "--input-shape", "example_inputs()", "example_input_array", "inferred", "none"
    note: str = ""  # how they were inferred, or why they could not be

    def describe(self) -> str:
        if self.inputs is None:
            return self.note
        shapes = ", ".join(_describe_value(x) for x in self.inputs)
        return f"{shapes} ({self.source}{': ' + self.note if self.note else ''})"


def _describe_value(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        dims = "x".join(str(d) for d in x.shape)
        return f"{str(x.dtype).replace('torch.', '')}[{dims}]"
    return type(x).__name__


def parse_shape(text: str) -> tuple[int, ...]:
    """``"8,3,224,224"`` (or ``8x3x224x224``) -> ``(8, 3, 224, 224)``; UserError when malformed."""
    compact = text.replace(" ", "")
    parts = compact.split(",") if "," in compact else compact.split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise UserError(f"--input-shape {text!r} is not a list of integers such as 8,3,224,224") from None
    if not shape or any(d <= 0 for d in shape):
        raise UserError(f"--input-shape {text!r} must list positive sizes such as 8,3,224,224")
    return shape


def parse_dtype(text: str) -> torch.dtype:
    try:
        return DTYPES[text.strip().lower()]
    except KeyError:
        raise UserError(f"--input-dtype {text!r} is not one of {', '.join(sorted(DTYPES))}") from None


def make_tensor(shape: Sequence[int], dtype: torch.dtype, *, high: int = 2) -> torch.Tensor:
    """A random example tensor; integer dtypes get values in ``[0, high)`` (valid token ids)."""
    if dtype.is_floating_point:
        return torch.randn(*shape, dtype=dtype)
    if dtype == torch.bool:
        return torch.ones(*shape, dtype=torch.bool)
    return torch.randint(0, max(1, high), tuple(shape), dtype=dtype)


def resolve_inputs(
    model: nn.Module,
    graph: GraphView | None,
    *,
    namespace: dict[str, Any],
    shapes: Sequence[tuple[int, ...]] = (),
    dtype: torch.dtype | None = None,
    batch_size: int = 8,
    check: ShapeCheck | None = None,
    given: tuple[Any, ...] | None = None,
    file_example: tuple[tuple[Any, ...], str] | None = None,
) -> InputResolution:
    """Find example inputs for ``model`` (see the module docstring for the order).

    ``given`` are inputs passed from Python (``actlint.lint(model, x)``): they come first.
    ``file_example`` are the inputs the file's own example calls the model with, and where
    (:mod:`actlint.loader.examples`); used after the model's ``example_input_array``
    when they type-check.

    ``check`` type-checks a candidate input (default: :func:`type_checks`); the pipeline
    passes one that propagates shapes through the traced graph at the same time.
    """
    if given:
        return _user_inputs(model, graph, tuple(given), "lint() arguments")
    if shapes:
        chosen = dtype or torch.float32
        high = _vocab_size(model, graph) if not chosen.is_floating_point else 2
        return InputResolution(tuple(make_tensor(s, chosen, high=high) for s in shapes), "--input-shape")
    factory = namespace.get("example_inputs")
    if callable(factory):
        try:
            value = factory()
        except Exception as exc:  # noqa: BLE001 - the user's helper failed
            raise UserError(f"example_inputs() raised {one_line(exc)}") from None
        return _user_inputs(model, graph, _as_tuple(value, "example_inputs()"), "example_inputs()")
    array = getattr(model, "example_input_array", None)
    if array is not None:
        return _user_inputs(model, graph, _as_tuple(array, "example_input_array"), "example_input_array")
    example_note = ""
    if file_example is not None:
        values, origin = file_example
        resolution = _user_inputs(model, graph, tuple(values), origin)
        ok, error = (check or (lambda c: type_checks(model, c)))(resolution.inputs)
        if ok:
            return resolution
        example_note = f"the inputs of {origin} did not run ({error}); "
    lazy = [name for name, p in model.named_parameters() if is_lazy(p)]
    if lazy:
        # Running the model, even on fake tensors, would materialise its lazy layers
        # (changing the user's model); ask for a model whose shapes are settled instead.
        return InputResolution(
            None, "none",
            f"not running the model: {lazy[0].rsplit('.', 1)[0]} is an uninitialised lazy layer; "
            f"run one batch through it in build_model() before returning it",
        )
    if graph is None:
        return InputResolution(None, "none", "no example inputs: the model could not be traced; pass --input-shape")
    inferred = infer_inputs(model, graph, batch_size=batch_size, check=check)
    return replace(inferred, note=example_note + inferred.note) if example_note else inferred


def _user_inputs(model: nn.Module, graph: GraphView | None, values: tuple[Any, ...], source: str) -> InputResolution:
    """Inputs the user gave; constant tensors (``torch.zeros(...)`` placeholders) give shape and dtype only.

    A LightningModule's ``example_input_array`` is often all zeros: run on it, every weight
    gradient of a first linear layer is zero and the probe would report parameters without
    gradient. Random values of the same shape and dtype measure the model instead.
    """
    replaced = 0
    out = []
    for value in values:
        # Only floating constants are placeholders: a boolean mask of zeros means "no padding"
        # and integer ids or lengths are data; randomising them would make a different input
        # (fully masked rows, NaN in the forward).
        if isinstance(value, torch.Tensor) and value.dtype.is_floating_point and value.numel() > 1 \
                and not value.is_meta and bool((value == value.reshape(-1)[0]).all()):
            value = make_tensor(tuple(value.shape), value.dtype).to(value.device)
            replaced += 1
        out.append(value)
    note = "constant floating values replaced by random ones of the same shape and dtype" if replaced else ""
    return InputResolution(tuple(out), source, note)


def _as_tuple(value: Any, what: str) -> tuple[Any, ...]:
    if isinstance(value, torch.Tensor):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(value)
    if isinstance(value, dict):
        raise UserError(f"{what} returned a dict; return a tuple of positional inputs")
    raise UserError(f"{what} returned {type(value).__name__}; return a tensor or a tuple of tensors")


def _vocab_size(model: nn.Module, graph: GraphView | None) -> int:
    sizes = [m.num_embeddings for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))]
    return min(sizes) if sizes else 2


def _required_placeholders(graph: GraphView) -> list[OpNode]:
    """forward() parameters without a default value."""
    return [p for p in graph.placeholders if not p.args and not str(p.target).startswith("*")]


def _forward_parameters(model: nn.Module) -> tuple[list[str], list[str]]:
    """(required, optional) positional parameter names of ``forward``."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return [], []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p.name for p in positional if p.default is inspect.Parameter.empty]
    optional = [p.name for p in positional if p.default is not inspect.Parameter.empty]
    return required, optional


_INTERESTING = ops.WEIGHT_LAYERS | ops.NORMALIZATION


def _root_layer(model: nn.Module) -> OpNode | None:
    """A bare layer used as the model (``model = nn.Linear(n, 1)``) is its own first layer."""
    kind = ops.DEFAULT_TABLE.module_kind(model)
    if kind in _INTERESTING:
        return OpNode(index=0, name="model", op="call_module", kind=kind, target="", module=model)
    return None


def _first_layer(graph: GraphView, start: OpNode | None) -> OpNode | None:
    """The first layer with a known input layout that the input reaches.

    Without dataflow (the module tree), the first such layer in definition order.
    """
    if root := _root_layer(graph.model):
        return root
    if start is None or not graph.has_dataflow:
        return next((n for n in graph.nodes if n.kind in _INTERESTING and n.module is not None), None)
    reached = graph.walk_forward(start, through=set(ops.RESHAPE | ops.DROPOUT | {"cast", "pad"}))
    for node in reached:
        if node.kind in _INTERESTING and node.module is not None:
            return node
    # The input may pass through other ops first (scaling, masking): follow the earliest path.
    frontier = sorted(reached, key=lambda n: n.index)
    seen = {n.index for n in frontier}
    while frontier:
        node = frontier.pop(0)
        if node.kind in _INTERESTING and node.module is not None:
            return node
        for s in graph.succs(node):
            if s.index not in seen:
                seen.add(s.index)
                frontier.append(s)
        frontier.sort(key=lambda n: n.index)
    return None


def _candidates(layer: OpNode, batch: int) -> tuple[list[Callable[[], torch.Tensor]], str]:
    """Candidate input builders for the first layer, most likely first, and a description."""
    m = layer.module
    floats = torch.float32
    cands: list[Callable[[], torch.Tensor]] = []
    if isinstance(m, (nn.Embedding, nn.EmbeddingBag)):
        vocab = m.num_embeddings
        for t in _SEQUENCE_LENGTHS:
            cands.append(lambda t=t: torch.randint(0, vocab, (batch, t)))
        for t in _SEQUENCE_LENGTHS[:8]:  # time-first language models (nn.LSTM without batch_first)
            cands.append(lambda t=t: torch.randint(0, vocab, (t, batch)))
        return cands, f"integer token ids below {vocab} for {type(m).__name__}({vocab}, ...)"
    if isinstance(m, (nn.RNNBase,)):
        features = m.input_size
        for t in _SEQUENCE_LENGTHS:
            shape = (batch, t, features) if m.batch_first else (t, batch, features)
            cands.append(lambda s=shape: torch.randn(*s))
        layout = "batch, time, features" if m.batch_first else "time, batch, features"
        return cands, f"({layout}) for {type(m).__name__}(input_size={features})"
    if isinstance(m, (nn.RNNCellBase,)):
        return [lambda: torch.randn(batch, m.input_size)], f"(batch, {m.input_size}) for {type(m).__name__}"
    if isinstance(m, nn.modules.conv._ConvNd):
        channels = m.in_channels
        dims = len(m.kernel_size)
        sizes = (16, 32, 8, 64) if dims == 3 else _SPATIAL_SIZES
        if isinstance(m, nn.modules.conv._ConvTransposeNd):
            # A transposed convolution first is a generator or decoder: it starts from a latent
            # code of 1x1 (DCGAN) or a small map, and upsamples it.
            sizes = (1, 4, 7, 8, 16, 32, 64)
        for s in sizes:
            shape = (batch, channels) + (s,) * dims
            cands.append(lambda shape=shape: torch.randn(*shape, dtype=floats))
        return cands, f"{dims}-d images with {channels} channels for {type(m).__name__}"
    if isinstance(m, (nn.Linear, nn.Bilinear)):
        features = m.in_features if isinstance(m, nn.Linear) else m.in1_features
        cands.append(lambda: torch.randn(batch, features))
        for t in _SEQUENCE_LENGTHS:
            cands.append(lambda t=t: torch.randn(batch, t, features))
        return cands, f"{features} features for {type(m).__name__}(in_features={features})"
    if isinstance(m, nn.MultiheadAttention):
        e = m.embed_dim
        for t in _SEQUENCE_LENGTHS:
            shape = (batch, t, e) if m.batch_first else (t, batch, e)
            cands.append(lambda s=shape: torch.randn(*s))
        return cands, f"sequences of {e}-d embeddings for MultiheadAttention"
    if isinstance(m, (nn.Transformer, nn.TransformerEncoder, nn.TransformerEncoderLayer)):
        layer0 = m if isinstance(m, nn.TransformerEncoderLayer) else next(
            (x for x in m.modules() if isinstance(x, nn.TransformerEncoderLayer)), None
        )
        if layer0 is not None:
            e = layer0.self_attn.embed_dim
            first = layer0.self_attn.batch_first
            for t in _SEQUENCE_LENGTHS:
                shape = (batch, t, e) if first else (t, batch, e)
                cands.append(lambda s=shape: torch.randn(*s))
            return cands, f"sequences of {e}-d embeddings for {type(m).__name__}"
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        c = m.num_features
        for shape in [(batch, c), (batch, c, 32), (batch, c, 64, 64), (batch, c, 32, 32), (batch, c, 16, 16, 16)]:
            cands.append(lambda s=shape: torch.randn(*s))
        return cands, f"{c} channels for {type(m).__name__}"
    if isinstance(m, nn.LayerNorm):
        tail = tuple(m.normalized_shape)
        cands.append(lambda: torch.randn(batch, *tail))
        for t in _SEQUENCE_LENGTHS:
            cands.append(lambda t=t: torch.randn(batch, t, *tail))
        return cands, f"inputs ending in {tail} for LayerNorm"
    return [], ""


def infer_inputs(
    model: nn.Module, graph: GraphView, *, batch_size: int = 8, check: ShapeCheck | None = None
) -> InputResolution:
    """Infer inputs from the first layer, type-checking candidates (see :func:`resolve_inputs`).

    Several required inputs each get a tensor like the first (a siamese ``forward(a, b)``),
    or a mask over its leading dimensions (``forward(x, mask)``); a last ``hidden``
    parameter is filled by the model's own ``init_hidden(batch_size)``; a forward whose
    parameters all have defaults (``forward(input_ids=None, ...)``) gets its first one.
    """
    if check is None:
        def check(candidate: tuple[Any, ...]) -> tuple[bool, str]:
            return type_checks(model, candidate)

    hint = "pass --input-shape (e.g. --input-shape 8,3,224,224) or define example_inputs() in the file"
    if graph.has_dataflow:
        placeholders = _required_placeholders(graph)
        required = [str(p.target) for p in placeholders]
        if not required and graph.placeholders and _root_layer(model) is None:
            placeholders = graph.placeholders[:1]  # forward(input_ids=None, ...): the first input alone
            required = [str(placeholders[0].target)]
        start = placeholders[0] if placeholders else None
    else:
        required, optional = _forward_parameters(model)
        if not required and optional:
            required = optional[:1]
        start = None
    hidden: tuple[Any, ...] = ()
    hidden_at = len(required)  # where the hidden state goes among forward's inputs
    init_hidden = getattr(model, "init_hidden", None)
    hidden_names = [i for i, name in enumerate(required) if "hid" in name.lower()]
    if len(required) >= 2 and callable(init_hidden) and hidden_names:
        # forward(x, hidden) or forward(hidden, x); init_hidden(batch) or init_hidden() with a batch of its own
        hidden_at = hidden_names[-1]
        takes_batch = _takes_argument(init_hidden)
        call = f"init_hidden({batch_size})" if takes_batch else "init_hidden()"
        try:
            hidden = (init_hidden(batch_size) if takes_batch else init_hidden(),)
        except Exception as exc:  # noqa: BLE001 - the user's helper failed
            return InputResolution(None, "none", f"cannot infer inputs: {call} raised {one_line(exc)}; {hint}")
        if not takes_batch:
            batch_size = _hidden_batch(hidden[0]) or batch_size
        hidden_name = required[hidden_at]
        required = required[:hidden_at] + required[hidden_at + 1:]
    if not required:
        return InputResolution(None, "none", f"cannot infer inputs: forward() takes no inputs actlint can make; {hint}")
    if len(required) > 4:
        return InputResolution(
            None, "none",
            f"cannot infer inputs: forward() takes {len(required)} required inputs; pass --input-shape "
            f"once per input or define example_inputs() in the file",
        )
    extra = required[1:]
    embeddings = [m.num_embeddings for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))]
    vocab = min(embeddings) if embeddings else None
    float_dtype = next((p.dtype for p in model.parameters() if p.is_floating_point() and not is_lazy(p)), None)

    def first_that_runs(builders: Sequence[Callable[[], torch.Tensor]], description: str) -> InputResolution | str:
        """The first candidate that type-checks, or the last error."""
        last_error = ""
        for build in builders:
            first = build()
            if first.is_floating_point() and float_dtype is not None and first.dtype != float_dtype:
                first = first.to(float_dtype)  # a model.double() or .half() gets inputs of its own dtype
            for others in _companions(first, extra, vocab):
                candidate = (first, *others)
                candidate = (*candidate[:hidden_at], *hidden, *candidate[hidden_at:])
                ok, error = check(candidate)
                if ok:
                    how = description
                    if extra and others and others[0].shape == first.shape:
                        how += f"; {', '.join(extra)} shaped like {required[0]}"
                    elif extra and others and any(_TIME_NAME.search(n) for n in extra) and others[0].dim() == 1:
                        how += f"; {', '.join(extra)} as one timestep per sample"
                    elif extra and others and others[0].dim() == 1 and not others[0].is_floating_point():
                        how += f"; {', '.join(extra)} as class labels below {vocab}"
                    elif extra:
                        how += f"; {', '.join(extra)} as masks"
                    if hidden:
                        how += f"; {hidden_name} from {call}"
                    return InputResolution(candidate, "inferred", how)
                last_error = error
        return last_error

    # What the model says it takes (library metadata, size hyperparameters, patching, its
    # embedding) comes before guessing sizes for the first layer.
    for model_hint in input_hints(model):
        found = first_that_runs([lambda b=b: b(batch_size) for b in model_hint.builders], f"from {model_hint.origin}")
        if isinstance(found, InputResolution):
            return found
    layer = _first_layer(graph, start)
    if layer is None:
        return InputResolution(None, "none", f"cannot infer inputs: no layer with a known input size; {hint}")
    builders, description = _candidates(layer, batch_size)
    if extra and vocab is not None and isinstance(layer.module, nn.Linear):
        # forward(noise, labels) concatenates an embedding of the labels to the input before
        # the first layer: the input is narrower by the embedding's width.
        widths = {m.embedding_dim for m in model.modules() if isinstance(m, nn.Embedding)}
        features = layer.module.in_features
        builders = builders + [lambda w=w: torch.randn(batch_size, features - w) for w in sorted(widths)
                               if 0 < w < features]
    if not builders:
        return InputResolution(
            None, "none",
            f"cannot infer inputs for first layer {layer.describe()} ({type(layer.module).__name__}); {hint}",
        )
    found = first_that_runs(builders, f"{description} at {layer.describe()}")
    if isinstance(found, InputResolution):
        return found
    return InputResolution(
        None, "none",
        f"cannot infer inputs: no candidate shape for {layer.describe()} type-checked ({found}); {hint}",
    )


def _takes_argument(fn: Callable[..., Any]) -> bool:
    """Does ``init_hidden`` take a batch size (``init_hidden(self, batch_size)``)?"""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


def _hidden_batch(state: Any) -> int | None:
    """The batch size a hidden state (h or (h, c), shaped layers x batch x features) was made for."""
    h = state[0] if isinstance(state, (tuple, list)) and state else state
    return int(h.shape[1]) if isinstance(h, torch.Tensor) and h.dim() == 3 else None


_TIME_NAME = re.compile(r"^(t|ts|time|times|timestep|timesteps|time_step|step|steps|sigma|sigmas|noise_level)$",
                        re.IGNORECASE)


def _companions(first: torch.Tensor, names: Sequence[str], vocab: int | None = None) -> list[tuple[torch.Tensor, ...]]:
    """Candidates for the other required inputs: like the first one, masks over its leading
    dims, or (for a model with an Embedding) class labels, one per sample (a conditional
    GAN's ``forward(noise, labels)``)."""
    if not names:
        return [()]
    like = tuple(_like(first) for _ in names)
    lead = first.shape[:2] if first.dim() >= 2 else first.shape
    masks = tuple(torch.ones(lead, dtype=first.dtype if not first.dtype.is_floating_point else torch.float32)
                  if "mask" in n.lower() else _like(first) for n in names)
    options = [like, masks] if not any("mask" in n.lower() for n in names) else [masks, like]
    if vocab is not None and first.dim() >= 1:
        options.append(tuple(torch.randint(0, vocab, (first.shape[0],)) for _ in names))
    if first.dim() >= 1 and any(_TIME_NAME.search(n) for n in names):
        # A diffusion UNet's forward(x, time): one timestep per sample.
        options.append(tuple(torch.randint(0, 1000, (first.shape[0],)) if _TIME_NAME.search(n) else _like(first)
                             for n in names))
    return options


def _like(t: torch.Tensor) -> torch.Tensor:
    if t.dtype.is_floating_point:
        return torch.randn_like(t)
    return t[torch.randperm(t.shape[0])] if t.dim() else t.clone()


def type_checks(model: nn.Module, inputs: tuple[Any, ...]) -> tuple[bool, str]:
    """Run the forward pass on fake tensors (shapes only, no compute); the model is untouched."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    try:
        with preserved(model), quiet_torch_logs():
            model.eval()
            mode = FakeTensorMode(allow_non_fake_inputs=True)
            fake = tuple(mode.from_tensor(x) if isinstance(x, torch.Tensor) else x for x in inputs)
            with mode, torch.no_grad():
                model(*fake)
    except Exception as exc:  # noqa: BLE001 - any failure means "not this shape"
        return False, one_line(exc)
    return True, ""

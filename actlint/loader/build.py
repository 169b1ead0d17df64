"""Build models: constructor arguments from config classes, sizing (real under a cap, else meta), wrappers.

* :func:`default_arguments` fills a root model class's required constructor parameters:
  a parameter annotated with a class that constructs with no arguments (a dataclass
  whose fields all have defaults, a NamedTuple, a plain config class) gets that default
  instance; an unannotated parameter named like a configuration (``config``, ``cfg``,
  ``args``, ...) gets the file's config class when the file defines exactly one.
* :func:`build_sized` builds a model for real under an allocation cap; past the cap it is
  built again on the meta device (no memory, no init compute) to count its bytes, and
  above the budget the meta model is what gets linted.
* :func:`unwrap` looks through ``nn.DataParallel``, DistributedDataParallel-style
  ``.module`` wrappers and ``torch.compile`` results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn
from torch.nn.parameter import is_lazy

CONFIG_PARAM_NAMES = ("config", "cfg", "conf", "configs", "args", "hparams", "hp", "model_args", "params",
                      "model_config", "model_cfg", "opt", "opts", "options", "hyperparams", "settings")
_CONFIG_CLASS_SUFFIXES = ("Config", "Cfg", "Args", "Arguments", "Params", "Settings", "HParams", "Hparams",
                          "Options", "Hyperparameters")
#: Default share of available memory a model's parameters and buffers may take before it is
#: linted on the meta device (the probe needs gradients and activations on top).
DEFAULT_MEMORY_FRACTION = 0.25


def required_parameters(obj: Any) -> list[inspect.Parameter]:
    """Parameters without defaults (``self``, ``*args`` and ``**kwargs`` excluded)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [
        p for p in sig.parameters.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def constructs_without_arguments(cls: Any) -> bool:
    """A class whose constructor needs nothing (all dataclass fields / NamedTuple fields defaulted)."""
    if not isinstance(cls, type) or issubclass(cls, nn.Module) or cls.__module__ == "builtins":
        return False
    if cls.__module__.startswith(("typing", "torch", "collections", "numpy")):
        return False
    if dataclasses.is_dataclass(cls):
        return all(
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING  # type: ignore[misc]
            for f in dataclasses.fields(cls) if f.init
        )
    return not required_parameters(cls)


def _annotation_class(param: inspect.Parameter, namespace: dict[str, Any]) -> Any:
    """The class a parameter is annotated with (strings evaluated in the file; Optional unwrapped)."""
    ann = param.annotation
    if ann is inspect.Parameter.empty:
        return None
    if isinstance(ann, str):
        try:
            ann = eval(ann, dict(namespace))  # noqa: S307 - an annotation of the user's own file
        except Exception:  # noqa: BLE001 - an annotation we cannot resolve gives no default
            return None
    if typing.get_origin(ann) in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
        classes = [a for a in typing.get_args(ann) if isinstance(a, type) and a is not type(None)]
        ann = classes[0] if classes else None
    return ann if isinstance(ann, type) else None


def file_config_classes(namespace: dict[str, Any]) -> list[type]:
    """Config classes the file defines that construct without arguments."""
    module_name = namespace.get("__name__")
    out = []
    for name, obj in namespace.items():
        if not isinstance(obj, type) or getattr(obj, "__module__", None) != module_name or name.startswith("_"):
            continue
        is_config = dataclasses.is_dataclass(obj) or (issubclass(obj, tuple) and hasattr(obj, "_fields")) \
            or name.endswith(_CONFIG_CLASS_SUFFIXES)
        if is_config and constructs_without_arguments(obj):
            out.append(obj)
    return out


@dataclass(frozen=True)
class Arguments:
    """Constructor arguments actlint chose, and how to show them (``GPT(GPTConfig())``)."""

    kwargs: dict[str, Any]
    shown: str  # "GPTConfig()" or "config=GPTConfig()"

    def describe(self, name: str) -> str:
        return f"{name}({self.shown})"


def default_arguments(cls: type, namespace: dict[str, Any]) -> tuple[Arguments | None, list[str]]:
    """Arguments for ``cls``'s required parameters, or None and the parameters nothing fits."""
    params = required_parameters(cls)
    if not params:
        return Arguments({}, ""), []
    configs = file_config_classes(namespace)
    kwargs: dict[str, Any] = {}
    shown: list[str] = []
    missing: list[str] = []
    for p in params:
        choice = _annotation_class(p, namespace)
        if choice is None or not constructs_without_arguments(choice):
            choice = None
            if p.name.lower() in CONFIG_PARAM_NAMES and len(configs) == 1:
                choice = configs[0]
        if choice is None:
            missing.append(p.name)
            continue
        kwargs[p.name] = choice  # the class; instantiated by the caller, fenced
        text = f"{choice.__name__}()"
        shown.append(text if p.kind != p.KEYWORD_ONLY else f"{p.name}={text}")
    if missing:
        return None, missing
    return Arguments(kwargs, ", ".join(shown)), []


def available_memory() -> int:
    """Bytes of memory available now (MemAvailable on Linux; total physical memory elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def default_memory_budget() -> int:
    return int(available_memory() * DEFAULT_MEMORY_FRACTION)


def parse_size(text: str) -> int:
    """``"4GB"``, ``"512MiB"``, ``"2e9"`` -> bytes (ValueError when malformed)."""
    units = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20,
             "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}
    compact = str(text).strip().lower().replace(" ", "")
    number = compact.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = compact[len(number):]
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a size such as 4GB or 512MiB") from None
    if unit not in units or value <= 0:
        raise ValueError(f"{text!r} is not a size such as 4GB or 512MiB")
    return int(value * units[unit])


def format_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.3g} TB"


def model_bytes(model: nn.Module) -> int:
    """Bytes of parameters and buffers (meta tensors count what they would take)."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors if not is_lazy(t))


def on_meta(model: nn.Module) -> bool:
    """True when the model's weights are meta tensors (shapes without values)."""
    return any(t.is_meta for t in [*model.parameters(), *model.buffers()])


@dataclass
class Built:
    model: Any
    meta: bool = False  # built on the meta device because it is too large
    size: int = 0


_RANDOM_FILLS = ("normal_", "uniform_", "random_", "exponential_", "geometric_", "log_normal_", "cauchy_",
                 "bernoulli_")


def _empty(*size: Any, **kwargs: Any) -> torch.Tensor:
    kwargs.pop("generator", None)
    return torch.empty(*size, **kwargs)


def _empty_like(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    kwargs.pop("generator", None)
    kwargs.pop("low", None), kwargs.pop("high", None)
    return torch.empty_like(tensor, **kwargs)


def _empty_randint(*args: Any, **kwargs: Any) -> torch.Tensor:
    size = kwargs.pop("size", None)
    if size is None:
        size = args[-1]
    kwargs.pop("generator", None)
    kwargs.setdefault("dtype", torch.int64)
    return torch.empty(size, **kwargs)


def _empty_randperm(n: int, **kwargs: Any) -> torch.Tensor:
    kwargs.pop("generator", None)
    kwargs.setdefault("dtype", torch.int64)
    return torch.empty(n, **kwargs)


#: Random tensor factories and shape-only stand-ins for the sizing build.
_RANDOM_FACTORIES = {"randn": _empty, "rand": _empty, "randn_like": _empty_like, "rand_like": _empty_like,
                     "randint": _empty_randint, "randint_like": _empty_like, "randperm": _empty_randperm}


def _settle_device_constructors() -> None:
    """Let ``with torch.device(...)`` learn torch's real factory functions before we wrap them.

    torch caches the set of functions a device context redirects the first time one is
    used; computed while :func:`allocation_cap` or :func:`no_random_init` has replaced
    ``torch.empty`` or ``torch.randn``, the cache would hold the wrappers, and every later
    ``with torch.device("meta"):`` in the process would stop placing tensors on meta.
    """
    from torch.utils import _device

    constructors = getattr(_device, "_device_constructors", None)
    if callable(constructors):
        constructors()


@contextlib.contextmanager
def no_random_init() -> Iterator[None]:
    """Skip weight initialisation while sizing on meta: values do not exist there anyway.

    Random fills and random factories (``torch.randn``) on meta tensors run through torch's
    Python reference kernels, whose first use imports torch._dynamo (about 1.5 s, more than
    the lint of a ResNet); nothing of the sizing build survives except its shapes, so the
    fills return their tensor and the factories an empty one of the same shape.
    """
    def keep(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        return tensor

    _settle_device_constructors()
    saved_methods = {name: getattr(torch.Tensor, name) for name in _RANDOM_FILLS}
    init_names = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_") and callable(getattr(nn.init, n))]
    saved_init = {name: getattr(nn.init, name) for name in init_names}
    saved_factories = {name: getattr(torch, name) for name in _RANDOM_FACTORIES}
    try:
        for name in _RANDOM_FILLS:
            setattr(torch.Tensor, name, keep)
        for name in init_names:
            setattr(nn.init, name, keep)
        for name, shaped in _RANDOM_FACTORIES.items():
            setattr(torch, name, shaped)  # nn.Parameter(torch.randn(...) * 0.02): shapes only
        yield
    finally:
        for name, method in saved_methods.items():
            setattr(torch.Tensor, name, method)
        for name, fn in saved_init.items():
            setattr(nn.init, name, fn)
        for name, fn in saved_factories.items():
            setattr(torch, name, fn)


#: A real build stops once its tensors pass this many bytes and the model is sized on the
#: meta device instead: most models never get there, so they are built once, for real.
REAL_BUILD_CAP = 512 * 1024**2
_ALLOCATORS = ("empty", "zeros", "ones", "full", "randn", "rand", "randint", "tensor", "empty_strided")


class OverCap(Exception):
    """Raised inside a capped build when its tensors pass the cap."""


@contextlib.contextmanager
def allocation_cap(cap: int) -> Iterator[None]:
    """Count the bytes torch's tensor factories allocate in the block; raise :class:`OverCap` past ``cap``.

    Layers allocate their weights with ``torch.empty``/``zeros``/``ones`` (nn.Linear, Conv,
    Embedding, norms), so a 7B model is stopped after ``cap`` bytes, not after 27 GB.
    """
    _settle_device_constructors()
    total = [0]
    saved = {name: getattr(torch, name) for name in _ALLOCATORS}

    def counted(fn: Callable[..., Any]) -> Callable[..., Any]:
        def allocate(*args: Any, **kwargs: Any) -> Any:
            tensor = fn(*args, **kwargs)
            if isinstance(tensor, torch.Tensor) and not tensor.is_meta:
                total[0] += tensor.numel() * tensor.element_size()
                if total[0] > cap:
                    raise OverCap(total[0])
            return tensor
        return allocate

    try:
        for name, fn in saved.items():
            setattr(torch, name, counted(fn))
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch, name, fn)


def _module_bytes(result: Any) -> int:
    return model_bytes(result) if isinstance(result, nn.Module) else 0


def build_sized(make: Callable[[], Any], budget: int | None,
                discard_output: Callable[[], None] = lambda: None, *,
                make_on_meta: Callable[[], Any] | None = None,
                size_of: Callable[[Any], int] = _module_bytes) -> Built:
    """Build the model for real unless it is too large for memory; then on the meta device.

    The real build runs under :func:`allocation_cap`: a model whose tensors stay under
    :data:`REAL_BUILD_CAP` (nearly all) is built once. A larger one is built again on the
    meta device (``make_on_meta``, default ``make``; no memory, no initialisation compute,
    the random state restored) and sized with ``size_of``: over ``budget`` that meta result
    is returned (``meta=True``), else it is built for real without the cap, from the random
    state the first build started from.
    """
    if budget is None:
        result = make()
        return Built(result, size=size_of(result))
    state = torch.random.get_rng_state()
    try:
        with allocation_cap(min(budget, REAL_BUILD_CAP)):
            result = make()
        return Built(result, size=size_of(result))
    except OverCap:
        discard_output()  # the builds below print the same again
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"), no_random_init():
            sized = (make_on_meta or make)()
    except Exception:  # noqa: BLE001 - not meta-friendly: build for real below
        sized = None
    if sized is not None:
        size = size_of(sized)
        if size > budget:
            return Built(sized, meta=True, size=size)
        discard_output()
    torch.random.set_rng_state(state)
    result = make()
    return Built(result, size=size_of(result))


def unwrap(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """The model inside DataParallel / DDP-style ``.module`` wrappers and ``torch.compile`` results."""
    seen: list[str] = []
    while True:
        inner = getattr(model, "_orig_mod", None)
        if isinstance(inner, nn.Module):
            seen.append("torch.compile")
            model = inner
            continue
        children = dict(model.named_children())
        inner = children.get("module")
        own = [*model.parameters(recurse=False), *model.buffers(recurse=False)]
        if isinstance(inner, nn.Module) and (
            isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel))
            or (len(children) == 1 and not own)
        ):
            seen.append(type(model).__name__)
            model = inner
            continue
        return model, seen


__all__ = [
    "Arguments", "Built", "no_random_init", "allocation_cap", "OverCap", "REAL_BUILD_CAP", "default_arguments", "build_sized", "unwrap", "required_parameters",
    "constructs_without_arguments", "file_config_classes", "model_bytes", "on_meta", "parse_size",
    "format_size", "default_memory_budget", "CONFIG_PARAM_NAMES",
]

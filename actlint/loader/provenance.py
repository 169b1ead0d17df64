"""Where each module of the user's model was built, with which constructor arguments, and where its weights were initialised.

While user code runs, every ``nn.Module``'s construction site in the user's file is recorded,
so findings inside ``nn.Sequential`` stacks can point at the line that built the layer; the
integer and config arguments of the user's classes are kept for input inference; and every
``torch.nn.init`` call made from the user's file records the tensor it set, so an init fix
rewrites the one call that set a layer's weight (and knows every other weight it sets). Weak
keys: the records never keep a model alive.
"""


from __future__ import annotations

import weakref

import contextlib
import functools
import itertools
import sys
from typing import Any, Iterator

import torch
import torch.nn as nn

from actlint.core.location import SourceLocation

#: Seconds a file may take to load, and again each model construction, by default.


def _frame_location(user_path: str, skip_self: object) -> SourceLocation | None:
    """Innermost frame in the user's file that is not the constructor of ``skip_self``."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename == user_path and frame.f_locals.get("self") is not skip_self:
            return _location_of(frame, user_path)
        frame = frame.f_back
    return None


@contextlib.contextmanager
def recording_construction_sites(user_path: str) -> Iterator[None]:
    """Record where each nn.Module is constructed in ``user_path`` while the block runs."""
    original_init = nn.Module.__init__

    def recording_init(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        location = _frame_location(user_path, self)
        if location is not None:
            record_construction_site(self, location)
        caller = sys._getframe(1)  # the subclass __init__ calling super().__init__(): its arguments
        if caller.f_code.co_name == "__init__" and caller.f_locals.get("self") is self:
            code = caller.f_code
            names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
            record_constructor_arguments(self, {n: caller.f_locals[n] for n in names if n in caller.f_locals})

    nn.Module.__init__ = recording_init  # type: ignore[method-assign]
    originals = _record_init_calls(user_path)
    try:
        yield
    finally:
        nn.Module.__init__ = original_init  # type: ignore[method-assign]
        for name, function in originals.items():
            setattr(torch.nn.init, name, function)


def _record_init_calls(user_path: str) -> dict[str, Any]:
    """Wrap the public in-place ``torch.nn.init`` functions; returns the originals to put back."""
    originals: dict[str, Any] = {}
    for name in dir(torch.nn.init):
        function = getattr(torch.nn.init, name)
        if name.startswith("_") or not name.endswith("_") or not callable(function):
            continue
        originals[name] = function
        setattr(torch.nn.init, name, _recording(function, user_path))
    return originals


def _recording(function: Any, user_path: str) -> Any:
    """``function`` that also records which tensor a call from the user's file set, and where."""

    @functools.wraps(function)
    def recording(tensor: Any, *args: Any, **kwargs: Any) -> Any:
        result = function(tensor, *args, **kwargs)
        caller = sys._getframe(1)
        if caller.f_code.co_filename == user_path and isinstance(tensor, torch.Tensor):
            _remember_init(tensor, _location_of(caller, user_path))
        return result

    return recording


def _location_of(frame: Any, user_path: str) -> SourceLocation:
    column = 1
    try:
        pos = next(itertools.islice(frame.f_code.co_positions(), frame.f_lasti // 2, None))
        if pos[2] is not None:
            column = pos[2] + 1
    except (StopIteration, AttributeError):
        pass
    return SourceLocation(user_path, frame.f_lineno, column)


# Where each tensor was last set by a torch.nn.init call in the user's file: id -> (weak
# reference, site). Not a WeakKeyDictionary: comparing two references compares the tensors.
_INIT_SITES: dict[int, tuple["weakref.ref[torch.Tensor]", SourceLocation]] = {}


def _remember_init(tensor: torch.Tensor, location: SourceLocation) -> None:
    key = id(tensor)
    _INIT_SITES[key] = (weakref.ref(tensor, lambda _, key=key: _INIT_SITES.pop(key, None)), location)


def init_site(tensor: Any) -> SourceLocation | None:
    """The ``torch.nn.init`` call in the user's file that last set ``tensor`` (None: none did)."""
    entry = _INIT_SITES.get(id(tensor))
    return entry[1] if entry is not None and entry[0]() is tensor else None


# Where each module was constructed in the user's file, recorded by the loader while the
# file is imported and its factories run. Weak keys: the registry never keeps a model alive.
_CONSTRUCTION_SITES: "weakref.WeakKeyDictionary[nn.Module, SourceLocation]" = weakref.WeakKeyDictionary()


def record_construction_site(module: nn.Module, location: SourceLocation) -> None:
    _CONSTRUCTION_SITES[module] = location


def module_construction_site(module: nn.Module) -> SourceLocation | None:
    try:
        return _CONSTRUCTION_SITES.get(module)
    except TypeError:
        return None


# Constructor arguments of the user's model classes, recorded by the loader while it builds
# them. Weak keys: the registry never keeps a model alive.
_ARGUMENTS: "weakref.WeakKeyDictionary[nn.Module, dict[str, Any]]" = weakref.WeakKeyDictionary()


def record_constructor_arguments(module: nn.Module, arguments: dict[str, Any]) -> None:
    """Remember the (int, tuple or config-object) arguments a module's ``__init__`` received."""
    kept = {k: v for k, v in arguments.items() if k != "self" and is_plain_argument(v)}
    if kept:
        _ARGUMENTS[module] = kept


def is_plain_argument(value: Any) -> bool:
    """An int, a short int tuple or a config object: an argument worth keeping for input inference."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, (tuple, list)):
        return 0 < len(value) <= 3 and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return hasattr(value, "__dict__") and not isinstance(value, (nn.Module, torch.Tensor, type))


def constructor_arguments(module: nn.Module) -> dict[str, Any]:
    """The plain arguments :func:`record_constructor_arguments` kept for ``module`` (empty when none)."""
    try:
        return _ARGUMENTS.get(module, {})
    except TypeError:
        return {}

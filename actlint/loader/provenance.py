"""Where each module of the user's model was built, and with which constructor arguments.

While user code runs, every ``nn.Module``'s construction site in the user's file is recorded,
so findings inside ``nn.Sequential`` stacks can point at the line that built the layer; the
integer and config arguments of the user's classes are kept for input inference. Weak keys:
the records never keep a model alive.
"""


from __future__ import annotations

import weakref

import contextlib
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
            column = 1
            try:
                pos = next(itertools.islice(frame.f_code.co_positions(), frame.f_lasti // 2, None))
                if pos[2] is not None:
                    column = pos[2] + 1
            except (StopIteration, AttributeError):
                pass
            return SourceLocation(user_path, frame.f_lineno, column)
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
    try:
        yield
    finally:
        nn.Module.__init__ = original_init  # type: ignore[method-assign]


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

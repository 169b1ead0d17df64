"""Load a user's model file in isolation and discover the models it defines.

The file is imported under a private module name with its folder importable while it
loads; afterwards ``sys.path`` is restored and the modules the file brought in from its
own folder are dropped from ``sys.modules``, so nothing lasts. No ``__pycache__`` is
written into the user's folder. While the file runs (and while its factories and classes
are called) every ``nn.Module``'s construction site in the user's file is recorded, so
findings inside ``nn.Sequential`` stacks can point at the line that built the layer.

Discovery without a selector: module-level ``nn.Module`` instances, then zero-argument
factories named build_model/make_model/create_model/get_model, then ``nn.Module``
subclasses defined in the file that construct with no arguments. A candidate that is a
submodule of another candidate (or whose class already appears in one) is not linted alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import itertools
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch.nn as nn

from actlint.errors import NoModelError, UserError, one_line
from actlint.graph import record_construction_site
from actlint.location import SourceLocation
from actlint.prefilter import FACTORY_NAMES  # one list for discovery and the text check


@dataclass
class LoadedFile:
    """An imported user file: its path, text and namespace."""

    path: Path  # resolved absolute path
    display: str  # the path as the user wrote it (used in output)
    source: str
    namespace: dict[str, Any] = field(repr=False)


@dataclass
class LoadedModel:
    """One model to lint."""

    name: str  # the selector that reproduces it: file.py::name
    kind: str  # "instance", "factory" or "class"
    model: nn.Module
    file: LoadedFile


def display_path(path: Path) -> str:
    """Path relative to the working directory when below it (what users expect to click)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # different drive (Windows)
        return str(path)


def split_selector(arg: str) -> tuple[str, str | None]:
    """``"models.py::Net"`` -> ``("models.py", "Net")``; no selector -> ``(arg, None)``."""
    if "::" in arg:
        path, _, name = arg.partition("::")
        if not name.isidentifier():
            raise UserError(f"{arg}: '{name}' after '::' is not a Python name")
        return path, name
    return arg, None


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

    nn.Module.__init__ = recording_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.__init__ = original_init  # type: ignore[method-assign]


@contextlib.contextmanager
def _isolated_import_state(folder: Path) -> Iterator[None]:
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    saved_bytecode = sys.dont_write_bytecode
    sys.path.insert(0, str(folder))
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode
        folder_prefix = str(folder) + os.sep
        for name in set(sys.modules) - saved_modules:
            module_file = getattr(sys.modules.get(name), "__file__", None) or ""
            if name.startswith("_actlint_user_") or module_file.startswith(folder_prefix):
                sys.modules.pop(name, None)


def load_file(path_text: str) -> LoadedFile:
    """Import the user's file; every failure becomes a one-line :class:`UserError`."""
    path = Path(path_text)
    if not path.exists():
        raise UserError(f"{path_text}: no such file", file=path_text)
    if path.is_dir():
        raise UserError(f"{path_text}: is a directory (expected a .py file)", file=path_text)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path_text}: cannot read file ({one_line(exc)})", file=path_text) from None
    resolved = path.resolve()
    try:
        code = compile(source, str(resolved), "exec")
    except SyntaxError as exc:
        where = f"{path_text}:{exc.lineno}:{exc.offset or 1}" if exc.lineno else path_text
        raise UserError(f"{where}: syntax error: {exc.msg}", file=path_text) from None

    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    module_name = f"_actlint_user_{digest}"
    module = types.ModuleType(module_name)
    module.__file__ = str(resolved)
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    with _isolated_import_state(resolved.parent), recording_construction_sites(str(resolved)):
        sys.modules[module_name] = module  # dataclasses and pickling look the module up
        try:
            exec(code, module.__dict__)
        except SystemExit as exc:
            raise UserError(f"{path_text}: the file called sys.exit({exc.code}) while loading", file=path_text) from None
        except ImportError as exc:
            raise UserError(f"{path_text}: import error: {one_line(exc)}", file=path_text) from None
        except Exception as exc:  # noqa: BLE001 - any error raised by the user's file
            line = _user_line(exc, str(resolved))
            where = f"{path_text}:{line}" if line else path_text
            raise UserError(f"{where}: error while loading the file: {one_line(exc)}", file=path_text) from None
    return LoadedFile(resolved, path_text, source, module.__dict__)


def _user_line(exc: BaseException, user_path: str) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == user_path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _required_params(obj: Any) -> list[str]:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in sig.parameters.values()
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _construct(loaded: LoadedFile, name: str, obj: Any) -> nn.Module:
    """Call a factory or class with no arguments, recording construction sites."""
    where = loaded.display
    with recording_construction_sites(str(loaded.path)), _isolated_import_state(loaded.path.parent):
        try:
            result = obj()
        except Exception as exc:  # noqa: BLE001 - the user's constructor failed
            line = _user_line(exc, str(loaded.path))
            loc = f"{where}:{line}" if line else where
            raise UserError(f"{loc}: {name}() raised {one_line(exc)}", file=where) from None
    if not isinstance(result, nn.Module):
        raise UserError(f"{where}: {name}() returned {type(result).__name__}, not an nn.Module", file=where)
    return result


def _needs_args_error(loaded: LoadedFile, name: str, params: list[str], *, discovered: bool = False) -> UserError:
    error_type = NoModelError if discovered else UserError
    return error_type(
        f"{loaded.display}: {name} needs constructor arguments ({', '.join(params)}); "
        f"add a zero-argument build_model() factory or a module-level instance "
        f"(model = {name}(...)) to the file, then run actlint {loaded.display} or "
        f"actlint {loaded.display}::build_model",
        file=loaded.display,
    )


def select_model(loaded: LoadedFile, name: str) -> LoadedModel:
    """The model named by ``file.py::name`` (instance, factory or class)."""
    ns = loaded.namespace
    if name not in ns:
        available = ", ".join(n for n, _ in _candidate_names(loaded)) or "none"
        raise UserError(f"{loaded.display}: no name '{name}' in the file (models found: {available})", file=loaded.display)
    obj = ns[name]
    if isinstance(obj, nn.Module):
        return LoadedModel(name, "instance", obj, loaded)
    if isinstance(obj, type) and issubclass(obj, nn.Module):
        params = _required_params(obj)
        if params:
            raise _needs_args_error(loaded, name, params)
        return LoadedModel(name, "class", _construct(loaded, name, obj), loaded)
    if callable(obj):
        params = _required_params(obj)
        if params:
            raise UserError(
                f"{loaded.display}: {name}() needs arguments ({', '.join(params)}); "
                f"give them defaults or add a zero-argument factory",
                file=loaded.display,
            )
        return LoadedModel(name, "factory", _construct(loaded, name, obj), loaded)
    raise UserError(f"{loaded.display}: '{name}' is a {type(obj).__name__}, not a model, class or factory", file=loaded.display)


def _is_loss(obj: object) -> bool:
    """Loss modules (``criterion = nn.CrossEntropyLoss()``) are paired with models, not models."""
    cls = obj if isinstance(obj, type) else type(obj)
    return issubclass(cls, nn.modules.loss._Loss)


def _candidate_names(loaded: LoadedFile) -> list[tuple[str, str]]:
    """(name, kind) of every candidate in discovery order."""
    ns = loaded.namespace
    module_name = ns.get("__name__")
    found: list[tuple[str, str]] = []
    for name, obj in ns.items():
        if not name.startswith("_") and isinstance(obj, nn.Module) and not _is_loss(obj):
            found.append((name, "instance"))
    for name in FACTORY_NAMES:
        obj = ns.get(name)
        if callable(obj) and not isinstance(obj, (type, nn.Module)) and not _required_params(obj):
            found.append((name, "factory"))
    for name, obj in ns.items():
        if (
            isinstance(obj, type)
            and issubclass(obj, nn.Module)
            and obj.__module__ == module_name
            and not name.startswith("_")
            and not inspect.isabstract(obj)
            and not _is_loss(obj)
        ):
            found.append((name, "class"))
    return found


def discover_models(loaded: LoadedFile) -> list[LoadedModel]:
    """All models in the file, in discovery order, minus submodules of other candidates."""
    models: list[LoadedModel] = []
    needs_args: list[tuple[str, list[str]]] = []
    for name, kind in _candidate_names(loaded):
        obj = loaded.namespace[name]
        if kind == "instance":
            models.append(LoadedModel(name, kind, obj, loaded))
        elif kind == "factory":
            models.append(LoadedModel(name, kind, _construct(loaded, name, obj), loaded))
        else:
            # Skip classes already represented by an instance or used as a building block.
            if any(type(m) is obj for c in models for m in c.model.modules()):
                continue
            params = _required_params(obj)
            if params:
                needs_args.append((name, params))
                continue
            models.append(LoadedModel(name, kind, _construct(loaded, name, obj), loaded))
    models = _drop_submodule_candidates(models)
    # A class needing arguments is fine when it is a building block of a model we found.
    needs_args = [
        (n, p) for n, p in needs_args
        if not any(type(m) is loaded.namespace[n] for c in models for m in c.model.modules())
    ]
    if not models:
        if needs_args:
            name, params = needs_args[0]
            raise _needs_args_error(loaded, name, params, discovered=True)
        raise NoModelError(
            f"{loaded.display}: no model found: define a module-level nn.Module instance, a "
            f"zero-argument build_model() factory or an nn.Module subclass, or select one with "
            f"{loaded.display}::Name",
            file=loaded.display,
        )
    return models


def _drop_submodule_candidates(models: list[LoadedModel]) -> list[LoadedModel]:
    """Drop candidates living inside another one (for classes: whose type is used inside one)."""
    kept: list[LoadedModel] = []
    for cand in models:
        inside_other = any(
            other is not cand and other.model is not cand.model
            and any(
                m is cand.model or (cand.kind == "class" and type(m) is type(cand.model))
                for m in other.model.modules()
                if m is not other.model
            )
            for other in models
        )
        same_object_earlier = any(k.model is cand.model for k in kept)
        if not inside_other and not same_object_earlier:
            kept.append(cand)
    return kept


def load_models(arg: str) -> list[LoadedModel]:
    """Load ``file.py`` or ``file.py::Name`` and return the models to lint."""
    path, selector = split_selector(arg)
    loaded = load_file(path)
    if selector is not None:
        return [select_model(loaded, selector)]
    return discover_models(loaded)

"""Running the user's file: compile it, import it under a private name, and run its statements under the load plan (fenced)."""


from __future__ import annotations

import __future__ as future_features
import ast
import contextlib
import hashlib
import importlib.util
import inspect
import os
import sys
import types
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn as nn

from actlint.core.errors import UserError, one_line
from actlint.sandbox.fence import UserCodeTimeout, fenced, time_limit
from actlint.loader.build import build_sized, model_bytes
from actlint.loader.examples import CALL_PREFIX, INPUTS_PREFIX, ExampleBlock, ExampleBuild, example_blocks
from actlint.loader.plan import LoadPlan, Statement, plan_module

#: Seconds a file may take to load, and again each model construction, by default.
from actlint.loader.dependencies import note_imported_modules
from actlint.loader.loaded import LoadSettings, LoadedFile, is_loss
from actlint.loader.provenance import recording_construction_sites
from actlint.loader.explain import attribute_source, download_hint, exit_message, explain_failure, statement_at, unfaithful_message, user_line


def package_of(path: Path) -> tuple[str | None, Path]:
    """The package a file belongs to, found as ``python -m`` would: walking up the folders
    that hold an ``__init__.py``. Returns (dotted package name or None, the folder to import
    from: the package root's parent, or the file's own folder)."""
    folder = path.parent
    parts: list[str] = []
    while (folder / "__init__.py").is_file() and folder.name.isidentifier():
        parts.append(folder.name)
        if folder.parent == folder:
            break
        folder = folder.parent
    if not parts:
        return None, path.parent
    return ".".join(reversed(parts)), folder


@contextlib.contextmanager
def _isolated_import_state(path: Path) -> Iterator[None]:
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    saved_bytecode = sys.dont_write_bytecode
    package, root = package_of(path)
    # A package's root comes first, as under ``python -m``: its own name must resolve to the
    # package, not to a same-named module beside the file (x_transformers/x_transformers.py).
    folders = ([root] if package else []) + [path.parent]
    for folder in reversed(folders):
        sys.path.insert(0, str(folder))
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        note_imported_modules()  # before the file's own modules are dropped again
        sys.path[:] = saved_path
        sys.dont_write_bytecode = saved_bytecode
        prefixes = tuple(str(f) + os.sep for f in folders)
        for name in set(sys.modules) - saved_modules:
            module_file = getattr(sys.modules.get(name), "__file__", None) or ""
            if name.startswith("_actlint_user_") or module_file.startswith(prefixes):
                sys.modules.pop(name, None)


@contextlib.contextmanager
def running_user_code(loaded: LoadedFile, what: str) -> Iterator[None]:
    """Everything that must hold while the user's code runs: fence, time limit, import state.

    An installed module (``torchvision.models:resnet18``) stays imported: it is the
    environment's, not a file actlint loaded.
    """
    isolation = contextlib.nullcontext() if loaded.installed else _isolated_import_state(loaded.path)
    with isolation, recording_construction_sites(str(loaded.path)), \
            fenced(str(loaded.path), loaded.settings.script_args, loaded.fence), \
            time_limit(loaded.settings.timeout, what):
        yield


def read_source(path: Path, shown: str) -> str:
    """The file's text decoded as Python decodes it (BOM, PEP 263 coding line)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{shown}: cannot read file ({one_line(exc)})", file=shown) from None
    try:
        return importlib.util.decode_source(raw)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        raise UserError(f"{shown}: cannot decode file ({one_line(exc)})", file=shown) from None


def _future_flags(tree: ast.Module) -> int:
    flags = 0
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                feature = getattr(future_features, alias.name, None)
                if feature is not None:
                    flags |= feature.compiler_flag
    return flags


def load_file(path_text: str, settings: LoadSettings | None = None) -> LoadedFile:
    """Load the user's file under its load plan; failures that stop it are one-line UserErrors."""
    settings = settings or LoadSettings()
    path = Path(path_text)
    if not path.exists():
        raise UserError(f"{path_text}: no such file", file=path_text)
    if path.is_dir():
        raise UserError(f"{path_text}: is a directory (expected a .py file)", file=path_text)
    source = read_source(path, path_text)
    resolved = path.resolve()
    try:
        tree = ast.parse(source, str(resolved))
    except SyntaxError as exc:
        where = f"{path_text}:{exc.lineno}:{exc.offset or 1}" if exc.lineno else path_text
        raise UserError(f"{where}: syntax error: {exc.msg}", file=path_text) from None
    except ValueError as exc:  # null bytes
        raise UserError(f"{path_text}: cannot parse file ({one_line(exc)})", file=path_text) from None
    blocks = example_blocks(tree)
    # What the file's examples read from the module (a constant the __main__ block uses) is
    # needed at module level too.
    plan = plan_module(tree, extra_needs=set().union(*(b.outside_names() for b in blocks)))
    flags = _future_flags(tree)

    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    module_name = f"_actlint_user_{digest}"
    module = types.ModuleType(module_name)
    module.__file__ = str(resolved)
    # A file inside a package imports as a module of it: its relative imports (``from .parts
    # import *``) resolve against the package, found as ``python -m`` would.
    module.__package__ = package_of(resolved)[0]
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    loaded = LoadedFile(resolved, path_text, source, module.__dict__, plan, settings, tree=tree, flags=flags,
                        blocks=blocks)
    with running_user_code(loaded, f"loading {path_text}"):
        sys.modules[module_name] = module  # dataclasses and pickling look the module up
        for stmt in plan.statements:
            if plan.runs(stmt):
                _run_statement(loaded, stmt, flags)
            elif stmt.index in plan.blocked and stmt.kind != "definition":
                loaded.failures[stmt.index] = unfaithful_message(loaded, stmt, plan.blocked[stmt.index])
            elif stmt.kind == "guard":
                # The __main__ block's model statements and what they need, where the script runs them.
                guard = next((b for b in blocks if b.module_scope), None)
                if guard is not None:
                    loaded.guard_plan = guard.plan
                    loaded.examples += _run_block(loaded, guard, loaded.namespace)
    return loaded


def file_examples(loaded: LoadedFile) -> list[ExampleBuild]:
    """Every model the file's example blocks build (the ``__main__`` block's at load; the rest now, once)."""
    if not loaded.functions_read:
        loaded.functions_read = True
        for block in loaded.blocks:
            if not block.module_scope:
                with running_user_code(loaded, f"reading {block.label}"):
                    loaded.examples += _run_block(loaded, block, dict(loaded.namespace))
    return loaded.examples


def _run_block(loaded: LoadedFile, block: ExampleBlock, namespace: dict[str, Any]) -> list[ExampleBuild]:
    """Run what a block's models need (in ``namespace``) and collect the models and their inputs."""
    if block.function is not None:
        _bind_arguments(loaded, block.function, namespace)
    failures: dict[int, str] = {}
    ran: set[int] = set()
    for stmt in block.plan.statements:
        if block.plan.runs(stmt):
            try:
                _run_statement(loaded, stmt, loaded.flags, namespace=namespace, failures=failures, plan=block.plan)
            except UserError as exc:  # a statement past the time limit: this block is done
                failures[stmt.index] = exc.message
                break
            ran.add(stmt.index)
        elif stmt.index in block.plan.blocked and stmt.kind == "model":
            failures[stmt.index] = unfaithful_message(loaded, stmt, block.plan.blocked[stmt.index])
    if block.module_scope:
        loaded.example_names |= {n for s in block.plan.statements if s.index in ran for n in s.binds}
    builds: list[ExampleBuild] = []
    found: list[tuple[str, int, Any]] = []
    for variable, line in block.model_variables().items():
        value = namespace.get(variable)
        if isinstance(value, nn.Module):
            found.append((variable, line, value))
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            # gan = GAN(args): a plain trainer object that holds the models (gan.G, gan.D)
            found += [(f"{variable}.{k}", line, v) for k, v in vars(value).items()
                      if isinstance(v, nn.Module) and not k.startswith("_")]
    for variable, line, model in found:
        if is_loss(model):
            continue
        inputs = namespace.get(INPUTS_PREFIX + variable)
        tensors = inputs if isinstance(inputs, tuple) and inputs and all(_is_tensor_input(x) for x in inputs) else None
        builds.append(ExampleBuild(variable, model, line, block.label, block.primary, block.call_text(variable),
                                   tensors, block.input_line(variable) if tensors else None))
    for name in [n for n in namespace if n.startswith((INPUTS_PREFIX, CALL_PREFIX))]:
        if block.module_scope and name.startswith(CALL_PREFIX):
            continue  # a function block reads its arguments from here
        namespace.pop(name, None)
    if not builds and failures:
        # The first statement that raised is the cause (argparse wanting --input); without one, the
        # last statement actlint would not run is nearest the model the block builds.
        raised = [i for i in failures if i not in block.plan.blocked]
        chosen = failures[min(raised)] if raised else failures[max(failures)]
        loaded.example_failures[block.label] = chosen.replace(f"{loaded.display}:", "line ", 1)
    return builds


def _is_tensor_input(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, (tuple, list)) and bool(value) and all(isinstance(v, torch.Tensor) for v in value)


def _bind_arguments(loaded: LoadedFile, function: str, namespace: dict[str, Any]) -> None:
    """A function block's parameters: what the __main__ block passes (``main(args)``), else their defaults."""
    fn = loaded.namespace.get(function)
    if not callable(fn):
        return
    try:
        signature = inspect.signature(fn)
        args, kwargs = loaded.namespace.get(CALL_PREFIX + function, ((), {}))
        bound = signature.bind_partial(*args, **kwargs)
        bound.apply_defaults()
    except (TypeError, ValueError):
        return
    namespace.update(bound.arguments)


def _run_statement(loaded: LoadedFile, stmt: Statement, flags: int, *, namespace: dict[str, Any] | None = None,
                   failures: dict[int, str] | None = None, plan: LoadPlan | None = None) -> None:
    """Run one top-level statement; a failure is recorded (and explained), a timeout ends the load.

    ``namespace`` and ``failures`` default to the file's; an example block passes its own.
    """
    namespace = loaded.namespace if namespace is None else namespace
    failures = loaded.failures if failures is None else failures
    where = f"{loaded.display}:{stmt.line}"
    try:
        code = compile(ast.Module(body=[stmt.node], type_ignores=[]), str(loaded.path), "exec",
                       flags=flags, dont_inherit=True)
    except SyntaxError as exc:  # a block's 'return' or 'yield' read out of its function
        failures[stmt.index] = f"{where}: {one_line(exc)}"
        return
    loaded.fence.replay()
    try:
        if stmt.kind == "model":
            _run_model_statement(loaded, stmt, code, namespace)
        else:
            exec(code, namespace)  # noqa: S102 - the user's own file, fenced
    except UserCodeTimeout as exc:
        raise UserError(
            f"{where}: loading stopped: this statement ran longer than {exc.seconds:g}s "
            f"(actlint runs only what the models need; raise --load-timeout if it is slow, not stuck)",
            file=loaded.display,
        ) from None
    except SystemExit as exc:
        failures[stmt.index] = f"{where}: {exit_message(exc, loaded.fence)}"
    except ImportError as exc:
        failures[stmt.index] = f"{where}: import error: {one_line(exc)}"
    except Exception as exc:  # noqa: BLE001 - any error raised by the user's file
        line = user_line(exc, str(loaded.path)) or stmt.line
        hint = download_hint(exc, statement_at(loaded.tree, line) or stmt.node)
        if hint:
            loaded.fence.drop()  # the download's own progress line: the one-line message says it all
        text = f"the statement {hint}" if hint else explain_failure(exc, loaded)
        failures[stmt.index] = f"{loaded.display}:{line}: {text}{attribute_source(exc, stmt, plan or loaded.plan)}"


def _run_model_statement(loaded: LoadedFile, stmt: Statement, code: types.CodeType,
                         namespace: dict[str, Any]) -> None:
    """``model = Net(...)``: sized like any build (:func:`build_sized`), so a 7B model is never allocated.

    For real the statement runs in the file's namespace; on the meta device in a copy of
    it, whose bindings are kept only when what they hold is over the memory budget.
    """
    def bindings(namespace: dict[str, Any]) -> dict[str, Any]:
        return {name: namespace[name] for name in stmt.binds if name in namespace}

    def run() -> dict[str, Any]:
        exec(code, namespace)  # noqa: S102 - the user's own file, fenced
        return bindings(namespace)

    def run_on_meta() -> dict[str, Any]:
        scratch = dict(namespace)
        exec(code, scratch)  # noqa: S102
        return bindings(scratch)

    built = build_sized(run, loaded.budget, loaded.fence.drop, make_on_meta=run_on_meta,
                        size_of=lambda bound: max((model_bytes(v) for v in bound.values() if isinstance(v, nn.Module)),
                                                  default=0))
    if built.meta:
        namespace.update(built.model)

"""Load a user's model file and find the models in it: the model, not the script.

The file is compiled and its top-level statements run one by one under a load plan
(:mod:`actlint.loader.plan`): definitions always, other statements only when a model
needs them; data loading, training loops, checkpoints and downloads never. User code
runs fenced (:mod:`actlint.fence`): its own ``sys.argv``, empty stdin, output on
stderr, no network, a time limit. The file is imported under a private module name with
its folder importable while it loads; afterwards ``sys.path`` is restored and the
modules the file brought in from its own folder are dropped from ``sys.modules``, so
nothing lasts. No ``__pycache__`` is written into the user's folder. While user code runs,
every ``nn.Module``'s construction site in the user's file is recorded, so findings
inside ``nn.Sequential`` stacks can point at the line that built the layer.

Discovery without a selector: module-level ``nn.Module`` instances (wrappers such as
``nn.DataParallel`` and ``torch.compile`` unwrapped), then zero-argument factories named
build_model/make_model/create_model/get_model, then the file's root model classes (model
classes that no other model class of the file builds or derives from), built with
default instances of the config classes their parameters name
(:mod:`actlint.loader.build`). A candidate that is a submodule of another candidate is
not linted alone. Models are built for real under an allocation cap; one that passes it
is sized on the meta device, and one too large for the memory budget is linted there,
statically (:func:`actlint.loader.build.build_sized`).
"""

from __future__ import annotations

import __future__ as future_features
import ast
import contextlib
import hashlib
import importlib.util
import inspect
import itertools
import os
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn

from actlint.errors import NoModelError, UserError, one_line
from actlint.fence import FenceLog, NetworkBlocked, UserCodeTimeout, fenced, time_limit
from actlint.graph import record_construction_site
from actlint.input_hints import record_constructor_arguments
from actlint.loader.build import (
    build_sized, default_arguments, default_memory_budget, format_size, model_bytes, on_meta,
    required_parameters, unwrap,
)
from actlint.loader.examples import CALL_PREFIX, INPUTS_PREFIX, ExampleBlock, ExampleBuild, example_blocks
from actlint.loader.plan import MAIN_GUARD, UNNEEDED, LoadPlan, Statement, plan_module
from actlint.loader.selectors import is_plain_name, parse_selector, split_selector
from actlint.location import SourceLocation
from actlint.prefilter import FACTORY_NAMES  # one list for discovery and the text check

#: Seconds a file may take to load, and again each model construction, by default.
DEFAULT_LOAD_TIMEOUT = 60.0


@dataclass(frozen=True)
class LoadSettings:
    """How user files are loaded (CLI flags and configuration)."""

    script_args: tuple[str, ...] = ()  # the script's sys.argv[1:] (--script-args)
    timeout: float | None = DEFAULT_LOAD_TIMEOUT  # seconds per file load and per construction
    memory_budget: int | None = None  # bytes of weights above which a model is linted on meta; None: default


@dataclass
class LoadedFile:
    """A loaded user file: its path, text, namespace and what loading ran, skipped or fenced."""

    path: Path  # resolved absolute path
    display: str  # the path as the user wrote it (used in output)
    source: str
    namespace: dict[str, Any] = field(repr=False)
    plan: LoadPlan | None = field(default=None, repr=False)
    settings: LoadSettings = field(default_factory=LoadSettings, repr=False)
    failures: dict[int, str] = field(default_factory=dict)  # statement index -> one-line error
    fence: FenceLog = field(default_factory=FenceLog, repr=False)
    tree: ast.Module | None = field(default=None, repr=False)
    #: Where findings without a location of their own point (the API: the lint() call).
    default_line: int = 1
    #: Models the file's own example blocks built (the function blocks' once :func:`file_examples` read them).
    examples: list[ExampleBuild] = field(default_factory=list, repr=False)
    #: Names the ``__main__`` block bound (its models are examples, not module-level instances).
    example_names: set[str] = field(default_factory=set, repr=False)
    #: Why an example block built no model (block label -> one line), for the no-model message.
    example_failures: dict[str, str] = field(default_factory=dict, repr=False)
    flags: int = 0  # the file's __future__ compiler flags
    blocks: list[ExampleBlock] = field(default_factory=list, repr=False)  # the file's example blocks, planned
    functions_read: bool = False  # the function example blocks have run (file_examples)
    guard_plan: LoadPlan | None = field(default=None, repr=False)  # the __main__ block's, once read
    installed: bool = False  # a module of an installed package (module:attribute), not a file

    def load_note(self) -> str | None:
        """One short line: what loading ran, skipped and fenced (None for a plain library file)."""
        parts: list[str] = []
        # The __main__ block was read when it ran in place or a function it calls built a model.
        guard_read = self.guard_plan is not None or any(b.primary for b in self.examples)
        for plan, what in ((self.plan, "top-level statements"), (self.guard_plan, "statements of the __main__ block")):
            if plan is None:
                continue
            executable = [s for s in plan.statements if s.kind in ("config", "model", "other", "guard")
                          and not (guard_read and s.kind == "guard")]
            ran = sum(1 for s in executable if plan.runs(s))
            skipped = {reason: lines for reason, lines in plan.skipped().items()
                       if reason != UNNEEDED and not (guard_read and reason == MAIN_GUARD)}
            if skipped:
                listed = "; ".join(f"{reason}: {_lines(lines)}" for reason, lines in skipped.items())
                parts.append(f"ran {ran} of {len(executable)} {what} (skipped {listed})")
        statements = self.plan.statements if self.plan is not None else []
        failures = [message for index, message in self.failures.items()
                    if not (index < len(statements) and statements[index].speculative)]
        if failures:
            shown = "; ".join(f.replace(f"{self.display}:", "line ", 1) for f in failures[:2])
            parts.append(f"failed: {shown}" + (f" (and {len(failures) - 2} more)" if len(failures) > 2 else ""))
        if self.fence.output_lines:
            parts.append(f"its output ({self.fence.output_lines} lines) went to stderr")
        if self.fence.threads_started:
            parts.append(f"{len(self.fence.threads_started)} thread(s) it started do not keep actlint running")
        if not parts:
            return None
        return "loaded the model, not the script: " + "; ".join(parts)

    @property
    def budget(self) -> int:
        if self.settings.memory_budget is not None:
            return self.settings.memory_budget
        return _default_budget()


@dataclass
class LoadedModel:
    """One model to lint."""

    name: str  # the selector that reproduces it: file.py::name
    kind: str  # "instance", "factory", "class" or "expression"
    model: nn.Module
    file: LoadedFile
    notes: list[str] = field(default_factory=list)  # how it was built, unwrapped, or put on meta
    meta: bool = False  # weights are meta tensors: rules needing weight values and the probe are skipped
    #: Inputs the file's own example calls the model with, and where (``the file's example, line 9, test()``).
    example_inputs: tuple[Any, ...] | None = None
    example_inputs_from: str = ""


_budget_cache: list[int] = []


def _default_budget() -> int:
    if not _budget_cache:
        _budget_cache.append(default_memory_budget())
    return _budget_cache[0]


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:4]) + (", ..." if len(lines) > 4 else "")
    return ("line " if len(lines) == 1 else "lines ") + shown


def display_path(path: Path) -> str:
    """Path relative to the working directory when below it (what users expect to click)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # different drive (Windows)
        return str(path)


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
                loaded.failures[stmt.index] = _unfaithful_message(loaded, stmt, plan.blocked[stmt.index])
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
            failures[stmt.index] = _unfaithful_message(loaded, stmt, block.plan.blocked[stmt.index])
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
        if _is_loss(model):
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


def _unfaithful_message(loaded: LoadedFile, stmt: Statement, why: str) -> str:
    """One line: a statement actlint did not run because it would build something else."""
    what = ", ".join(sorted(stmt.binds)) or f"line {stmt.line}"
    return (f"{loaded.display}:{stmt.line}: {what} not built: {why} (actlint lints a model only as the "
            f"file builds it)")


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
        failures[stmt.index] = f"{where}: {_exit_message(exc, loaded.fence)}"
    except ImportError as exc:
        failures[stmt.index] = f"{where}: import error: {one_line(exc)}"
    except Exception as exc:  # noqa: BLE001 - any error raised by the user's file
        line = _user_line(exc, str(loaded.path)) or stmt.line
        hint = _download_hint(exc, _statement_at(loaded.tree, line) or stmt.node)
        if hint:
            loaded.fence.drop()  # the download's own progress line: the one-line message says it all
        text = f"the statement {hint}" if hint else _explained(exc, loaded)
        failures[stmt.index] = f"{loaded.display}:{line}: {text}{_attribute_source(exc, stmt, plan or loaded.plan)}"


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


_REQUIRED = re.compile(r"error: the following arguments are required: (.+)")
_PARSER_ERROR = re.compile(r"error: (.+)")


def _exit_message(exc: SystemExit, log: FenceLog) -> str:
    """What a ``sys.exit`` while loading means; argparse's own message when it was argparse."""
    tail = log.current_tail()
    required = _REQUIRED.findall(tail)
    if required or (errors := _PARSER_ERROR.findall(tail)) and exc.code == 2:
        log.drop()  # argparse's usage text: the one-line message below says it all
    if required:
        options = required[-1].strip()
        first = options.split(",")[0].strip()
        return (f"the script's argument parser requires {options}; pass "
                f"--script-args \"{first} VALUE\" (actlint gives the script no arguments of its own)")
    errors = _PARSER_ERROR.findall(tail)
    if errors and exc.code == 2:
        return f"the script's argument parser stopped: {errors[-1].strip()} (check --script-args)"
    return f"the file called sys.exit({exc.code}) while loading"


_WEIGHT_ARGUMENTS = ("pretrained", "weights", "pretrained_backbone", "weights_backbone", "pretrained_model",
                     "checkpoint", "ckpt", "url")


def _download_hint(exc: BaseException, node: ast.AST | None) -> str | None:
    """A build that tried to download weights: name the argument to change (the network is off)."""
    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, NetworkBlocked):
        seen = seen.__cause__ or seen.__context__
    if seen is None and "network access is disabled" not in str(exc):
        return None
    named = []
    for sub in ast.walk(node) if node is not None else ():
        if isinstance(sub, ast.keyword) and sub.arg and sub.arg.startswith(_WEIGHT_ARGUMENTS):
            if not (isinstance(sub.value, ast.Constant) and sub.value.value in (None, False)):
                named.append(sub.arg)
    change = (", ".join(f"{a}=None" if a.startswith("weights") else f"{a}=False" for a in named)
              if named else "weights=None (or pretrained=False)")
    return (f"tried to download pretrained weights, and the network is off while actlint runs your file; "
            f"build the model with {change}: actlint lints the architecture, not the weights")


def _statement_at(tree: ast.Module | None, line: int | None) -> ast.stmt | None:
    """The innermost statement of the file that spans ``line``."""
    if tree is None or line is None:
        return None
    spanning = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and n.lineno <= line <= (n.end_lineno or n.lineno)]
    return min(spanning, key=lambda n: (n.end_lineno or n.lineno) - n.lineno, default=None)


def _attribute_source(exc: BaseException, stmt: Statement, plan: LoadPlan | None) -> str:
    """``opt.src_vocab_size`` missing: the skipped statement that was given ``opt`` probably sets it."""
    if not isinstance(exc, AttributeError) or plan is None or not getattr(exc, "name", None):
        return ""
    for earlier in reversed(plan.statements[:stmt.index]):
        if earlier.skip_reason is None or plan.runs(earlier):
            continue
        for call in (n for n in ast.walk(earlier.node) if isinstance(n, ast.Call)):
            passed = [a for a in [*call.args, *(k.value for k in call.keywords)] if isinstance(a, ast.Name)]
            given = next((a.id for a in passed if a.id in stmt.uses), None)
            if given is not None:
                return (f" ({given}.{exc.name} would be set by line {earlier.line}, {earlier.skip_reason}, "
                        f"which actlint does not run)")
    return ""


def _explained(exc: BaseException, loaded: LoadedFile) -> str:
    """One-line error; a NameError says where the missing name would have come from."""
    text = one_line(exc)
    if isinstance(exc, NameError) and loaded.plan is not None:
        name = getattr(exc, "name", None)
        skipped = loaded.plan.names_bound_by_skipped.get(name or "")
        if skipped is not None:
            return (f"{text} ({name} comes from line {skipped.line}, {skipped.skip_reason}, "
                    f"which actlint does not run)")
        failed = next((loaded.failures[s.index] for s in loaded.plan.statements
                       if name in s.binds and s.index in loaded.failures), None)
        if failed:
            return f"{text} (its statement failed: {failed.replace(loaded.display + ':', 'line ', 1)})"
    return text


def _user_line(exc: BaseException, user_path: str) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == user_path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# --- building models ------------------------------------------------------------------


def _construct(loaded: LoadedFile, label: str, make: Callable[[], Any], *, kind: str, name: str) -> LoadedModel:
    """Build a model by calling user code (fenced, timed, sized on meta first)."""
    where = loaded.display
    with running_user_code(loaded, f"{label}"):
        try:
            loaded.fence.replay()
            built = build_sized(make, loaded.budget, discard_output=loaded.fence.drop)
        except UserCodeTimeout as exc:
            raise UserError(f"{where}: {label} did not finish within {exc.seconds:g}s (stopped; "
                            f"raise --load-timeout if it is slow, not stuck)", file=where) from None
        except SystemExit as exc:
            raise UserError(f"{where}: {label} called sys.exit({exc.code})", file=where) from None
        except Exception as exc:  # noqa: BLE001 - the user's constructor failed
            line = _user_line(exc, str(loaded.path))
            loc = f"{where}:{line}" if line else where
            hint = _download_hint(exc, _statement_at(loaded.tree, line))
            if hint:
                loaded.fence.drop()  # the download's own progress line: the one-line message says it all
            raise UserError(f"{loc}: {label} " + (hint or f"raised {_explained(exc, loaded)}"), file=where) from None
    if not isinstance(built.model, nn.Module):
        raise UserError(f"{where}: {label} returned {type(built.model).__name__}, not an nn.Module", file=where)
    return _as_loaded(loaded, name, kind, built.model, meta=built.meta)


def _as_loaded(loaded: LoadedFile, name: str, kind: str, model: nn.Module, *, meta: bool = False,
               notes: list[str] | None = None) -> LoadedModel:
    """Unwrap wrappers and note how the model reached us."""
    notes = list(notes or [])
    inner, wrappers = unwrap(model)
    if wrappers:
        notes.append(f"unwrapped {' and '.join(wrappers)}: linting the model inside")
    meta = meta or on_meta(inner)
    if meta:
        size = model_bytes(inner)
        why = (f"{format_size(size)} of weights exceed the memory budget of {format_size(loaded.budget)} "
               f"(--max-model-memory)" if size > loaded.budget else "its weights are meta tensors")
        notes.append(f"linted on the meta device: {why}; rules that need weight values and the probe are skipped")
    return LoadedModel(name, kind, inner, loaded, notes=notes, meta=meta)


def _from_example(loaded: LoadedFile, name: str, kind: str, build: ExampleBuild) -> LoadedModel:
    """A model one of the file's example blocks built, with the inputs the block calls it with."""
    model = _as_loaded(loaded, name, kind, build.model, notes=[build.describe()])
    if build.inputs is not None:
        model.example_inputs, model.example_inputs_from = build.inputs, build.inputs_origin()
    return model


def _unfaithful_definition(loaded: LoadedFile, name: str) -> str | None:
    """Why building the class or factory ``name`` would not build what the file builds, or None."""
    if loaded.plan is None:
        return None
    for stmt in loaded.plan.statements:
        if stmt.kind == "definition" and name in stmt.binds and stmt.index in loaded.plan.blocked:
            return (f"{loaded.display}:{stmt.line}: {name} not built: {loaded.plan.blocked[stmt.index]} "
                    f"(actlint lints a model only as the file builds it)")
    return None


def _build_class(loaded: LoadedFile, name: str, cls: type, kind: str = "class") -> LoadedModel:
    """A model class as the file's own example builds it, else with its required arguments
    filled from config classes (or a UserError)."""
    if why := _unfaithful_definition(loaded, name):
        raise UserError(why, file=loaded.display)
    build = next((b for b in file_examples(loaded) if type(b.model) is cls), None)
    if build is not None:
        return _from_example(loaded, name, kind, build)
    arguments, missing = default_arguments(cls, loaded.namespace)
    if arguments is None:
        factory = _factory_returning(loaded, name)
        if factory is not None:
            model = _construct(loaded, f"{factory}()", loaded.namespace[factory], kind="factory", name=name)
            model.notes.insert(0, f"built {name} with {factory}()")
            return model
        raise _needs_args_error(loaded, name, missing)

    def make() -> Any:
        return cls(**{key: config() for key, config in arguments.kwargs.items()})

    label = arguments.describe(name) if arguments.kwargs else f"{name}()"
    try:
        model = _construct(loaded, label, make, kind=kind, name=name)
    except UserError as exc:
        # class Encoder(AttentionLayers): def __init__(self, **kwargs): the arguments the base
        # requires are the class's own.
        missing_now = _MISSING_ARGUMENTS.search(exc.message)
        if missing_now is None:
            raise
        raise _needs_args_error(loaded, name, re.findall(r"'(\w+)'", missing_now.group(1))) from None
    if arguments.kwargs:
        model.notes.insert(0, f"built {label}")
    return model


_MISSING_ARGUMENTS = re.compile(r"raised TypeError: \S+ missing \d+ required (?:positional|keyword-only) "
                                r"arguments?: (.+)$")


def _factory_returning(loaded: LoadedFile, class_name: str) -> str | None:
    """A zero-argument function of the file that returns ``ClassName(...)`` (``def ResNet18(): ...``)."""
    if loaded.tree is None:
        return None
    for node in loaded.tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
            continue
        fn = loaded.namespace.get(node.name)
        if not callable(fn) or required_parameters(fn):
            continue
        for ret in ast.walk(node):
            if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Call) \
                    and isinstance(ret.value.func, ast.Name) and ret.value.func.id == class_name:
                return node.name
    return None


def _needs_args_error(loaded: LoadedFile, name: str, params: list[str], *, discovered: bool = False) -> UserError:
    error_type = NoModelError if discovered else UserError
    example = ", ".join(f"{p}=..." for p in params[:3]) + (", ..." if len(params) > 3 else "")
    return error_type(
        f"{loaded.display}: {name} needs constructor arguments ({', '.join(params)}); give them in a "
        f"selector, actlint '{loaded.display}::{name}({example})', or add a zero-argument "
        f"build_model() factory to the file",
        file=loaded.display,
    )


def select_model(loaded: LoadedFile, selector: str) -> LoadedModel:
    """The model named by ``file.py::name`` (instance, factory or class) or built by a call expression."""
    ns = loaded.namespace
    if not is_plain_name(selector):
        return _evaluate_selector(loaded, selector)
    name = selector.strip()
    if name not in ns:
        available = ", ".join(n for n, _ in _candidate_names(loaded)) or "none"
        raise UserError(f"{loaded.display}: no name '{name}' in the file (models found: {available})", file=loaded.display)
    obj = ns[name]
    if isinstance(obj, nn.Module):
        return _as_loaded(loaded, name, "instance", obj)
    if isinstance(obj, type) and issubclass(obj, nn.Module):
        return _build_class(loaded, name, obj)
    if callable(obj):
        params = [p.name for p in required_parameters(obj)]
        if params:
            raise UserError(
                f"{loaded.display}: {name}() needs arguments ({', '.join(params)}); give them in a selector, "
                f"actlint '{loaded.display}::{name}({', '.join(p + '=...' for p in params[:3])})'",
                file=loaded.display,
            )
        return _construct(loaded, f"{name}()", obj, kind="factory", name=name)
    raise UserError(f"{loaded.display}: '{name}' is a {type(obj).__name__}, not a model, class or factory", file=loaded.display)


def _evaluate_selector(loaded: LoadedFile, selector: str) -> LoadedModel:
    tree = parse_selector(selector, where=f"{loaded.display}::{selector}")
    code = compile(tree, f"<actlint selector {selector}>", "eval")
    text = selector.strip()

    def make() -> Any:
        return eval(code, loaded.namespace)  # noqa: S307 - vetted by parse_selector, in the user's namespace

    try:
        return _construct(loaded, text, make, kind="expression", name=text)
    except UserError as exc:
        raise UserError(exc.message.replace(f"{loaded.display}: {text} ", f"{loaded.display}::{text}: ", 1),
                        file=loaded.display) from None


# --- discovery --------------------------------------------------------------------------


def _is_loss(obj: object) -> bool:
    """Loss modules (``criterion = nn.CrossEntropyLoss()``) are paired with models, not models."""
    cls = obj if isinstance(obj, type) else type(obj)
    return issubclass(cls, nn.modules.loss._Loss)


def _module_classes(loaded: LoadedFile) -> list[tuple[str, type]]:
    ns = loaded.namespace
    module_name = ns.get("__name__")
    return [
        (name, obj) for name, obj in ns.items()
        if isinstance(obj, type) and issubclass(obj, nn.Module) and obj.__module__ == module_name
        and not name.startswith("_") and not inspect.isabstract(obj) and not _is_loss(obj)
    ]


def root_model_classes(loaded: LoadedFile) -> list[tuple[str, type]]:
    """Model classes no other model class of the file builds or derives from, that have a forward."""
    classes = _module_classes(loaded)
    names = {name for name, _ in classes}
    referenced: set[str] = set()
    for node in (loaded.tree.body if loaded.tree is not None else []):
        if isinstance(node, ast.ClassDef) and node.name in names:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and sub.id in names and sub.id != node.name:
                    if not any(sub is b for b in node.bases):
                        referenced.add(sub.id)
    bases = {base for _, cls in classes for base in cls.__mro__[1:]}
    with_forward = [(n, c) for n, c in classes if getattr(c, "forward", None) is not nn.Module.forward]
    roots = [(n, c) for n, c in with_forward if n not in referenced and c not in bases]
    if not roots:  # building blocks referencing each other: fall back to every class with a forward
        roots = [(n, c) for n, c in with_forward if c not in bases]
    return roots


def _candidate_names(loaded: LoadedFile) -> list[tuple[str, str]]:
    """(name, kind) of every candidate in discovery order."""
    ns = loaded.namespace
    found: list[tuple[str, str]] = []
    for name, obj in ns.items():
        if name.startswith("_") or name in loaded.example_names:
            continue
        if isinstance(obj, nn.Module) and not _is_loss(obj):
            # A module without parameters (``normalize = transforms.Normalize(...)``) is a
            # transform, not a model.
            if _has_parameters(obj):
                found.append((name, "instance"))
        elif isinstance(obj, (list, tuple)) and 0 < len(obj) <= 8 and all(
                isinstance(m, nn.Module) and not isinstance(m, nn.ModuleList) and not _is_loss(m) for m in obj):
            # nets = [Net(batch_normalization=False), Net(batch_normalization=True)]: each one is linted.
            found += [(f"{name}[{i}]", "expression") for i in range(len(obj))]
    for name in FACTORY_NAMES:
        obj = ns.get(name)
        if callable(obj) and not isinstance(obj, (type, nn.Module)) and not required_parameters(obj):
            found.append((name, "factory"))
    found += [(name, "class") for name, _ in root_model_classes(loaded)]
    return found


def discover_models(loaded: LoadedFile) -> list[LoadedModel]:
    """All models in the file, in discovery order, minus submodules of other candidates."""
    models: list[LoadedModel] = []
    needs_args: list[UserError] = []
    for name, kind in _candidate_names(loaded):
        if kind == "expression":  # an element of a module-level list of models
            models.append(_evaluate_selector(loaded, name))
            continue
        obj = loaded.namespace[name]
        if kind == "instance":
            models.append(_as_loaded(loaded, name, kind, obj))
        elif kind == "factory":
            models.append(_construct(loaded, f"{name}()", obj, kind=kind, name=name))
        else:
            # Skip classes already represented by an instance or used as a building block.
            if any(type(m) is obj for c in models for m in c.model.modules()):
                continue
            try:
                models.append(_build_class(loaded, name, obj))
            except NoModelError:
                raise
            except UserError as exc:
                if "needs constructor arguments" not in exc.message:
                    raise
                needs_args.append(NoModelError(exc.message, file=exc.file))
    models += _example_candidates(loaded, models)
    models = _drop_submodule_candidates(models)
    if not models:
        failure = _first_failure(loaded)
        if needs_args:
            error = needs_args[0]
            if failure:
                error = NoModelError(f"{error.message} ({failure})", file=error.file)
            raise error
        if failure is None and loaded.example_failures:
            block, why = next(iter(loaded.example_failures.items()))
            failure = f"{loaded.display}: {why} (in {block})"
        if failure:
            raise UserError(f"{failure}; no model could be built", file=loaded.display)
        skipped_build = next((st for st in (loaded.plan.statements if loaded.plan else [])
                              if st.holds_model and st.skip_reason and st.kind != "guard"), None)
        if skipped_build is not None:
            raise UserError(
                f"{loaded.display}:{skipped_build.line}: the model is built by a statement that also does "
                f"{skipped_build.skip_reason}, which actlint does not run; build it in a zero-argument "
                f"build_model() factory, or select it with {loaded.display}::Name",
                file=loaded.display,
            )
        raise NoModelError(
            f"{loaded.display}: no model found: define a module-level nn.Module instance, a "
            f"zero-argument build_model() factory or an nn.Module subclass, or select one with "
            f"{loaded.display}::Name",
            file=loaded.display,
        )
    return models


def _example_candidates(loaded: LoadedFile, found: list[LoadedModel]) -> list[LoadedModel]:
    """Models the script builds in its ``__main__`` block or ``main()`` from other libraries'
    classes and factories (``model = resnet18(num_classes=10)``); tests' and docstrings' builds
    only when the file gives no other model."""
    file_classes = {cls for _, cls in _module_classes(loaded)}
    out: list[LoadedModel] = []
    for build in file_examples(loaded):
        if type(build.model) in file_classes or any(m.model is build.model for m in found + out):
            continue
        if not _has_parameters(build.model):
            continue  # a criterion or a post-processor the block builds beside the model
        if build.primary or not found:
            out.append(_from_example(loaded, build.variable, "example", build))
    return out


def _has_parameters(module: nn.Module) -> bool:
    return next(module.parameters(), None) is not None


def _first_failure(loaded: LoadedFile) -> str | None:
    """The failure that explains a missing model best: a model statement that raised (its message
    names the import that failed), else an unfaithful model statement's, else the first."""
    if not loaded.failures:
        return None
    plan = loaded.plan
    models = [i for i in sorted(loaded.failures) if plan is not None and plan.statements[i].kind == "model"
              and not plan.statements[i].speculative]
    raised = [i for i in models if i not in plan.blocked] if plan is not None else []
    first = next(iter(loaded.failures.values()))
    if raised:
        # A NameError explained by an earlier failure ("its statement failed: ...") points at it.
        message = loaded.failures[raised[0]]
        return first if "(its statement failed:" in message else message
    return loaded.failures[models[0]] if models else first


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


_IMPORT_TARGET = re.compile(r"^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*):(?!:)(.+)$", re.DOTALL)


def import_target(arg: str) -> tuple[str, str] | None:
    """``torchvision.models:resnet18`` -> ``("torchvision.models", "resnet18")`` (the entry-point
    convention); None for files, directories and ``file.py::Name`` selectors."""
    match = _IMPORT_TARGET.match(arg.strip())
    if match is None or Path(arg).exists() or match.group(1).endswith(".py"):
        return None
    return match.group(1), match.group(2).strip()


def load_installed(module_name: str, selector: str, settings: LoadSettings | None = None) -> LoadedModel:
    """The model ``selector`` names or builds in an installed module (``timm:create_model("resnet18")``)."""
    settings = settings or LoadSettings()
    shown = f"{module_name}:{selector}"
    parse_selector(selector, where=shown)
    with fenced(module_name, settings.script_args, FenceLog()), \
            time_limit(settings.timeout, f"importing {module_name}"):
        try:
            module = importlib.import_module(module_name)
        except UserCodeTimeout as exc:
            raise UserError(f"{shown}: importing {module_name} did not finish within {exc.seconds:g}s",
                            file=shown) from None
        except ImportError as exc:
            raise UserError(f"{shown}: cannot import {module_name} ({one_line(exc)})", file=shown) from None
        except Exception as exc:  # noqa: BLE001 - the package failed at import
            raise UserError(f"{shown}: importing {module_name} raised {one_line(exc)}", file=shown) from None
    path = Path(getattr(module, "__file__", None) or module_name).resolve()
    # Findings point into the module's file, as for any file.
    loaded = LoadedFile(path, display_path(path), "", vars(module), None, settings, installed=True)
    return select_model(loaded, selector)


def load_models(arg: str, settings: LoadSettings | None = None) -> list[LoadedModel]:
    """Load ``file.py`` or ``file.py::Name`` (or ``file.py::Net(width=3)``, or an installed
    ``package.module:attribute``) and return the models to lint."""
    if (installed := import_target(arg)) is not None:
        return [load_installed(*installed, settings=settings)]
    path, selector = split_selector(arg)
    loaded = load_file(path, settings)
    if selector is not None:
        return [select_model(loaded, selector)]
    return discover_models(loaded)


__all__ = [
    "LoadSettings", "LoadedFile", "LoadedModel", "load_file", "load_models", "select_model", "discover_models",
    "split_selector", "display_path", "root_model_classes", "import_target", "load_installed", "file_examples",
    "recording_construction_sites", "FACTORY_NAMES", "DEFAULT_LOAD_TIMEOUT",
]

"""Which models a loaded file holds: discovery without a selector, selection with one, installed models.

Discovery: module-level ``nn.Module`` instances (wrappers unwrapped), then zero-argument
factories named build_model/make_model/create_model/get_model, then the file's root model
classes, built with default instances of the config classes their parameters name.
"""


from __future__ import annotations

import ast
import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any, Callable

import torch.nn as nn

from actlint.core.errors import NoModelError, UserError, one_line
from actlint.sandbox.fence import FenceLog, UserCodeTimeout, fenced, time_limit
from actlint.loader.build import build_sized, default_arguments, format_size, model_bytes, on_meta, required_parameters, unwrap
from actlint.loader.examples import ExampleBuild
from actlint.loader.selectors import is_plain_name, parse_selector, split_selector
from actlint.files.prefilter import FACTORY_NAMES  # one list for discovery and the text check

#: Seconds a file may take to load, and again each model construction, by default.
from actlint.loader.loaded import LoadSettings, LoadedFile, LoadedModel, display_path
from actlint.loader.explain import download_hint, explain_failure, statement_at, user_line
from actlint.loader.loaded import is_loss
from actlint.loader.running import file_examples, load_file, running_user_code


def _construct(loaded: LoadedFile, label: str, make: Callable[[], Any], *, kind: str, name: str) -> LoadedModel:
    """Build a model by calling user code (fenced, timed, sized on meta first)."""
    where = loaded.display
    with running_user_code(loaded, f"building {label}"):
        try:
            loaded.fence.replay()
            built = build_sized(make, loaded.budget, discard_output=loaded.fence.drop)
        except UserCodeTimeout as exc:
            raise UserError(f"{where}: {label} did not finish within {exc.seconds:g}s (stopped; "
                            f"raise --load-timeout if it is slow, not stuck)", file=where) from None
        except SystemExit as exc:
            raise UserError(f"{where}: {label} called sys.exit({exc.code})", file=where) from None
        except Exception as exc:  # noqa: BLE001 - the user's constructor failed
            line = user_line(exc, str(loaded.path))
            loc = f"{where}:{line}" if line else where
            hint = download_hint(exc, statement_at(loaded.tree, line))
            if hint:
                loaded.fence.drop()  # the download's own progress line: the one-line message says it all
            raise UserError(f"{loc}: {label} " + (hint or f"raised {explain_failure(exc, loaded)}"), file=where) from None
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


def _module_classes(loaded: LoadedFile) -> list[tuple[str, type]]:
    ns = loaded.namespace
    module_name = ns.get("__name__")
    return [
        (name, obj) for name, obj in ns.items()
        if isinstance(obj, type) and issubclass(obj, nn.Module) and obj.__module__ == module_name
        and not name.startswith("_") and not inspect.isabstract(obj) and not is_loss(obj)
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
        if isinstance(obj, nn.Module) and not is_loss(obj):
            # A module without parameters (``normalize = transforms.Normalize(...)``) is a
            # transform, not a model.
            if _has_parameters(obj):
                found.append((name, "instance"))
        elif isinstance(obj, (list, tuple)) and 0 < len(obj) <= 8 and all(
                isinstance(m, nn.Module) and not isinstance(m, nn.ModuleList) and not is_loss(m) for m in obj):
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

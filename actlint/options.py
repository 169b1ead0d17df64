"""What shapes a run: :class:`LintOptions`, built from the configuration and the command line.

In: a parsed :class:`~actlint.config.Config` and a :class:`CommandLine` (what the CLI's
flags or :func:`actlint.lint`'s keywords said). Out: the :class:`LintOptions` the
pipeline runs with and the ``--fail-on`` level. Both front doors go through
:func:`build_options`, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch

from actlint.config import Config, FileOverrides, PerFileRules
from actlint.core.errors import UserError
from actlint.core.findings import Severity
from actlint.files.discovery import DEFAULT_EXCLUDE, FileFilter, PatternList
from actlint.loader.loaded import DEFAULT_LOAD_TIMEOUT, LoadSettings
from actlint.probe.device import resolve_device
from actlint.rules.engine import RuleSelection
from actlint.rules.registry import RuleRegistry
from actlint.trace.inputs import parse_dtype


@dataclass(frozen=True)
class LintOptions:
    """Everything that shapes a run (CLI flags and configuration merged)."""

    selection: RuleSelection = field(default_factory=RuleSelection)
    input_shapes: tuple[tuple[int, ...], ...] = ()
    input_dtype: torch.dtype | None = None
    batch_size: int = 8
    files: FileFilter = field(default_factory=FileFilter.default)  # what directory walks skip
    per_file: PerFileRules | None = None  # per-file models, inputs and rule ignores (configuration)
    skip_non_models: bool = False  # explicit files pass the directory walk's text check
    probe: bool = True
    train_probe: bool = True  # the training probe (runs only with the probe, for the rules that read it)
    device: str = "auto"
    probe_batch_size: int | None = None  # None: the example inputs' batch, over several passes
    probe_timeout: float = 60.0
    trace: str = "auto"  # "auto": the trace chain; "executed": always record one forward pass
    example_inputs: tuple[Any, ...] | None = None  # tensors given from Python (actlint.lint(model, x))
    fail_on_refuted: bool = False  # findings the probe refuted count toward the exit code
    load: LoadSettings = field(default_factory=LoadSettings)  # script arguments, load time limit, memory budget


@dataclass(frozen=True)
class CommandLine:
    """What was given on the command line, or to :func:`actlint.lint` (None or empty: not given).

    The two front doors fill this one record and :func:`build_options` merges it with the
    configuration, so a flag and its Python keyword always mean the same thing.
    """

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    fail_on: Severity | None = None
    fail_on_refuted: bool | None = None
    input_shapes: tuple[tuple[int, ...], ...] = ()
    input_dtype: str | None = None
    batch_size: int | None = None
    probe: bool | None = None
    train_probe: bool | None = None
    device: str | None = None
    probe_batch_size: int | None = None
    probe_timeout: float | None = None
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool | None = None
    script_args: tuple[str, ...] | None = None
    load_timeout: float | None = None
    max_model_memory: int | None = None
    trace: str | None = None  # "auto" or "executed"
    skip_non_models: bool = False
    example_inputs: tuple[Any, ...] | None = None  # tensors given from Python (actlint.lint(model, x))


@dataclass(frozen=True)
class SelectionLayer:
    """One level of rule selection (the file, then the command line)."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


def resolve_selection(layers: Iterable[SelectionLayer], rule_ids: Sequence[str]) -> tuple[str, ...]:
    """The enabled rule IDs after applying ``layers`` in order (ruff's resolution).

    A layer with ``select`` starts over from it (minus its own ``ignore``); a layer without
    one adds its ``extend_select`` and removes its ``ignore`` from what came before. Within
    a layer the most specific prefix wins, and ``ignore`` wins a tie.
    """
    enabled = set(rule_ids)  # default: every rule
    for layer in layers:
        if layer.select is not None:
            within = RuleSelection(select=layer.select + layer.extend_select, ignore=layer.ignore)
            enabled = {r for r in rule_ids if within.enabled(r)}
            continue
        for rule_id in rule_ids:
            added = _specificity(rule_id, layer.extend_select)
            removed = _specificity(rule_id, layer.ignore)
            if added > removed:
                enabled.add(rule_id)
            elif removed >= 0:
                enabled.discard(rule_id)
    return tuple(r for r in rule_ids if r in enabled)


def _specificity(rule_id: str, prefixes: Iterable[str]) -> int:
    return max((len(p) if p != "ALL" else 0 for p in prefixes if p == "ALL" or rule_id.startswith(p)), default=-1)


def build_options(config: Config, cli: CommandLine, registry: RuleRegistry) -> tuple["LintOptions", Severity]:
    """Run options and ``--fail-on`` from the configuration with the command line on top.

    A probe device that does not exist (``cuda`` without CUDA) is a :class:`UserError` here,
    before any work, named after the configuration file when the device came from it.
    """
    enabled = resolve_selection(
        [SelectionLayer(config.select, config.extend_select, config.ignore),
         SelectionLayer(cli.select, cli.extend_select, cli.ignore)],
        registry.ids,
    )
    selection = RuleSelection(
        select=enabled,
        severity={**config.severity, **cli.severity},
        options={rule: dict(opts) for rule, opts in config.rule_options.items()},
    )
    dtype_text = cli.input_dtype or config.input_dtype
    per_file = config.per_file
    if per_file:
        overridden = [key for key, given in (("input_shapes", cli.input_shapes), ("input_dtype", cli.input_dtype),
                                              ("batch_size", cli.batch_size)) if given]
        per_file = per_file.without(*overridden) if overridden else per_file
    options = LintOptions(
        selection=selection,
        input_shapes=cli.input_shapes or config.input_shapes or (),
        input_dtype=parse_dtype(dtype_text) if dtype_text else None,
        batch_size=_first(cli.batch_size, config.batch_size, 8),
        files=file_filter(config, cli.extend_exclude, cli.force_exclude),
        per_file=per_file or None,
        probe=_first(cli.probe, config.probe.enabled, True),
        train_probe=_first(cli.train_probe, config.probe.training, True),
        device=_first(cli.device, config.probe.device, "auto"),
        probe_batch_size=_first(cli.probe_batch_size, config.probe.batch_size, None),
        probe_timeout=_first(cli.probe_timeout, config.probe.timeout, 60.0),
        fail_on_refuted=_first(cli.fail_on_refuted, config.fail_on_refuted, False),
        load=LoadSettings(
            script_args=_first(cli.script_args, config.load.script_args, ()),
            timeout=_first(cli.load_timeout, config.load.timeout, DEFAULT_LOAD_TIMEOUT),
            memory_budget=_first(cli.max_model_memory, config.load.max_model_memory, None),
        ),
        skip_non_models=cli.skip_non_models,
        trace=cli.trace or "auto",
        example_inputs=cli.example_inputs,
    )
    if options.probe:
        try:
            resolve_device(options.device)  # --device cuda without CUDA: exit 2 before any work
        except UserError as exc:
            if cli.device is None and config.probe.device is not None:  # it came from the configuration file
                raise UserError(f"{config.display}: [tool.actlint.probe] {exc}") from None
            raise
    return options, _first(cli.fail_on, config.fail_on, Severity.WARNING)


def with_file_overrides(options: LintOptions, overrides: FileOverrides) -> LintOptions:
    """``options`` with one file's configured input settings in place of the run's."""
    changes: dict[str, Any] = {}
    if overrides.input_shapes is not None:
        changes["input_shapes"] = overrides.input_shapes
    if overrides.input_dtype is not None:
        changes["input_dtype"] = parse_dtype(overrides.input_dtype)
    if overrides.batch_size is not None:
        changes["batch_size"] = overrides.batch_size
    return replace(options, **changes) if changes else options


def file_filter(config: Config, extend_exclude: Sequence[str] = (), force_exclude: bool | None = None) -> FileFilter:
    """The files a run skips: the configuration's excludes plus ``--extend-exclude`` patterns."""
    root = config.root
    patterns = PatternList.parse(config.exclude if config.exclude is not None else DEFAULT_EXCLUDE, root)
    patterns += PatternList.parse(config.extend_exclude, root)
    try:
        patterns += PatternList.parse(extend_exclude, Path.cwd())
    except ValueError as exc:
        raise UserError(f"--extend-exclude: {exc}") from None
    return FileFilter(
        exclude=patterns,
        root=root,
        respect_gitignore=_first(config.respect_gitignore, True),
        force_exclude=_first(force_exclude, config.force_exclude, False),
    )


def _first(*values: Any) -> Any:
    """The first value that is not None (command line, then file, then default)."""
    return next((v for v in values if v is not None), values[-1])


__all__ = [
    "CommandLine", "LintOptions", "SelectionLayer", "build_options", "file_filter", "resolve_selection",
    "with_file_overrides",
]

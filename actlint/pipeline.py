"""The pipeline, in one direction: load -> trace -> static rules -> probe -> measured rules -> results.

Each stage lives in its own module; this module only wires them together and turns
per-file failures into :class:`~actlint.core.results.RunError` so one bad file never stops
the others.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from actlint.rules.engine import NO_TRAINING, instantiate_rules, run_rules, skipped_note
from actlint.core.errors import NoModelError, UserError, one_line
from actlint.core.findings import Finding, ProbeStatus
from actlint.graph.view import parameter_count
from actlint.trace.inputs import resolve_inputs
from actlint.loader.loaded import LoadedModel, LoadSettings, display_path
from actlint.loader.running import load_file
from actlint.loader.dependencies import recording_files_read
from actlint.cache.store import ResultCache
from actlint.loader.models import load_models, select_model
from actlint.loader.selectors import split_selector
from actlint.core.location import SourceLocation
from actlint.files.prefilter import looks_like_model_file
from actlint.core.results import LintRun, ModelResult, RunError
from actlint.graph.queries import output_activations, output_ends
from actlint.options import LintOptions, with_file_overrides
from actlint.probe.gradient import ProbeSettings, run_probe
from actlint.probe.training import FitCriterion, TrainingReport, TrainingSettings, run_training_probe
from actlint.probe.replay import training_plan
from actlint.source.pairing import training_for
from actlint.probe.reports import ProbeReport
from actlint.rules.base import Rule, RuleContext
from actlint.rules.registry import RuleRegistry, default_registry
from actlint.sandbox.preserved import quiet_user_warnings
from actlint.rules.suppressions import apply_suppressions
from actlint.sandbox.fence import UserCodeTimeout, time_limit
from actlint.sandbox.isolation import IsolatedWorkers, WorkerFailure, isolation_available
from actlint.graph.view import GraphView
from actlint.trace.inputs import InputResolution, type_checks
from actlint.graph.ops import DEFAULT_TABLE
from actlint.trace import (
    EXECUTE_AFTER, TraceResult, forward_error, module_tree_view, propagate_shapes, runs_for_real, to_meta,
    trace_executed, trace_model,
)
from actlint.files.discovery import FileFilter
from actlint.fixer.session import fix_run


def expand_targets(
    args: Sequence[str], files: FileFilter | None = None, skip_non_models: bool = False
) -> list[tuple[str, bool]]:
    """Files to lint from CLI arguments: ``(target, from_directory)`` pairs.

    Directories are walked; files found there that do not look like model code are
    skipped (:func:`actlint.files.prefilter.looks_like_model_file`, a cheap text check) and
    files without models are not an error. With ``skip_non_models`` (``--skip-non-models``,
    what the pre-commit hook passes) files named explicitly are treated the same way;
    without it they are linted as given, so ``actlint utils.py`` still says "no model
    found". Selectors (``file.py::Net``) are always linted.

    ``files`` decides what walks skip (configured excludes, ``.gitignore``, virtualenvs);
    with its ``force_exclude`` set, excluded files named explicitly are skipped too.
    """
    files = files or FileFilter.default()
    targets: list[tuple[str, bool]] = []
    for arg in args:
        path, selector = split_selector(arg)
        p = Path(path)
        if files.skips_argument(p):
            continue
        if selector is None and p.is_dir():
            for f in files.iter_python_files(p):
                if looks_like_model_file(f):
                    targets.append((str(f), True))
        elif selector is None and skip_non_models and p.is_file():
            if looks_like_model_file(p):
                targets.append((arg, True))
        else:
            targets.append((arg, False))
    return targets


FileResult = tuple[list[ModelResult], list[RunError]]
#: A target's result and the local files its lint read (what the result cache validates).
Recorded = tuple[FileResult, list[str]]


def lint_paths(args: Sequence[str], options: LintOptions, registry: RuleRegistry | None = None,
               jobs: int = 1, *, isolate: bool = False,
               on_file: Callable[[list[ModelResult], list[RunError]], None] | None = None,
               on_targets: Callable[[list[str]], None] | None = None,
               cache: ResultCache | None = None) -> LintRun:
    """Lint every model in ``args`` (files, ``file.py::Name`` selectors, directories).

    ``isolate`` (the CLI's default): the user's code runs in worker processes
    (:class:`~actlint.sandbox.isolation.IsolatedWorkers`, ``jobs`` of them, ``0``: half the
    cores), so a file that ends or crashes its interpreter, hangs in C code or fights the
    time limits costs one error line and the run goes on. Without it (or where workers
    cannot be forked), files are linted here, or with ``jobs > 1`` in spawned worker
    processes (``jobs=0``: only when the first file's lint time says the rest would take
    longer serially than starting the workers, :data:`WORKER_START_SECONDS`).

    ``on_file(models, errors)`` is called for each target as soon as it and every target
    before it are done, in the order of a serial run (the CLI streams its text report from
    it); results are the same whatever ``jobs`` is. ``on_targets(targets)`` is called once the
    arguments are expanded, before any file is linted (the progress line's total). Results
    from worker processes carry no
    GraphView or probe objects (they hold the user's modules): the HTML report, which draws
    them, lints in-process.

    ``cache``: targets whose files, options and environment are unchanged are replayed from
    it, the others are linted and stored (:class:`~actlint.cache.store.ResultCache`).
    """
    targets = expand_targets(args, options.files, options.skip_non_models)
    if on_targets is not None:
        on_targets([target for target, _ in targets])
    run = LintRun()
    registry_given = registry is not None
    registry = registry or default_registry()
    rules = instantiate_rules(registry, options.selection)
    cached = {i: hit for i, (target, _) in enumerate(targets)
              if cache is not None and _cacheable(target) and (hit := cache.lookup(target)) is not None}
    for result, files in cached.values():
        run.read_files.extend(files)
    todo = [t for i, t in enumerate(targets) if i not in cached]
    if isolate and isolation_available():
        linted = _isolated(todo, options, rules, registry, jobs)
    else:
        linted = _in_process(todo, options, rules, registry, jobs, registry_given)
    try:
        _collect(targets, cached, linted, cache, run, on_file)
    finally:
        linted.close()  # the workers leave now, not when the generator is collected
    return run


def _collect(targets: list[tuple[str, bool]], cached: dict[int, Recorded], linted: Iterator[Recorded],
             cache: ResultCache | None, run: LintRun,
             on_file: Callable[[list[ModelResult], list[RunError]], None] | None) -> None:
    """Results in target order, cached or linted; new ones stored; ``on_file`` told of each."""
    for index, (target, _) in enumerate(targets):
        if index in cached:
            (models, errors), _ = cached[index]
        else:
            (models, errors), files = next(linted)
            if _cacheable(target):
                read = [_file_of(target), *files]
                run.read_files.extend(read)
                if cache is not None:
                    cache.store(target, models, errors, read)
        run.models.extend(models)
        run.errors.extend(errors)
        if on_file is not None:
            on_file(models, errors)


def _auto_jobs() -> int:
    # Auto uses half the cores as workers: torch already runs each probe on several threads,
    # so on 2 cores one process is fastest (measured: -j 2 took 1.6-1.9x the time of -j 1).
    return max(1, (os.cpu_count() or 1) // 2)


def _cacheable(target: str) -> bool:
    """A file's result can be cached (an installed ``module:attribute`` has no file to hash)."""
    return Path(_file_of(target)).is_file()


def _file_of(target: str) -> str:
    return str(Path(split_selector(target)[0]).resolve())


def _lint_recorded(target: str, from_directory: bool, options: LintOptions, rules: Sequence[Rule],
                   registry: RuleRegistry) -> Recorded:
    """One target's result and the local modules its user code imported."""
    with recording_files_read() as files:
        result = _lint_target(target, from_directory, options, rules, registry)
    return result, sorted(files)


def _isolated(targets: list[tuple[str, bool]], options: LintOptions, rules: Sequence[Rule],
              registry: RuleRegistry, jobs: int) -> Iterator[Recorded]:
    """Each target linted in a forked worker; a worker that dies or hangs is one error line."""
    def lint_one(task: tuple[str, bool]) -> Recorded:
        result, files = _lint_recorded(task[0], task[1], options, rules, registry)
        return _portable(result), files

    # Longest stretch with no time limit announced (actlint's own rules and bookkeeping).
    idle = options.load.timeout + 10 * options.probe_timeout + 60
    workers = IsolatedWorkers(lint_one, jobs=jobs or _auto_jobs(), idle_limit=idle)
    for index, result in workers.results(targets):
        if isinstance(result, WorkerFailure):
            target = targets[index][0]
            path = split_selector(target)[0]
            yield ([], [RunError(path, f"{target}: {result.message}")]), []
        else:
            yield result


def _in_process(targets: list[tuple[str, bool]], options: LintOptions, rules: Sequence[Rule],
                registry: RuleRegistry, jobs: int, registry_given: bool) -> Iterator[Recorded]:
    auto_jobs = _auto_jobs()
    parallel = not registry_given and len(targets) > 1 and (jobs > 1 or (jobs == 0 and auto_jobs > 1))
    if parallel and jobs == 0:
        # Auto: lint the first file here and time it; workers only when the files left
        # would take longer serially than a worker takes to start (an interpreter and
        # `import torch`, WORKER_START_SECONDS) plus their share of the work.
        jobs = auto_jobs
        start = time.perf_counter()
        yield _lint_recorded(targets[0][0], targets[0][1], options, rules, registry)
        per_file = time.perf_counter() - start
        rest = targets[1:]
        saved = per_file * len(rest) * (1 - 1 / jobs)
        parallel = len(rest) > 1 and saved > WORKER_START_SECONDS
        targets = rest
    if parallel:
        yield from _lint_in_workers(targets, options, jobs)
    else:
        for target, from_directory in targets:
            yield _lint_recorded(target, from_directory, options, rules, registry)


def _portable(result: FileResult) -> FileResult:
    """A result that can leave its process (see :meth:`ModelResult.portable`)."""
    return [m.portable() for m in result[0]], result[1]


def fix_paths(args: Sequence[str], options: LintOptions, *, unsafe: bool = False, jobs: int = 1,
              isolate: bool = False, on_file: Callable[[list[ModelResult], list[RunError]], None] | None = None,
              on_targets: Callable[[list[str]], None] | None = None,
              cache: ResultCache | None = None) -> LintRun:
    """``actlint --fix``: lint ``args``, apply the fixes offered, verify each by linting its file again.

    The re-lint of a file lints the same targets with the same options (each file is linted
    from the same seed, so the probe sees the same weights and inputs); the returned run holds
    the fixed files' last lint with each model's :class:`~actlint.fixes.outcome.FixOutcome` list.
    """
    run = lint_paths(args, options, jobs=jobs, isolate=isolate, on_file=on_file, on_targets=on_targets, cache=cache)
    targets = expand_targets(args, options.files, options.skip_non_models)
    registry = default_registry()
    rules = {rule.id: rule for rule in instantiate_rules(registry, options.selection)}

    def relint(path: str) -> LintRun:
        mine = [target for target, _ in targets if _file_of(target) == path]
        return lint_paths(mine, options, registry, isolate=isolate, cache=cache)

    def evidence(rule_id: str, model: ModelResult) -> tuple[str, float] | None:
        rule = rules.get(rule_id)
        return rule.fix_evidence({"probe": model.probe, "parameters": model.parameters}) if rule else None

    return fix_run(run, relint, evidence, unsafe=unsafe)


def _lint_target(target: str, from_directory: bool, options: LintOptions, rules: Sequence[Rule],
                 registry: RuleRegistry) -> tuple[list[ModelResult], list[RunError]]:
    """The models and errors of one file (or ``file.py::Name``)."""
    path, selector = split_selector(target)
    overrides = options.per_file.for_file(Path(path)) if options.per_file else None
    file_rules, file_options, names = rules, options, None
    if overrides is not None:
        file_rules = [r for r in rules if not overrides.ignores(r.id)]
        file_options = with_file_overrides(options, overrides)
        names = overrides.models if selector is None else None  # file.py::Name wins
    with _seeded():
        return _lint_file(target, from_directory, path, names, file_options, file_rules, registry)


@contextlib.contextmanager
def _seeded(seed: int = 0) -> Iterator[None]:
    """Each file is loaded and linted from the same random state, whatever ran before it.

    Weight inits drawn while a model is built then do not depend on which files came
    first or on which worker process lints the file: ``-j 1`` and ``-j N`` give the same
    reports, and so do two runs of the same file. The caller's random state is restored.
    """
    saved_python = random.getstate()
    numpy = sys.modules.get("numpy")
    saved_numpy = numpy.random.get_state() if numpy is not None else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        if numpy is not None:
            numpy.random.seed(seed)
        try:
            yield
        finally:
            random.setstate(saved_python)
            if numpy is not None:
                numpy.random.set_state(saved_numpy)


def _lint_file(target: str, from_directory: bool, path: str, names: Sequence[str] | None, file_options: LintOptions,
               file_rules: Sequence[Rule], registry: RuleRegistry) -> tuple[list[ModelResult], list[RunError]]:
    try:
        with quiet_user_warnings():
            models = _load(target, names, file_options.load)
    except UserError as exc:
        if from_directory and isinstance(exc, NoModelError):
            return [], []
        return [], [RunError(exc.file or path, exc.message)]
    return lint_models(models, file_rules, registry, file_options)


def lint_models(models: Sequence[LoadedModel], rules: Sequence[Rule], registry: RuleRegistry,
                options: LintOptions) -> tuple[list[ModelResult], list[RunError]]:
    """Lint the models of one file, each fenced from the others' failures, then apply the file's comments.

    The CLI's files and :func:`actlint.lint`'s model objects both come through here.
    """
    results: list[ModelResult] = []
    errors: list[RunError] = []
    for loaded in models:
        try:
            with quiet_user_warnings():
                results.append(lint_model(loaded, rules, options))
        except UserError as exc:
            errors.append(RunError(loaded.file.display, f"{loaded.file.display}::{loaded.name}: {exc.message}"))
        except Exception as exc:  # noqa: BLE001 - one model's crash must not lose the others
            if os.environ.get("ACTLINT_DEBUG"):
                traceback.print_exc()
            errors.append(
                RunError(loaded.file.display, f"{loaded.file.display}::{loaded.name}: internal error: {one_line(exc)}")
            )
    if models:
        # Comments belong to the file: judge them once all of its models are linted.
        apply_suppressions(results, models[0].file, rules, registry)
    return results, errors


# --- worker processes (-j N) ---------------------------------------------------------------

#: What starting a worker costs (an interpreter and ``import torch``, measured here at
#: 1.5-2.5 s): with ``jobs=0`` (auto) workers are used only when they save more than this.
WORKER_START_SECONDS = 2.5

_WORKER: dict[str, Any] = {}


def _init_worker(options: LintOptions) -> None:
    """Once per worker process: the rules (torch is imported with this module)."""
    registry = default_registry()
    _WORKER.update(options=options, registry=registry, rules=instantiate_rules(registry, options.selection))


def _lint_in_worker(task: tuple[str, bool]) -> Recorded:
    result, files = _lint_recorded(task[0], task[1], _WORKER["options"], _WORKER["rules"], _WORKER["registry"])
    return _portable(result), files


def _lint_in_workers(targets: list[tuple[str, bool]], options: LintOptions, jobs: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a fresh interpreter per worker (forking a process that already runs torch's
    # thread pools can deadlock); each worker then lints many files.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(targets)), mp_context=context,
                             initializer=_init_worker, initargs=(options,)) as pool:
        yield from pool.map(_lint_in_worker, targets)


def _load(target: str, names: Sequence[str] | None, settings: LoadSettings) -> list[LoadedModel]:
    """The models of ``target``; ``names`` (per-file ``models`` setting) picks them by selector."""
    if not names:
        return load_models(target, settings)
    loaded = load_file(split_selector(target)[0], settings)
    return [select_model(loaded, name) for name in names]


def lint_model(loaded: LoadedModel, rules: Sequence[Rule], options: LintOptions) -> ModelResult:
    """Run the whole pipeline on one model: trace, static rules, probe, measured rules, verdicts."""
    # Every run of the user's forward (tracing, input inference, the executed trace, the
    # probe) is cut off by the probe's time budget: a forward that never returns must not
    # hang actlint. (At least a second for the stages before the probe: a tiny probe budget
    # is about the probe.)
    limit = max(options.probe_timeout, 1.0)
    graph, gm, resolution = _trace_and_resolve(loaded, options, limit)
    _check_forward(loaded, graph, gm, resolution, limit)

    static_rules = [r for r in rules if not r.is_measured]
    outcome = run_rules(static_rules, lambda rule: RuleContext(rule, graph, loaded.file))
    findings = merge_repeats([_displayed(f, loaded) for f in outcome.findings])

    report = _probe(loaded, graph, resolution, rules, options, linearity=any(f.rule == "ACT103" for f in findings))
    measured_probe = report if report.ok else None
    measured = run_rules([r for r in rules if r.is_measured],
                         lambda rule: RuleContext(rule, graph, loaded.file, probe=measured_probe))
    outcome.crashed.update(measured.crashed)
    # The probe's verdict on every finding: static ones are confirmed or refuted by it,
    # measured ones carry their numbers.
    findings = _judged(findings, rules, outcome.crashed, graph, loaded, report) + merge_repeats(
        _judged([_displayed(f, loaded) for f in measured.findings], rules, outcome.crashed, graph, loaded, report))
    findings.sort(key=Finding.sort_key)
    probe_skipped = dict(measured.skipped)  # one note below, not one per measured rule
    if not options.train_probe:  # the user's choice, like --no-probe
        probe_skipped = {k: v for k, v in probe_skipped.items() if v != NO_TRAINING}
    # Rules that could not run for lack of something; measured rules count only when the
    # probe was wanted (``--no-probe`` is the user's choice, not a gap in the lint).
    incomplete = {**outcome.skipped, **(probe_skipped if options.probe else {})}
    return ModelResult(
        name=loaded.name,
        file=loaded.file.display,
        trace=graph.trace_method,
        inputs=resolution.describe(),
        parameters=parameter_count(loaded.model.parameters()),
        findings=findings,
        notes=_notes(loaded, graph, report, incomplete, outcome.crashed, options),
        skipped_rules={**outcome.skipped, **probe_skipped},
        incomplete_rules=incomplete,
        probe=report.to_json(),
        graph=graph,
        probe_report=report,
        rule_options={r.id: dict(r.config) for r in rules},
    )


def _check_forward(loaded: LoadedModel, graph: GraphView, gm: Any, resolution: InputResolution, limit: float) -> None:
    """Shapes from one forward pass; a forward that raises on inputs the user chose is their error."""
    if resolution.inputs is None:
        return
    model = loaded.model
    error = None
    try:
        with time_limit(limit, "the forward pass"):
            if gm is not None and not graph.has_shapes:
                error = propagate_shapes(gm, graph, resolution.inputs)
            elif gm is None and graph.trace_method != "executed":
                error = forward_error(model, resolution.inputs)
    except UserCodeTimeout as exc:
        graph.notes.append(f"{exc} (stopped; shapes unknown)")
    if error and resolution.source != "inferred" and runs_for_real(model):
        # Inputs the user chose (flags, example_inputs()) must run: a forward that raises
        # on them is broken input, not something to lint around.
        raise UserError(f"forward raised with the example inputs ({resolution.describe()}): {error}")


def _probe(loaded: LoadedModel, graph: GraphView, resolution: InputResolution, rules: Sequence[Rule],
           options: LintOptions, *, linearity: bool) -> ProbeReport:
    """The probe stage: skipped (with the reason and the flag that fixes it) or run, then the training probe."""
    if loaded.meta:
        return ProbeReport.not_run("skipped", "the model was linted on the meta device (too large for memory, "
                                              "or built there): no weight values to run")
    if not options.probe:
        return ProbeReport.not_run("skipped", "the probe is disabled (--no-probe, or enabled = false in [tool.actlint.probe])")
    if resolution.inputs is None:
        reason = resolution.note or "no example inputs"
        if "--input-shape" not in reason:
            reason += "; pass --input-shape (e.g. --input-shape 8,3,224,224) or define example_inputs()"
        return ProbeReport.not_run("skipped", reason)
    settings = ProbeSettings(device=options.device, batch_size=options.probe_batch_size,
                             timeout=options.probe_timeout, linearity=linearity)
    try:
        with time_limit(options.probe_timeout * 1.5 + 5, "the probe"):  # a safety net: the probe keeps its own budget
            report = run_probe(loaded.model, resolution.inputs, settings)
    except UserCodeTimeout as exc:
        return ProbeReport.not_run("timeout", f"{exc}: a forward pass never returned (raise --probe-timeout)")
    if report.ok and options.train_probe and _wants_training(rules):
        report = replace(report, training=_training_probe(loaded, graph, report, rules, options))
    return report


def _judged(findings: list[Finding], rules: Sequence[Rule], crashed: dict[str, str], graph: GraphView,
            loaded: LoadedModel, report: ProbeReport) -> list[Finding]:
    """Each finding with its rule's verdict on the probe run; a confirmation that raises keeps the finding."""
    by_id = {r.id: r for r in rules}
    judged = []
    for finding in findings:
        rule = by_id[finding.rule]
        try:
            finding = finding.with_probe(rule.confirm(finding, RuleContext(rule, graph, loaded.file, probe=report)))
            if rule.confirmed_severity is not None and finding.probe.status is ProbeStatus.CONFIRMED:
                finding = finding.with_severity(max(finding.severity, rule.confirmed_severity))
        except Exception as exc:  # noqa: BLE001 - a confirmation bug must not lose the finding
            crashed.setdefault(finding.rule, one_line(exc))
        judged.append(finding)
    return judged


def _notes(loaded: LoadedModel, graph: GraphView, report: ProbeReport, incomplete: dict[str, str],
           crashed: dict[str, str], options: LintOptions) -> list[str]:
    """How the model was loaded and traced, what could not run, and rules that raised (one line each)."""
    load_note = loaded.file.load_note()
    notes = ([load_note] if load_note else []) + list(loaded.notes) + list(graph.notes)
    if line := skipped_note(incomplete):
        notes.append(line)
    if not report.ok and options.probe:
        notes.append(f"probe {report.status}: {report.reason} (measured rules not run)")
    training = getattr(report, "training", None)
    if training is not None and training.objective:
        notes.append(f"training probe: recognised {training.objective}; learning-rate, fitting and update-size "
                     f"verdicts do not apply (non-finite values are still checked)")
    # A rule that raised is one note; every other finding of the model still stands.
    for rule_id, error in sorted(crashed.items()):
        notes.append(f"rule {rule_id} was skipped: it raised {error} (an actlint bug: please report it)")
    return notes


def _wants_training(rules: Sequence[Rule]) -> bool:
    """Does a selected rule read the training probe (ACT806, ACT85x, ACT802's confirmation)?"""
    return any("training" in r.requires or r.confirmed_by == "training probe" for r in rules)


def _training_probe(loaded: LoadedModel, graph: GraphView, report: ProbeReport, rules: Sequence[Rule],
                    options: LintOptions) -> Any:
    """Replay the file's training setup on a copy of the model (the probe's first batch, its device)."""
    plan = training_plan(training_for(loaded.file, loaded.model))
    ends_in = None
    if graph.has_dataflow:
        ends, raw = output_activations(graph)
        ends_in = ends[0][1] if ends and not raw else None
        if ends_in is None and any(node.kind in ("tanh", "hardtanh") for node in output_ends(graph)):
            ends_in = "tanh"
    # The sweep's idea of a healthy run is the rules' (ACT852's and ACT806's thresholds).
    by_id = {r.id: r for r in rules}
    defaults = TrainingSettings()
    settings = TrainingSettings(
        # The FLOP budgets keep the work at seconds; the wall clock is a safety net, generous so
        # that a loaded machine does not turn a complete measurement into a timeout.
        device=options.device, timeout=options.probe_timeout * 2, batch_size=options.batch_size,
        fit=FitCriterion(
            fraction=by_id["ACT852"].option("min-reduction") if "ACT852" in by_id else defaults.fit.fraction,
            spike=by_id["ACT806"].option("spike") if "ACT806" in by_id else defaults.fit.spike,
            loss_growth=by_id["ACT851"].option("loss-growth") if "ACT851" in by_id else defaults.fit.loss_growth,
            persistent_steps=int(by_id["ACT851"].option("persistent-steps")) if "ACT851" in by_id
            else defaults.fit.persistent_steps),
    )
    try:
        # Beyond the probe's own deadline, which follows the machine's pace (a loaded machine
        # runs the same FLOP-budgeted steps more slowly): this one only stops a hung model.
        with time_limit(options.probe_timeout * 8 + 5, "the training probe"):
            return run_training_probe(loaded.model, report.inputs, plan, settings, ends_in=ends_in)
    except UserCodeTimeout as exc:
        return TrainingReport.not_run("timeout", f"{exc}: a training step never returned (raise --probe-timeout)")


def _trace_and_resolve(loaded: LoadedModel, options: LintOptions, limit: float) -> tuple[GraphView, Any, InputResolution]:
    """The trace chain (fx, fx-partial, executed, modules) and the example inputs it needs.

    fx runs first (no inputs needed). Inputs are then resolved, checked against the fx
    graph when there is one (the candidate that works leaves its shapes behind) or by a
    real forward pass otherwise. With inputs, a model fx could trace only partly or not at
    all (or every model, with ``trace = "executed"``) is traced again by executing one
    forward pass.
    """
    model = loaded.model
    try:
        with time_limit(limit, "fx tracing"):
            traced = trace_model(model, user_file=loaded.file.path)
    except UserCodeTimeout as exc:
        traced = TraceResult(module_tree_view(model, DEFAULT_TABLE, [f"trace modules: {exc}; fell back to the module tree"]),
                             None, str(exc))
    graph, gm = traced.graph, traced.graph_module
    if gm is not None:
        def check(candidate: tuple) -> tuple[bool, str]:
            error = propagate_shapes(gm, graph, candidate, note_failure=False)
            return error is None, error or ""
    else:
        def check(candidate: tuple) -> tuple[bool, str]:
            if not runs_for_real(model):
                return type_checks(model, candidate)
            error = forward_error(model, candidate)
            return error is None, error or ""

    try:
        with time_limit(limit, "the forward pass"):
            resolution = resolve_inputs(
                model, graph, namespace=loaded.file.namespace, shapes=options.input_shapes,
                dtype=options.input_dtype, batch_size=options.batch_size, check=check, given=options.example_inputs,
                file_example=(loaded.example_inputs, loaded.example_inputs_from) if loaded.example_inputs else None,
            )
    except UserCodeTimeout as exc:
        resolution = InputResolution(None, "none", f"{exc} while trying example inputs (stopped)")
    wanted = graph.trace_method in EXECUTE_AFTER or options.trace == "executed"
    if wanted and resolution.inputs is not None:
        # A model on the meta device runs on meta inputs: shapes without memory or compute.
        inputs = tuple(to_meta(x) for x in resolution.inputs) if loaded.meta else resolution.inputs
        try:
            with time_limit(limit, "the executed trace"):
                notes = [_executed_note(n) for n in graph.notes] or ["trace executed: --trace executed"]
                executed = trace_executed(model, inputs, user_file=loaded.file.path, notes=notes)
        except UserCodeTimeout as exc:
            graph.notes.append(f"{exc}; no executed trace")
        except Exception as exc:  # noqa: BLE001 - the forward raised: keep what fx found
            graph.notes.append(f"the executed trace failed ({one_line(exc)}); kept the {graph.trace_method} trace")
        else:
            return executed, None, resolution
    return graph, gm, resolution


def _executed_note(note: str) -> str:
    """The fx fallback note, rewritten for the executed trace that replaced it."""
    for method in ("trace modules: ", "trace fx-partial: "):
        note = note.replace(method, "trace executed: ")
    for fallback in ("; fell back to the module tree", "; analysed as opaque layers"):
        note = note.replace(fallback, "; traced by executing one forward pass instead")
    return note


def merge_repeats(findings: list[Finding]) -> list[Finding]:
    """One finding per rule and source location.

    A block applied twelve times through one line of ``forward`` (or twelve layers built by
    one line in a loop) is one problem in the user's code: report it once and name the
    other modules instead of printing twelve identical lines.
    """
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        loc = f.location
        key = (f.rule, loc.file, loc.line, loc.column) if loc else (f.rule, id(f))
        groups.setdefault(key, []).append(f)
    merged = []
    for group in groups.values():
        first = group[0]
        if len(group) > 1:
            others = [g.module or g.node or "?" for g in group[1:]]
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            first = replace(first, message=f"{first.message} (also {len(others)} more from this line: {shown})")
        merged.append(first)
    return merged


def _displayed(finding: Finding, loaded: LoadedModel) -> Finding:
    """Show locations in the user's file with the path as the user wrote it."""
    loc = finding.location
    if loc is None:
        return replace(finding, location=SourceLocation(loaded.file.display, loaded.file.default_line, 1))
    if loc.file == str(loaded.file.path):
        loc = SourceLocation(loaded.file.display, loc.line, loc.column)
    else:
        loc = SourceLocation(display_path(Path(loc.file)), loc.line, loc.column)
    related = tuple(
        SourceLocation(loaded.file.display, r.line, r.column) if r.file == str(loaded.file.path) else r
        for r in finding.related
    )
    return replace(finding, location=loc, related=related)


__all__ = ["LintOptions", "lint_paths", "lint_model", "expand_targets"]

"""Command line: ``actlint model.py`` (and ``python -m actlint``).

Exit codes (ruff's): 0 nothing at or above ``--fail-on``; 1 findings; 2 usage, load or
internal error. Errors are one line on stderr, never a traceback (set ``ACTLINT_DEBUG=1``
to see one).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TextIO

import click

from actlint.core.version import __version__
from actlint.core.errors import UserError, one_line
from actlint.core.findings import Severity

if TYPE_CHECKING:
    from actlint.core.results import LintRun
    from actlint.options import CommandLine

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _split_codes(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(c.strip() for v in values for c in v.split(",") if c.strip())


def _parse_severity_overrides(values: Sequence[str]) -> dict[str, Severity]:
    overrides: dict[str, Severity] = {}
    for item in _split_codes(values):
        rule, sep, level = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} should look like ACT101=warning", param_hint="--severity")
        try:
            overrides[rule.strip().upper()] = Severity.parse(level)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--severity") from None
    return overrides


def _split_script_args(text: str | None) -> tuple[str, ...] | None:
    import shlex

    if text is None:
        return None
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: {exc}", param_hint="--script-args") from None


def _parse_memory(text: str | None) -> int | None:
    if text is None:
        return None
    from actlint.loader.build import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-model-memory") from None


def _command_line(flags: dict[str, Any], registry: Any) -> "CommandLine":
    """The typed :class:`~actlint.options.CommandLine` from ``check``'s flags (click's raw values)."""
    from actlint.options import CommandLine
    from actlint.rules.engine import validate_codes
    from actlint.trace.inputs import parse_dtype, parse_shape

    if flags["input_dtype"]:
        parse_dtype(flags["input_dtype"])  # a bad flag is an error before any configuration is read
    select = flags.pop("select")
    return CommandLine(
        select=validate_codes(_split_codes(select), registry, "--select") if select else None,
        extend_select=validate_codes(_split_codes(flags.pop("extend_select")), registry, "--extend-select"),
        ignore=validate_codes(_split_codes(flags.pop("ignore")), registry, "--ignore"),
        severity=_parse_severity_overrides(flags.pop("severity")),
        fail_on=Severity.parse(flags["fail_on"]) if flags["fail_on"] else None,
        input_shapes=tuple(parse_shape(s) for s in flags.pop("input_shape")),
        script_args=_split_script_args(flags.pop("script_args")),
        max_model_memory=_parse_memory(flags.pop("max_model_memory")),
        **{k: v for k, v in flags.items() if k != "fail_on"},
    )


class _DefaultToCheck(click.Group):
    """``actlint model.py`` means ``actlint check model.py`` (subcommands: rules, explain)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["check", *args]
        elif not args:
            args = ["check"]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="actlint")
def main() -> None:
    """actlint: will this network train? Lint PyTorch model architectures.

    \b
    Usage: actlint [OPTIONS] PATH...       lint files, file.py::Name, directories
           actlint rules                  list the rules
           actlint explain ACT101         one rule's documentation and examples
           actlint server                 the language server for editors (LSP over stdio)
    """


@main.command("check")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif", "html"]), default="text",
              show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to this file instead of stdout (html: one file for every model; "
                   "default reports/<file>-<model>.html per model).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Read settings from this file (pyproject.toml's [tool.actlint], or a TOML file of "
                   "actlint keys) instead of the nearest pyproject.toml.")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--select", multiple=True,
              help="Rule IDs or prefixes to enable (e.g. ACT1,ACT201); replaces the configured selection.")
@click.option("--extend-select", multiple=True, help="Rule IDs or prefixes to enable on top of the configured ones.")
@click.option("--ignore", multiple=True, help="Rule IDs or prefixes to disable.")
@click.option("--severity", "severity", multiple=True, metavar="RULE=LEVEL",
              help="Override a rule's severity, e.g. ACT203=error.")
@click.option("--fail-on", type=click.Choice(["info", "warning", "error"]), default=None,
              help="Lowest severity that makes the exit code 1 (default: warning).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported.")
@click.option("--fail-on-refuted/--no-fail-on-refuted", default=None,
              help="Count findings the probe measured and refuted toward the exit code (default: they are "
                   "shown, with their numbers, but do not fail the run).")
@click.option("--input-shape", multiple=True, metavar="N,C,H,W",
              help="Example input shape (repeat for several inputs).")
@click.option("--input-dtype", default=None, help="dtype of --input-shape tensors (float32, int64, ...).")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=None,
              help="Batch size of inferred example inputs (default: 8).")
@click.option("--probe/--no-probe", "probe", default=None,
              help="Run the probe, or skip it (static rules only). Default: run it.")
@click.option("--train-probe/--no-train-probe", "train_probe", default=None,
              help="Run the training probe (a few dozen optimizer steps on one fixed batch, for ACT806 and "
                   "ACT851-853), or skip it. Default: run it whenever the probe runs.")
@click.option("--device", default=None, help="Probe device: auto, cpu, cuda or cuda:N (default: auto).")
@click.option("--probe-batch-size", type=click.IntRange(1, 4096), default=None,
              help="Samples per probe pass (default: the example inputs' batch; 32 samples over several passes).")
@click.option("--probe-timeout", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Probe time budget in seconds (default: 60).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for runs over several files (default: half the cores, when the files "
                   "take long enough to repay starting them; one process on 2 cores); -j 1 lints serially. "
                   "Reports are identical either way.")
@click.option("--trace", "trace", type=click.Choice(["auto", "executed"]), default=None,
              help="How to build the dataflow graph: auto (torch.fx, then an executed trace of one forward "
                   "pass where fx cannot trace, then the module tree) or executed (always record one forward "
                   "pass). Default: auto.")
@click.option("--script-args", default=None, metavar="ARGS",
              help="Arguments the loaded script sees in sys.argv, as one string: --script-args \"--data x\" "
                   "(default: none, whatever actlint itself was given).")
@click.option("--load-timeout", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Seconds a file may take to load, and each model to build (default: 60).")
@click.option("--max-model-memory", default=None, metavar="SIZE",
              help="Models whose weights take more than this (e.g. 4GB) are linted statically on the meta "
                   "device (default: a quarter of the available memory).")
@click.option("--extend-exclude", multiple=True, metavar="GLOB",
              help="gitignore-style pattern of files and folders to skip when walking directories "
                   "(added to the configured excludes).")
@click.option("--force-exclude/--no-force-exclude", default=None,
              help="Apply the excludes to files named on the command line too (for pre-commit).")
@click.option("--show-suppressed", is_flag=True,
              help="Also list findings suppressed by '# actlint: ignore' comments (text format).")
@click.option("--skip-non-models", is_flag=True,
              help="Treat files named on the command line like files found in a directory: skip those "
                   "that do not look like model code, and a file without a model is not an error "
                   "(the pre-commit hook passes this).")
@click.option("--fix", "fix", is_flag=True,
              help="Apply the fixes the rules offer (safe ones; unsafe ones too with --unsafe-fixes), lint each "
                   "fixed file again and keep only the fixes the re-lint bears out.")
@click.option("--diff", "diff", is_flag=True,
              help="Print the unified diff the fixes would make, without writing (exit 1 if there is one).")
@click.option("--unsafe-fixes", "unsafe_fixes", is_flag=True,
              help="Also apply fixes that change what the model computes or how it trains (see `actlint rules`).")
@click.option("--no-cache", "no_cache", is_flag=True,
              help="Lint every file again instead of replaying the stored results of unchanged ones "
                   "(also ACTLINT_NO_CACHE=1).")
@click.option("--cache-dir", "cache_dir", type=click.Path(file_okay=False), default=None,
              help="Where results are cached (default: [tool.actlint] cache-dir, else .actlint_cache beside the "
                   "configuration, or in the working directory).")
def check(paths: tuple[str, ...], output_format: str, output: str | None, config_file: str | None, isolated: bool,
          exit_zero: bool, show_suppressed: bool, jobs: int | None, fix: bool, diff: bool, unsafe_fixes: bool,
          no_cache: bool, cache_dir: str | None, **flags: Any) -> None:
    """Lint the models in PATH... (files, file.py::Name, directories)."""
    if flags["skip_non_models"]:
        from actlint.files.prefilter import filtered_out

        if all(filtered_out(p) for p in paths):
            # A commit that touches no model code: report the empty run before anything
            # imports torch (about a second), so the hook costs nothing on such commits.
            from actlint.core.results import LintRun

            _write_report(LintRun(), output_format, output)
            sys.exit(EXIT_OK)
    caching = not (no_cache or _cache_disabled())
    config_files = _config_files(paths, config_file, isolated) if caching else []
    cache_folder = _cache_folder(config_files, cache_dir) if caching else None
    replay = None
    if cache_folder is not None and output_format != "html" and output is None and not fix and not diff:
        # An unchanged run over unchanged files prints its stored report without importing torch.
        from actlint.cache.replay import CommandReplay

        params = click.get_current_context().params
        replay = CommandReplay(cache_folder, params, config_files, _is_terminal())
        stored = replay.lookup()
        if stored is not None:
            sys.stdout.write(stored[0])
            sys.stdout.flush()
            sys.exit(stored[1])
    # Lazy: `actlint rules`, `explain` and the hook's no-model path above must not import torch.
    from actlint.config import discover
    from actlint.options import build_options
    from actlint.pipeline import fix_paths, lint_paths
    from actlint.rules.registry import default_registry

    try:
        registry = default_registry()
        command_line = _command_line(flags, registry)
        config = discover(paths, registry, config_file=config_file, isolated=isolated)
        options, fail_level = build_options(config, command_line, registry)
    except (UserError, ValueError) as exc:
        _fail(str(exc))
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - an internal error is still one line and exit 2
        _internal_error(exc)

    from actlint.report.progress import ProgressLine, progress_wanted
    from actlint.report.text import write_model, write_summary
    from actlint.sandbox.fence import report_stdout

    writing = fix and not diff
    # Text to stdout streams: each file's findings as soon as it (and every file before it)
    # is done. Under --fix the first lint is not the report (the fixed files are linted again).
    streaming = output_format == "text" and output is None and not diff and not writing
    progress = ProgressLine(sys.stderr) if progress_wanted(sys.stderr, output_format) else None
    # While user code runs, anything written to stdout (prints at import, C extensions)
    # goes to stderr: stdout carries the report alone, one clean JSON/SARIF document.
    with report_stdout() as report_stream:
        if replay is not None:
            from actlint.cache.replay import RecordingStream

            report_stream = RecordingStream(report_stream)

        def file_done(models: list, errors: list) -> None:
            if progress is not None:
                progress.clear()
            if streaming:
                for model in models:
                    write_model(model, report_stream, show_suppressed=show_suppressed)
                report_stream.flush()
            # Errors go to stderr, one line each, in every format, as they happen.
            for error in errors:
                click.echo(f"actlint: error: {error.message}", err=True)
            if progress is not None:
                progress.file_done()

        hooks = {"on_file": file_done, "on_targets": progress.begin if progress is not None else None,
                 "cache": _cache(cache_folder, options) if output_format != "html" else None}
        try:
            workers = jobs or 0  # 0: auto (half the cores)
            # The user's code runs in worker processes; the HTML report draws graphs and probe
            # data that hold the user's modules, so it lints in this process.
            isolate = output_format != "html"
            if output_format == "html":
                workers = 1
            if writing:
                run = fix_paths(paths, options, unsafe=unsafe_fixes, jobs=workers, isolate=isolate, **hooks)
            else:
                run = lint_paths(paths, options, jobs=workers, isolate=isolate, **hooks)
        except (UserError, ValueError) as exc:
            _fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - an internal error is still one line and exit 2
            _internal_error(exc)
        finally:
            if progress is not None:
                progress.finish()
        if diff:
            sys.exit(_write_diffs(run, unsafe_fixes, report_stream))
        run.unsafe_fixes = unsafe_fixes
        if streaming:
            write_summary(run, report_stream)
        else:
            _write_report(run, output_format, output, show_suppressed=show_suppressed, stream=report_stream)
    for refusal in sorted({(o.file, o.reason) for o in run.fix_outcomes() if o.status == "not-written"}):
        click.echo(f"actlint: {refusal[0]}: not rewritten: {refusal[1]}", err=True)
    code = run.exit_code(fail_level, exit_zero, fail_on_refuted=options.fail_on_refuted)
    if replay is not None and not run.errors:
        named = [str(Path(p.partition("::")[0]).resolve()) for p in paths if Path(p.partition("::")[0]).is_file()]
        replay.store(report_stream.getvalue(), code, [*run.read_files, *named], [os.path.abspath(p) for p in paths])
    sys.exit(code)


def _cache_disabled() -> bool:
    return os.environ.get("ACTLINT_NO_CACHE", "").strip() not in ("", "0")


def _config_files(paths: Sequence[str], config_file: str | None, isolated: bool) -> list[str]:
    """The configuration files this run reads (found without parsing them; torch-free)."""
    if isolated:
        return []
    if config_file:
        return [str(Path(config_file).resolve())]
    from actlint.config import find_config

    try:
        found = {find_config(Path(p.partition("::")[0])) for p in paths} | {find_config(Path.cwd())}
    except UserError:  # invalid TOML: the configuration's own reading reports it (exit 2)
        return []
    return sorted(str(f.resolve()) for f in found if f is not None)


def _cache_folder(config_files: Sequence[str], flag: str | None) -> Path:
    """``--cache-dir``, else the configuration's (:func:`actlint.cache.store.cache_folder`)."""
    from actlint.cache.store import cache_folder

    if flag:
        return Path(flag)
    return cache_folder(Path(config_files[0]) if config_files else None, Path.cwd())


def _is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _cache(folder: Path | None, options: Any) -> Any:
    """The per-file result cache for this run, or None (``--no-cache``, ``ACTLINT_NO_CACHE``)."""
    if folder is None:
        return None
    from actlint.cache.store import ResultCache

    return ResultCache(folder, options)


def _write_diffs(run: "LintRun", unsafe: bool, out: TextIO) -> int:
    """``--diff``: the fixes' unified diffs on stdout, a count on stderr; 1 when there is a diff."""
    from actlint.fixer.preview import preview
    from actlint.report.text import plural

    previews = preview(run, unsafe)
    for file in previews:
        if file.refused:
            click.echo(f"actlint: {file.file}: would not be rewritten: {file.refused}", err=True)
        out.write(file.diff)
    fixes = sum(file.fixes for file in previews)
    more = run.fixable_only_unsafe() if not unsafe else 0
    summary = f"Would fix {plural(fixes, 'problem')}"
    if more:
        summary += f"; {more} more with --unsafe-fixes"
    click.echo(summary, err=True)
    if run.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if any(file.diff for file in previews) else EXIT_OK


def run() -> None:
    """The ``actlint`` console script: :func:`main`, then exit without waiting for user threads.

    Threads started while the user's code is fenced are daemons already; this covers any
    other non-daemon thread user code left running (forward passes are not fenced).
    """
    from actlint.sandbox.isolation import own_this_process

    own_this_process()  # the user's code runs in workers forked from this process
    try:
        main()
    except SystemExit as exc:
        from actlint.sandbox.fence import user_threads_alive

        if user_threads_alive():
            sys.stdout.flush()
            sys.stderr.flush()
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            os._exit(code)
        raise


@main.command("server")
def language_server() -> None:
    """Run the language server (LSP over stdio) for editors: diagnostics on open and save."""
    from actlint.server.main import serve

    serve()


@main.command("rules")
def list_rules() -> None:
    """List every rule: ID, name, default severity, how the probe relates to it, summary."""
    from actlint.rules.docs import rule_entries

    rules = rule_entries()
    rows = [("ID", "NAME", "SEVERITY", "PROBE", "SUMMARY")]
    rows += [(r.id, r.name, r.severity, r.probe, r.summary) for r in rules]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    click.echo(
        "\nPROBE: confirmed = a static finding the probe run confirms or refutes with numbers; "
        "structural = nothing to measure; measured = found by the probe itself.\n"
        "`actlint explain ID` prints a rule's documentation and examples."
    )


@main.command("explain")
@click.argument("rule_ids", nargs=-1, required=True, metavar="RULE...")
def explain(rule_ids: tuple[str, ...]) -> None:
    """Print the documentation of RULE (an ID such as ACT101, or a name): what it finds,
    why it matters, what to use instead, how the probe confirms it, options and examples."""
    from actlint.rules.catalogue import find
    from actlint.rules.docs import rule_entries

    entries = rule_entries()
    pages = []
    for key in rule_ids:
        try:
            pages.append(find(entries, key).text)
        except KeyError:
            _fail(_unknown_rule(key, [e.id for e in entries], [e.name for e in entries]))
    click.echo("\n".join(pages), nl=False)


def _unknown_rule(key: str, ids: Sequence[str], names: Sequence[str]) -> str:
    """The one-line error for an unknown rule ID or name, with the closest match as a hint."""
    import difflib

    known = [*ids, *names]
    close = difflib.get_close_matches(key.strip().upper(), list(ids), n=1) or difflib.get_close_matches(
        key.strip().lower(), known, n=1
    )
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown rule {key!r} ({hint}`actlint rules` lists them)"


def _write_report(run: LintRun, output_format: str, output: str | None, *, show_suppressed: bool = False,
                  stream: TextIO | None = None) -> None:
    """The report in ``output_format``: HTML as files, the other formats to ``output`` or ``stream``."""
    from actlint.report import get_reporter

    if output_format == "html":
        _write_html(run, output)
    elif output_format == "text" and show_suppressed:
        from actlint.report.text import write_text

        _report(run, lambda r, out: write_text(r, out, show_suppressed=True), output, stream)
    else:
        _report(run, get_reporter(output_format), output, stream)


def _report(run: LintRun, reporter: Callable[[LintRun, TextIO], None], output: str | None,
            stream: TextIO | None = None) -> None:
    """Write the report to ``output`` (a file) or ``stream`` (stdout)."""
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            reporter(run, fh)
    else:
        reporter(run, stream or sys.stdout)


def _write_html(run: LintRun, output: str | None) -> None:
    """HTML reports are files (``-o`` or ``reports/``): name each one on stderr."""
    from actlint.report.html import write_html_reports

    try:
        paths = write_html_reports(run, output)
    except UserError as exc:
        _fail(str(exc))
    for path in paths:
        click.echo(f"actlint: wrote HTML report {path}", err=True)


def _fail(message: str) -> None:
    click.echo(f"actlint: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _internal_error(exc: BaseException) -> None:
    if os.environ.get("ACTLINT_DEBUG"):
        traceback.print_exc()
    _fail(f"internal error: {one_line(exc)} (set ACTLINT_DEBUG=1 for a traceback)")

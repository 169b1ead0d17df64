"""Command line: ``actlint model.py`` (and ``python -m actlint``).

Exit codes (ruff's): 0 nothing at or above ``--fail-on``; 1 findings; 2 usage, load or
internal error. Errors are one line on stderr, never a traceback (set ``ACTLINT_DEBUG=1``
to see one).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import TYPE_CHECKING, Callable, Sequence, TextIO

import click

from actlint import __version__
from actlint.errors import UserError, one_line
from actlint.findings import Severity

if TYPE_CHECKING:
    from actlint.results import LintRun

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
    """


@main.command("check")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif", "html"]), default="text",
              show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to this file instead of stdout (html: one file for every model; "
                   "default reports/<file>-<model>.html per model).")
@click.option("--select", multiple=True, help="Rule IDs or prefixes to enable (e.g. ACT1,ACT201).")
@click.option("--ignore", multiple=True, help="Rule IDs or prefixes to disable.")
@click.option("--severity", "severity_overrides", multiple=True, metavar="RULE=LEVEL",
              help="Override a rule's severity, e.g. ACT203=error.")
@click.option("--fail-on", type=click.Choice(["info", "warning", "error"]), default="warning",
              show_default=True, help="Lowest severity that makes the exit code 1.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported.")
@click.option("--input-shape", multiple=True, metavar="N,C,H,W",
              help="Example input shape (repeat for several inputs).")
@click.option("--input-dtype", default=None, help="dtype of --input-shape tensors (float32, int64, ...).")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=8, show_default=True,
              help="Batch size of inferred example inputs.")
@click.option("--no-probe", is_flag=True, help="Skip the probe run (static rules only).")
@click.option("--device", default="auto", show_default=True, help="Probe device: auto, cpu, cuda or cuda:N.")
@click.option("--probe-batch-size", type=click.IntRange(1, 4096), default=None,
              help="Samples per probe pass (default: the example inputs' batch; 32 samples over several passes).")
@click.option("--probe-timeout", type=click.FloatRange(min=0.0, min_open=True), default=60.0, show_default=True,
              help="Probe time budget in seconds.")
@click.option("--skip-non-models", is_flag=True,
              help="Treat files named on the command line like files found in a directory: skip those "
                   "that do not look like model code, and a file without a model is not an error "
                   "(the pre-commit hook passes this).")
def check(
    paths: tuple[str, ...],
    output_format: str,
    output: str | None,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    severity_overrides: tuple[str, ...],
    fail_on: str,
    exit_zero: bool,
    input_shape: tuple[str, ...],
    input_dtype: str | None,
    batch_size: int,
    no_probe: bool,
    device: str,
    probe_batch_size: int | None,
    probe_timeout: float,
    skip_non_models: bool,
) -> None:
    """Lint the models in PATH... (files, file.py::Name, directories)."""
    if skip_non_models:
        from actlint.prefilter import filtered_out

        if all(filtered_out(p) for p in paths):
            # A commit that touches no model code: report the empty run before anything
            # imports torch (about a second), so the hook costs nothing on such commits.
            from actlint.results import LintRun

            _write_report(LintRun(), output_format, output)
            sys.exit(EXIT_OK)
    from actlint.engine import RuleSelection, validate_codes
    from actlint.inputs import parse_dtype, parse_shape
    from actlint.pipeline import LintOptions, lint_paths
    from actlint.rules.registry import default_registry

    try:
        registry = default_registry()
        selection = RuleSelection(
            select=validate_codes(_split_codes(select), registry, "--select") or ("ACT",),
            ignore=validate_codes(_split_codes(ignore), registry, "--ignore"),
            severity=_parse_severity_overrides(severity_overrides),
        )
        options = LintOptions(
            selection=selection,
            input_shapes=tuple(parse_shape(s) for s in input_shape),
            input_dtype=parse_dtype(input_dtype) if input_dtype else None,
            batch_size=batch_size,
            probe=not no_probe,
            device=device,
            probe_batch_size=probe_batch_size,
            probe_timeout=probe_timeout,
            skip_non_models=skip_non_models,
        )
        if not no_probe:
            from actlint.probe import resolve_device

            resolve_device(device)  # --device cuda without CUDA: exit 2 before any work
        run = lint_paths(paths, options, registry)
    except (UserError, ValueError) as exc:
        _fail(str(exc))
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - an internal error is still one line and exit 2
        _internal_error(exc)

    _write_report(run, output_format, output)
    # Errors go to stderr, one line each, in every format: stdout holds only the report.
    for error in run.errors:
        click.echo(f"actlint: error: {error.message}", err=True)
    sys.exit(run.exit_code(Severity.parse(fail_on), exit_zero))


@main.command("rules")
def list_rules() -> None:
    """List every rule: ID, name, default severity, how the probe relates to it, summary."""
    from actlint.docs import probe_kind
    from actlint.rules.registry import default_registry

    rules = list(default_registry())
    rows = [("ID", "NAME", "SEVERITY", "PROBE", "SUMMARY")]
    rows += [(r.id, r.name, r.severity.label, probe_kind(r), r.summary) for r in rules]
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
    from actlint.docs import render_rule_text
    from actlint.rules.registry import default_registry

    registry = default_registry()
    pages = []
    for key in rule_ids:
        try:
            pages.append(render_rule_text(registry.get(key)))
        except KeyError:
            _fail(_unknown_rule(key, registry))
    click.echo("\n".join(pages), nl=False)


def _unknown_rule(key: str, registry) -> str:
    """The one-line error for an unknown rule ID or name, with the closest match as a hint."""
    import difflib

    known = [*registry.ids, *(rule.name for rule in registry)]
    close = difflib.get_close_matches(key.strip().upper(), registry.ids, n=1) or difflib.get_close_matches(
        key.strip().lower(), known, n=1
    )
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown rule {key!r} ({hint}`actlint rules` lists them)"


def _write_report(run: LintRun, output_format: str, output: str | None) -> None:
    """The report in ``output_format``: HTML as files, the other formats to ``output`` or stdout."""
    from actlint.report import get_reporter

    if output_format == "html":
        _write_html(run, output)
    else:
        _report(run, get_reporter(output_format), output)


def _report(run: LintRun, reporter: Callable[[LintRun, TextIO], None], output: str | None) -> None:
    """Write the report to ``output`` (a file) or stdout."""
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            reporter(run, fh)
    else:
        reporter(run, sys.stdout)


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

"""actlint as a library: lint a model object from Python, a notebook or a test suite.

    import actlint
    result = actlint.lint(model, torch.randn(8, 3, 32, 32))
    print(result)              # the text report
    result.findings            # the Finding objects every report shows
    result.to_json()           # the JSON document of the CLI (one model)
    result.fixes, result.diff()  # the rules' fixes, and the diff `actlint --diff` would print
    result                     # in Jupyter: the HTML report, inline

    actlint.check(model, (8, 3, 32, 32))   # raises actlint.LintError in a test

The same pipeline as the CLI runs (trace, rules, probe, measured rules); the model is left
exactly as it was (weights, gradients, buffers, train/eval mode, hooks). Source locations
point at the file where the model's class is defined (or the notebook cell), else at the
caller's file (an ``nn.Sequential`` built in a cell or a test).
"""

from __future__ import annotations

import io
import json
import linecache
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
import torch.nn as nn

from actlint.config import Config, load_config, parse_config_mapping
from actlint.options import CommandLine, build_options
from actlint.pipeline import lint_models
from actlint.rules.engine import instantiate_rules, validate_codes
from actlint.core.errors import UserError
from actlint.core.findings import Finding, Severity
from actlint.fixes.edits import Fix
from actlint.trace.inputs import make_tensor, parse_dtype
from actlint.loader.loaded import LoadedFile, LoadedModel, display_path
from actlint.core.results import LintRun, ModelResult
from actlint.rules.registry import default_registry


class LintError(AssertionError):
    """Raised by :func:`check` when a model has findings at or above ``fail_on``.

    Its message is the text report. An ``AssertionError`` so that pytest shows it as a
    failed test with the report, not as a crash.
    """

    def __init__(self, result: "LintResult") -> None:
        super().__init__(str(result))
        self.result = result


class LintResult:
    """What :func:`lint` found: findings, errors and every report format."""

    def __init__(self, run: LintRun, fail_on: Severity = Severity.WARNING, fail_on_refuted: bool = False) -> None:
        self.run = run
        self.fail_on = fail_on
        self.fail_on_refuted = fail_on_refuted

    @property
    def findings(self) -> list[Finding]:
        """Active findings (not suppressed by ``# actlint: ignore`` comments), most severe first."""
        return sorted(self.run.findings(), key=Finding.sort_key)

    @property
    def errors(self) -> list[str]:
        """One-line messages for what could not be linted (empty when the model was linted)."""
        return [e.message for e in self.run.errors]

    @property
    def fixes(self) -> list[Fix]:
        """The fixes the rules offer for the active findings (safe and unsafe; see :meth:`diff`)."""
        return [f.fix for f in self.findings if f.fix is not None]

    def diff(self, unsafe: bool = False) -> str:
        """The unified diff ``actlint --diff`` (``--unsafe-fixes`` with ``unsafe``) would print for
        the model's file; nothing is written. Empty when there is nothing to fix."""
        from actlint.fixer.preview import preview

        return "".join(file.diff for file in preview(self.run, unsafe))

    @property
    def model(self) -> ModelResult | None:
        return self.run.models[0] if self.run.models else None

    @property
    def ok(self) -> bool:
        """No errors and no finding at or above ``fail_on`` (findings the probe refuted do not count)."""
        return self.run.exit_code(self.fail_on, fail_on_refuted=self.fail_on_refuted) == 0

    def __str__(self) -> str:
        from actlint.report.text import write_text

        out = io.StringIO()
        write_text(self.run, out)
        for error in self.errors:
            out.write(f"error: {error}\n")
        return out.getvalue()

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {label}" for label, n in self.run.counts().items() if n) or "no findings"
        name = self.model.selector if self.model else "no model"
        return f"<actlint.LintResult {name}: {counts}{'; errors' if self.errors else ''}>"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document as Python objects."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        """The JSON document of the contract (what ``actlint --format json`` prints)."""
        from actlint.report.json import write_json

        out = io.StringIO()
        write_json(self.run, out)
        return out.getvalue()

    def to_sarif(self) -> str:
        """SARIF 2.1.0, as ``--format sarif`` writes it."""
        from actlint.report.sarif import write_sarif

        out = io.StringIO()
        write_sarif(self.run, out)
        return out.getvalue()

    def to_html(self, path: str | Path | None = None) -> str:
        """The self-contained HTML report; also written to ``path`` when one is given."""
        from actlint.report.html import render_html

        document = render_html(self.run)
        if path is not None:
            Path(path).write_text(document, encoding="utf-8")
        return document

    def _repr_html_(self) -> str:
        """Jupyter renders the result as the HTML report (no scripts, no network)."""
        return self.to_html()


def lint(
    model: nn.Module,
    *example_inputs: Any,
    select: str | Iterable[str] | None = None,
    ignore: str | Iterable[str] = (),
    probe: bool = True,
    device: str = "auto",
    config: str | Path | Mapping[str, Any] | None = None,
    input_dtype: str | torch.dtype | None = None,
    fail_on: str = "warning",
    trace: str = "auto",
    probe_timeout: float | None = None,
    name: str | None = None,
) -> LintResult:
    """Lint ``model`` and return a :class:`LintResult`.

    ``example_inputs`` are tensors (used as given; constant ones only for their shape and
    dtype), shapes such as ``(8, 3, 224, 224)`` or ``torch.Size`` (random tensors of
    ``input_dtype``, float32 by default), or omitted (inferred from the first layer, as
    the CLI does). ``select``/``ignore`` take rule IDs or prefixes (``"ACT1"``);
    ``config`` is a TOML file of actlint settings (a ``pyproject.toml`` with
    ``[tool.actlint]``, or an ``actlint.toml``) or a mapping of the same keys; no
    configuration file is read otherwise. Bad arguments raise ``ValueError``.
    """
    return _lint(model, example_inputs, sys._getframe(1), select=select, ignore=ignore, probe=probe, device=device,
                 config=config, input_dtype=input_dtype, fail_on=fail_on, trace=trace, probe_timeout=probe_timeout,
                 name=name)


def _lint(model: nn.Module, example_inputs: Sequence[Any], caller: Any, *, select: Any, ignore: Any, probe: bool,
          device: str, config: Any, input_dtype: Any, fail_on: str, trace: str, probe_timeout: float | None,
          name: str | None) -> LintResult:
    if not isinstance(model, nn.Module):
        raise TypeError(f"actlint.lint() needs an nn.Module, got {type(model).__name__}")
    registry = default_registry()
    dtype = parse_dtype(input_dtype) if isinstance(input_dtype, str) else input_dtype
    if trace not in ("auto", "executed"):
        raise ValueError(f"trace must be 'auto' or 'executed', got {trace!r}")
    try:
        command_line = CommandLine(
            select=validate_codes(_codes(select), registry, "select") if select is not None else None,
            ignore=validate_codes(_codes(ignore), registry, "ignore"),
            fail_on=Severity.parse(fail_on),
            probe=probe,
            device=device,
            probe_timeout=probe_timeout,
            input_dtype=str(dtype).replace("torch.", "") if dtype is not None else None,
            trace=trace,
            example_inputs=tuple(_as_input(x, dtype or torch.float32) for x in example_inputs) or None,
        )
        options, fail_level = build_options(_config(config, registry), command_line, registry)
    except UserError as exc:
        raise ValueError(exc.message) from None
    loaded = LoadedModel(name or type(model).__name__, "object", model, _user_file(model, caller))
    rules = instantiate_rules(registry, options.selection)
    models, errors = lint_models([loaded], rules, registry, options)
    run = LintRun(models=models, errors=errors)
    return LintResult(run, fail_level, options.fail_on_refuted)


def check(model: nn.Module, *example_inputs: Any, fail_on: str = "warning", select: Any = None, ignore: Any = (),
          probe: bool = True, device: str = "auto", config: Any = None, input_dtype: Any = None, trace: str = "auto",
          probe_timeout: float | None = None, name: str | None = None) -> LintResult:
    """:func:`lint`, raising :class:`LintError` (its message the text report) on findings at
    or above ``fail_on`` or when the model could not be linted; returns the result otherwise.

        def test_model_trains():
            actlint.check(MyNet(), torch.randn(2, 3, 32, 32))
    """
    result = _lint(model, example_inputs, sys._getframe(1), select=select, ignore=ignore, probe=probe, device=device,
                   config=config, input_dtype=input_dtype, fail_on=fail_on, trace=trace, probe_timeout=probe_timeout,
                   name=name)
    if not result.ok:
        raise LintError(result)
    return result


def _codes(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(c.strip() for item in items for c in str(item).split(",") if c.strip())


def _config(config: str | Path | Mapping[str, Any] | None, registry: Any) -> Config:
    if config is None:
        return Config()
    if isinstance(config, Mapping):
        return parse_config_mapping(config, registry, "<lint(config=...)>")
    return load_config(Path(config), registry, explicit=True)


def _as_input(value: Any, dtype: torch.dtype) -> Any:
    """A tensor as given; a shape (tuple of ints, torch.Size) as a random tensor of ``dtype``."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list, torch.Size)) and value and all(isinstance(d, int) and d > 0 for d in value):
        return make_tensor(tuple(value), dtype)
    return value  # other values (None, a state tuple) pass through to forward


def _user_file(model: nn.Module, caller: Any) -> LoadedFile:
    """The file findings point into: the model class's file (or notebook cell), else the caller's."""
    torch_dir = str(Path(torch.__file__).parent)
    path = _class_file(type(model), torch_dir) or caller.f_code.co_filename
    namespace = caller.f_globals if caller.f_code.co_filename == path else vars(sys.modules.get(
        type(model).__module__, sys.modules[__name__]))
    display = _cell_label(path) or (display_path(Path(path)) if Path(path).exists() else path)
    lines = linecache.getlines(path)
    source = "".join(lines)
    if display != path and lines:
        # Notebook cells live in linecache only; the reports read source lines by the label.
        linecache.cache[display] = (len(source), None, lines, display)
    line = caller.f_lineno if caller.f_code.co_filename == path else 1
    return LoadedFile(Path(path).resolve() if Path(path).exists() else Path(path), display, source, dict(namespace),
                      default_line=line)


def _class_file(cls: type, torch_dir: str) -> str | None:
    """The file of the first class in the MRO whose forward (or __init__) is Python code outside torch.

    Works for classes defined in notebook cells too, where ``inspect.getsourcefile`` of the
    class itself fails: the methods' code objects still carry the cell's file name.
    """
    for klass in cls.__mro__:
        for name in ("forward", "__init__"):
            code = getattr(vars(klass).get(name), "__code__", None)
            if code is not None and not code.co_filename.startswith(torch_dir):
                return code.co_filename
    return None


def _cell_label(path: str) -> str | None:
    """``Cell In[3]`` for code from a Jupyter cell (IPython's own name for it), else None."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - no shell running
        return None
    if shell is None:
        return None
    number = getattr(getattr(shell, "compile", None), "_filename_map", {}).get(path)
    return f"Cell In[{number}]" if number is not None else None


__all__ = ["lint", "check", "LintResult", "LintError"]

"""``--format html``: a self-contained report an engineer can open from a CI artifact.

One HTML file holds everything: inline CSS and inline SVG charts, no scripts, fonts or
other requests (a reviewer may be offline). Jinja2 templates in ``templates/`` render it
with autoescaping on, so model, module and file names are always text, never markup.

Where the files go (see :func:`write_html_reports`):

* ``-o PATH``: one file with every model linted in the run (and the files that failed);
* otherwise one file per model, ``reports/<file stem>-<model>.html`` below the working
  directory, the way the issue tracker, CI artifacts and reviewers name them.

Per model the report shows a header (file, parameters, trace, probe), the finding cards
(rule docs, the user's source line, probe evidence), the gradient-flow and
activation-health charts from the probe (:mod:`actlint.report.html_charts`) and the
architecture as a collapsible layer outline with the findings marked on their layers.
"""

from __future__ import annotations

import functools
import linecache
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence, TextIO

import jinja2

from actlint.core.version import __version__

from actlint.graph import ops
from actlint.core.errors import UserError
from actlint.core.findings import Finding, ProbeStatus, Severity
from actlint.graph.view import GraphView, OpNode, parameter_count
from actlint.probe.reports import LayerStats, ProbeReport
from actlint.report.html_charts import (
    Chart, activation_health_chart, gradient_flow_chart, sci, training_loss_chart, update_ratio_chart,
)
from actlint.core.results import LintRun, ModelResult
from actlint.fixes.outcome import FixOutcome
from actlint.rules.registry import default_registry

#: Default folder of per-model reports, relative to the working directory.
DEFAULT_DIRECTORY = "reports"
#: Rows per collapsible chunk when one module holds a long flat list of layers.
OUTLINE_CHUNK = 50
#: Outlines up to this many rows start fully expanded; larger ones open only what has findings.
SMALL_OUTLINE = 80
#: Source lines shown around a finding's line.
CONTEXT_BEFORE, CONTEXT_AFTER = 3, 2

_SEVERITIES = sorted(Severity, reverse=True)
#: Graph nodes that are bookkeeping rather than layers (sizes, parameters read by get_attr).
_HIDDEN_KINDS = frozenset({"size", "param", "constant"})


# --- view objects the templates read -------------------------------------------------------


@dataclass
class Badge:
    """A finding marked on a layer: links to its card."""

    rule: str
    severity: str
    anchor: str
    message: str


@dataclass
class Row:
    """One op of the forward pass in the architecture outline."""

    anchor: str
    depth: int
    prefix: str  # the enclosing module path, drawn dimmed
    label: str  # the layer's own name
    kind: str
    family: str  # css class of the kind pill
    shape: str
    params: str
    probe: str  # a short measurement ("dead 12%", "grad 1.9e-11")
    probe_title: str
    probe_alert: bool
    badges: list[Badge] = field(default_factory=list)
    note: str = ""  # e.g. "call 2", "never called"
    muted: bool = False
    is_group: bool = False


@dataclass
class Group:
    """A module containing layers: a collapsible ``<details>`` in the outline."""

    path: str
    label: str
    cls: str
    depth: int
    params: str = ""
    items: list["Group | Row"] = field(default_factory=list)
    badges: list[Badge] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # findings in the whole subtree
    rows: int = 0
    open: bool = False
    anchor: str = ""  # empty for chunks of a long list
    is_group: bool = True


@dataclass
class SourceLine:
    number: int
    text: str
    target: bool


@dataclass
class FindingCard:
    anchor: str
    rule: str
    name: str
    severity: str
    message: str
    where: str
    line: int | None
    module: str | None
    layer_anchor: str | None
    snippet: list[SourceLine]
    snippet_missing: str
    probe_status: str
    probe_evidence: str
    metrics: list[tuple[str, str]]
    what: str
    why: str
    instead: str
    references: list[str]
    related: list[str]
    fix_title: str = ""  # the rule's fix for this finding (``actlint --fix``)
    fix_applicability: str = ""  # "safe" or "unsafe"
    no_fix: str = ""  # why the rule offers no fix for this one


@dataclass
class FixRow:
    """One line of the model's "Fixes" table: what ``--fix`` did, with the number before and after."""

    rule: str
    title: str
    status: str
    reason: str
    line: int | None
    measure: str
    before: str
    after: str


@dataclass
class ProbeSummary:
    ran: bool
    status: str
    reason: str
    facts: list[tuple[str, str]]
    notes: list[str]


@dataclass
class ModelView:
    anchor: str
    name: str
    file: str
    cls: str
    facts: list[tuple[str, str]]
    counts: dict[str, int]
    suppressed: int
    probe: ProbeSummary
    notes: list[str]
    cards: list[FindingCard]
    charts: list[Chart]
    outline: Group | None
    outline_rows: int
    outline_large: bool
    fixes: list[FixRow] = field(default_factory=list)


# --- building the views ---------------------------------------------------------------------


_TRACE_LABELS = {
    "fx": "torch.fx dataflow graph",
    "fx-partial": "torch.fx dataflow graph, some submodules opaque",
    "executed": "executed trace of one forward pass",
    "modules": "module tree (no dataflow graph)",
}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _human_count(n: int) -> str:
    """``48,522`` -> ``48.5K``; small numbers as they are."""
    for factor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= factor:
            return f"{n / factor:.1f}{suffix}"
    return str(n)


def _shape(shape: Sequence[int] | None) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]" if shape else ""


def _counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Problems by severity; findings the probe refuted are counted apart (like the text summary)."""
    counts = {s.label: 0 for s in _SEVERITIES}
    for f in findings:
        if not f.refuted:
            counts[f.severity.label] += 1
    return counts


def _family(kind: str) -> str:
    if kind in ops.WEIGHT_LAYERS:
        return "weight"
    if kind in ops.SOFTMAX:
        return "softmax"
    if kind in ops.ACTIVATIONS:
        return "activation"
    if kind in ops.NORMALIZATION:
        return "norm"
    if kind in ops.RESHAPE or kind in ops.DROPOUT or kind in ("input", "output"):
        return "plain"
    return "other"


@functools.lru_cache(maxsize=64)
def _source_lines(path: str) -> tuple[str, ...] | None:
    try:
        return tuple(Path(path).read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        # Code that lives in memory only (a notebook cell linted from Python, "Cell In[3]").
        lines = linecache.getlines(path)
        return tuple(line.rstrip("\n") for line in lines) if lines else None


def _snippet(finding: Finding) -> tuple[list[SourceLine], str]:
    loc = finding.location
    if loc is None:
        return [], "no source location"
    lines = _source_lines(loc.file)
    if lines is None:
        return [], f"{loc.file} could not be read"
    if not 1 <= loc.line <= len(lines):
        return [], f"line {loc.line} is outside {loc.file}"
    start = max(1, loc.line - CONTEXT_BEFORE)
    end = min(len(lines), loc.line + CONTEXT_AFTER)
    return [SourceLine(n, lines[n - 1], n == loc.line) for n in range(start, end + 1)], ""


def _strip_scheme(reference: str) -> str:
    """References as text without the scheme: the report makes no links that leave the file."""
    return re.sub(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://", "", reference)


def _metric(value: Any) -> str:
    if isinstance(value, float):
        return sci(value)
    return str(value)


def _card(finding: Finding, anchor: str, layer_anchor: str | None) -> FindingCard:
    try:
        rule = default_registry().get(finding.rule)
    except KeyError:  # a plugin rule that is no longer installed
        rule = None
    snippet, missing = _snippet(finding)
    probe = finding.probe
    return FindingCard(
        anchor=anchor,
        rule=finding.rule,
        name=finding.name,
        severity=finding.severity.label,
        message=finding.message,
        where=str(finding.location) if finding.location else "",
        line=finding.location.line if finding.location else None,
        module=finding.module,
        layer_anchor=layer_anchor,
        snippet=snippet,
        snippet_missing=missing,
        probe_status=probe.status.value if probe else ProbeStatus.NOT_PROBED.value,
        probe_evidence=probe.evidence if probe else "",
        metrics=[(k, _metric(v)) for k, v in (probe.metrics.items() if probe else ())],
        what=getattr(rule, "what", "") or "",
        why=getattr(rule, "why", "") or "",
        instead=getattr(rule, "instead", "") or "",
        references=[_strip_scheme(r) for r in getattr(rule, "references", ())],
        related=[str(r) for r in finding.related],
        fix_title=finding.fix.title if finding.fix is not None else "",
        fix_applicability=finding.fix.applicability if finding.fix is not None else "",
        no_fix=finding.no_fix or "",
    )


def _fix_row(outcome: FixOutcome) -> FixRow:
    return FixRow(rule=outcome.rule, title=outcome.title, status=outcome.status, reason=outcome.reason or "",
                  line=outcome.line, measure=outcome.evidence or "",
                  before=_metric(outcome.before) if outcome.before is not None else "",
                  after=_metric(outcome.after) if outcome.after is not None else "")


def _probe_summary(report: ProbeReport | None, probe_json: dict[str, Any]) -> ProbeSummary:
    if report is None:  # a result built without the probe object: fall back to its JSON
        status = str(probe_json.get("status", "skipped"))
        return ProbeSummary(False, status, str(probe_json.get("reason", "")), [], [])
    if not report.ok:
        return ProbeSummary(False, report.status, report.reason, [], list(report.notes))
    facts = [
        ("device", report.device),
        ("time", f"{report.seconds:.2f} s"),
        ("passes", f"{report.passes} \u00d7 {report.batch_size} samples"),
        ("layers measured", f"{len(report.layers):,}"),
    ]
    notes = list(report.notes)
    if report.params_without_grad:
        notes.append("parameters without gradient: " + ", ".join(report.params_without_grad[:8]))
    if report.first_nonfinite:
        site = report.first_nonfinite
        notes.append(f"first NaN/Inf ({site.phase}): {site.layer} ({site.kind}) {site.detail}".strip())
    return ProbeSummary(True, report.status, "", facts, notes)


class _OutlineBuilder:
    """Turns the GraphView into nested module groups with one row per op, in forward order."""

    def __init__(self, graph: GraphView, report: ProbeReport | None, anchor: str) -> None:
        self.graph = graph
        self.anchor = anchor
        self.layers = {s.path: s for s in report.layers} if report is not None and report.ok else {}
        self.modules = graph.modules
        root_cls = type(graph.model).__name__
        self.root = Group("", root_cls, root_cls, 0, params=_human_count(parameter_count(graph.model.parameters())),
                          anchor=f"{anchor}-g0")
        self.groups: dict[str, Group] = {"": self.root}
        self.row_of_node: dict[str, Row] = {}
        self.row_of_module: dict[str, Row] = {}
        self.rows = 0

    def group(self, path: str) -> Group:
        found = self.groups.get(path)
        if found is not None:
            return found
        parent_path, _, name = path.rpartition(".")
        parent = self.group(parent_path)
        module = self.modules.get(path)
        params = _human_count(parameter_count(module.parameters())) if module is not None else ""
        made = Group(path, name, type(module).__name__ if module is not None else "", parent.depth + 1, params=params,
                     anchor=f"{self.anchor}-g{len(self.groups)}")
        parent.items.append(made)
        self.groups[path] = made
        return made

    def build(self) -> Group:
        functional_counts: dict[tuple[str, str], int] = {}
        calls: dict[str, int] = {}
        for node in self.graph:
            if node.kind in _HIDDEN_KINDS or node.op == "get_attr":
                continue
            if node.op in ("call_function", "call_method"):
                # The probe names functional layers "<scope>:<kind>#<n>" (n-th such call in scope).
                key = (node.module_path or "", node.kind)
                functional_counts[key] = functional_counts.get(key, 0) + 1
                stats = self.layers.get(f"{key[0]}:{key[1]}#{functional_counts[key]}")
            else:
                stats = self.layers.get(node.module_path or "") if node.op == "call_module" else None
            self.add_row(node, stats, calls)
        return self.root

    def add_row(self, node: OpNode, stats: LayerStats | None, calls: dict[str, int]) -> None:
        note, params, muted = "", "", False
        if node.op == "call_module" and node.module_path:
            container, _, label = node.module_path.rpartition(".")
            calls[node.module_path] = n = calls.get(node.module_path, 0) + 1
            if n == 1:
                count = parameter_count(node.module.parameters()) if node.module is not None else 0
                params = f"{count:,}" if count else ""
            else:
                note, params = f"call {n}", "shared" if node.module is not None and any(
                    True for _ in node.module.parameters()) else ""
            cls = type(node.module).__name__ if node.module is not None else ""
            if cls:
                label = f"{label} \u00b7 {cls}"
        elif node.op in ("placeholder", "output"):
            container, label, muted = "", f"input {node.name}" if node.op == "placeholder" else "output", True
        else:
            container = node.module_path or ""
            target = node.target
            label = f".{target}()" if node.op == "call_method" else f"{target.rsplit('.', 1)[-1]}()"
            muted = node.kind in ops.RESHAPE
        group = self.group(container)
        shape = node.shape or (stats.output_shape if stats is not None else None)
        probe, title, alert = _probe_cell(stats)
        row = Row(
            anchor=f"{self.anchor}-n{node.index}",
            depth=group.depth + 1,
            prefix=(container + ("." if node.op == "call_module" else ":")) if container else "",
            label=label,
            kind=node.kind,
            family=_family(node.kind),
            shape=_shape(shape),
            params=params,
            probe=probe,
            probe_title=title,
            probe_alert=alert,
            note=note,
            muted=muted,
        )
        group.items.append(row)
        self.rows += 1
        self.row_of_node[node.name] = row
        if node.op == "call_module" and node.module_path and node.module_path not in self.row_of_module:
            self.row_of_module[node.module_path] = row

    def place(self, finding: Finding, badge: Badge) -> str:
        """Mark ``finding`` on its layer (or nearest module); returns the row/group anchor."""
        row = self.row_of_node.get(finding.node or "") or self.row_of_module.get(finding.module or "")
        if row is None and finding.module and finding.module not in self.groups and finding.module in self.modules:
            row = self.add_uncalled(finding.module)
        if row is not None:
            row.badges.append(badge)
            return row.anchor
        path = finding.module or ""
        while path not in self.groups:
            path = path.rpartition(".")[0]
        group = self.groups[path]
        group.badges.append(badge)
        return group.anchor

    def add_uncalled(self, path: str) -> Row:
        """A module the forward pass never called (ACT601's subject): shown where it lives."""
        module = self.modules[path]
        container, _, name = path.rpartition(".")
        group = self.group(container)
        count = parameter_count(module.parameters())
        row = Row(
            anchor=f"{self.anchor}-u{self.rows}",
            depth=group.depth + 1,
            prefix=container + "." if container else "",
            label=f"{name} \u00b7 {type(module).__name__}",
            kind=ops.DEFAULT_TABLE.module_kind(module) or "unknown",
            family="plain",
            shape="",
            params=f"{count:,}" if count else "",
            probe="",
            probe_title="",
            probe_alert=False,
            note="never called",
            muted=True,
        )
        group.items.append(row)
        self.rows += 1
        self.row_of_module[path] = row
        return row


def _probe_cell(stats: LayerStats | None) -> tuple[str, str, bool]:
    """Short text, tooltip, alert flag for one outline row."""
    if stats is None:
        return "", "", False
    if stats.nonfinite_forward or stats.nonfinite_backward:
        phase = "forward" if stats.nonfinite_forward else "backward"
        return "NaN/Inf", f"non-finite values in the {phase} pass", True
    details = [
        f"{label}: {sci(value)}"
        for label, value in (
            ("activation RMS", stats.activation_rms),
            ("backward signal", stats.backward_signal),
            ("weight-gradient RMS", stats.weight_grad_rms),
            ("|grad W| / |W|", stats.grad_weight_ratio),
        )
        if value is not None
    ]
    if stats.calls > 1:
        details.append(f"{stats.calls} calls per forward pass")
    title = "; ".join(details)
    if stats.dead_fraction is not None:
        return f"dead {stats.dead_fraction:.0%}", title, stats.dead_fraction > 0.5
    if stats.saturated_fraction is not None:
        return f"sat. {stats.saturated_fraction:.0%}", title, stats.saturated_fraction > 0.5
    if stats.weight_layer and stats.backward_signal is not None:
        return f"\u2207 {sci(stats.backward_signal)}", title, False
    return "", title, False


def _finish(group: Group, small: bool) -> None:
    """Split long flat lists into chunks, count findings per subtree, choose what starts open."""
    for item in group.items:
        if isinstance(item, Group):
            _finish(item, small)
    if len(group.items) > OUTLINE_CHUNK:
        chunks = []
        for start in range(0, len(group.items), OUTLINE_CHUNK):
            part = group.items[start:start + OUTLINE_CHUNK]
            chunk = Group(group.path, f"items {start + 1}\u2013{start + len(part)} of {len(group.items)}", "",
                          group.depth + 1, items=part)
            _deepen(part)
            _tally(chunk)
            chunk.open = small or sum(chunk.counts.values()) > 0
            chunks.append(chunk)
        group.items = chunks
    _tally(group)
    group.open = small or sum(group.counts.values()) > 0


def _deepen(items: Sequence[Group | Row]) -> None:
    for item in items:
        item.depth += 1
        if isinstance(item, Group):
            _deepen(item.items)


def _tally(group: Group) -> None:
    counts = {s.label: 0 for s in _SEVERITIES}
    rows = 0
    for badge in group.badges:
        counts[badge.severity] += 1
    for item in group.items:
        if isinstance(item, Group):
            for k, v in item.counts.items():
                counts[k] += v
            rows += item.rows
        else:
            rows += 1
            for badge in item.badges:
                counts[badge.severity] += 1
    group.counts, group.rows = counts, rows


def build_model_view(result: ModelResult, index: int) -> ModelView:
    """Everything the template shows for one model."""
    anchor = f"m{index}"
    report = result.probe_report
    options = result.rule_options
    if not options:  # a result from elsewhere: the registry's defaults
        options = {rule.id: {k: o.default for k, o in rule.options.items()} for rule in default_registry()}
    graph = result.graph
    findings = sorted(result.active_findings(), key=lambda f: (-f.severity, f.sort_key()))

    builder = _OutlineBuilder(graph, report, anchor) if graph is not None else None
    if builder is not None:
        builder.build()
    cards = []
    for i, finding in enumerate(findings):
        card_anchor = f"{anchor}-f{i}"
        layer_anchor = None
        if builder is not None:
            badge = Badge(finding.rule, finding.severity.label, card_anchor, finding.message)
            layer_anchor = builder.place(finding, badge)
        cards.append(_card(finding, card_anchor, layer_anchor))
    outline = None
    rows = 0
    if builder is not None:
        rows = builder.rows
        outline = builder.root
        _finish(outline, small=rows <= SMALL_OUTLINE)

    probe = _probe_summary(report, result.probe)
    charts: list[Chart] = []
    if report is not None and report.ok:
        charts = [gradient_flow_chart(report, options), activation_health_chart(report, options)]
        training = report.training
        if training is not None and training.ok:
            charts += [training_loss_chart(training, options), update_ratio_chart(training, options)]

    facts = [
        ("file", result.file),
        ("parameters", f"{result.parameters:,}"),
        ("trace", _TRACE_LABELS.get(result.trace, result.trace)),
        ("inputs", result.inputs),
    ]
    notes = list(result.notes)
    return ModelView(
        anchor=anchor,
        name=result.name,
        file=result.file,
        cls=type(graph.model).__name__ if graph is not None else "",
        facts=facts,
        counts=_counts(findings),
        suppressed=sum(1 for f in result.findings if f.suppressed),
        probe=probe,
        notes=notes,
        cards=cards,
        charts=charts,
        outline=outline,
        outline_rows=rows,
        outline_large=rows > SMALL_OUTLINE,
        fixes=[_fix_row(o) for o in result.fixes],
    )


# --- rendering and writing ------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("actlint.report", "templates"),
        autoescape=True,  # every name in the report is the user's text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["plural"] = _plural
    return env


def render_html(run: LintRun, models: Sequence[ModelResult] | None = None, *, include_errors: bool = True) -> str:
    """The report document for ``models`` (default: every model of ``run``)."""
    chosen = list(run.models if models is None else models)
    views = [build_model_view(m, i) for i, m in enumerate(chosen)]
    findings = [f for m in chosen for f in m.active_findings()]
    if len(views) == 1:
        title = f"actlint: {views[0].file}::{views[0].name}"
    else:
        title = f"actlint report: {_plural(len(views), 'model')}"
    return _environment().get_template("report.html.j2").render(
        title=title,
        version=__version__,
        models=views,
        counts=_counts(findings),
        errors=run.errors if include_errors else [],
    )


def write_html(run: LintRun, out: TextIO) -> None:
    """Reporter protocol: the whole run as one document."""
    out.write(render_html(run))


def default_report_path(result: ModelResult, directory: Path) -> Path:
    """``reports/<file stem>-<model>.html`` with characters unsafe in file names replaced."""
    stem = Path(result.file).stem
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{stem}-{result.name}").strip("._") or "model"
    return directory / f"{name}.html"


def write_html_reports(run: LintRun, output: str | None = None, directory: str = DEFAULT_DIRECTORY) -> list[Path]:
    """Write the report(s); return the paths written.

    With ``output``: one file holding every model and every error of the run. Without:
    one file per model under ``directory`` (created when missing); two models that would
    share a name get ``-2``, ``-3`` suffixes. A run where no model could be linted writes
    ``directory/actlint.html`` listing the errors, so CI always has an artifact.
    """
    written: list[Path] = []
    try:
        if output is not None:
            written.append(_write(Path(output), render_html(run)))
            return written
        folder = Path(directory)
        if not run.models:
            written.append(_write(folder / "actlint.html", render_html(run)))
            return written
        taken: set[Path] = set()
        for result in run.models:
            path = default_report_path(result, folder)
            n = 1
            while path in taken:
                n += 1
                path = path.with_name(f"{default_report_path(result, folder).stem}-{n}.html")
            taken.add(path)
            written.append(_write(path, render_html(run, [result], include_errors=False)))
    except OSError as exc:
        raise UserError(f"cannot write the HTML report: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None
    return written


def _write(path: Path, document: str) -> Path:
    for folder in (path.parent, *path.parent.parents):
        if folder.exists() and not folder.is_dir():
            raise UserError(f"cannot write the HTML report: {folder} is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path


__all__ = ["render_html", "write_html", "write_html_reports", "default_report_path", "build_model_view"]

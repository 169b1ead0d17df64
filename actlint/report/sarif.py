"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning (and any other SARIF viewer).

The log has one run. ``tool.driver.rules`` describes every registered rule (short and full
description, help as text and markdown from the rule's own docs, default level, tags);
each finding becomes a ``result`` with its level, message (with the probe's evidence),
the location in the user's file and a logical location naming the layer. Files and
models that could not be linted are ``toolExecutionNotifications`` of the invocation,
which then reports ``executionSuccessful: false``; model notes (rules that could not run,
probe problems) are notifications at level ``note``.

Paths: a file below the working directory is written as a relative URI against
``%SRCROOT%`` (the working directory, declared in ``originalUriBaseIds``): run actlint
from the repository root, as CI does, and GitHub maps the results onto the repository.
Files elsewhere get absolute ``file://`` URIs.

Fingerprints: GitHub code scanning only uses ``partialFingerprints.primaryLocationLineHash``
and its ``upload-sarif`` action computes that from the source file when it is absent, so
actlint leaves it to the action (an own implementation of its hash could only disagree).
Each result carries ``actlintFindingId/v1`` instead: a hash of rule, file, model and layer
that stays the same when lines move, for consumers that track results themselves.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from actlint.core.version import __version__
from actlint.core.findings import Finding, ProbeStatus, Severity
from actlint.core.location import SourceLocation
from actlint.core.results import LintRun, ModelResult
from actlint.rules.base import Rule
from actlint.rules.registry import RuleRegistry, default_registry

SARIF_VERSION = "2.1.0"
#: The schema URI GitHub's documentation uses (validators resolve it to the OASIS schema).
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "actlintFindingId/v1"

#: SARIF result levels by severity (SARIF has no "info": its informational level is "note").
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
#: GitHub's ``problem.severity`` rule property (orders and filters non-security alerts).
PROBLEM_SEVERITIES = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "recommendation"}

#: GitHub truncates descriptions at 1024 characters; cut them ourselves, on a word.
_DESCRIPTION_LIMIT = 1024


def write_sarif(run: LintRun, out: TextIO) -> None:
    """Write ``run`` as a SARIF 2.1.0 log (the whole of stdout, like ``--format json``)."""
    json.dump(run_to_sarif(run), out, indent=2, allow_nan=False)
    out.write("\n")


def run_to_sarif(run: LintRun, registry: RuleRegistry | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """The SARIF log of ``run`` as a JSON-ready dict.

    ``registry`` supplies the rule metadata (default: every registered rule, plugins
    included); ``cwd`` is ``%SRCROOT%``, the directory relative paths are relative to.
    """
    registry = registry if registry is not None else default_registry()
    root = (cwd or Path.cwd()).resolve()
    locator = _Locator(root)

    rules: list[type[Rule] | Finding] = list(registry)
    index = {rule.id: i for i, rule in enumerate(rules)}
    for model in run.models:
        for finding in model.findings:
            if finding.rule not in index:  # a finding of a rule the registry does not know
                index[finding.rule] = len(rules)
                rules.append(finding)

    results = [
        _result(finding, model, index[finding.rule], locator)
        for model in run.models
        for finding in model.findings
    ]
    notifications = [
        {
            "level": "error",
            "message": {"text": error.message},
            "locations": [{"physicalLocation": {"artifactLocation": locator.artifact(error.file)}}],
        }
        for error in run.errors
    ]
    notifications += [
        {
            "level": "note",
            "message": {"text": f"{model.selector}: {note}"},
            "locations": [{"physicalLocation": {"artifactLocation": locator.artifact(model.file)}}],
        }
        for model in run.models
        for note in model.notes
    ]
    invocation: dict[str, Any] = {
        "executionSuccessful": not run.errors,
        "workingDirectory": {"uri": _directory_uri(root)},
    }
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "actlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [
                            _rule_descriptor(r) if isinstance(r, type) else _unknown_rule_descriptor(r)
                            for r in rules
                        ],
                    }
                },
                "invocations": [invocation],
                "originalUriBaseIds": {SRCROOT: {"uri": _directory_uri(root)}},
                # Python source columns count characters (code points), not UTF-16 units.
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def _rule_descriptor(rule: type[Rule]) -> dict[str, Any]:
    from actlint.rules import docs

    tags = ["pytorch", "architecture", docs.probe_kind(rule)]
    if docs.family(rule):
        tags.insert(2, docs.family(rule))
    help_text = "\n\n".join([
        f"{rule.summary}",
        f"What it does: {rule.what}",
        f"Why is this bad? {rule.why}",
        f"Use instead: {rule.instead}",
        f"Probe: {docs.probe_explanation(rule)}",
    ])
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": _limit(rule.summary)},
        "fullDescription": {"text": _limit(rule.what)},
        "help": {"text": help_text, "markdown": docs.render_rule_markdown(rule)},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {
            "tags": tags,
            "problem.severity": PROBLEM_SEVERITIES[rule.severity],
            "confirmedBy": rule.confirmed_by,
            "page": f"{docs.DEFAULT_PAGES_DIR}/{docs.page_name(rule)}",
        },
    }


def _unknown_rule_descriptor(finding: Finding) -> dict[str, Any]:
    """Metadata for a rule that is not in the registry, from what its finding says."""
    return {
        "id": finding.rule,
        "name": finding.name,
        "shortDescription": {"text": finding.name},
        "fullDescription": {"text": finding.name},
        "help": {"text": f"{finding.rule} {finding.name}"},
        "defaultConfiguration": {"level": LEVELS[finding.severity]},
    }


def _result(finding: Finding, model: ModelResult, rule_index: int, locator: "_Locator") -> dict[str, Any]:
    location = finding.location or SourceLocation(model.file, 1, 1)
    primary: dict[str, Any] = {"physicalLocation": locator.physical(location)}
    if finding.module:
        primary["logicalLocations"] = [{
            "name": finding.module,
            "fullyQualifiedName": f"{model.name}.{finding.module}",
            "kind": "module",
        }]
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": _message(finding)},
        "locations": [primary],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(finding, model, locator)},
        "properties": {
            "severity": finding.severity.label,
            "model": model.selector,
            "module": finding.module,
            "probe": _json_safe(finding.probe.to_json()) if finding.probe else {"status": "not-probed"},
        },
    }
    if finding.related:
        result["relatedLocations"] = [
            {"id": i, "physicalLocation": locator.physical(r), "message": {"text": "related location"}}
            for i, r in enumerate(finding.related, 1)
        ]
    if finding.suppressed:
        result["suppressions"] = [{"kind": "inSource", "justification": "actlint: ignore comment"}]
    if finding.fix is not None:
        result["fixes"] = [_fix(finding, locator)]
    return result


def _fix(finding: Finding, locator: "_Locator") -> dict[str, Any]:
    """The rule's fix as a SARIF fix: each edit replaces whole lines [line, end_line) of the file
    as it was read (a region from column 1 of its first line to column 1 of the line after)."""
    fix = finding.fix
    replacements = [{
        "deletedRegion": {"startLine": e.first_line, "startColumn": 1, "endLine": e.end_line, "endColumn": 1},
        "insertedContent": {"text": e.content},
    } for e in fix.edits]
    return {
        "description": {"text": f"{fix.title} ({fix.applicability} fix; actlint --fix"
                                f"{' --unsafe-fixes' if not fix.safe else ''})"},
        "artifactChanges": [{"artifactLocation": locator.artifact(finding.location.file if finding.location
                                                                  else fix.shown or fix.file),
                             "replacements": replacements}],
    }


def _message(finding: Finding) -> str:
    text = finding.message.rstrip()
    if text and text[-1] not in ".!?":
        text += "."
    probe = finding.probe
    # Measured findings are the probe's numbers already; structural ones have nothing to add.
    if probe and probe.status not in (ProbeStatus.STRUCTURAL, ProbeStatus.MEASURED) and probe.evidence:
        text += f" Probe ({probe.status.value}): {probe.evidence}"
    for i, related in enumerate(finding.related, 1):
        # GitHub links "[text](id)" to the related location with that id.
        text += f" See [line {related.line}]({i})."
    return text


def _fingerprint(finding: Finding, model: ModelResult, locator: "_Locator") -> str:
    location = finding.location
    uri = locator.artifact(location.file if location else model.file)["uri"]
    # The layer identifies a finding across edits; without one (a file-level finding) the line has to.
    anchor = finding.module or finding.node or f"line {location.line if location else 1}"
    key = "\0".join([finding.rule, uri, model.name, anchor])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


class _Locator:
    """Artifact locations and regions, relative to ``%SRCROOT%`` (with a cache of source lines)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lines: dict[Path, list[str] | None] = {}

    def _absolute(self, file: str) -> Path:
        path = Path(file)
        return path if path.is_absolute() else self.root / path

    def artifact(self, file: str) -> dict[str, Any]:
        path = Path(os.path.normpath(self._absolute(file)))
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return {"uri": path.as_uri()}
        return {"uri": quote(relative.as_posix()), "uriBaseId": SRCROOT}

    def physical(self, location: SourceLocation) -> dict[str, Any]:
        line = max(1, location.line)
        column = max(1, location.column)
        region: dict[str, Any] = {"startLine": line, "startColumn": column}
        text = self._line(location.file, line)
        if text is not None and len(text) + 1 > column:
            # The region runs to the end of the statement's line (GitHub wants an end).
            region.update(endLine=line, endColumn=len(text) + 1)
            region["snippet"] = {"text": text}
        return {"artifactLocation": self.artifact(location.file), "region": region}

    def _line(self, file: str, line: int) -> str | None:
        path = self._absolute(file)
        if path not in self._lines:
            try:
                self._lines[path] = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                self._lines[path] = None
        lines = self._lines[path]
        if lines is None or line > len(lines):
            return None
        return lines[line - 1].rstrip()


def _directory_uri(path: Path) -> str:
    uri = path.as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _limit(text: str, limit: int = _DESCRIPTION_LIMIT) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0]
    return cut + "..."


def _json_safe(value: Any) -> Any:
    """Probe metrics as strict JSON: NaN/Inf become strings, tensors/numpy scalars numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item"):
        return _json_safe(value.item())
    return str(value)

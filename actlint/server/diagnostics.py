"""Findings as LSP diagnostics and code actions (the rule ID as the code, a link to its page)."""

from __future__ import annotations

from typing import Iterable

from lsprotocol import types

from actlint.core.findings import Finding, ProbeStatus, Severity
from actlint.fixes.edits import Fix

#: Where the rule pages live (rules/ in the repository, generated from the registry).
RULE_PAGES = "https://github.com/actlint/actlint/blob/main/rules/"
SOURCE = "actlint"

_SEVERITIES = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.INFO: types.DiagnosticSeverity.Information,
}


def rule_page(rule: str, name: str) -> str:
    return f"{RULE_PAGES}{rule}-{name}.md"


def to_diagnostic(finding: Finding) -> types.Diagnostic:
    """One finding: its line (0-based in LSP), severity, rule code and page, the probe's verdict."""
    loc = finding.location
    line = max((loc.line if loc else 1) - 1, 0)
    column = max((loc.column if loc else 1) - 1, 0)
    message = finding.message
    # The probe's verdict once it ran (the static pass published first has none yet).
    if finding.probe and finding.probe.evidence and finding.probe.status in (ProbeStatus.CONFIRMED,
                                                                              ProbeStatus.REFUTED):
        evidence = finding.probe.evidence
        status = finding.probe.status.value
        message += f"\nprobe: {evidence if evidence.startswith(status) else f'{status}: {evidence}'}"
    if finding.fix is not None:
        message += f"\nfix ({finding.fix.applicability}): {finding.fix.title}"
    return types.Diagnostic(
        range=types.Range(start=types.Position(line=line, character=column),
                          end=types.Position(line=line + 1, character=0)),
        message=message,
        severity=_SEVERITIES[finding.severity],
        code=finding.rule,
        code_description=types.CodeDescription(href=rule_page(finding.rule, finding.name)),
        source=SOURCE,
        tags=[types.DiagnosticTag.Unnecessary] if finding.refuted else None,
    )


def fix_edit(uri: str, fix: Fix) -> types.WorkspaceEdit:
    """The fix's line edits as a workspace edit of the document (they replace whole lines)."""
    edits = [types.TextEdit(range=types.Range(start=types.Position(line=e.first_line - 1, character=0),
                                              end=types.Position(line=e.end_line - 1, character=0)),
                            new_text=e.content) for e in fix.edits]
    return types.WorkspaceEdit(changes={uri: edits})


def code_actions(uri: str, findings: Iterable[Finding], line: int) -> list[types.CodeAction]:
    """For the findings on ``line`` (0-based): the rule's fix when it offers one, and its documentation."""
    actions: list[types.CodeAction] = []
    for finding in findings:
        loc = finding.location
        if loc is None or loc.line - 1 != line:
            continue
        diagnostic = to_diagnostic(finding)
        if finding.fix is not None:
            actions.append(types.CodeAction(
                title=f"actlint: {finding.fix.title} ({finding.rule}, {finding.fix.applicability} fix)",
                kind=types.CodeActionKind.QuickFix, diagnostics=[diagnostic],
                edit=fix_edit(uri, finding.fix), is_preferred=finding.fix.safe))
        actions.append(types.CodeAction(
            title=f"actlint: show the documentation of {finding.rule} ({finding.name})",
            kind=types.CodeActionKind.Empty, diagnostics=[diagnostic],
            command=types.Command(title=f"{finding.rule} documentation", command="actlint.showDocumentation",
                                  arguments=[rule_page(finding.rule, finding.name)])))
    return actions

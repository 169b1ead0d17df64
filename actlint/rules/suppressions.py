"""Inline suppressions: ``# actlint: ignore[ACT101]`` comments in the user's file.

A comment ``# actlint: ignore[ACT101, ACT203]`` (or a bare ``# actlint: ignore``, which
covers every rule) suppresses those rules *for the layer* on whose line it sits: a
finding is suppressed when the comment is on

* the line the finding points at,
* the line where the finding's layer is applied in ``forward`` (any of its call sites),
* the line where the finding's layer was constructed (``nn.Linear(...)`` inside an
  ``nn.Sequential`` or ``__init__``), or
* one of the finding's related lines (the loss line of ACT401/ACT402).

Comments are found with :mod:`tokenize`, so a ``#`` inside a string is never a directive.
Suppressed findings stay in the results, flagged, so reports can count and list them.

A directive that suppresses nothing is reported by rule ACT901 (unused-suppression,
ruff's RUF100): a code whose rule ran on every model of the file and reported nothing
there, a code that is not a rule, a code listed twice. Codes of rules that did not run
(not selected, ignored for the file, or skipped, e.g. measured rules under ``--no-probe``)
are not judged: nothing is known about them. A bare directive is judged only when every
selected rule ran. Listing ``ACT901`` in a directive keeps it from being reported.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

from actlint.core.findings import Finding, ProbeStatus, ProbeVerdict
from actlint.loader.provenance import module_construction_site
from actlint.core.location import SourceLocation

if TYPE_CHECKING:
    from actlint.graph.view import GraphView
    from actlint.loader.loaded import LoadedFile
    from actlint.core.results import ModelResult
    from actlint.rules.base import Rule
    from actlint.rules.registry import RuleRegistry

#: The rule that reports unused, unknown and duplicated suppression codes.
UNUSED_SUPPRESSION = "ACT901"

_DIRECTIVE = re.compile(r"#\s*actlint\s*:\s*ignore\b(?P<bracket>\s*\[(?P<codes>[^\]]*)(?P<close>\]?))?", re.IGNORECASE)


@dataclass(frozen=True)
class Directive:
    """One ``# actlint: ignore[...]`` comment."""

    line: int
    column: int  # 1-based column of the directive's ``#``
    codes: tuple[str, ...] | None  # None: a bare ``# actlint: ignore`` (every rule)
    malformed: str = ""  # why the comment could not be read, when it could not

    def covers(self, rule_id: str) -> bool:
        return self.codes is None or rule_id in self.codes


def parse_directives(source: str) -> list[Directive]:
    """Every suppression directive in ``source``, in line order (real comments only)."""
    directives: list[Directive] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                directive = _parse_comment(token.string, token.start[0], token.start[1])
                if directive is not None:
                    directives.append(directive)
    except (tokenize.TokenError, SyntaxError):
        pass  # the file compiled, so this is the end of input: keep what was read
    return directives


def _parse_comment(comment: str, line: int, offset: int) -> Directive | None:
    # The directive may follow other text in the comment (``# attention # actlint: ignore``).
    for start in (i for i, c in enumerate(comment) if c == "#"):
        m = _DIRECTIVE.match(comment, start)
        if m is None:
            continue
        column = offset + start + 1
        if m.group("bracket") is None:
            return Directive(line, column, None)
        if not m.group("close"):
            return Directive(line, column, (), malformed="the code list has no closing ']'")
        codes = tuple(c.strip().upper() for c in m.group("codes").split(",") if c.strip())
        if not codes:
            return Directive(line, column, (), malformed="the code list is empty (write ignore[ACT101] or a bare ignore)")
        return Directive(line, column, codes)
    return None


class _LayerLines:
    """Lines of the user's file where each module of one model is applied or constructed."""

    def __init__(self, graph: "GraphView | None", user_path: str) -> None:
        self._graph = graph
        self._user_path = user_path
        self._applied: dict[str, set[int]] | None = None

    def lines(self, module_path: str) -> set[int]:
        graph = self._graph
        if graph is None:
            return set()
        if self._applied is None:
            self._applied = {}
            for node in graph.nodes:
                if node.module_path and node.op == "call_module" and node.location is not None \
                        and node.location.file == self._user_path:
                    self._applied.setdefault(node.module_path, set()).add(node.location.line)
        found = set(self._applied.get(module_path, ()))
        module = graph.modules.get(module_path)
        built = module_construction_site(module) if module is not None else None
        if built is not None and built.file == self._user_path:
            found.add(built.line)
        return found


def suppression_lines(finding: Finding, display: str, layers: _LayerLines) -> set[int]:
    """Lines of the linted file (shown as ``display``) where a directive covers ``finding``."""
    lines = {loc.line for loc in (finding.location, *finding.related) if loc is not None and loc.file == display}
    if finding.module:
        lines |= layers.lines(finding.module)
    return lines


def apply_suppressions(
    results: Sequence["ModelResult"],
    loaded: "LoadedFile",
    rules: Sequence["Rule"],
    registry: "RuleRegistry",
) -> None:
    """Flag the findings of one file's models that a directive covers; report unused ones.

    ``rules`` are the rules that were enabled for this file. Findings are replaced in
    place in each ``ModelResult``; ACT901 findings (when ACT901 is enabled) are added to
    the file's first model, since a comment belongs to the file rather than to a model.
    """
    directives = parse_directives(loaded.source)
    if not directives or not results:
        return
    by_line: dict[int, list[Directive]] = {}
    for d in directives:
        by_line.setdefault(d.line, []).append(d)
    used: dict[Directive, set[str]] = {d: set() for d in directives}
    display, user_path = loaded.display, str(loaded.path)
    for result in results:
        layers = _LayerLines(result.graph, user_path)
        updated = []
        for finding in result.findings:
            covering = [d for line in sorted(suppression_lines(finding, display, layers))
                        for d in by_line.get(line, ()) if d.covers(finding.rule)]
            if covering and not finding.suppressed and finding.rule != UNUSED_SUPPRESSION:
                first = covering[0]
                finding = replace(finding, suppressed=True,
                                  suppressed_by=SourceLocation(display, first.line, first.column))
                for d in covering:
                    used[d].add(finding.rule)
            updated.append(finding)
        result.findings[:] = updated

    checker = next((r for r in rules if r.id == UNUSED_SUPPRESSION), None)
    if checker is None:
        return
    enabled = {r.id for r in rules}
    ran_everywhere = {rid for rid in enabled if all(rid not in m.skipped_rules for m in results)}
    complete = ran_everywhere == enabled
    reports = []
    for d in directives:
        problems = _problems(d, used[d], registry, ran_everywhere, complete)
        if problems:
            reports.append(Finding(
                rule=checker.id,
                name=checker.name,
                severity=checker.severity,
                message="suppression comment " + "; ".join(problems),
                location=SourceLocation(display, d.line, d.column),
                probe=ProbeVerdict(ProbeStatus.STRUCTURAL, "structural: no probe measurement applies"),
            ))
    if reports:
        first = results[0]
        first.findings[:] = sorted([*first.findings, *reports], key=Finding.sort_key)


def _problems(d: Directive, used: set[str], registry: "RuleRegistry", ran: set[str], complete: bool) -> list[str]:
    """What is wrong with one directive (empty when it is fine)."""
    if d.malformed:
        return [f"is malformed: {d.malformed}"]
    if d.codes is None:
        if not used and complete:
            return ["is unused: no finding on this line to suppress (remove it)"]
        return []
    if UNUSED_SUPPRESSION in d.codes:
        return []
    problems = []
    seen: set[str] = set()
    for code in d.codes:
        if code in seen:
            problems.append(f"lists {code} twice")
            continue
        seen.add(code)
        if code not in registry:
            prefix = any(rule_id.startswith(code) for rule_id in registry.ids)
            hint = " (list full rule IDs such as ACT101, not prefixes)" if prefix else ""
            problems.append(f"names {code}, which is not a rule{hint}")
        elif code in ran and code not in used:
            problems.append(f"is unused: {code} reported nothing on this line (remove {code})")
    return problems


__all__ = ["Directive", "UNUSED_SUPPRESSION", "apply_suppressions", "parse_directives", "suppression_lines"]

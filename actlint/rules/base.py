"""The Rule base class: a rule is a small class that carries its own docs and examples.

Like Fixit and sqlfluff, each rule declares:

* ``id`` (``ACT101``), ``name`` (``softmax-in-hidden-layer``), default ``severity``;
* documentation: ``summary`` (one line), ``what`` (what it does), ``why`` (why is this bad),
  ``instead`` (what to use instead), optional ``references``;
* declared ``options`` with defaults (unknown option names raise; each option must change
  behaviour, which the test-suite checks);
* ``confirmed_by``: which probe measurement confirms a finding, or ``"structural"``;
* ``valid`` / ``invalid``: complete example model files. One parametrized test runs every
  rule's examples: each invalid example must produce the rule, each valid one must not.
  They are also the examples of the generated rule pages in ``rules/``.
* ``fixable``: ``"safe"`` or ``"unsafe"`` when the rule offers fixes (``actlint --fix``); its
  invalid examples then carry ``fixed``, the file as the fix leaves it, which the example test
  checks byte for byte before linting it again (the finding must be gone, nothing new may appear).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Mapping

from actlint.core.findings import Finding, ProbeStatus, ProbeVerdict, Severity
from actlint.core.location import SourceLocation
from actlint.fixes.edits import SAFE, Fix, NoFix, digest
from actlint.fixes.tree import CannotFix, SourceTree, source_tree

if TYPE_CHECKING:
    from actlint.graph.view import GraphView, OpNode
    from actlint.loader.loaded import LoadedFile
    from actlint.probe.reports import ProbeReport


@dataclass(frozen=True)
class Example:
    """A complete model file used as documentation and as a test case.

    ``line`` (invalid examples): the line the finding must point at, when given.
    ``probe``: run the probe for this example (needed by measured rules).
    ``select``: other rules to run alongside (ACT901 judges suppressions of other rules).
    ``fixed`` (invalid examples of fixable rules): the file after ``actlint --fix --unsafe-fixes``.
    """

    code: str
    line: int | None = None
    probe: bool = False
    select: tuple[str, ...] = ()
    fixed: str | None = None

    @property
    def source(self) -> str:
        return textwrap.dedent(self.code).strip() + "\n"

    @property
    def fixed_source(self) -> str | None:
        return None if self.fixed is None else textwrap.dedent(self.fixed).strip() + "\n"


@dataclass(frozen=True)
class Option:
    """A declared rule option: its default, meaning, and accepted type."""

    default: Any
    description: str

    def coerce(self, rule_id: str, name: str, value: Any) -> Any:
        expected = type(self.default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ValueError(
                f"{rule_id} option {name!r} must be {expected.__name__}, got {value!r}"
            )
        return value


class RuleContext:
    """What a rule sees: the GraphView, the user's file, options and (later) the probe."""

    def __init__(
        self,
        rule: "Rule",
        graph: "GraphView",
        file: "LoadedFile",
        *,
        probe: "ProbeReport | None" = None,
    ) -> None:
        self.rule = rule
        self.graph = graph
        self.file = file
        self.probe = probe
        self.model = graph.model

    def finding(
        self,
        message: str,
        *,
        node: "OpNode | None" = None,
        location: SourceLocation | None = None,
        module: str | None = None,
        related: Iterable[SourceLocation] = (),
        severity: Severity | None = None,
        fix: "Fix | NoFix | None" = None,
    ) -> Finding:
        """A finding of this rule, located at ``node`` (or ``location``); ``severity`` lowers the rule's for this one.

        ``fix``: what :meth:`fix` offered for it (a fix, or why there is none).
        """
        rule = self.rule
        if location is None and node is not None:
            location = node.location
        if module is None and node is not None:
            module = node.module_path
        return Finding(
            rule=rule.id,
            name=rule.name,
            severity=rule.severity if severity is None else severity,
            message=message,
            location=location,
            module=module,
            node=node.name if node is not None else None,
            related=tuple(related),
            fix=fix if isinstance(fix, Fix) else None,
            no_fix=fix.reason if isinstance(fix, NoFix) else None,
        )

    def fix(self, title: str, rewrite: Callable[[SourceTree], Mapping[Any, Any]],
            *, applicability: str | None = None) -> "Fix | NoFix":
        """The rule's fix: ``rewrite`` maps nodes of the file's pristine LibCST tree to their
        replacements (or raises :class:`~actlint.fixes.tree.CannotFix` with the reason it cannot
        be made exactly). ``applicability`` defaults to the rule's ``fixable``.
        """
        path = Path(self.file.path)
        if self.file.installed or path.suffix != ".py":
            return NoFix("only .py files are rewritten" if not self.file.installed
                         else "the model is defined in an installed package")
        try:
            tree = source_tree(self.file.source)
            edits = tree.edits(tree.replaced(dict(rewrite(tree))))
        except CannotFix as exc:
            return NoFix(str(exc))
        return Fix(self.rule.id, title, applicability or self.rule.fixable or SAFE, str(path), edits,
                   shown=self.file.display, source_digest=digest(self.file.source))


class Rule:
    """Base class of every rule (built-in and third-party)."""

    id: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    what: ClassVar[str]
    why: ClassVar[str]
    instead: ClassVar[str]
    references: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[dict[str, Option]] = {}
    #: The probe measurement that confirms a finding, or "structural" when none can.
    confirmed_by: ClassVar[str] = "structural"
    #: The severity a finding earns when the probe confirms it (None: it keeps the rule's).
    confirmed_severity: ClassVar[Severity | None] = None
    #: What the rule needs: "dataflow" (an fx graph), "shapes", "probe" (measured rules).
    requires: ClassVar[frozenset[str]] = frozenset({"dataflow"})
    valid: ClassVar[tuple[Example, ...]] = ()
    invalid: ClassVar[tuple[Example, ...]] = ()
    #: ``"safe"`` or ``"unsafe"`` when the rule offers fixes (the usual applicability of its fixes).
    fixable: ClassVar[str | None] = None

    def fix_evidence(self, model: Mapping[str, Any]) -> tuple[str, float] | None:
        """The number a fix of this rule should move, read from a model's JSON result (its probe
        report, its parameter count): shown before and after ``--fix``. None: nothing to measure."""
        return None

    def __init__(self, severity: Severity | None = None, **options: Any) -> None:
        if severity is not None:
            self.severity = severity  # instance override of the class default
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise ValueError(f"{self.id} has no option {unknown[0]!r} (options: {known})")
        self.config: dict[str, Any] = {k: o.default for k, o in self.options.items()}
        for key, value in options.items():
            self.config[key] = self.options[key].coerce(self.id, key, value)

    def option(self, name: str) -> Any:
        return self.config[name]

    @property
    def is_measured(self) -> bool:
        return "probe" in self.requires

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        """Yield findings for the model in ``ctx``."""
        raise NotImplementedError

    def confirm(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        """The probe's verdict on one of this rule's findings (a template method: override :meth:`measure`).

        Structural rules have nothing to measure. Without a probe run, or when it was
        skipped, timed out or failed, the verdict says why. Otherwise :meth:`measure`
        judges the finding on ``ctx.probe``, which then always holds a run that succeeded.
        """
        if self.confirmed_by == "structural":
            return ProbeVerdict(ProbeStatus.STRUCTURAL, "structural: no probe measurement applies")
        probe = ctx.probe
        if probe is None:
            return ProbeVerdict(ProbeStatus.NOT_PROBED, "not probed: the probe did not run")
        if not probe.ok:
            return ProbeVerdict(ProbeStatus.NOT_PROBED, f"not probed: probe {probe.status}: {probe.reason}")
        return self.measure(finding, ctx)

    def measure(self, finding: Finding, ctx: RuleContext) -> ProbeVerdict:
        """Judge ``finding`` on ``ctx.probe`` (a probe run that succeeded). Default: nothing measured."""
        return self.not_measured()

    def not_measured(self) -> ProbeVerdict:
        """The verdict when this rule's measurement is missing from a probe run that succeeded."""
        return ProbeVerdict(ProbeStatus.NOT_PROBED, f"not probed: no {self.confirmed_by} measurement")

    @classmethod
    def doc_problems(cls) -> list[str]:
        """What is missing from this rule's documentation (empty when complete)."""
        problems = []
        for attr in ("id", "name", "severity", "summary", "what", "why", "instead"):
            value = getattr(cls, attr, None)
            if value in (None, ""):
                problems.append(f"{cls.__name__} has no {attr}")
        if not cls.invalid:
            problems.append(f"{cls.__name__} has no INVALID example")
        if not cls.valid:
            problems.append(f"{cls.__name__} has no VALID example")
        if cls.fixable is not None and not any(e.fixed for e in cls.invalid):
            problems.append(f"{cls.__name__} is fixable but no INVALID example shows the fixed code")
        for name, opt in cls.options.items():
            if not opt.description:
                problems.append(f"{cls.__name__} option {name} has no description")
        return problems

"""Findings: what a rule reports, and the probe's verdict on it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from actlint.core.location import SourceLocation

if TYPE_CHECKING:  # annotations only: a finding carries its fix as data
    from actlint.fixes.edits import Fix


class Severity(enum.IntEnum):
    """Ordered severities: comparisons follow importance (``ERROR > WARNING``)."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None


class ProbeStatus(str, enum.Enum):
    """What the probe run says about a finding."""

    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    NOT_PROBED = "not-probed"
    STRUCTURAL = "structural"
    MEASURED = "measured"  # the finding itself comes from a probe measurement


@dataclass(frozen=True)
class ProbeVerdict:
    """The probe's status for one finding, with a one-line evidence string and numbers."""

    status: ProbeStatus
    evidence: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "evidence": self.evidence, "metrics": dict(self.metrics)}


@dataclass(frozen=True)
class Finding:
    """One problem found in one model."""

    rule: str  # e.g. "ACT101"
    name: str  # e.g. "softmax-in-hidden-layer"
    severity: Severity
    message: str
    location: SourceLocation | None = None
    module: str | None = None  # module path such as "encoder.layers.0.fc1", or None for functional ops
    node: str | None = None  # fx node name, for the report's layer outline
    probe: ProbeVerdict | None = None
    # Extra locations that matter (e.g. the loss line for ACT401); shown as notes.
    related: tuple[SourceLocation, ...] = ()
    suppressed: bool = False
    # The ``# actlint: ignore`` comment that suppressed this finding (when suppressed).
    suppressed_by: SourceLocation | None = None
    #: The rule's fix for this finding (``actlint --fix`` applies it), or None.
    fix: "Fix | None" = None
    #: Why a rule that fixes such findings offers no fix for this one (built in a loop...), or None.
    no_fix: str | None = None

    @property
    def refuted(self) -> bool:
        """The probe measured this static finding and saw no problem (shown, counted apart, not failing)."""
        return self.probe is not None and self.probe.status is ProbeStatus.REFUTED

    def fixable(self, unsafe: bool = False) -> bool:
        """``--fix`` applies this finding's fix: there is one, the finding is neither suppressed nor
        refuted by the probe (rewriting a network the measurement found healthy is not a fix), and
        the fix is safe or ``unsafe`` fixes are enabled."""
        return self.fix is not None and not self.suppressed and not self.refuted and (unsafe or self.fix.safe)

    def with_probe(self, verdict: ProbeVerdict) -> "Finding":
        return replace(self, probe=verdict)

    def with_severity(self, severity: Severity) -> "Finding":
        return replace(self, severity=severity)

    def sort_key(self) -> tuple:
        loc = self.location
        return (loc.file if loc else "", loc.line if loc else 0, loc.column if loc else 0, self.rule)

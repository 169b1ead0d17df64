"""ACT9xx: actlint's own comments in the user's file (meta rules)."""

from __future__ import annotations

from typing import Iterable

from actlint.core.findings import Finding, Severity
from actlint.rules.base import Example, Rule, RuleContext


class UnusedSuppression(Rule):
    id = "ACT901"
    name = "unused-suppression"
    severity = Severity.INFO
    summary = "An `# actlint: ignore` comment that suppresses nothing (ruff's RUF100)."
    what = (
        "Reports `# actlint: ignore[...]` comments that no longer suppress anything: a listed "
        "rule ran on every model of the file and reported nothing for the layers on that line, "
        "a code that is not a rule (or is listed twice), or a comment actlint cannot read. A bare "
        "`# actlint: ignore` is reported when it suppresses nothing and every selected rule ran. "
        "Rules that did not run (not selected, ignored for the file, or skipped, such as measured "
        "rules under `--no-probe`) are not judged."
    )
    why = (
        "A stale suppression hides the next real problem on that line: after the layer was "
        "fixed or moved, the comment silently disables the rule for whatever comes next. A "
        "misspelt code suppresses nothing while looking as if it did."
    )
    instead = (
        "Delete the comment, or the codes in it that are reported. Keep a deliberate but "
        "currently unused comment by adding ACT901 to its list: `# actlint: ignore[ACT101, ACT901]`."
    )
    requires = frozenset()
    valid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Linear(8, 16),
                    nn.Softmax(dim=1),  # actlint: ignore[ACT101] -- the next layer mixes probabilities on purpose
                    nn.Linear(16, 2),
                )
            """,
            select=("ACT101",),
        ),
    )
    invalid = (
        Example(
            """
            import torch.nn as nn

            def build_model():
                return nn.Sequential(
                    nn.Linear(8, 16),
                    nn.ReLU(),  # actlint: ignore[ACT101]
                    nn.Linear(16, 2),
                )
            """,
            line=6,
            select=("ACT101",),
        ),
    )

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        """Nothing to find in one model's graph: a comment belongs to the whole file.

        The pipeline judges directives once per file, after every other rule ran on every
        model of it (:func:`actlint.rules.suppressions.apply_suppressions`).
        """
        return ()

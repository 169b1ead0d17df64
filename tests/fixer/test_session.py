"""The fixer's verification: keep a fix only when the re-lint bears it out, restore the file otherwise.

The re-lint is a stub here, so each verdict (finding gone, finding still there, a new error,
a file that no longer lints, a file changed on disk) is made to happen exactly.
"""

from __future__ import annotations

from pathlib import Path

from actlint.core.findings import Finding, Severity
from actlint.core.location import SourceLocation
from actlint.core.results import LintRun, ModelResult, RunError
from actlint.fixer.session import fix_run
from actlint.fixes.edits import SAFE, UNSAFE, Fix, digest, edits_between
from actlint.fixes.outcome import FIXED, NOT_WRITTEN, ROLLED_BACK

SOURCE = """import torch.nn as nn

model = nn.Sequential(
    nn.Linear(8, 16),  # first
    nn.Softmax(dim=1),
    nn.Linear(16, 4),  # second
)
"""


def _finding(path: Path, rule: str, line: int, old: str, new: str, applicability: str = SAFE,
             severity: Severity = Severity.WARNING, source: str = SOURCE) -> Finding:
    fixed = source.replace(old, new)
    fix = Fix(rule, f"{rule}: {old.strip()} -> {new.strip()}", applicability, str(path),
              edits_between(source, fixed), shown=str(path), source_digest=digest(source))
    return Finding(rule, rule.lower(), severity, f"{rule} message", SourceLocation(str(path), line, 5),
                   module=f"m{line}", node=f"n{line}", fix=fix)


def _model(path: Path, *findings: Finding, probe: dict | None = None) -> ModelResult:
    return ModelResult(name="model", file=str(path), trace="fx", inputs="(8, 8)", parameters=10,
                       findings=list(findings), probe=probe or {})


class Relint:
    """Answers each re-lint from a function of the file's text, and records the texts it saw."""

    def __init__(self, answer):
        self.answer = answer
        self.seen: list[str] = []

    def __call__(self, path: str) -> LintRun:
        text = Path(path).read_text()
        self.seen.append(text)
        return self.answer(text)


def _no_evidence(rule, model):
    return None


def test_a_fix_whose_finding_is_gone_is_kept(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    finding = _finding(path, "ACT105", 5, "    nn.Softmax(dim=1),\n", "")
    run = LintRun(models=[_model(path, finding)])
    relint = Relint(lambda text: LintRun(models=[_model(path)]))
    fixed = fix_run(run, relint, _no_evidence)
    assert path.read_text() == SOURCE.replace("    nn.Softmax(dim=1),\n", "")
    (outcome,) = fixed.fix_outcomes()
    assert outcome.status == FIXED and outcome.line == 5 and outcome.model == run.models[0].selector
    assert relint.seen == [path.read_text()]  # verified on the text that was written


def test_a_fix_whose_finding_stays_is_rolled_back_byte_for_byte(tmp_path):
    path = tmp_path / "model.py"
    path.write_bytes(SOURCE.encode())
    finding = _finding(path, "ACT105", 5, "    nn.Softmax(dim=1),\n", "")
    stays = _finding(path, "ACT105", 5, "    nn.Softmax(dim=1),\n", "")
    run = LintRun(models=[_model(path, finding)])
    fixed = fix_run(run, Relint(lambda text: LintRun(models=[_model(path, stays)])), _no_evidence)
    assert path.read_bytes() == SOURCE.encode()
    (outcome,) = fixed.fix_outcomes()
    assert outcome.status == ROLLED_BACK and outcome.reason == "the re-lint still shows the finding"
    assert fixed.models[0].findings == [finding]  # the file is as it was: so is its lint


def test_a_fix_that_brings_a_new_error_is_rolled_back_and_the_other_kept(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    good = _finding(path, "ACT501", 4, "nn.Linear(8, 16)", "nn.Linear(8, 16, bias=False)", UNSAFE)
    harmful = _finding(path, "ACT101", 5, "nn.Softmax(dim=1)", "nn.Tanh()", UNSAFE)
    new_error = Finding("ACT202", "deep-tanh", Severity.ERROR, "a new problem", SourceLocation(str(path), 5, 5))

    def answer(text: str) -> LintRun:
        return LintRun(models=[_model(path, *([new_error] if "Tanh" in text else []))])

    relint = Relint(answer)
    fixed = fix_run(LintRun(models=[_model(path, good, harmful)]), relint, _no_evidence, unsafe=True)
    assert path.read_text() == SOURCE.replace("nn.Linear(8, 16)", "nn.Linear(8, 16, bias=False)")
    outcomes = {o.rule: o for o in fixed.fix_outcomes()}
    assert outcomes["ACT501"].status == FIXED
    assert outcomes["ACT101"].status == ROLLED_BACK
    assert outcomes["ACT101"].reason == "the re-lint shows a new error, ACT202: a new problem"
    # Both together, then each alone to find the culprit, then the good one verified again.
    assert len(relint.seen) == 4


def test_a_fixed_file_that_no_longer_lints_is_restored(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    finding = _finding(path, "ACT105", 5, "    nn.Softmax(dim=1),\n", "")
    relint = Relint(lambda text: LintRun(errors=[RunError(str(path), "model.py: no model found")]))
    fixed = fix_run(LintRun(models=[_model(path, finding)]), relint, _no_evidence)
    assert path.read_text() == SOURCE
    (outcome,) = fixed.fix_outcomes()
    assert outcome.status == ROLLED_BACK
    assert outcome.reason == "the fixed file could not be linted: model.py: no model found"


def test_unsafe_fixes_wait_for_unsafe_fixes(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    finding = _finding(path, "ACT101", 5, "nn.Softmax(dim=1)", "nn.ReLU()", UNSAFE)
    relint = Relint(lambda text: LintRun(models=[_model(path)]))
    fixed = fix_run(LintRun(models=[_model(path, finding)]), relint, _no_evidence)
    assert path.read_text() == SOURCE and relint.seen == [] and fixed.fix_outcomes() == []


def test_a_file_changed_since_the_lint_is_not_written(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    finding = _finding(path, "ACT105", 5, "    nn.Softmax(dim=1),\n", "")
    edited = SOURCE.replace("# first", "# the user typed this meanwhile")
    path.write_text(edited)
    relint = Relint(lambda text: LintRun(models=[_model(path)]))
    fixed = fix_run(LintRun(models=[_model(path, finding)]), relint, _no_evidence)
    assert path.read_text() == edited and relint.seen == []
    (outcome,) = fixed.fix_outcomes()
    assert outcome.status == NOT_WRITTEN and outcome.reason == "the file changed on disk since actlint read it"


def test_fixes_that_would_not_compile_are_not_written(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    finding = _finding(path, "ACT105", 5, "    nn.Softmax(dim=1),\n", "    nn.Softmax(dim=1,\n")
    relint = Relint(lambda text: LintRun(models=[_model(path)]))
    fixed = fix_run(LintRun(models=[_model(path, finding)]), relint, _no_evidence)
    assert path.read_text() == SOURCE and relint.seen == []
    (outcome,) = fixed.fix_outcomes()
    assert outcome.status == NOT_WRITTEN and outcome.reason.startswith("the fixed file would not compile")


def test_overlapping_fixes_are_made_in_a_second_round_against_the_fixed_text(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    first = _finding(path, "ACT101", 5, "nn.Softmax(dim=1)", "nn.ReLU()", UNSAFE)
    overlapping = _finding(path, "ACT999", 5, "nn.Softmax(dim=1),", "nn.Softmax(dim=1),  # noted", UNSAFE)
    after_first = SOURCE.replace("nn.Softmax(dim=1)", "nn.ReLU()")

    def answer(text: str) -> LintRun:
        if text == after_first:  # the second finding is still there, its fix made against the new text
            return LintRun(models=[_model(path, _finding(path, "ACT999", 5, "nn.ReLU(),", "nn.ReLU(),  # noted",
                                                         UNSAFE, source=after_first))])
        return LintRun(models=[_model(path)])

    fixed = fix_run(LintRun(models=[_model(path, first, overlapping)]), Relint(answer), _no_evidence, unsafe=True)
    assert path.read_text() == after_first.replace("nn.ReLU(),", "nn.ReLU(),  # noted")
    assert [(o.rule, o.status) for o in fixed.fix_outcomes()] == [("ACT101", FIXED), ("ACT999", FIXED)]


def test_evidence_is_read_before_and_after(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SOURCE)
    finding = _finding(path, "ACT105", 5, "    nn.Softmax(dim=1),\n", "")

    def evidence(rule, model):
        return ("gradient at the first layer", model.probe["signal"])

    relint = Relint(lambda text: LintRun(models=[_model(path, probe={"signal": 0.5})]))
    fixed = fix_run(LintRun(models=[_model(path, finding, probe={"signal": 1e-6})]), relint, evidence)
    (outcome,) = fixed.fix_outcomes()
    assert (outcome.evidence, outcome.before, outcome.after) == ("gradient at the first layer", 1e-6, 0.5)
    assert outcome.to_json()["evidence"] == {"measure": "gradient at the first layer", "before": 1e-6, "after": 0.5}

"""Every rule's VALID and INVALID examples, run through the whole pipeline (Fixit style).

A rule cannot ship without proof that it fires (INVALID, at the documented line when one is
given) and proof that it stays quiet (VALID).
"""

from __future__ import annotations

import pytest

from actlint.rules.engine import RuleSelection
from actlint.options import LintOptions
from actlint.pipeline import lint_paths
from actlint.rules.registry import default_registry

from helpers import write_model

REGISTRY = default_registry()


def _cases(kind: str):
    for rule in REGISTRY:
        for i, example in enumerate(getattr(rule, kind)):
            yield pytest.param(rule, example, id=f"{rule.id}-{kind}-{i}")


#: Every example runs under the trace chain and again with the executed tracer forced, so
#: graph rules keep the precision they have on fx when torch.fx cannot trace a model.
TRACERS = pytest.mark.parametrize("tracer", ["auto", "executed"])


def _had_inputs(model) -> bool:
    return any(f"({source}" in model.inputs
               for source in ("inferred", "--input-shape", "example_inputs()", "example_input_array"))


def _lint_example(tmp_path, rule, example, tracer="auto"):
    path = write_model(tmp_path, example.source)
    selection = RuleSelection(select=(rule.id, *example.select))
    options = LintOptions(selection=selection, probe=example.probe, trace=tracer)
    run = lint_paths([str(path)], options)
    assert not run.errors, run.errors
    if tracer == "executed":
        # Where the example's inputs can be found, the executed trace is what the rule saw.
        for m in run.models:
            assert m.trace == "executed" or not _had_inputs(m), (m.trace, m.inputs, m.notes)
    return [f for f in run.findings() if f.rule == rule.id], run


def _assert_rule_ran(rule, run) -> None:
    """A VALID example proves nothing when the rule was skipped (no shapes, no probe run) or raised."""
    assert run.models, f"{rule.id}: the example built no model"
    for model in run.models:
        assert rule.id not in model.skipped_rules, f"{rule.id} did not run: {model.skipped_rules[rule.id]}"
        crashed = [n for n in model.notes if n.startswith(f"rule {rule.id} was skipped")]
        assert not crashed, crashed


@TRACERS
@pytest.mark.parametrize("rule, example", list(_cases("invalid")))
def test_invalid_example_fires(tmp_path, rule, example, tracer):
    findings, _ = _lint_example(tmp_path, rule, example, tracer)
    assert findings, f"{rule.id} did not fire on its INVALID example:\n{example.source}"
    if example.line is not None:
        lines = sorted({f.location.line for f in findings})
        assert example.line in lines, f"{rule.id} fired at lines {lines}, expected {example.line}"


@TRACERS
@pytest.mark.parametrize("rule, example", list(_cases("valid")))
def test_valid_example_is_quiet(tmp_path, rule, example, tracer):
    findings, run = _lint_example(tmp_path, rule, example, tracer)
    assert not findings, [f.message for f in findings]
    _assert_rule_ran(rule, run)


@pytest.mark.parametrize("rule", list(REGISTRY), ids=lambda r: r.id)
def test_rule_is_documented(rule):
    assert rule.doc_problems() == []


def test_every_catalogue_id_has_a_rule_or_is_pending():
    # IDs are a public contract: rule names must match DESIGN.md's catalogue.
    catalogue = {
        "ACT101": "softmax-in-hidden-layer", "ACT102": "missing-activation",
        "ACT103": "linear-model-collapse", "ACT104": "activation-on-logits",
        "ACT105": "redundant-activation", "ACT106": "tanh-hidden-activation",
        "ACT201": "deep-saturating-stack", "ACT202": "deep-plain-network",
        "ACT203": "missing-normalization", "ACT204": "vanilla-rnn",
        "ACT301": "init-scale-mismatch", "ACT302": "signal-explosion-or-collapse",
        "ACT303": "constant-init", "ACT304": "dead-relu-init",
        "ACT401": "softmax-before-cross-entropy", "ACT402": "sigmoid-before-bce",
        "ACT403": "softmax-wrong-dim", "ACT501": "bias-before-norm",
        "ACT502": "dropout-before-batchnorm", "ACT601": "unused-module",
        "ACT701": "vanishing-gradients", "ACT702": "exploding-gradients", "ACT703": "dead-relu",
        "ACT704": "saturated-activation", "ACT705": "non-finite-values",
        "ACT706": "parameters-without-gradient", "ACT707": "forward-signal-collapse",
        "ACT801": "gradients-never-zeroed", "ACT802": "rnn-without-clipping",
        "ACT803": "adam-weight-decay", "ACT804": "unnormalized-inputs", "ACT805": "eval-in-train-mode",
        "ACT806": "learning-rate-out-of-range", "ACT851": "training-diverges", "ACT852": "cannot-fit-batch",
        "ACT853": "update-ratio-out-of-range",
        "ACT901": "unused-suppression",
    }
    assert set(catalogue) == {rule.id for rule in REGISTRY}  # every ID of DESIGN.md has its rule
    for rule in REGISTRY:
        assert rule.id in catalogue, f"{rule.id} is not in the catalogue"
        assert catalogue[rule.id] == rule.name


def _cases_with_fixes():
    for rule in REGISTRY:
        for i, example in enumerate(rule.invalid):
            if example.fixed is not None:
                yield pytest.param(rule, example, id=f"{rule.id}-invalid-{i}")


def _cases_without_fixes():
    for rule in REGISTRY:
        for i, example in enumerate(rule.invalid):
            if rule.fixable is not None and example.fixed is None:
                yield pytest.param(rule, example, id=f"{rule.id}-invalid-{i}")


@pytest.mark.parametrize("rule, example", list(_cases_without_fixes()))
def test_a_fix_that_cannot_be_made_exactly_is_not_offered(tmp_path, rule, example):
    """An INVALID example of a fixable rule without ``fixed`` code is one the fix must refuse (the
    model's output also feeds an accuracy, the layer is built in a loop...): the finding is
    still reported, with no fix and the reason in ``no_fix``."""
    findings, _ = _lint_example(tmp_path, rule, example)
    mine = [f for f in findings if f.rule == rule.id]
    assert mine
    for finding in mine:
        assert finding.fix is None and finding.no_fix, (finding.fix, finding.no_fix)


def test_fixable_rules_show_their_fixes():
    for rule in REGISTRY:
        fixed = [e for e in rule.invalid if e.fixed is not None]
        assert bool(fixed) == (rule.fixable is not None), rule.id


@pytest.mark.parametrize("rule, example", list(_cases_with_fixes()))
def test_fix_of_invalid_example(tmp_path, rule, example):
    """The fix turns the INVALID example into ``fixed`` byte for byte; linted again, the finding is
    gone and no rule finds more than it found before."""
    from collections import Counter

    from actlint.fixes.edits import apply_edits, combine

    findings, _ = _lint_example(tmp_path, rule, example)
    fixes = [f.fix for f in findings if f.fix is not None]
    assert fixes, [f.no_fix for f in findings]
    applied, deferred = combine(fixes)
    assert not deferred
    assert apply_edits(example.source, applied) == example.fixed_source
    assert all(fix.applicability == rule.fixable for fix in fixes), [(f.rule, f.applicability) for f in fixes]

    def everything(source: str, name: str) -> Counter:
        path = write_model(tmp_path, source, name=f"{name}.py")
        run = lint_paths([str(path)], LintOptions(probe=example.probe))
        assert not run.errors, run.errors
        return Counter(f.rule for f in run.findings())

    before, after = everything(example.source, "before"), everything(example.fixed_source, "after")
    assert after[rule.id] == 0, f"{rule.id} still fires on the fixed code"
    new = {r: n for r, n in after.items() if n > before[r]}
    assert not new, f"the fix made new findings: {new}"

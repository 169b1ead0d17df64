"""``# actlint: ignore[...]`` comments: where they apply, how they are counted and listed,
and ACT901 for the ones that suppress nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from actlint.cli import main
from actlint.rules.suppressions import Directive, parse_directives

from helpers import lint_source, write_model

# A class model: the softmax is constructed on line 7 and applied on line 11.
CLASS_MODEL = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 16)
        self.act = nn.Softmax(dim=1){define}
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(self.act(self.fc(x))){apply}
"""

DEFINE_LINE, APPLY_LINE = 7, 11

# An nn.Sequential stack: findings point where each layer is constructed (softmax: line 6).
SEQUENTIAL = """
import torch.nn as nn

def build_model():
    return nn.Sequential(
        nn.Linear(8, 16),
        nn.Softmax(dim=1),{softmax}
        nn.Linear(16, 16),
        nn.Tanh(),{tanh}
        nn.Linear(16, 3),
    )
"""


def class_model(define: str = "", apply: str = "") -> str:
    return CLASS_MODEL.format(define=define and "  " + define, apply=apply and "  " + apply)


def sequential(softmax: str = "", tanh: str = "") -> str:
    return SEQUENTIAL.format(softmax=softmax and "  " + softmax, tanh=tanh and "  " + tanh)


def lint(tmp_path, source: str, select=("ACT",)):
    return lint_source(tmp_path, source, select=select, probe=False)


def reported(run) -> list[tuple[str, int]]:
    return sorted((f.rule, f.location.line) for f in run.findings())


def suppressed(run) -> list[tuple[str, int]]:
    return sorted((f.rule, f.location.line) for f in run.suppressed())


# --- reading comments ---------------------------------------------------------------------


def test_directives_come_from_real_comments_only():
    source = (
        'x = "# actlint: ignore[ACT101]"  # plain comment\n'
        "y = 1  # actlint: ignore[ACT101, act203]\n"
        "z = 2  # note # actlint:ignore\n"
        "w = 3  # actlint: ignore[ACT101\n"
        "v = 4  # actlint: ignore[]\n"
        's = """\n# actlint: ignore\n"""\n'
    )
    directives = parse_directives(source)
    assert [(d.line, d.codes) for d in directives] == [(2, ("ACT101", "ACT203")), (3, None), (4, ()), (5, ())]
    assert directives[0].column == 8 and directives[1].column == 15
    assert "closing ']'" in directives[2].malformed and "empty" in directives[3].malformed
    assert Directive(1, 1, None).covers("ACT101") and not Directive(1, 1, ("ACT2",)).covers("ACT203")


# --- where a comment applies ----------------------------------------------------------------


def test_unsuppressed_baseline_points_at_the_apply_line(tmp_path):
    run = lint(tmp_path, class_model(), select=("ACT101",))
    assert reported(run) == [("ACT101", APPLY_LINE)]


@pytest.mark.parametrize("where", ["define", "apply"])
def test_comment_on_the_define_or_apply_line_suppresses_the_layer(tmp_path, where):
    run = lint(tmp_path, class_model(**{where: "# actlint: ignore[ACT101]"}), select=("ACT101", "ACT9"))
    assert reported(run) == []  # no ACT901 either: the comment was used
    assert suppressed(run) == [("ACT101", APPLY_LINE)]
    by = run.suppressed()[0].suppressed_by
    assert by.line == (DEFINE_LINE if where == "define" else APPLY_LINE)


def test_bare_comment_suppresses_every_rule_for_that_layer_only(tmp_path):
    run = lint(tmp_path, sequential(softmax="# actlint: ignore"), select=("ACT1", "ACT9"))
    assert suppressed(run) == [("ACT101", 6)]
    assert reported(run) == [("ACT106", 8)]  # the tanh on another line is still reported


def test_comment_for_another_rule_does_not_suppress(tmp_path):
    run = lint(tmp_path, sequential(softmax="# actlint: ignore[ACT106]"), select=("ACT1", "ACT9"))
    assert ("ACT101", 6) in reported(run) and suppressed(run) == []
    assert ("ACT901", 6) in reported(run)  # ACT106 ran and reported nothing on line 6


def test_severity_of_a_suppressed_error_no_longer_fails_the_run(tmp_path):
    model = write_model(tmp_path, sequential(softmax="# actlint: ignore[ACT101]"))
    result = CliRunner().invoke(main, [str(model), "--no-probe", "--select", "ACT101,ACT9"])
    assert result.exit_code == 0
    assert result.stdout.strip() == "All checks passed (1 model, 1 suppressed)."


# --- unused, unknown and duplicated codes (ACT901) -----------------------------------------------


def test_unused_code_is_reported_at_the_comment(tmp_path):
    run = lint(tmp_path, class_model(define="# actlint: ignore[ACT105]"), select=("ACT1", "ACT9"))
    act901 = [f for f in run.findings() if f.rule == "ACT901"]
    assert [(f.location.line, f.location.column, f.severity.label) for f in act901] == [(DEFINE_LINE, 39, "info")]
    assert "ACT105 reported nothing on this line" in act901[0].message


def test_unknown_prefix_and_duplicate_codes_are_reported(tmp_path):
    run = lint(tmp_path, sequential(softmax="# actlint: ignore[ACT101, ACT999, ACT1, ACT101]"),
               select=("ACT1", "ACT9"))
    assert suppressed(run) == [("ACT101", 6)]
    message = next(f.message for f in run.findings() if f.rule == "ACT901")
    assert "names ACT999, which is not a rule" in message
    assert "names ACT1, which is not a rule (list full rule IDs such as ACT101, not prefixes)" in message
    assert "lists ACT101 twice" in message


def test_unused_bare_comment_is_reported(tmp_path):
    run = lint(tmp_path, sequential(tanh="# actlint: ignore").replace("nn.Tanh()", "nn.ReLU()"),
               select=("ACT1", "ACT9"))
    assert [(f.rule, f.location.line) for f in run.findings() if f.rule == "ACT901"] == [("ACT901", 8)]


def test_codes_of_rules_that_did_not_run_are_not_judged(tmp_path):
    # ACT101 not selected; ACT703 is a measured rule and the probe is off.
    source = sequential(softmax="# actlint: ignore[ACT101]", tanh="# actlint: ignore[ACT703]")
    run = lint(tmp_path, source, select=("ACT2", "ACT7", "ACT9"))
    assert [f for f in run.findings() if f.rule == "ACT901"] == []
    # A bare comment is judged only when every selected rule ran (ACT7xx did not).
    run = lint(tmp_path, sequential(tanh="# actlint: ignore"), select=("ACT2", "ACT7", "ACT9"))
    assert [f for f in run.findings() if f.rule == "ACT901"] == []


def test_listing_act901_keeps_a_deliberate_comment(tmp_path):
    run = lint(tmp_path, sequential(tanh="# actlint: ignore[ACT101, ACT901]"), select=("ACT1", "ACT9"))
    assert [f for f in run.findings() if f.rule == "ACT901"] == []


def test_act901_can_be_turned_off_like_any_rule(tmp_path):
    model = write_model(tmp_path, sequential(tanh="# actlint: ignore[ACT105]"))
    out = CliRunner().invoke(main, [str(model), "--no-probe", "--select", "ACT1", "--format", "json"]).stdout
    assert all(f["rule"] != "ACT901" for f in json.loads(out)["models"][0]["findings"])


def test_comment_is_judged_once_per_file_with_several_models(tmp_path):
    source = class_model(define="# actlint: ignore[ACT105]") + """
class Other(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)
"""
    run = lint(tmp_path, source, select=("ACT1", "ACT9"))
    assert len(run.models) == 2
    assert [f.location.line for f in run.findings() if f.rule == "ACT901"] == [DEFINE_LINE]


# --- reporting ------------------------------------------------------------------------------


def test_text_summary_counts_and_show_suppressed_lists(tmp_path):
    model = write_model(tmp_path, sequential(softmax="# actlint: ignore[ACT101]"))
    args = [str(model), "--no-probe", "--select", "ACT1,ACT9"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0  # ACT106 is info
    lines = result.stdout.splitlines()
    assert lines[-1] == "Found 1 problem (1 info) in 1 model; 1 suppressed"
    assert not any("ACT101" in line for line in lines)
    listed = CliRunner().invoke(main, [*args, "--show-suppressed"]).stdout.splitlines()
    index = next(i for i, line in enumerate(listed) if line.startswith(f"{model}:6:9: ACT101 [error] "))
    assert listed[index + 1] == f"    suppressed: by the comment at {model}:6:29"
    assert listed[-1] == lines[-1]


def test_json_lists_suppressed_findings_apart(tmp_path):
    model = write_model(tmp_path, sequential(softmax="# actlint: ignore[ACT101]"))
    result = CliRunner().invoke(main, [str(model), "--no-probe", "--select", "ACT1,ACT9", "--format", "json"])
    doc = json.loads(result.stdout)
    m = doc["models"][0]
    assert [f["rule"] for f in m["findings"]] == ["ACT106"]
    assert all(f["suppressed"] is False and f["suppressed_by"] is None for f in m["findings"])
    [entry] = m["suppressed"]
    assert (entry["rule"], entry["line"], entry["suppressed"]) == ("ACT101", 6, True)
    assert entry["suppressed_by"] == {"file": str(model), "line": 6, "column": 29}
    assert doc["suppressed"] == 1
    assert doc["summary"] == {"error": 0, "warning": 0, "info": 1}

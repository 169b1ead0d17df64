"""The rule catalogue: rules/ pages in sync with the registry, `actlint rules`, `actlint explain`."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from actlint.rules import docs
from actlint.cli import main
from actlint.rules.registry import default_registry

from helpers import REPO, run_cli

BUILTIN = list(docs.builtin_registry())
PAGES_DIR = REPO / "rules"


def test_committed_pages_match_the_registry():
    stale = docs.stale_pages(PAGES_DIR, BUILTIN)
    assert not stale, (
        f"rules/ is out of date with the rule registry ({', '.join(stale)}): "
        f"run `{docs.REGENERATE_COMMAND}` and commit the result"
    )


def test_stale_pages_are_detected_and_rewritten(tmp_path):
    assert docs.write_pages(tmp_path, BUILTIN) == sorted(docs.expected_pages(BUILTIN))
    assert docs.stale_pages(tmp_path, BUILTIN) == []
    edited = tmp_path / docs.page_name(BUILTIN[0])
    edited.write_text(edited.read_text() + "hand edit\n")
    removed = tmp_path / docs.page_name(BUILTIN[1])
    removed.unlink()
    leftover = tmp_path / "ACT999-renamed-rule.md"
    leftover.write_text("old page\n")
    expected_stale = sorted([edited.name, removed.name, leftover.name])
    assert docs.stale_pages(tmp_path, BUILTIN) == expected_stale

    assert docs.main([str(tmp_path), "--check"]) == 1
    assert docs.write_pages(tmp_path, BUILTIN) == expected_stale
    assert not leftover.exists()
    assert docs.main([str(tmp_path), "--check"]) == 0


def test_check_names_the_regenerate_command(tmp_path, capsys):
    assert docs.main([str(tmp_path / "missing"), "--check"]) == 1
    assert docs.REGENERATE_COMMAND in capsys.readouterr().err


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda r: r.id)
def test_page_documents_the_rule(rule):
    page = (PAGES_DIR / docs.page_name(rule)).read_text(encoding="utf-8")
    assert page.splitlines()[2] == f"# {rule.id}: {rule.name}"
    for text in (rule.summary, rule.what, rule.why, rule.instead, docs.probe_explanation(rule)):
        assert text in page
    assert f"`{rule.severity.label}`" in page
    for example in (*rule.invalid, *rule.valid):
        assert f"```python\n{example.source}```" in page
    for example in rule.invalid:
        if example.line is not None:
            assert f"actlint reports {rule.id} at line {example.line}" in page
    for name, option in rule.options.items():
        assert f"| `{name}` | `{docs.format_default(option.default)}` |" in page
    if not rule.options:
        assert "This rule has no options." in page
    for reference in rule.references:
        assert f"- {reference}" in page


def test_index_links_every_page():
    index = (PAGES_DIR / docs.INDEX_NAME).read_text(encoding="utf-8")
    links = re.findall(r"\[(ACT\d+)\]\(([^)]+)\)", index)
    assert [rule_id for rule_id, _ in links] == [r.id for r in BUILTIN]
    for _, target in links:
        assert (PAGES_DIR / target).is_file()
    assert "actlint explain ACT101" in index


def test_readme_links_the_catalogue():
    assert "(rules/)" in (REPO / "README.md").read_text(encoding="utf-8") or "rules/README.md" in (
        REPO / "README.md"
    ).read_text(encoding="utf-8")


def test_format_default_reads_like_the_config_file():
    assert docs.format_default(1e-4) == "0.0001"
    assert docs.format_default(1e5) == "100000"
    assert docs.format_default(True) == "true"
    assert docs.format_default(32) == "32"


# --- actlint rules ---------------------------------------------------------------------


def test_rules_table_lists_id_name_severity_and_probe():
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "SEVERITY", "PROBE", "SUMMARY"]
    rows = {line.split()[0]: line for line in lines[1:] if line.startswith("ACT")}
    assert list(rows) == [r.id for r in default_registry()]
    for rule in default_registry():
        rule_id, name, severity, probe = rows[rule.id].split()[:4]
        assert (name, severity, probe) == (rule.name, rule.severity.label, docs.probe_kind(rule))
        assert rows[rule.id].endswith(rule.summary)
    assert docs.probe_kind(docs.builtin_registry().get("ACT101")) == "confirmed"
    assert docs.probe_kind(docs.builtin_registry().get("ACT701")) == "measured"
    assert docs.probe_kind(docs.builtin_registry().get("ACT104")) == "structural"


# --- actlint explain -------------------------------------------------------------------


def test_explain_prints_the_rule_docs():
    rule = docs.builtin_registry().get("ACT201")
    result = CliRunner().invoke(main, ["explain", "ACT201"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("ACT201 deep-saturating-stack  (default severity: warning)\n")
    flat = " ".join(out.split())
    for text in (rule.what, rule.why, rule.instead, rule.confirmed_by):
        assert " ".join(text.split()) in flat
    assert "min_depth (default 4): Saturating activations in a row" in flat
    for example in (*rule.invalid, *rule.valid):
        for line in example.source.splitlines():
            if line:
                assert f"    {line}\n" in out
    assert "Invalid example: actlint reports ACT201 at line 6." in out
    assert "Page: rules/ACT201-deep-saturating-stack.md" in out


def test_explain_accepts_names_lowercase_and_several_rules():
    result = CliRunner().invoke(main, ["explain", "act101", "vanishing-gradients"])
    assert result.exit_code == 0
    assert result.stdout.startswith("ACT101 softmax-in-hidden-layer")
    assert "\nACT701 vanishing-gradients  (default severity: error)\n" in result.stdout
    assert "threshold (default 0.0001)" in result.stdout


def test_explain_unknown_rule_is_one_line_exit_2():
    result = CliRunner().invoke(main, ["explain", "XYZ42"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "actlint: error: unknown rule 'XYZ42' (`actlint rules` lists them)\n"
    result = CliRunner().invoke(main, ["explain", "softmax-hidden"])
    assert result.exit_code == 2
    assert "did you mean softmax-in-hidden-layer?" in result.stderr


def test_explain_unknown_rule_in_a_real_process():
    proc = run_cli("explain", "ACT99")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("actlint: error: unknown rule 'ACT99'")


def test_catalogue_for_the_documentation_commands_is_fresh():
    assert not docs.catalogue_is_stale(BUILTIN), f"run `{docs.REGENERATE_COMMAND}` and commit the result"


@pytest.mark.parametrize("args", [("rules",), ("explain", "ACT101"), ("explain", "softmax-in-hidden-layer"), ("--help",)])
def test_documentation_commands_never_import_torch(args):
    import subprocess
    import sys

    code = ("import sys\nfrom actlint.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'imported torch'\n" % (list(args),))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()

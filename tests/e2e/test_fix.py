"""``actlint --fix`` and ``--diff`` through the CLI, on copies of real-shaped training files.

The corpus (tests/fix_corpus) holds a tutorial-style Sigmoid + BCELoss script, Adam with
weight decay, conv+BN blocks with biases and a ``fit()`` that validates in training mode;
``expected/`` holds each file as the fix must leave it, byte for byte.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil

import pytest

from helpers import REPO, invoke_cli

CORPUS = REPO / "tests" / "fix_corpus"
NAMES = sorted(p.stem for p in CORPUS.glob("*.py"))
#: The one safe fix in the corpus (ACT805); the others are unsafe.
SAFE = {"eval_in_train_mode"}


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """A copy of the corpus as the working directory (paths in the output are relative)."""
    for name in NAMES:
        shutil.copy(CORPUS / f"{name}.py", tmp_path / f"{name}.py")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _expected(name: str) -> bytes:
    return (CORPUS / "expected" / f"{name}.fixed").read_bytes()


def _original(name: str) -> bytes:
    return (CORPUS / f"{name}.py").read_bytes()


def test_the_corpus_has_the_four_shapes():
    assert NAMES == ["adam_weight_decay", "conv_bn_bias", "eval_in_train_mode", "sigmoid_bce_script"]
    for name in NAMES:
        assert _expected(name) != _original(name)


def test_fix_with_unsafe_fixes_rewrites_each_file_byte_for_byte(corpus):
    result = invoke_cli("--fix", "--unsafe-fixes", *[f"{n}.py" for n in NAMES])
    assert result.exit_code == 0, result.output
    for name in NAMES:
        assert (corpus / f"{name}.py").read_bytes() == _expected(name), name
    lines = result.stdout.splitlines()
    assert lines[-1] == "Found 4 problems in 4 models; 4 fixed, 0 remaining"
    # Each fix is reported with its finding's place; measured ones with the number before and after.
    (act402,) = [line for line in lines if " ACT402 fixed: " in line]
    assert act402.startswith("sigmoid_bce_script.py:23:21: ACT402 fixed: remove the output sigmoid")
    before, after = act402.rpartition("gradient at the output layer ")[2].split(" -> ")
    assert float(after) > 2 * float(before)  # the squashed output gradient recovers
    (act501,) = [line for line in lines if " ACT501 fixed: " in line]
    before, after = act501.rpartition("parameters ")[2].split(" -> ")
    assert int(before) - int(after) == 32 + 64  # the two convs' biases
    assert any(line.startswith("eval_in_train_mode.py:29:20: ACT805 fixed: ") for line in lines)
    assert any(line.startswith("adam_weight_decay.py:15:17: ACT803 fixed: use AdamW") for line in lines)


def test_fix_alone_applies_only_the_safe_fixes(corpus):
    result = invoke_cli("--fix", *[f"{n}.py" for n in NAMES])
    for name in NAMES:
        wanted = _expected(name) if name in SAFE else _original(name)
        assert (corpus / f"{name}.py").read_bytes() == wanted, name
    assert result.stdout.splitlines()[-1] == (
        "Found 4 problems in 4 models; 1 fixed, 3 fixable with --unsafe-fixes, 3 remaining (1 warning, 2 infos)")
    assert result.exit_code == 1  # warnings remain


def test_the_lint_summary_counts_what_fix_would_do(corpus):
    result = invoke_cli(*[f"{n}.py" for n in NAMES])
    assert result.stdout.splitlines()[-1] == (
        "Found 4 problems (2 warnings, 2 infos) in 4 models; 1 fixable with --fix, 3 more with --fix --unsafe-fixes")
    for name in NAMES:
        assert (corpus / f"{name}.py").read_bytes() == _original(name)


def test_diff_prints_the_fixes_and_writes_nothing(corpus):
    result = invoke_cli("--diff", "--unsafe-fixes", *[f"{n}.py" for n in NAMES])
    assert result.exit_code == 1, result.output
    wanted = "".join(
        "".join(difflib.unified_diff(_original(n).decode().splitlines(keepends=True),
                                     _expected(n).decode().splitlines(keepends=True),
                                     fromfile=f"a/{n}.py", tofile=f"b/{n}.py"))
        for n in NAMES)
    assert result.stdout == wanted
    assert "Would fix 4 problems" in result.stderr
    for name in NAMES:
        assert (corpus / f"{name}.py").read_bytes() == _original(name)


def test_diff_without_unsafe_fixes_shows_only_the_safe_one(corpus):
    result = invoke_cli("--diff", *[f"{n}.py" for n in NAMES])
    assert result.exit_code == 1
    assert result.stdout.startswith("--- a/eval_in_train_mode.py\n+++ b/eval_in_train_mode.py\n")
    assert result.stdout.count("\n--- a/") == 0
    assert "Would fix 1 problem; 3 more with --unsafe-fixes" in result.stderr


def test_diff_of_a_clean_file_is_empty_and_exits_0(corpus):
    fixed = corpus / "clean.py"
    fixed.write_bytes(_expected("adam_weight_decay"))
    result = invoke_cli("--diff", "--unsafe-fixes", "clean.py")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_a_symbolic_link_is_not_rewritten(corpus):
    target = corpus / "real" / "model.py"
    target.parent.mkdir()
    shutil.move(corpus / "adam_weight_decay.py", target)
    os.symlink(target, corpus / "link.py")
    result = invoke_cli("--fix", "--unsafe-fixes", "link.py")
    assert target.read_bytes() == _original("adam_weight_decay")
    refusals = [line for line in result.stderr.splitlines() if "not rewritten" in line]
    assert len(refusals) == 1 and refusals[0].startswith("actlint: link.py: not rewritten: a symbolic link")
    assert "ACT803 fix not written" in result.stdout


def test_line_endings_and_byte_order_mark_are_kept(corpus):
    crlf = corpus / "windows.py"
    crlf.write_bytes(b"\xef\xbb\xbf" + _original("conv_bn_bias").replace(b"\n", b"\r\n"))
    result = invoke_cli("--fix", "--unsafe-fixes", "windows.py")
    assert result.exit_code == 0, result.output
    assert crlf.read_bytes() == b"\xef\xbb\xbf" + _expected("conv_bn_bias").replace(b"\n", b"\r\n")


def test_fix_reports_in_json_and_html(corpus):
    result = invoke_cli("--fix", "--unsafe-fixes", "--format", "json", "sigmoid_bce_script.py")
    document = json.loads(result.stdout)
    (model,) = document["models"]
    assert model["findings"] == []
    (fix,) = model["fixes"]
    assert fix["rule"] == "ACT402" and fix["status"] == "fixed" and fix["applicability"] == "unsafe"
    assert fix["line"] == 23 and fix["evidence"]["measure"] == "gradient at the output layer"
    assert fix["evidence"]["after"] > fix["evidence"]["before"] > 0
    assert document["fixed"] == 1

    shutil.copy(CORPUS / "sigmoid_bce_script.py", corpus / "sigmoid_bce_script.py")
    result = invoke_cli("--fix", "--unsafe-fixes", "--format", "html", "-o", "report.html", "sigmoid_bce_script.py")
    html = (corpus / "report.html").read_text()
    assert '<section class="card fixes">' in html and 'data-rule="ACT402"' in html
    assert "gradient at the output layer" in html and ">fixed<" in html


def test_json_without_fix_describes_each_fix(corpus):
    result = invoke_cli("--format", "json", "conv_bn_bias.py")
    document = json.loads(result.stdout)
    (finding,) = document["models"][0]["findings"]
    assert finding["fix"]["applicability"] == "unsafe"
    assert finding["fix"]["edits"] == [{
        "line": 10, "end_line": 11,
        "content": "        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)  # stem\n"}]
    assert finding["no_fix"] is None
    assert document["fixable"] == {"safe": 0, "unsafe": 1} and document["fixed"] == 0

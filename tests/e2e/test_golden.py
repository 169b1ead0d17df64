"""Golden behaviour: every report actlint writes for the bundled corpora stays byte-identical.

Written before the package was reshaped (issue 19) so that moving code cannot move
behaviour. See tests/golden/README.md for what counts as variable and how to regenerate.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from actlint.rules.registry import default_registry

from helpers import REPO, run_cli

GOLDEN = REPO / "tests" / "golden"
UPDATE = os.environ.get("ACTLINT_UPDATE_GOLDEN") == "1"

#: User files may iterate a set of strings (tests/held_out/nlp/nnlm.py builds its vocabulary
#: with ``list(set(words))``), whose order follows Python's per-process string hashing: the
#: hash seed is pinned so the same file builds the same model in every run.
ENV = {"PYTHONHASHSEED": "0"}

#: The corpora whose reports are pinned, with the extra arguments each one runs under.
#: slow_statement.py in tests/real_files sleeps on purpose: a short load timeout keeps the
#: run quick and its error message fixed.
CORPORA = {
    "examples": ("examples",),
    "faithful": ("tests/faithful",),
    "real_files": ("tests/real_files", "--load-timeout", "10"),
    "held_out": ("tests/held_out",),
    "corpus": ("tests/corpus",),
    "probe_corpus": ("tests/probe_corpus",),
}


def _normalise(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        text = text.replace(old, new)
    # The default --max-model-memory is a share of the memory available at the time.
    text = re.sub(r"memory budget of [0-9.]+ [KMGT]?B", "memory budget of <BUDGET>", text)
    document = json.loads(text)
    document["tool"]["version"] = "<VERSION>"
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}; run with ACTLINT_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        import difflib

        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            f"golden/{name}", "now", n=2))
        pytest.fail(f"{name} differs from the golden report:\n{diff[:6000]}")


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_corpus_reports_are_unchanged(corpus):
    proc = run_cli(*CORPORA[corpus], "--format", "json", cwd=REPO, env=ENV)
    assert proc.returncode in (0, 1, 2), proc.stderr
    _compare(f"{corpus}.json", _normalise(proc.stdout, {}))


def test_examples_text_report_is_unchanged():
    proc = run_cli("examples", cwd=REPO, env=ENV)
    assert proc.returncode == 1, proc.stderr
    _compare("examples.txt", proc.stdout)


def test_rule_example_reports_are_unchanged(tmp_path):
    folder = tmp_path / "rule_examples"
    folder.mkdir()
    for rule in default_registry():
        for kind in ("valid", "invalid"):
            for i, example in enumerate(getattr(rule, kind)):
                (folder / f"{rule.id}_{kind}_{i}.py").write_text(example.source, encoding="utf-8")
    proc = run_cli(str(folder), "--format", "json", cwd=REPO, env=ENV)
    assert proc.returncode in (0, 1, 2), proc.stderr
    _compare("rule_examples.json", _normalise(proc.stdout, {str(folder): "<RULE_EXAMPLES>"}))

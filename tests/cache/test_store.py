"""The result cache's keys and entries: what invalidates an entry, what is never stored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actlint.cache import fingerprints
from actlint.cache.store import ResultCache
from actlint.core.findings import Finding, Severity
from actlint.core.location import SourceLocation
from actlint.core.results import ModelResult, RunError
from actlint.options import LintOptions


def _result(path: Path) -> list[ModelResult]:
    finding = Finding("ACT101", "softmax-in-hidden-layer", Severity.ERROR, "a softmax", SourceLocation(str(path), 3, 1))
    return [ModelResult(name="Net", file=str(path), trace="fx", inputs="(8, 4)", parameters=20, findings=[finding])]


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.py"
    path.write_text("import torch.nn as nn\n")
    return path


@pytest.fixture(autouse=True)
def fresh_environment():
    fingerprints.environment_digest.cache_clear()
    yield
    fingerprints.environment_digest.cache_clear()


def test_a_stored_result_comes_back_while_its_files_are_unchanged(tmp_path, model):
    sibling = tmp_path / "layers.py"
    sibling.write_text("X = 1\n")
    cache = ResultCache(tmp_path / "cache", LintOptions())
    cache.store("model.py", _result(model), [], [str(model), str(sibling)])
    (models, errors), files = cache.lookup("model.py")
    assert [f.rule for f in models[0].findings] == ["ACT101"] and errors == []
    assert files == sorted([str(model), str(sibling)])
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # written through a rename
    sibling.write_text("X = 2\n")
    assert cache.lookup("model.py") is None
    sibling.unlink()
    assert cache.lookup("model.py") is None


def test_other_options_another_torch_or_actlint_version_miss(tmp_path, model, monkeypatch):
    cache = ResultCache(tmp_path / "cache", LintOptions())
    cache.store("model.py", _result(model), [], [str(model)])
    assert cache.lookup("model.py") is not None
    assert ResultCache(tmp_path / "cache", LintOptions(probe=False)).lookup("model.py") is None
    monkeypatch.setattr(fingerprints, "_torch_version", lambda: "9.9.9")
    fingerprints.environment_digest.cache_clear()
    assert cache.lookup("model.py") is None
    monkeypatch.undo()
    fingerprints.environment_digest.cache_clear()
    assert cache.lookup("model.py") is not None
    monkeypatch.setattr(fingerprints, "__version__", "0.0.0-other")
    fingerprints.environment_digest.cache_clear()
    assert cache.lookup("model.py") is None


def test_editing_actlint_itself_invalidates(tmp_path, model):
    cache = ResultCache(tmp_path / "cache", LintOptions())
    cache.store("model.py", _result(model), [], [str(model)])
    source = Path(fingerprints.__file__)
    stat = source.stat()
    try:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        fingerprints.environment_digest.cache_clear()
        assert cache.lookup("model.py") is None
    finally:
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_results_with_errors_are_not_stored_and_a_broken_entry_is_a_miss(tmp_path, model):
    cache = ResultCache(tmp_path / "cache", LintOptions())
    cache.store("model.py", [], [RunError(str(model), "model.py: Net() did not finish within 60s")], [str(model)])
    assert cache.lookup("model.py") is None
    cache.store("model.py", _result(model), [], [str(model)])
    (entry,) = (tmp_path / "cache").rglob("*.pickle")
    entry.write_bytes(entry.read_bytes()[:20])  # half an entry (a crash mid-write elsewhere)
    assert cache.lookup("model.py") is None

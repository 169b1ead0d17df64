"""Pytest fixtures shared by every test folder (plain helpers are in tests/helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import write_model

# Every run in the tests lints for real (and writes no .actlint_cache into the checkout);
# tests/e2e/test_cache.py turns the cache back on for the runs it checks.
os.environ["ACTLINT_NO_CACHE"] = "1"


@pytest.fixture
def model_file(tmp_path):
    def make(source: str, name: str = "model.py") -> Path:
        return write_model(tmp_path, source, name)

    return make

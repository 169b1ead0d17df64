"""Pytest fixtures shared by every test folder (plain helpers are in tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import write_model


@pytest.fixture
def model_file(tmp_path):
    def make(source: str, name: str = "model.py") -> Path:
        return write_model(tmp_path, source, name)

    return make

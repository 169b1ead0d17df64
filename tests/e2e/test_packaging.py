"""The built wheel carries everything actlint needs (templates for HTML, the rule docs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers import BROKEN, REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(out), str(REPO)], capture_output=True, text=True, env=env, timeout=300)
    assert build.returncode == 0, build.stderr
    assert "deprecat" not in (build.stdout + build.stderr).lower(), build.stderr
    (wheel,) = out.glob("actlint-*.whl")
    site = out / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def _run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # Outside the repository, with only the unpacked wheel providing actlint.
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-m", "actlint", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_wheel_runs_html_sarif_and_explain(unpacked_wheel, tmp_path):
    model = tmp_path / "broken.py"
    model.write_text(BROKEN)
    probe = subprocess.run([sys.executable, "-c", "import actlint; print(actlint.__file__)"], cwd=tmp_path,
                           env=dict(os.environ, PYTHONPATH=str(unpacked_wheel)), capture_output=True, text=True)
    assert probe.stdout.startswith(str(unpacked_wheel)), probe.stdout  # the wheel, not the checkout
    html = _run(unpacked_wheel, tmp_path, "broken.py", "--format", "html", "-o", "report.html", "--no-probe")
    assert html.returncode == 1, html.stderr
    assert "ACT101" in (tmp_path / "report.html").read_text()
    sarif = _run(unpacked_wheel, tmp_path, "broken.py", "--format", "sarif", "--no-probe")
    assert json.loads(sarif.stdout)["runs"][0]["results"]
    explain = _run(unpacked_wheel, tmp_path, "explain", "ACT101")
    assert explain.returncode == 0 and "softmax" in explain.stdout.lower()

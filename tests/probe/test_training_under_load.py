"""The training probe's findings do not depend on how busy the machine is.

Steps, sweep and input size are chosen by counted FLOPs, not seconds, and the wall-clock
safety net follows the machine's measured pace: the same file gives the same measurements
and findings on an idle machine and under a CPU hog (four busy processes on two cores).
"""

from __future__ import annotations

import json
import subprocess
import sys

from helpers import REPO, run_cli

HOG = "import time\nend = time.time() + 120\nwhile time.time() < end:\n    pass\n"


def _lint(path: str) -> dict:
    proc = run_cli(path, "--format", "json", "--select", "ACT8")
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    for model in report["models"]:
        model["probe"].get("training", {}).pop("seconds", None)
    return {m["name"]: (m["findings"], m["probe"].get("training")) for m in report["models"]}


def test_same_findings_idle_and_under_a_cpu_hog():
    path = str(REPO / "tests" / "real_train_corpus" / "mlp_sgd_lr_tiny.py")
    idle = _lint(path)
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(4)]
    try:
        loaded = _lint(path)
    finally:
        for hog in hogs:
            hog.kill()
    assert loaded == idle
    (findings, training) = idle["model"]
    assert training["status"] == "ok" and {f["rule"] for f in findings} >= {"ACT806"}

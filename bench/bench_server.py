"""``actlint server``: a save of an unchanged file in the warm server against a cold CLI run.

Starts the server as an editor would (a subprocess speaking LSP over stdio, the client in
tests/lsp_client.py), opens examples/softmax_hidden.py and waits for the diagnostics with
the probe's verdict; then times, side by side in the same run, a save of the unchanged file
(until its diagnostics with the probe's verdict arrive) and ``actlint`` on the same file in
a fresh process (cold: interpreter, ``import torch``, load, lint, probe), once each with the
cache off and once with the server's warm cache.

    python bench/bench_server.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from lsp_client import LspClient  # noqa: E402 - the tests' client


def _final_diagnostics(client: LspClient, uri: str) -> list[dict]:
    """Diagnostics until the probe's pass (the second publish of a lint)."""
    client.diagnostics(uri)
    return client.diagnostics(uri)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "ACTLINT_NO_CACHE"}
    results: dict[str, list[float]] = {"cold CLI": [], "warm save, no cache": [], "warm save, cached": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = folder / "model.py"
        shutil.copy(REPO / "examples" / "softmax_hidden.py", model)
        for cached in (False, True):
            client_env = env if cached else {**env, "ACTLINT_NO_CACHE": "1"}
            client = LspClient(folder, env=client_env)
            try:
                client.initialize(folder, progress=False)
                uri = model.as_uri()
                client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python",
                                                                        "version": 1, "text": model.read_text()}})
                _final_diagnostics(client, uri)
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
                    _final_diagnostics(client, uri)
                    results["warm save, cached" if cached else "warm save, no cache"].append(
                        time.perf_counter() - start)
                    if not cached:
                        start = time.perf_counter()
                        subprocess.run([sys.executable, "-m", "actlint", "--no-cache", str(model)], cwd=folder,
                                       env=env, capture_output=True)
                        results["cold CLI"].append(time.perf_counter() - start)
            finally:
                client.close()
    median = {k: statistics.median(v) for k, v in results.items()}
    print(f"examples/softmax_hidden.py, probe on, median of {args.repeat}")
    for name, value in median.items():
        print(f"  {name:<20} {value:6.2f} s  {median['cold CLI'] / value:5.1f}x faster than cold")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The pre-commit hook's wall time over 10 model files, side by side in one run.

Writes 10 small, varied model files (MLPs, CNNs, a residual net, recurrent nets, a
transformer encoder, a MobileNet block, an autoencoder; some with planted bugs) into a
temporary git repository, then measures:

  pre-commit     the real ``pre-commit run --all-files`` with this repository's hook
                 (a ``repo: local`` hook built from .pre-commit-hooks.yaml, see
                 tests/precommit_support.py), with the hook's defaults and with --no-probe
  one call       ``actlint --skip-non-models`` over the 10 files (what the hook runs),
                 also with one torch thread (OMP_NUM_THREADS=1) and with --no-probe
  import torch   ``python -c "import torch"``, the floor of any run that loads a model
  10 calls       ``actlint`` once per file: what a hook without require_serial costs
  no models      a pre-commit run over 10 python files that define no model (torch is
                 never imported), against ``python -c pass``

    python bench/bench_precommit.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import precommit_support as support  # noqa: E402 - tests/ holds the shared pre-commit set-up

MODELS = {
    "mlp.py": """
        import torch.nn as nn

        def build_model():
            return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    """,
    "softmax_hidden.py": """
        import torch.nn as nn

        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = nn.Linear(20, 40)
                self.act = nn.Softmax(dim=1)
                self.head = nn.Linear(40, 5)

            def forward(self, x):
                return self.head(self.act(self.hidden(x)))
    """,
    "cnn_bn.py": """
        import torch.nn as nn

        def block(c_in, c_out):
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

        def build_model():
            return nn.Sequential(block(3, 16), nn.MaxPool2d(2), block(16, 32), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(32, 10))
    """,
    "deep_sigmoid.py": """
        import torch.nn as nn

        def build_model():
            layers = []
            for _ in range(8):
                layers += [nn.Linear(32, 32), nn.Sigmoid()]
            return nn.Sequential(*layers, nn.Linear(32, 2))
    """,
    "resnet_tiny.py": """
        import torch.nn as nn
        import torch.nn.functional as F

        class Block(nn.Module):
            def __init__(self, channels):
                super().__init__()
                self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
                self.bn1 = nn.BatchNorm2d(channels)
                self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
                self.bn2 = nn.BatchNorm2d(channels)

            def forward(self, x):
                out = F.relu(self.bn1(self.conv1(x)))
                return F.relu(x + self.bn2(self.conv2(out)))

        class TinyResNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
                self.blocks = nn.Sequential(*[Block(16) for _ in range(3)])
                self.head = nn.Linear(16, 10)

            def forward(self, x):
                return self.head(self.blocks(self.stem(x)).mean((2, 3)))
    """,
    "lstm_lm.py": """
        import torch.nn as nn

        class LanguageModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(500, 32)
                self.lstm = nn.LSTM(32, 64, batch_first=True)
                self.out = nn.Linear(64, 500)

            def forward(self, tokens):
                hidden, _ = self.lstm(self.embed(tokens))
                return self.out(hidden)
    """,
    "gru_tagger.py": """
        import torch.nn as nn

        class Tagger(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(300, 24)
                self.gru = nn.GRU(24, 48, batch_first=True, bidirectional=True)
                self.tags = nn.Linear(96, 9)

            def forward(self, tokens):
                states, _ = self.gru(self.embed(tokens))
                return self.tags(states)
    """,
    "transformer.py": """
        import torch.nn as nn

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(1000, 64)
                layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, batch_first=True)
                self.encoder = nn.TransformerEncoder(layer, num_layers=2)
                self.head = nn.Linear(64, 2)

            def forward(self, tokens):
                return self.head(self.encoder(self.embed(tokens)).mean(1))
    """,
    "mobilenet_block.py": """
        import torch.nn as nn

        def build_model():
            return nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
                nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
                nn.Conv2d(16, 24, 1, bias=False), nn.BatchNorm2d(24),
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 10),
            )
    """,
    "autoencoder.py": """
        import torch.nn as nn

        class AutoEncoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 8))
                self.decoder = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())

            def forward(self, x):
                return self.decoder(self.encoder(x))
    """,
}

NON_MODEL = """
import torch


def normalise(batch):
    return (batch - batch.mean()) / (batch.std() + 1e-6)
"""


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time of one run of ``cmd``."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def make_repo(root: Path, files: dict[str, str], env: dict[str, str], args: tuple[str, ...] = ()) -> None:
    support.init_git_repo(root, files, support.local_hook_config(args), env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the median is shown)")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="actlint-bench-precommit-") as tmp:
        tmp_path = Path(tmp)
        env = support.precommit_env(tmp_path / "pre-commit-home")
        models = {name: textwrap.dedent(src).strip() + "\n" for name, src in MODELS.items()}
        make_repo(tmp_path / "hook", models, env)
        make_repo(tmp_path / "hook-no-probe", models, env, ("--no-probe",))
        make_repo(tmp_path / "no-models", {f"util_{i}.py": NON_MODEL for i in range(10)}, env)

        hook = support.manifest_hook()["entry"].split()  # actlint and the flags the hook passes
        actlint = [str(Path(sys.executable).parent / hook[0]), *hook[1:]]
        names = sorted(models)
        repo = tmp_path / "hook"

        # Every file must load and lint, or the timings below measure error paths.
        _, proc = timed([*actlint, "--format", "json", *names], repo, env)
        document = json.loads(proc.stdout)
        assert not document["errors"], document["errors"]
        assert len({m["file"] for m in document["models"]}) == len(names), proc.stdout[:500]
        problems = sum(len(m["findings"]) for m in document["models"])
        print(f"{len(document['models'])} models in {len(names)} files, {problems} findings "
              f"(actlint exit {proc.returncode})")

        precommit = [support.precommit_executable(), "run", "--all-files"]
        support.run_precommit(repo, env, "--all-files")  # first run initialises pre-commit's store
        # Tiny tensors gain nothing from intra-op threads, and on a busy machine the
        # threads wait for each other: the 1-thread row shows what that costs the probe.
        one_thread = {**env, "OMP_NUM_THREADS": "1"}
        measurements = {
            "pre-commit run, hook defaults (probe)": (precommit, repo, env),
            "pre-commit run, args: [--no-probe]": (precommit, tmp_path / "hook-no-probe", env),
            "one actlint call (probe)": ([*actlint, *names], repo, env),
            "one actlint call (probe), 1 thread": ([*actlint, *names], repo, one_thread),
            "one actlint call --no-probe": ([*actlint, "--no-probe", *names], repo, env),
            'python -c "import torch"': ([sys.executable, "-c", "import torch"], repo, env),
            "pre-commit run, 10 non-model files": (precommit, tmp_path / "no-models", env),
            'python -c "pass"': ([sys.executable, "-c", "pass"], repo, env),
        }
        times: dict[str, float] = {}
        for label, (cmd, cwd, run_env) in measurements.items():
            times[label] = statistics.median(timed(cmd, cwd, run_env)[0] for _ in range(opts.repeat))

        # Ten processes, one per file: each imports torch again (one sample: it is slow).
        start = time.perf_counter()
        for name in names:
            subprocess.run([*actlint, name], cwd=repo, env=env, capture_output=True)
        times["10 separate actlint calls (probe)"] = time.perf_counter() - start

    floor = times['python -c "import torch"']
    one_call = times["one actlint call (probe)"]
    load = os.getloadavg()[0]
    print(f"\nmedian of {opts.repeat} (10 separate calls: 1 sample); {os.cpu_count()} CPUs, "
          f"load average {load:.1f} at the end, torch {torch_version()}\n")
    print(f"{'':40} {'seconds':>8} {'/ import torch':>15} {'/ one call':>11}")
    for label, seconds in times.items():
        print(f"{label:40} {seconds:8.2f} {seconds / floor:14.2f}x {seconds / one_call:10.2f}x")


def torch_version() -> str:
    from importlib.metadata import version

    return version("torch")


if __name__ == "__main__":
    main()

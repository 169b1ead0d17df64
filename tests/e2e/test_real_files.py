"""Real-world-shaped files (tests/real_files/) linted as a new user would: unchanged.

Each file is copied into a temporary folder and linted through the CLI. A file is either
linted (the models named below, with the notes that say how they were built) or gets
one line on stderr that names the root model class and the fix. Training, datasets,
downloads and checkpoints in those files never run.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from actlint.loader.loaded import LoadSettings

from actlint.loader.models import load_models
from helpers import invoke_cli, run_cli

CORPUS = Path(__file__).parent.parent / "real_files"

# file -> (model names linted, fragments every model's notes must contain between them)
LINTED = {
    "mnist_train_script.py": (["model"], ["data loading", "training", "checkpoint I/O"]),
    "feedforward_tutorial.py": (["model"], ["data loading", "checkpoint I/O"]),
    "gpt_config.py": (["GPT"], ["built GPT(GPTConfig())"]),
    "llama_args.py": (["Transformer"], ["built Transformer(ModelArgs())"]),
    "llama_7b.py": (["LLaMA7B"], ["built LLaMA7B(ModelArgs7B())", "linted on the meta device"]),
    "dataparallel_script.py": (["model"], ["unwrapped DataParallel"]),
    "compiled_model.py": (["model"], ["unwrapped torch.compile"]),
    "prints_at_import.py": (["model"], ["went to stderr"]),
    "asks_input.py": (["model"], []),
    "starts_thread.py": (["Monitored"], ["thread(s) it started do not keep actlint running"]),
    "bom_file.py": (["TinyNet"], []),
    "latin1_coding.py": (["build_model"], []),
    "building_blocks_first.py": (["Mixer"], ["built Mixer(MixerConfig())"]),
    "resnet_factories.py": (["ResNet"], ["built ResNet18() from line 59, test()"]),
    "gan_script.py": (["D", "G"], ["data loading", "training"]),
    "hparams_namespace.py": (["KeywordSpotter"], ["built KeywordSpotter(HParams())"]),
    "downloads_weights.py": (["model"], ["checkpoint I/O"]),
    "meta_built.py": (["model"], ["linted on the meta device", "its weights are meta tensors"]),
    "init_after_build.py": (["model"], []),
    "fx_wrap_at_module_level.py": (["Head"], []),
    "sys_exit_script.py": (["Scorer"], []),
}

# file -> fragments of the one-line error (root class, its parameters, the two fixes)
NEEDS_ARGUMENTS = {
    "vit_kwonly.py": ["ViT needs constructor arguments (image_size, patch_size, num_classes, dim, depth, heads, "
                      "mlp_dim)", "::ViT(image_size=...", "build_model()"],
    "super_resolution.py": ["Net needs constructor arguments (upscale_factor)", "::Net(upscale_factor=...)",
                            "build_model()"],
    "mixin_and_model.py": ["Regressor needs constructor arguments (n_features, n_hidden)"],
    "required_arg_script.py": ["Encoder needs constructor arguments", "requires --dataset",
                               '--script-args "--dataset VALUE"'],
}


def test_the_corpus_is_large_enough_and_fully_covered():
    files = sorted(p.name for p in CORPUS.glob("*.py"))
    assert len(files) >= 20
    assert set(files) == set(LINTED) | set(NEEDS_ARGUMENTS) | {"slow_statement.py"}


@pytest.fixture
def corpus(tmp_path):
    """A private copy of the corpus (markers and stand-in packages land there, not in the repo)."""
    for path in CORPUS.glob("*.py"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def _json(result) -> dict:
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(LINTED))
def test_real_file_is_linted(corpus, name):
    expected_models, note_fragments = LINTED[name]
    result = invoke_cli(str(corpus / name), "--format", "json", "--no-probe", "--exit-zero")
    assert result.exit_code == 0, result.output
    doc = _json(result)
    assert doc["errors"] == []
    assert [m["name"] for m in doc["models"]] == expected_models
    notes = " ".join(n for m in doc["models"] for n in m["notes"])
    for fragment in note_fragments:
        assert fragment in notes, notes
    load_notes = [n for m in doc["models"] for n in m["notes"] if n.startswith("loaded the model")]
    assert all(len(n) < 600 for n in load_notes), load_notes  # one short note, not a screen


@pytest.mark.parametrize("name", sorted(NEEDS_ARGUMENTS))
def test_unbuildable_model_gets_one_line_naming_root_class_and_fix(corpus, name):
    result = invoke_cli(str(corpus / name), "--no-probe")
    assert result.exit_code == 2, result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, err
    for fragment in NEEDS_ARGUMENTS[name]:
        assert fragment in err[0], err[0]
    assert "Traceback" not in result.output


def test_call_selectors_build_parameterized_models(corpus):
    vit = "ViT(image_size=32, patch_size=8, num_classes=10, dim=32, depth=2, heads=2, mlp_dim=64)"
    result = invoke_cli(f"{corpus / 'vit_kwonly.py'}::{vit}", "--format", "json", "--no-probe", "--exit-zero")
    assert result.exit_code == 0, result.output
    (model,) = _json(result)["models"]
    assert model["name"] == vit and model["trace"] == "fx"
    result = invoke_cli(f"{corpus / 'super_resolution.py'}::Net(upscale_factor=3)", "--format", "json")
    assert result.exit_code == 0, result.output
    assert _json(result)["models"][0]["name"] == "Net(upscale_factor=3)"


def test_script_args_reach_the_scripts_argument_parser(corpus):
    result = invoke_cli(str(corpus / "required_arg_script.py"), "--script-args", "--dataset mnist --width 8",
                        "--format", "json", "--no-probe")
    assert result.exit_code == 0, result.output
    (model,) = _json(result)["models"]
    assert model["name"] == "netE"
    (loaded,) = load_models(str(corpus / "required_arg_script.py"),
                            LoadSettings(script_args=("--dataset", "mnist", "--width", "8")))
    assert loaded.model.net[0].in_channels == 1 and loaded.model.net[0].out_channels == 8


def _stand_in_torchvision(folder: Path, marker: Path) -> None:
    """A fake torchvision next to the script: constructing a dataset records an attempted download."""
    package = folder / "torchvision"
    package.mkdir()
    (package / "__init__.py").write_text("from . import datasets, transforms\n")
    (package / "transforms.py").write_text(
        "class ToTensor:\n    pass\n\nclass Normalize:\n    def __init__(self, *a):\n        pass\n\n"
        "class Compose:\n    def __init__(self, t):\n        pass\n")
    (package / "datasets.py").write_text(textwrap.dedent(f"""
        import socket

        class MNIST:
            def __init__(self, root, train=True, transform=None, download=False):
                open({str(marker)!r}, "w").write("download attempted")
                socket.create_connection(("example.invalid", 80))
    """))


def test_training_and_downloads_never_run_with_sockets_blocked(corpus, monkeypatch):
    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args))
        raise OSError("sockets are blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    download_marker = corpus / "downloaded.txt"
    _stand_in_torchvision(corpus, download_marker)
    hub_calls: list[str] = []
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: hub_calls.append(a[0]))

    result = invoke_cli(str(corpus / "mnist_train_script.py"), "--format", "json", "--no-probe")
    assert result.exit_code == 0, result.output
    assert _json(result)["models"][0]["name"] == "model"
    assert not (corpus / "mnist_train_script.trained").exists()  # the training loop never ran
    assert not download_marker.exists()  # the dataset was never built
    assert not (corpus / "mnist_cnn.pt").exists()  # nor a checkpoint saved

    result = invoke_cli(str(corpus / "feedforward_tutorial.py"), "--format", "json", "--no-probe")
    assert result.exit_code == 0, result.output
    assert not download_marker.exists()

    result = invoke_cli(str(corpus / "downloads_weights.py"), "--format", "json", "--no-probe")
    assert result.exit_code == 0, result.output
    assert hub_calls == [] and attempts == []
    assert socket.socket.connect is refuse  # the fence restored what it found


def test_init_statements_after_construction_run(corpus):
    (gan_d, gan_g) = load_models(str(corpus / "gan_script.py"))
    std = float(gan_g.model[0].weight.detach().std())
    assert 0.015 < std < 0.025  # G.apply(weights_init) ran: N(0, 0.02)
    assert not gan_g.model[0].bias.any() and gan_d.model[0].bias.abs().min() > 0  # only G's biases were zeroed
    result = invoke_cli(str(corpus / "init_after_build.py"), "--no-probe")
    assert "ACT303" in result.stdout and "fc2" in result.stdout  # nn.init.constant_ after the build ran


def test_fx_wrap_at_module_level_runs(corpus):
    (loaded,) = load_models(str(corpus / "fx_wrap_at_module_level.py"))
    result = invoke_cli(str(corpus / "fx_wrap_at_module_level.py"), "--format", "json", "--no-probe")
    assert _json(result)["models"][0]["trace"] == "fx", result.output
    assert loaded.name == "Head"


def test_a_stuck_statement_is_stopped_and_named(corpus):
    start = time.monotonic()
    result = invoke_cli(str(corpus / "slow_statement.py"), "--load-timeout", "1.5")
    assert time.monotonic() - start < 20
    assert result.exit_code == 2
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and "slow_statement.py:11" in err[0] and "longer than 1.5s" in err[0], err


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_stdout_is_one_document_whatever_the_file_does(corpus, fmt):
    """A fresh process per file: prints (also from a child process), input(), a thread that never ends."""
    for name in ("prints_at_import.py", "asks_input.py", "starts_thread.py"):
        start = time.monotonic()
        proc = run_cli(str(corpus / name), "--format", fmt, "--probe-timeout", "20")
        elapsed = time.monotonic() - start
        doc = json.loads(proc.stdout)  # one document, nothing else
        assert proc.returncode in (0, 1), proc.stderr
        assert elapsed < 60, elapsed
        if fmt == "json":
            assert doc["errors"] == [] and len(doc["models"]) == 1
        if name == "prints_at_import.py":
            assert "building the classifier" in proc.stderr and "from a child process" in proc.stderr
            assert "forward!" in proc.stderr


def test_seven_billion_parameters_on_meta_stay_small(corpus):
    """The 7B config lints statically on the meta device, in a fresh process (its peak RSS is its own)."""
    code = textwrap.dedent(f"""
        import json, resource, sys, time
        from click.testing import CliRunner
        from actlint.cli import main
        start = time.perf_counter()
        result = CliRunner().invoke(main, [{str(corpus / 'llama_7b.py')!r}, "--format", "json"])
        doc = json.loads(result.stdout)
        print(json.dumps({{"seconds": time.perf_counter() - start, "exit": result.exit_code,
                          "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                          "model": doc["models"][0]}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parent.parent)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    model = out["model"]
    assert model["parameters"] > 6.5e9
    assert model["trace"] == "fx"
    assert model["probe"]["status"] == "skipped"
    assert "meta device" in model["skipped_rules"]["ACT301"], model["skipped_rules"]
    assert out["rss_kb"] < 2 * 1024 * 1024  # < 2 GB peak RSS (the weights alone would be 27 GB)

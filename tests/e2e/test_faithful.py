"""Faithful loading: actlint lints exactly the model the file builds, or says in one line why not.

The corpus (tests/faithful/) holds scripts whose model a loader that skipped loops, the
``__main__`` block or constant ``if`` branches would get wrong. Each entry below states the
model read off the script (parameter count and leaf layer types); the test checks the
model actlint built is that model. The scripts whose model depends on something actlint
never runs (data, a checkpoint) must be refused with one line naming that statement.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from actlint.graph.view import parameter_count
from actlint.loader.models import load_models
from helpers import invoke_cli, run_cli, write_model

CORPUS = Path(__file__).parent.parent / "faithful"


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# file -> (model name, parameters, leaf layer types)
FAITHFUL = {
    "loop_extends_layers.py": ("model", linear(100, 128) + 11 * linear(128, 128) + linear(128, 10), {"Linear", "Sigmoid"}),
    "loop_appends_layers.py": ("model", linear(32, 64) + 6 * linear(64, 64), {"Linear", "Sigmoid"}),
    "modulelist_global.py": ("Net", 4 * linear(16, 16) + linear(16, 2), {"Linear", "ReLU"}),
    "widths_from_a_loop.py": ("model", linear(784, 392) + linear(392, 196) + linear(196, 98) + linear(98, 10),
                              {"Linear", "ReLU"}),
    "config_changed_in_loop.py": ("model", 3 * linear(16, 16), {"Linear", "ReLU"}),
    "globals_in_main.py": ("Net", linear(784, 500) + linear(500, 500) + linear(500, 10), {"Linear", "ReLU"}),
    "constant_if.py": ("model", linear(8, 256) + linear(256, 8), {"Linear", "ReLU"}),
    "imported_factory.py": ("model", linear(4, 8) + linear(8, 2), {"Linear", "ReLU"}),
    "padding_mask_example.py": ("Encoder", 100 * 32 + (3 * 32 * 32 + 3 * 32) + linear(32, 32) + linear(32, 64)
                                + linear(64, 32) + 4 * 32 + linear(32, 2),
                                {"Embedding", "NonDynamicallyQuantizableLinear", "Linear", "Dropout", "LayerNorm"}),
}

# file -> fragments of the one line: the statement the model depends on, and why it does not run
REFUSED = {
    "layers_from_data.py": ["model not built", "layers is changed by line 7",
                            "loader comes from line 5, data loading, which actlint does not run"],
    "config_from_checkpoint.py": ["Net not built", "config is changed by line 12",
                                  "checkpoint comes from line 11, checkpoint I/O, which actlint does not run"],
}


def test_the_corpus_is_covered():
    assert {p.name for p in CORPUS.glob("*.py")} == set(FAITHFUL) | set(REFUSED)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faithful")
    shutil.copytree(CORPUS, root, dirs_exist_ok=True)
    return root


@pytest.mark.parametrize("name", sorted(FAITHFUL))
def test_actlint_builds_the_model_the_file_builds(corpus, name):
    expected_name, parameters, layers = FAITHFUL[name]
    (loaded,) = load_models(str(corpus / name))
    assert loaded.name == expected_name
    assert parameter_count(loaded.model.parameters()) == parameters
    assert {type(m).__name__ for m in loaded.model.modules() if not list(m.children())} == layers
    result = invoke_cli(str(corpus / name), "--format", "json", "--no-probe", "--exit-zero")
    (model,) = json.loads(result.stdout)["models"]
    assert model["parameters"] == parameters and model["trace"] == "fx"


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_model_that_depends_on_what_never_runs_is_refused_in_one_line(corpus, name):
    result = invoke_cli(str(corpus / name), "--no-probe")
    assert result.exit_code == 2, result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, err
    for fragment in REFUSED[name]:
        assert fragment in err[0], err[0]
    assert "All checks passed" not in result.stdout


def test_the_deep_sigmoid_stack_a_loop_builds_is_linted_as_such(corpus):
    """The issue's case: the skipped loop used to leave a 2-layer model and 'All checks passed'."""
    result = invoke_cli(str(corpus / "loop_extends_layers.py"), "--format", "json", "--no-probe")
    rules = {f["rule"] for f in json.loads(result.stdout)["models"][0]["findings"]}
    assert "ACT201" in rules and "ACT103" not in rules


def test_constant_integer_and_boolean_inputs_keep_their_values(corpus):
    """A mask of all False ("no padding") stays all False: randomised, rows would be fully
    masked and the forward would produce NaN (a false ACT705, and ACT851 in training)."""
    result = invoke_cli(str(corpus / "padding_mask_example.py"), "--format", "json", "--no-train-probe")
    (model,) = json.loads(result.stdout)["models"]
    assert model["inputs"].startswith("int64[4x10], bool[4x10] (example_inputs())"), model["inputs"]
    assert "replaced" not in model["inputs"]
    assert not [f for f in model["findings"] if f["severity"] == "error"], model["findings"]


def test_floating_constant_inputs_are_still_replaced(tmp_path):
    path = write_model(tmp_path, """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))

        def example_inputs():
            return (torch.zeros(8, 6),)
    """)
    result = invoke_cli(str(path), "--format", "json", "--no-probe")
    assert "constant floating values replaced" in json.loads(result.stdout)["models"][0]["inputs"]


# --- the file's own examples -------------------------------------------------------------------


def test_the_main_block_builds_the_model_and_gives_its_inputs(tmp_path):
    path = write_model(tmp_path, """
        import torch
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, sizes):
                super().__init__()
                self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

            def forward(self, x):
                for layer in self.layers[:-1]:
                    x = torch.relu(layer(x))
                return self.layers[-1](x)

        if __name__ == "__main__":
            net = Net([784, 500, 500, 10])
            x = torch.randn(2, 784)
            print(net(x).shape)
            torch.save(net.state_dict(), "net.pt")
    """)
    result = invoke_cli(str(path), "--format", "json", "--no-probe")
    (model,) = json.loads(result.stdout)["models"]
    assert model["name"] == "Net"
    assert "built Net([784, 500, 500, 10]) from line 15, the __main__ block" in model["notes"]
    assert model["inputs"] == "float32[2x784] (the file's example, line 17, the __main__ block)"
    assert not (tmp_path / "net.pt").exists()  # checkpoint I/O in the block never runs


def test_test_functions_and_docstring_examples_build_models(tmp_path):
    path = write_model(tmp_path, '''
        import torch
        import torch.nn as nn

        class Block(nn.Module):
            """A residual block.

            Example:
                >>> block = Block(16)
                >>> block(torch.randn(2, 16)).shape
            """

            def __init__(self, width):
                super().__init__()
                self.fc = nn.Linear(width, width)

            def forward(self, x):
                return x + torch.relu(self.fc(x))

        class Tower(nn.Module):
            def __init__(self, width, depth):
                super().__init__()
                self.blocks = nn.Sequential(*[nn.Linear(width, width) for _ in range(depth)])

            def forward(self, x):
                return self.blocks(x)

        def test_tower():
            tower = Tower(8, depth=3)
            assert tower(torch.randn(4, 8)).shape == (4, 8)
    ''')
    block, tower = load_models(str(path))  # two root classes, each built by its own example
    assert tower.name == "Tower" and parameter_count(tower.model.parameters()) == 3 * linear(8, 8)
    assert tower.notes[0].startswith("built Tower(8, depth=3) from line")
    assert tower.notes[0].endswith("test_tower()")
    assert tower.example_inputs[0].shape == (4, 8)
    assert block.name == "Block" and parameter_count(block.model.parameters()) == linear(16, 16)
    assert block.notes[0].endswith("the docstring of Block") and block.example_inputs[0].shape == (2, 16)


def test_main_function_arguments_come_from_the_main_block(tmp_path):
    path = write_model(tmp_path, """
        import argparse
        import torch.nn as nn

        def get_parser():
            parser = argparse.ArgumentParser()
            parser.add_argument("--hidden", type=int, default=24)
            return parser

        def main(args, depth=2):
            model = nn.Sequential(*[nn.Linear(args.hidden, args.hidden) for _ in range(depth)])
            for epoch in range(10):
                model(None).backward()

        if __name__ == "__main__":
            args = get_parser().parse_args()
            main(args)
    """)
    (model,) = load_models(str(path))
    assert model.name == "model" and parameter_count(model.model.parameters()) == 2 * linear(24, 24)
    assert model.notes == ["built nn.Sequential(*[nn.Linear(args.hidden, args.hidden) for _ in range(depth)]) "
                           "from line 10, main()"]


def test_a_model_statement_that_also_loads_a_checkpoint_is_named(tmp_path):
    path = write_model(tmp_path, """
        import torch
        import torch.nn as nn

        if torch.cuda.device_count() > 7:
            model = nn.Linear(2, 2)
            model.load_state_dict(torch.load("ckpt.pt"))
    """)
    result = invoke_cli(str(path), "--no-probe")
    assert result.exit_code == 2
    assert "model.py:4: the model is built by a statement that also does checkpoint I/O" in result.stderr


# --- models recognised by value, installed models, packages -----------------------------------


def test_a_download_attempt_names_the_argument_to_change(tmp_path):
    (tmp_path / "zoo.py").write_text(textwrap.dedent("""
        import torch, torch.nn as nn

        def segmenter(weights=None, weights_backbone=None):
            model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1))
            if weights is not None or weights_backbone is not None:
                model.load_state_dict(torch.hub.load_state_dict_from_url("https://example.invalid/w.pth"))
            return model
    """))
    ok = write_model(tmp_path, """
        from zoo import segmenter
        model = segmenter(weights=None, weights_backbone=None)
    """, name="ok.py")
    result = invoke_cli(str(ok), "--format", "json", "--no-probe")
    assert [m["name"] for m in json.loads(result.stdout)["models"]] == ["model"]  # an imported lowercase factory
    downloads = write_model(tmp_path, """
        from zoo import segmenter
        model = segmenter(weights_backbone="DEFAULT")
    """, name="downloads.py")
    result = invoke_cli(str(downloads), "--no-probe")
    err = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(err) == 1, err
    assert "tried to download pretrained weights" in err[0] and "weights_backbone=None" in err[0]


def test_installed_models_by_import_path(tmp_path):
    package = tmp_path / "site" / "mymodels"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "vision.py").write_text(textwrap.dedent("""
        import torch.nn as nn

        def build_model(width=32):
            return nn.Sequential(nn.Linear(10, width), nn.ReLU(), nn.Linear(width, 2))

        class Deep(nn.Module):
            def __init__(self, depth):
                super().__init__()
                self.layers = nn.Sequential(*[nn.Linear(8, 8) for _ in range(depth)])

            def forward(self, x):
                return self.layers(x)
    """))
    env = {"PYTHONPATH": str(tmp_path / "site")}
    proc = run_cli("mymodels.vision:build_model", "--format", "json", "--no-probe", cwd=tmp_path, env=env)
    (model,) = json.loads(proc.stdout)["models"]
    assert model["name"] == "build_model" and model["parameters"] == linear(10, 32) + linear(32, 2)
    proc = run_cli("mymodels.vision:Deep(depth=3)", "--format", "json", "--no-probe", cwd=tmp_path, env=env)
    (model,) = json.loads(proc.stdout)["models"]
    assert model["parameters"] == 3 * linear(8, 8)
    assert "ACT103" in {f["rule"] for f in model["findings"]}
    assert model["file"].endswith("vision.py")
    proc = run_cli("mymodels.vision:Nope", "--no-probe", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "no name 'Nope'" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("not_a_package_xyz.models:resnet18", "--no-probe", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "cannot import not_a_package_xyz.models" in proc.stderr


def test_a_package_module_imports_its_siblings_relatively(tmp_path):
    root = tmp_path / "proj" / "nets"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("from .model import Net\n")
    (root / "parts.py").write_text("import torch.nn as nn\n\nWIDTH = 12\n\ndef block(n):\n"
                                   "    return nn.Sequential(nn.Linear(n, n), nn.ReLU())\n")
    (root / "model.py").write_text(textwrap.dedent("""
        from .parts import *

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = block(WIDTH)

            def forward(self, x):
                return self.body(x)
    """))
    before = set(sys.modules)
    (model,) = load_models(str(root / "model.py"))
    assert parameter_count(model.model.parameters()) == linear(12, 12)
    assert not {name for name in set(sys.modules) - before if name.startswith("nets")}  # nothing lasts


# --- inputs from what the model says it takes ----------------------------------------------------


def test_inputs_from_library_metadata_and_hyperparameters():
    from actlint.trace.inputs import infer_inputs
    from actlint.trace import trace_model

    class TimmLike(nn.Module):  # a stem fx cannot size from its first layer (space-to-depth)
        pretrained_cfg = {"input_size": (3, 48, 48)}

        def __init__(self):
            super().__init__()
            self.head = nn.Linear(3 * 16 * 48 * 48 // 16, 5)

        def forward(self, x):
            b, c, h, w = x.shape
            x = x.reshape(b, c, h // 4, 4, w // 4, 4).permute(0, 3, 5, 1, 2, 4).reshape(b, c * 16, h // 4, w // 4)
            return self.head(x.flatten(1))

    class GPTWithStem(nn.Module):  # the token embedding inside a block, no size at the first layer
        def __init__(self):
            super().__init__()
            self.stem = nn.ModuleDict({"wte": nn.Embedding(50, 16)})
            self.block_size = 24
            self.ln = nn.LayerNorm(16)

        def forward(self, idx):
            assert idx.shape[1] <= self.block_size
            return self.ln(self.stem["wte"](idx))

    for model, expect in [(TimmLike(), "timm pretrained_cfg input_size (3, 48, 48)"),
                          (GPTWithStem(), "the first Embedding (50 tokens)")]:
        graph = trace_model(model).graph
        resolution = infer_inputs(model, graph)
        assert resolution.inputs is not None, resolution.note
        assert expect in resolution.note


def test_inputs_from_an_einops_patch_pattern_and_a_positional_embedding(tmp_path):
    pytest.importorskip("einops")
    path = write_model(tmp_path, """
        import torch
        import torch.nn as nn
        from einops.layers.torch import Rearrange

        class PatchNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.to_patches = nn.Sequential(Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=4, p2=4),
                                                nn.LayerNorm(48), nn.Linear(48, 32))
                self.pos_embedding = nn.Parameter(torch.randn(1, 36, 32))
                self.head = nn.Linear(32, 10)

            def forward(self, img):
                x = self.to_patches(img) + self.pos_embedding
                return self.head(x.mean(1))
    """)
    result = invoke_cli(str(path), "--format", "json", "--no-probe")
    (model,) = json.loads(result.stdout)["models"]
    assert model["inputs"].startswith("float32[8x3x24x24] (inferred: from einops Rearrange("), model["inputs"]


def test_optional_none_arguments_are_traced_as_none(tmp_path):
    """timm's Hiera: forward(x, mask=None) runs its head only when mask is None; traced with a
    Proxy for mask, the head looked unused (a false ACT601 on a partial picture)."""
    path = write_model(tmp_path, """
        import torch.nn as nn

        class Masked(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(8, 8)
                self.head = nn.Linear(8, 3)

            def forward(self, x, mask=None):
                x = self.body(x).relu()
                if mask is None:
                    x = self.head(x)
                return x
    """)
    result = invoke_cli(str(path), "--format", "json", "--no-probe")
    (model,) = json.loads(result.stdout)["models"]
    assert model["trace"] == "fx" and not model["findings"], model["findings"]


# --- no internal error from tracing or a rule ---------------------------------------------------


def test_a_rule_that_raises_is_one_note_and_the_other_findings_stand(tmp_path, monkeypatch):
    from actlint.rules.families.usage import UnusedModule

    def broken(self, ctx):
        raise RuntimeError("boom")
        yield  # pragma: no cover

    monkeypatch.setattr(UnusedModule, "check", broken)
    path = write_model(tmp_path, """
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    """)
    result = invoke_cli(str(path), "--format", "json", "--no-probe", "--exit-zero")
    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.stdout)["models"]
    assert "ACT102" in {f["rule"] for f in model["findings"]}
    assert any(n.startswith("rule ACT601 was skipped: it raised RuntimeError: boom") for n in model["notes"])


def test_tracing_leaves_the_users_model_as_it_was(tmp_path):
    """A forward that assigns to its module (CLIP's attn_mask) must not leave a Proxy behind."""
    from actlint.trace import trace_model

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.mask = torch.zeros(4)

        def forward(self, x):
            self.mask = self.mask.to(dtype=x.dtype)
            return self.fc(x) + self.mask

    model = nn.Sequential(Block(), Block())
    before = [dict(vars(m)) for m in model.modules()]
    trace_model(model)
    assert [dict(vars(m)) for m in model.modules()] == before


def test_a_flag_the_training_loop_sets_on_the_model_does_not_block_it(tmp_path):
    """llama2.c's train.py: ``model.require_backward_grad_sync = ...`` inside the training loop
    changes a flag, not the architecture; the model is linted."""
    path = write_model(tmp_path, """
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        while True:
            model.require_backward_grad_sync = True
            loss = model(torch.randn(2, 4)).sum()
            loss.backward()
            optimizer.step()
    """)
    (model,) = load_models(str(path))
    assert parameter_count(model.model.parameters()) == linear(4, 8) + linear(8, 2)
    assert not hasattr(model.model, "require_backward_grad_sync")  # the training loop never ran


def test_a_required_script_argument_in_the_main_block_is_the_reported_cause(tmp_path):
    path = write_model(tmp_path, """
        import argparse
        import torch.nn as nn

        def get_args():
            parser = argparse.ArgumentParser()
            parser.add_argument("--input", "-i", nargs="+", required=True)
            parser.add_argument("--classes", type=int, default=2)
            return parser.parse_args()

        if __name__ == "__main__":
            args = get_args()
            net = nn.Sequential(nn.Linear(4, args.classes))
            for i, filename in enumerate(args.input):
                mask = net(filename)
    """)
    result = invoke_cli(str(path), "--no-probe")
    err = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(err) == 1, err
    assert "requires --input" in err[0] and "--script-args" in err[0] and "the __main__ block" in err[0]
    result = invoke_cli(str(path), "--no-probe", "--script-args", "--input a.png", "--format", "json")
    (model,) = json.loads(result.stdout)["models"]
    assert model["name"] == "net" and model["parameters"] == linear(4, 2)


def test_a_module_level_transform_without_parameters_is_not_a_model(tmp_path):
    """sgrvinod's eval.py: ``normalize = transforms.Normalize(...)`` is an nn.Module, not a model."""
    path = write_model(tmp_path, """
        import torch.nn as nn

        class Normalize(nn.Module):  # the shape of torchvision.transforms.Normalize
            def __init__(self, mean, std):
                super().__init__()
                self.mean, self.std = mean, std

            def forward(self, x):
                return (x - self.mean) / self.std

        normalize = Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    """)
    assert [m.name for m in load_models(str(path))] == ["model"]


def test_a_main_function_read_for_its_model_is_not_reported_as_a_skipped_main_block(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn

        def main():
            model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1))
            model.train()

        if __name__ == "__main__":
            main()
    """)
    (model,) = load_models(str(path))
    assert model.notes == ["built nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1)) from line 4, main()"]
    assert model.file.load_note() is None or "__main__ block" not in model.file.load_note()

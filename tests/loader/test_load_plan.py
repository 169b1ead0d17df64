"""The load plan (which top-level statements run), selectors, sizing and the fence, unit by unit."""

from __future__ import annotations

import ast
import sys
import textwrap
import threading

import pytest
import torch
import torch.nn as nn

from actlint.core.errors import UserError
from actlint.sandbox.fence import UserCodeTimeout, fenced, time_limit
from actlint.loader.loaded import LoadSettings
from actlint.loader.running import load_file
from actlint.loader.models import load_models
from actlint.loader.build import default_arguments, parse_size, unwrap
from actlint.loader.plan import plan_module
from actlint.loader.selectors import parse_selector, split_selector
from helpers import invoke_cli, write_model


def ran(source: str) -> list[str]:
    """The top-level statements (first line of each) that the plan runs, definitions excluded."""
    tree = ast.parse(textwrap.dedent(source))
    plan = plan_module(tree)
    return [ast.unparse(s.node).splitlines()[0] for s in plan.statements
            if plan.runs(s) and s.kind not in ("import", "definition")]


def test_plan_keeps_what_the_model_needs_and_nothing_else():
    assert ran("""
        import argparse, torch, torch.nn as nn
        from torch.utils.data import DataLoader
        parser = argparse.ArgumentParser()
        parser.add_argument('--hidden', type=int, default=8)
        args = parser.parse_args()
        unused_constant = 3
        device = torch.device('cpu')
        torch.manual_seed(0)
        train_set = MyDataset('data/')
        loader = DataLoader(train_set, batch_size=4)
        model = Net(args.hidden).to(device)
        model.apply(init_weights)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for epoch in range(3):
            train(model, loader)
        torch.save(model.state_dict(), 'x.pt')
        main()
        if __name__ == '__main__':
            main()
    """) == [
        "parser = argparse.ArgumentParser()",
        "parser.add_argument('--hidden', type=int, default=8)",
        "args = parser.parse_args()",
        "device = torch.device('cpu')",
        "torch.manual_seed(0)",
        "model = Net(args.hidden).to(device)",
        "model.apply(init_weights)",
    ]


def test_plan_follows_names_used_inside_model_classes():
    assert ran("""
        import torch.nn as nn
        HIDDEN = 16
        ACT = nn.ReLU
        LOG_EVERY = 100
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, HIDDEN)
                self.act = ACT()
    """) == ["HIDDEN = 16", "ACT = nn.ReLU"]


def test_plan_runs_init_loops_and_blocks_but_not_training_loops():
    assert ran("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(2, 2))
        for m in model.modules():
            init_layer(m)
        with torch.no_grad():
            model[0].bias.zero_()
        config.depth = 3
        for x, y in loader:
            loss = model(x).sum()
            loss.backward()
        while True:
            pass
    """) == ["model = nn.Sequential(nn.Linear(2, 2))", "for m in model.modules():",
             "with torch.no_grad():"]


def test_plan_never_runs_data_or_checkpoints_even_when_needed():
    tree = ast.parse(textwrap.dedent("""
        import torch
        corpus = data.Corpus('./data/wikitext-2')
        ntokens = len(corpus.dictionary)
        state = torch.load('model.pt')
        model = RNNModel(ntokens)
        model.load_state_dict(state)
    """))
    plan = plan_module(tree)
    # ntokens and the model read the skipped corpus: run anyway they would fail or build a
    # different model, so they do not run either, and say why.
    assert [plan.runs(s) for s in plan.statements] == [True, False, False, False, False, False]
    assert plan.names_bound_by_skipped["corpus"].skip_reason == "data loading"
    assert plan.skipped() == {"data loading": [3], "checkpoint I/O": [5, 7]}
    assert plan.blocked == {2: "corpus comes from line 3, data loading, which actlint does not run",
                            4: "ntokens comes from line 4, not run: corpus comes from line 3, data loading, "
                               "which actlint does not run"}


def test_missing_data_name_is_explained(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn
        vocab = build_vocab(load_dataset("wikitext"))
        model = nn.Embedding(len(vocab), 8)
    """)
    result = invoke_cli(str(path), "--no-probe")
    assert result.exit_code == 2
    assert "vocab comes from line 2, data loading, which actlint does not run" in result.stderr


def test_failing_import_the_model_does_not_need_is_a_note(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn
        import wandb_is_not_installed_xyz
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    """)
    result = invoke_cli(str(path), "--no-probe")
    assert result.exit_code == 0, result.output
    assert "failed: line 2: import error" in result.stdout and "wandb_is_not_installed_xyz" in result.stdout


def test_library_file_loads_like_an_import_and_has_no_note(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn

        WIDTH = 8

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Sequential(nn.Linear(4, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 2))

            def forward(self, x):
                return self.fc(x)
    """)
    (loaded,) = load_models(str(path))
    assert loaded.file.load_note() is None and loaded.notes == []
    assert loaded.file.namespace["WIDTH"] == 8


def test_future_annotations_and_string_annotations_build_configs(tmp_path):
    path = write_model(tmp_path, """
        from __future__ import annotations
        from dataclasses import dataclass
        from typing import Optional
        import torch.nn as nn

        @dataclass
        class Cfg:
            width: int = 12

        class Net(nn.Module):
            def __init__(self, cfg: Optional[Cfg], scale: float = 1.0):
                super().__init__()
                self.fc = nn.Linear(3, cfg.width)

            def forward(self, x):
                return self.fc(x)
    """)
    (loaded,) = load_models(str(path))
    assert loaded.model.fc.out_features == 12 and loaded.notes == ["built Net(Cfg())"]


def test_default_arguments_choices():
    class Config:
        def __init__(self, depth=2):
            self.depth = depth

    class NeedsSizes(nn.Module):
        def __init__(self, width, *, config: Config):
            super().__init__()

    namespace = {"__name__": "m", "Config": Config}
    arguments, missing = default_arguments(NeedsSizes, namespace)
    assert arguments is None and missing == ["width"]

    class Keyword(nn.Module):
        def __init__(self, *, config: Config):
            super().__init__()

    arguments, missing = default_arguments(Keyword, namespace)
    assert missing == [] and arguments.describe("Keyword") == "Keyword(config=Config())"


@pytest.mark.parametrize("selector, fragment", [
    ("Net(lambda: 3)", "not lambda"),
    ("Net(width=", "not a Python name or call expression"),
    ("Net(x := 3)", "not namedexpr"),
    ("[Net() for _ in range(2)]", "not listcomp"),
    ("", "nothing after '::'"),
])
def test_bad_selectors_are_one_line_errors(tmp_path, selector, fragment):
    path = write_model(tmp_path, "import torch.nn as nn\nNet = nn.Linear\n")
    result = invoke_cli(f"{path}::{selector}")
    assert result.exit_code == 2
    assert fragment in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_selector_expression_errors_name_the_selector(tmp_path):
    path = write_model(tmp_path, "import torch.nn as nn\n\ndef Net(width):\n    return nn.Linear(width, 2)\n")
    result = invoke_cli(f"{path}::Net(widht=3)")
    assert result.exit_code == 2
    assert "::Net(widht=3)" in result.stderr and "unexpected keyword argument" in result.stderr
    assert split_selector("m.py::Net(a=1)") == ("m.py", "Net(a=1)")
    assert isinstance(parse_selector("pkg.Net(cfg=Cfg(n=2 * 64), sizes=[1, 2])").body, ast.Call)


def test_per_file_models_accept_call_expressions(tmp_path):
    write_model(tmp_path, """
        [tool.actlint.per-file."model.py"]
        models = ["Net(width=6)"]
    """, name="pyproject.toml")
    path = write_model(tmp_path, """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.fc = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 2))

            def forward(self, x):
                return self.fc(x)
    """)
    result = invoke_cli(str(path), "--no-probe", "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"name": "Net(width=6)"' in result.stdout


def test_max_model_memory_lints_on_meta(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn

        def build_model():
            return nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2))
    """)
    result = invoke_cli(str(path), "--max-model-memory", "100KB")
    assert result.exit_code == 0, result.output
    assert "linted on the meta device: 265 KB of weights exceed the memory budget of 100 KB" in result.stdout
    assert "rules not run:" in result.stdout and "ACT303, ACT304 (needs weight values" in result.stdout
    assert "probe skipped" in result.stdout
    assert "1 model linted partially:" in result.stdout and "no weight values" in result.stdout
    (loaded,) = load_models(str(path), LoadSettings(memory_budget=10**9))
    assert not loaded.meta and not loaded.model[0].weight.is_meta
    assert invoke_cli(str(path), "--max-model-memory", "lots").exit_code == 2


def test_meta_sizing_build_does_not_change_the_real_weights(tmp_path):
    path = write_model(tmp_path, """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Linear(4, 4)
    """)
    (loaded,) = load_models(str(path))
    torch.manual_seed(0)
    assert torch.equal(loaded.model.weight, nn.Linear(4, 4).weight)


def test_parse_size():
    assert parse_size("4GB") == 4 * 10**9 and parse_size("512MiB") == 512 * 2**20 and parse_size("1e6") == 10**6
    with pytest.raises(ValueError):
        parse_size("-3GB")


def test_unwrap_wrappers():
    inner = nn.Sequential(nn.Linear(2, 2))
    assert unwrap(nn.DataParallel(inner)) == (inner, ["DataParallel"])

    class EMAWrapper(nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    assert unwrap(EMAWrapper(inner)) == (inner, ["EMAWrapper"])
    assert unwrap(inner) == (inner, [])


def test_fence_gives_the_script_its_own_world(tmp_path, capsys):
    before = list(sys.argv)
    with fenced("script.py", ["--lr", "3"]) as log:
        assert sys.argv == ["script.py", "--lr", "3"]
        with pytest.raises(EOFError):
            input("question? ")
        print("hello from the script")
        import socket
        with pytest.raises(OSError, match="network access is disabled"):
            socket.create_connection(("example.invalid", 80))
        worker = threading.Thread(target=lambda: None)
        worker.start()
        assert worker.daemon
    out, err = capsys.readouterr()
    assert sys.argv == before and "hello from the script" in err and "hello" not in out
    assert log.output_lines >= 1


def test_time_limit_interrupts_and_nests():
    with pytest.raises(UserCodeTimeout):
        with time_limit(0.2, "spin"):
            while True:
                pass
    with pytest.raises(UserCodeTimeout) as info:
        with time_limit(5, "outer"), time_limit(0.2, "inner"):
            try:
                while True:
                    pass
            except Exception:  # noqa: BLE001 - user code that swallows exceptions
                pass
    assert info.value.what == "inner"
    with time_limit(0.5, "quick"):
        pass  # leaving early disarms it


def test_bad_encoding_is_one_line(tmp_path):
    path = tmp_path / "model.py"
    path.write_bytes(b"# -*- coding: no-such-codec -*-\nimport torch\n")
    with pytest.raises(UserError, match="cannot decode file"):
        load_file(str(path))


def test_device_contexts_still_work_after_capped_and_meta_builds(tmp_path):
    """A fresh process: actlint's wrapped factories must not leak into torch's device-context cache."""
    import subprocess

    path = write_model(tmp_path, """
        import torch.nn as nn

        def build_model():
            return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    """)
    code = (
        "import torch, torch.nn as nn\n"
        "from actlint.loader.loaded import LoadSettings\nfrom actlint.loader.models import load_models\n"
        f"load_models({str(path)!r}, LoadSettings(memory_budget=10))\n"  # capped build, then a meta build
        "with torch.device('meta'):\n"
        "    layer = nn.Linear(2, 2)\n"
        "    noise = torch.randn(3)\n"
        "assert layer.weight.is_meta and noise.is_meta, (layer.weight.device, noise.device)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

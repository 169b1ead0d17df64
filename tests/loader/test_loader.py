"""Loader: discovery, selectors, isolation, and every failure mode as one line + exit 2."""

from __future__ import annotations

import json
import sys

import pytest

from actlint.core.errors import UserError
from actlint.loader.models import load_models

from helpers import invoke_cli as invoke, run_cli, write_model

MLP = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())
"""


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in err, err


# --- failure modes -----------------------------------------------------------------


def test_missing_file(tmp_path):
    assert_one_line_error(invoke(str(tmp_path / "nope.py")), "nope.py", "no such file")


def test_syntax_error_names_the_line(tmp_path):
    path = write_model(tmp_path, "import torch\ndef broken(:\n    pass\n")
    assert_one_line_error(invoke(str(path)), "model.py:2", "syntax error")


def test_import_error(tmp_path):
    path = write_model(tmp_path, "import torch\nimport not_a_real_package_xyz\n")
    assert_one_line_error(invoke(str(path)), "import error", "not_a_real_package_xyz")


def test_error_raised_while_loading_names_the_line(tmp_path):
    # The width is needed by the model, so its statement runs (and fails) while loading.
    path = write_model(tmp_path, "import torch.nn as nn\n\nwidth = 1 // 0\nmodel = nn.Linear(width, 2)\n")
    assert_one_line_error(invoke(str(path)), "model.py:3", "ZeroDivisionError")


def test_no_model_found(tmp_path):
    path = write_model(tmp_path, "import torch\nX = torch.zeros(3)\n")
    assert_one_line_error(invoke(str(path)), "no model found", "build_model")


def test_constructor_needs_arguments_names_the_fix(tmp_path):
    path = write_model(
        tmp_path,
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, width, depth):
                super().__init__()
                self.fc = nn.Linear(width, depth)

            def forward(self, x):
                return self.fc(x)
        """,
    )
    assert_one_line_error(invoke(str(path)), "Net needs constructor arguments (width, depth)", "build_model()")


def test_constructor_that_raises(tmp_path):
    path = write_model(
        tmp_path,
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                raise RuntimeError("no GPU config")

            def forward(self, x):
                return x
        """,
    )
    assert_one_line_error(invoke(str(path)), "Net() raised RuntimeError: no GPU config", "model.py:6")


def test_unknown_selector_lists_models(tmp_path):
    path = write_model(tmp_path, MLP)
    assert_one_line_error(invoke(f"{path}::Missing"), "no name 'Missing'", "Net")


def test_factory_returning_non_module(tmp_path):
    path = write_model(tmp_path, "import torch\n\ndef build_model():\n    return 3\n")
    assert_one_line_error(invoke(str(path)), "build_model() returned int")


def test_untraceable_forward_is_traced_by_executing_it(tmp_path):
    path = write_model(
        tmp_path,
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.RNN(4, 8)
                self.fc = nn.Linear(8, 2)

            def forward(self, x):
                if x.sum() > 0:  # data-dependent control flow: fx cannot trace this
                    x = x * 2
                return self.fc(self.rnn(x)[0])
        """,
    )
    result = invoke(str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    (model,) = json.loads(result.stdout)["models"]
    assert model["trace"] == "executed"
    assert any("traced by executing one forward pass instead" in n for n in model["notes"])
    assert [f["rule"] for f in model["findings"]] == ["ACT204"]
    assert model["probe"]["status"] == "ok"


def test_untraceable_forward_without_inputs_falls_back_and_says_so(tmp_path):
    path = write_model(
        tmp_path,
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.RNN(4, 8)
                self.fc = nn.Linear(8, 2)

            def forward(self, batch):
                x = batch["features"]  # a dict input: actlint cannot make one up
                if x.sum() > 0:
                    x = x * 2
                return self.fc(self.rnn(x)[0])
        """,
    )
    result = invoke(str(path))
    # Exit per findings (ACT204 is info, below the default --fail-on), with a note.
    assert result.exit_code == 0, result.output
    assert "fell back to the module tree" in result.output
    assert "ACT204" in result.output  # module-tree rules still run
    assert "ACT102" in result.output  # dataflow rules say they could not run
    assert "Traceback" not in result.output


def test_untraceable_submodule_becomes_opaque(tmp_path):
    path = write_model(
        tmp_path,
        """
        import torch.nn as nn

        class Dynamic(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 8)

            def forward(self, x):
                return self.fc(x) if x.mean() > 0 else x

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.inp = nn.Linear(4, 8)
                self.soft = nn.Softmax(dim=-1)
                self.dyn = Dynamic()
                self.out = nn.Linear(8, 2)

            def forward(self, x):
                return self.out(self.dyn(self.soft(self.inp(x))))
        """,
    )
    run_models = load_models(str(path))
    from actlint.trace import trace_model

    traced = trace_model(run_models[0].model, user_file=path)
    assert traced.graph.has_dataflow
    assert any("dyn" in note and "opaque" in note for note in traced.graph.notes)
    result = invoke(str(path), "--select", "ACT101", "--no-probe")
    assert result.exit_code == 1 and "ACT101" in result.output


def test_real_process_prints_no_traceback(tmp_path):
    path = write_model(tmp_path, "import torch\nimport not_a_real_package_xyz\n")
    proc = run_cli(str(path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stdout.strip().startswith("Found 0 problems")


# --- discovery ---------------------------------------------------------------------


def test_discovery_order_and_submodule_exclusion(tmp_path):
    path = write_model(
        tmp_path,
        """
        import torch.nn as nn

        class Block(nn.Module):
            def __init__(self, dim=8):
                super().__init__()
                self.fc = nn.Linear(dim, dim)

            def forward(self, x):
                return self.fc(x).relu()

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = Block()
                self.head = nn.Linear(8, 2)

            def forward(self, x):
                return self.head(self.block(x))

        encoder = Block()

        def build_model():
            return nn.Sequential(encoder, nn.Linear(8, 2))
        """,
    )
    names = [m.name for m in load_models(str(path))]
    # `encoder` is a submodule of build_model(); Block is a building block of Net.
    assert names == ["build_model", "Net"]


def test_losses_are_not_linted_as_models(tmp_path):
    path = write_model(
        tmp_path,
        MLP
        + """
class SmoothedCE(nn.modules.loss._Loss):
    def forward(self, logits, target):
        return nn.functional.cross_entropy(logits, target, label_smoothing=0.1)

criterion = nn.CrossEntropyLoss()
smoothed = SmoothedCE()
""",
    )
    assert [m.name for m in load_models(str(path))] == ["Net"]


def test_selectors_pick_instances_factories_and_classes(tmp_path):
    path = write_model(tmp_path, MLP + "\nmodel = Net()\n\ndef make_model():\n    return Net()\n")
    for name, kind in [("Net", "class"), ("model", "instance"), ("make_model", "factory")]:
        (loaded,) = load_models(f"{path}::{name}")
        assert loaded.kind == kind


def test_import_leaves_no_trace(tmp_path):
    helper = tmp_path / "helper_layers_xyz.py"
    helper.write_text("import torch.nn as nn\n\ndef block():\n    return nn.Linear(4, 4)\n")
    path = write_model(tmp_path, "import torch.nn as nn\nfrom helper_layers_xyz import block\n\ndef build_model():\n    return nn.Sequential(block(), nn.ReLU(), nn.Linear(4, 2))\n")
    before_path, before_modules = list(sys.path), set(sys.modules)
    models = load_models(str(path))
    assert models[0].model[0].in_features == 4
    assert sys.path == before_path
    assert "helper_layers_xyz" not in sys.modules
    assert not [m for m in set(sys.modules) - before_modules if m.startswith("_actlint_user_")]
    assert not (tmp_path / "__pycache__").exists()


def test_main_guard_does_not_run(tmp_path):
    path = write_model(tmp_path, MLP + "\nif __name__ == '__main__':\n    raise SystemExit('training started')\n")
    assert [m.name for m in load_models(str(path))] == ["Net"]


def test_userError_is_single_line():
    assert "\n" not in str(UserError("a\nb  c"))


@pytest.mark.parametrize("flag, fragment", [
    (["--input-shape", "8,x"], "--input-shape"),
    (["--input-dtype", "complex7"], "--input-dtype"),
    (["--select", "XYZ9"], "matches no rule"),
])
def test_bad_flags_are_one_line_errors(tmp_path, flag, fragment):
    path = write_model(tmp_path, MLP)
    assert_one_line_error(invoke(str(path), *flag), fragment)


def test_lazy_layers_are_never_materialised(tmp_path):
    path = write_model(
        tmp_path,
        """
        import torch.nn as nn

        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
        """,
    )
    result = invoke(str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "uninitialised lazy layer" in result.stdout
    (loaded,) = load_models(str(path))
    assert type(loaded.model[3]).__name__ == "LazyLinear"


def test_input_inference_covers_layouts(tmp_path):
    path = write_model(
        tmp_path,
        """
        import torch.nn as nn

        class Tokens(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(50, 8)
                self.out = nn.Linear(8, 50)

            def forward(self, ids):
                return self.out(self.embed(ids))

        class TimeMajor(nn.Module):
            def __init__(self):
                super().__init__()
                self.gru = nn.GRU(10, 20)
                self.fc = nn.Linear(20, 5)

            def forward(self, x):
                return self.fc(self.gru(x)[0][-1])

        class Cifar(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3, padding=1)
                self.fc = nn.Linear(8 * 16 * 16, 10)

            def forward(self, x):
                return self.fc(nn.functional.max_pool2d(self.conv(x).relu(), 2).flatten(1))
        """,
    )
    from actlint.options import LintOptions
    from actlint.pipeline import lint_paths

    run = lint_paths([str(path)], LintOptions())
    inputs = {m.name: m.inputs for m in run.models}
    assert inputs["Tokens"].startswith("int64[8x16]")
    assert inputs["TimeMajor"].startswith("float32[16x8x10]")  # (time, batch, features)
    assert inputs["Cifar"].startswith("float32[8x3x32x32]")  # 64 fails the fixed-size Linear


def test_model_warnings_are_not_repeated_on_stderr(tmp_path):
    """Every pass actlint makes would repeat the model's own warnings; findings say it once."""
    path = write_model(
        tmp_path,
        """
        import warnings
        import torch.nn as nn

        warnings.warn("imported model file")

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 3)
                self.sm = nn.Softmax()

            def forward(self, x):
                return self.sm(self.fc(x))
        """,
    )
    proc = run_cli(str(path))
    assert proc.returncode == 1, proc.stderr
    assert "ACT403" in proc.stdout
    assert "Warning" not in proc.stderr, proc.stderr


RAISING = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        {body}
"""


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("raise RuntimeError('forward is broken')", "RuntimeError: forward is broken"),  # fx falls back
        ("return self.fc(x.view(-1, 5))", "shape '[-1, 5]' is invalid"),  # traces, then raises
    ],
)
def test_forward_that_raises_on_given_inputs(tmp_path, body, fragment):
    path = write_model(tmp_path, RAISING.format(body=body))
    assert_one_line_error(
        invoke(str(path), "--input-shape", "2,4"), "model.py::Net", "forward raised with the example inputs", fragment
    )

"""The probe: measurements, safety (the model is left bitwise unchanged), device, budget, failures."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn as nn

from actlint.core.errors import UserError
from actlint.probe.device import resolve_device
from actlint.probe.gradient import ProbeSettings, run_probe
from actlint.probe.linearity import linearity_test, segment_linearity
from helpers import lint_source, run_cli, write_model


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(8, 4)
        self.frozen = nn.Linear(4, 4)
        self.frozen.weight.requires_grad_(False)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x)))
        h = self.drop(h).mean((2, 3))
        return self.frozen(self.fc(h)), torch.sigmoid(h)


def _snapshot(model: nn.Module) -> dict:
    return {
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "grads": {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "modes": {n: m.training for n, m in model.named_modules()},
        "hooks": sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()),
    }


def _assert_same(before: dict, after: dict) -> None:
    assert before["state"].keys() == after["state"].keys()
    for k in before["state"]:
        assert torch.equal(before["state"][k], after["state"][k]), k  # bitwise: buffers, running stats
    for n, g in before["grads"].items():
        other = after["grads"][n]
        assert (g is None and other is None) or torch.equal(g, other), n
    assert before["requires_grad"] == after["requires_grad"]
    assert before["modes"] == after["modes"]
    assert before["hooks"] == after["hooks"]


@pytest.mark.parametrize("training", [True, False])
def test_model_is_bitwise_unchanged_after_probe(training):
    torch.manual_seed(0)
    model = SmallCNN().train(training)
    model.fc.weight.grad = torch.full_like(model.fc.weight, 0.5)  # an existing .grad must survive
    nn.init.zeros_(model.fc.weight)  # forces the zero-weight re-initialisation path
    model.fc.weight.grad = torch.full_like(model.fc.weight, 0.5)
    before = _snapshot(model)
    inputs = (torch.randn(8, 3, 16, 16),)
    rng = torch.get_rng_state()
    report = run_probe(model, inputs)
    assert report.status == "ok", report.reason
    assert "fc.weight" in report.reinitialised
    assert any("re-initialised: fc.weight" in n for n in report.notes)
    _assert_same(before, _snapshot(model))
    assert torch.equal(rng, torch.get_rng_state())  # the user's RNG stream is untouched


def test_model_unchanged_when_the_probe_fails_midway():
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(4)
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            h = self.fc(self.bn(x))
            raise RuntimeError("shape mismatch in block 3")

    model = Boom()
    before = _snapshot(model)
    report = run_probe(model, (torch.randn(8, 4),))
    assert report.status == "error"
    assert "RuntimeError: shape mismatch in block 3" in report.reason
    _assert_same(before, _snapshot(model))


def test_measurements_per_layer_in_forward_order():
    torch.manual_seed(0)
    model = SmallCNN()
    report = run_probe(model, (torch.randn(8, 3, 16, 16),))
    paths = [s.path for s in report.layers]
    assert paths[:3] == ["conv", "bn", ":relu#1"]  # functional relu measured, named by scope
    assert report.samples >= 32 and report.passes * report.batch_size == report.samples
    assert report.outputs == 2  # both outputs backpropagated
    conv = report.layer("conv")
    assert conv.weight_layer and conv.units is None
    assert conv.backward_signal == pytest.approx(conv.grad_output_rms * 16 * 16)  # pooling dilution undone
    relu = report.layer(":relu#1")
    assert relu.units == 8 and 0.0 <= relu.dead_fraction <= 1.0
    assert report.layer(":sigmoid#1").saturated_fraction is not None
    assert conv.grad_weight_ratio == pytest.approx(conv.weight_grad_rms / conv.weight_rms)
    assert "frozen.weight" not in report.params_without_grad  # not trainable
    doc = report.to_json()
    assert doc["layers"][0]["path"] == "conv" and doc["status"] == "ok"


def test_dead_fraction_counts_channels_over_all_samples():
    conv = nn.Conv2d(3, 4, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = 1.0  # channel 0 follows the input, channels 1-3 are constant
        conv.bias.copy_(torch.tensor([0.0, 1.0, -1.0, -2.0]))
    report = run_probe(nn.Sequential(conv, nn.ReLU()), (torch.randn(8, 3, 4, 4),), ProbeSettings(reinit_zero=False))
    assert report.layer("1").dead_fraction == pytest.approx(0.5)  # channels 2 and 3


def test_integer_inputs_keep_working_and_stay_in_vocabulary():
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 16)
            self.lstm = nn.LSTM(16, 16, batch_first=True)
            self.out = nn.Linear(16, 50)

        def forward(self, tokens):
            return self.out(self.lstm(self.emb(tokens))[0])

    report = run_probe(LM(), (torch.randint(0, 50, (8, 12)),))
    assert report.status == "ok", report.reason
    assert report.passes == 4
    assert report.layer("emb").backward_signal > 0


def test_rebatching_inputs():
    report = run_probe(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), (torch.randn(8, 4),), ProbeSettings(batch_size=32))
    assert report.batch_size == 32 and report.passes == 2 and report.layer("0").output_shape == (32, 4)


def test_aux_outputs_in_dicts_get_gradient():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Linear(4, 8)
            self.main = nn.Linear(8, 2)
            self.aux = nn.Linear(8, 2)

        def forward(self, x):
            h = self.body(x)
            return {"out": self.main(h), "aux": self.aux(h), "steps": 3}

    report = run_probe(TwoHeads(), (torch.randn(8, 4),))
    assert report.outputs == 2 and not report.params_without_grad and not report.params_zero_grad


def test_detached_and_unused_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(4, 4)
            self.head = nn.Linear(4, 2)
            self.spare = nn.Linear(4, 4)

        def forward(self, x):
            return self.head(self.enc(x).detach())

    report = run_probe(Net(), (torch.randn(8, 4),))
    assert set(report.params_without_grad) == {"enc.weight", "enc.bias"}
    assert report.modules_not_called == ("spare",)


def test_first_nonfinite_names_the_functional_op():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 8)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            return self.head(torch.sqrt(self.fc(x) - 10.0))

    report = run_probe(Net(), (torch.randn(8, 4),))
    site = report.first_nonfinite
    assert site.phase == "forward" and site.layer == ":sqrt#1" and "finite inputs" in site.detail


def test_timeout_is_reported():
    model = nn.Sequential(*[nn.Linear(64, 64) for _ in range(8)])
    report = run_probe(model, (torch.randn(8, 64),), ProbeSettings(timeout=1e-9))
    assert report.status == "timeout" and "--probe-timeout" in report.reason


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="not a device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            resolve_device("cuda:0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cli_device_cuda_without_cuda_exits_2(tmp_path):
    path = write_model(tmp_path, "import torch.nn as nn\nmodel = nn.Sequential(nn.Linear(4, 4))\n")
    proc = run_cli(str(path), "--device", "cuda")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == ["actlint: error: --device cuda: CUDA is not available on this machine (use --device cpu or auto)"]
    assert proc.stdout == ""


def test_linearity_tests_on_copies():
    linear = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    before = copy.deepcopy(linear.state_dict())
    result = linearity_test(linear, (torch.randn(8, 4),))
    assert result.status == "linear" and result.relative_error < 1e-12
    assert all(v.dtype == torch.float32 for v in linear.state_dict().values())  # the copy went float64
    assert all(torch.equal(before[k], v) for k, v in linear.state_dict().items())
    assert linearity_test(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), (torch.randn(8, 4),)).status == "nonlinear"
    assert linearity_test(nn.Embedding(10, 4), (torch.randint(0, 10, (8,)),)).status == "not-applicable"
    seg = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))
    assert segment_linearity(seg, (torch.randn(8, 4),), "0", "2").status == "linear"
    assert segment_linearity(seg, (torch.randn(8, 4),), "2", "4").status == "nonlinear"


def test_static_findings_survive_a_failing_probe(tmp_path):
    run = lint_source(tmp_path, """
        import torch
        import torch.nn as nn


        class Explode(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.clone()

            @staticmethod
            def backward(ctx, grad):
                raise ValueError("backward not implemented")


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.Sequential(*[m for _ in range(5) for m in (nn.Linear(8, 8), nn.Sigmoid())])

            def forward(self, x):
                return Explode.apply(self.layers(x))
    """)
    model = run.models[0]
    assert model.probe["status"] == "error" and "ValueError: backward not implemented" in model.probe["reason"]
    static = [f for f in run.findings() if f.rule == "ACT201"]
    assert static and static[0].probe.status.value == "not-probed"
    assert "probe error" in static[0].probe.evidence
    assert any(n.startswith("probe error:") for n in model.notes)


def test_cli_timeout_still_prints_static_findings(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn

        def build_model():
            return nn.Sequential(*[m for _ in range(6) for m in (nn.Linear(16, 16), nn.Sigmoid())])
    """)
    proc = run_cli(str(path), "--probe-timeout", "0.000001")
    assert proc.returncode == 1
    assert "ACT201 [warning]" in proc.stdout
    assert "probe: not probed: probe timeout: exceeded the probe time budget" in proc.stdout


def test_probe_skipped_without_inputs_names_the_flag(tmp_path):
    run = lint_source(tmp_path, """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Linear(8, 8)

            def forward(self, x, y):
                return self.a(x) * y.custom_scale
    """)
    probe = run.models[0].probe
    assert probe["status"] == "skipped" and "--input-shape" in probe["reason"]


def test_report_object_for_reporters(tmp_path):
    run = lint_source(tmp_path, "import torch.nn as nn\nmodel = nn.Sequential(nn.Linear(4, 4), nn.ReLU())\n")
    model = run.models[0]
    report = model.probe_report
    assert report.ok and model.probe == report.to_json()
    assert math.isfinite(report.seconds)


def test_no_probe_option(tmp_path):
    run = lint_source(tmp_path, "import torch.nn as nn\nmodel = nn.Sequential(nn.Linear(4, 4), nn.ReLU())\n", probe=False)
    assert run.models[0].probe["status"] == "skipped" and "--no-probe" in run.models[0].probe["reason"]


def test_same_findings_whatever_the_cpu_thread_count(tmp_path):
    """The probe's verdicts do not depend on how many threads torch may use (a busy machine)."""
    import torch

    source = """
        import torch.nn as nn

        def build_model():
            layers = [nn.Conv2d(3, 16, 3, padding=1), nn.ReLU()]
            for _ in range(8):
                layers += [nn.Conv2d(16, 16, 3, padding=1), nn.Sigmoid()]
            return nn.Sequential(*layers, nn.Conv2d(16, 4, 1))
    """
    threads = torch.get_num_threads()
    reports = []
    try:
        for count in (1, max(2, threads)):
            torch.set_num_threads(count)
            run = lint_source(tmp_path, source)
            reports.append([(f.rule, f.location.line, f.probe.status.value if f.probe else None)
                            for f in run.findings()])
    finally:
        torch.set_num_threads(threads)
    assert reports[0] == reports[1] and reports[0]


def test_timeout_is_one_line_in_the_summary(tmp_path):
    path = write_model(tmp_path, """
        import torch.nn as nn

        def build_model():
            return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    """)
    proc = run_cli(str(path), "--probe-timeout", "0.000001")
    summary = proc.stdout.strip().splitlines()[-1]
    assert "; 1 probe ran out of time (its measured findings are missing; raise --probe-timeout)" in summary, summary


def test_expensive_models_get_fewer_passes_by_estimated_flops_not_by_time():
    """The probe's work is planned from the layers' cost (deterministic), never from a stopwatch."""
    from actlint.probe.gradient import estimated_macs
    from actlint.probe.recorder import ActivationRecorder

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(),
                          nn.Linear(16 * 16 * 16, 10))
    inputs = (torch.randn(8, 3, 16, 16),)
    macs = 16 * 3 * 9 * 16 * 16 * 8 + 16 * 16 * 16 * 10 * 8  # conv kernel per pixel + linear per sample
    # The estimate counts the conv and linear multiply-accumulates (and biases, BatchNorm affine).
    recorder = ActivationRecorder(model, float("inf"), 8)
    handles = [m.register_forward_hook(recorder.post_hook) for m in model.modules()]
    handles += [m.register_forward_pre_hook(recorder.pre_hook) for m in model.modules()]
    with torch.no_grad():
        model(*inputs)
    for h in handles:
        h.remove()
    estimate = estimated_macs(recorder.layers)
    assert macs <= estimate <= macs * 1.1  # biases and BatchNorm add 8%
    tight = ProbeSettings(device="cpu", flop_budget=6.0 * estimate * 1.55)  # 1.55 passes of the example batch
    first, second = run_probe(model, inputs, tight), run_probe(model, inputs, tight)
    assert first.passes == second.passes == 2
    assert first.samples == second.samples == 8 + 4  # the later pass gets the half batch the budget leaves
    assert any("GFLOPs" in note for note in first.notes)
    assert [s.to_json() for s in first.layers] == [s.to_json() for s in second.layers]
    relaxed = run_probe(model, inputs, ProbeSettings(device="cpu"))
    assert relaxed.passes == 4 and relaxed.samples == 32

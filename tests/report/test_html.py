"""``--format html``: self-contained reports with every finding, both charts, and escaped names."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import pytest

from actlint.rules.engine import RuleSelection
from actlint.core.findings import Severity
from actlint.options import LintOptions
from actlint.pipeline import lint_paths
from actlint.probe.reports import LayerStats, ProbeReport
from actlint.report.html import default_report_path, render_html, write_html_reports
from actlint.report.html_charts import MAX_POINTS, activation_health_chart, gradient_flow_chart, make_bins

from helpers import invoke_cli, run_cli, write_model

# Vanishing gradients through a sigmoid stack, a softmax in a hidden layer, tanh: static and
# measured findings, confirmed and measured probe statuses.
BROKEN = """
import torch.nn as nn

def build_model():
    layers = [nn.Linear(16, 32), nn.Softmax(dim=1)]
    for _ in range(9):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    layers += [nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 4)]
    return nn.Sequential(*layers)
"""

HEALTHY = """
import torch.nn as nn

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 32)
        self.norm = nn.LayerNorm(32)

    def forward(self, x):
        return x + self.norm(self.fc(x)).relu()

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(16, 32)
        self.blocks = nn.Sequential(Block(), Block())
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x).relu()))
"""

# A module key that is markup, in a file whose name is markup too.
HOSTILE = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleDict({
            "<script>alert(1)</script>": nn.Linear(8, 16),
            "head": nn.Linear(16, 4),
        })
        self.gate = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.gate(self.layers["<script>alert(1)</script>"](x))
        return self.layers["head"](x)
"""

HOSTILE_FILE = "net <script>alert(1).py"


def _lint(path: Path, **options):
    selection = options.pop("selection", RuleSelection())
    return lint_paths([str(path)], LintOptions(selection=selection, **options))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Runs and rendered documents for the broken, healthy and hostile models (linted once)."""
    folder = tmp_path_factory.mktemp("html")
    out = {}
    for key, source, name in (("broken", BROKEN, "broken.py"), ("healthy", HEALTHY, "healthy.py"),
                              ("hostile", HOSTILE, HOSTILE_FILE)):
        run = _lint(write_model(folder, source, name))
        assert not run.errors, run.errors
        out[key] = (run, render_html(run))
    return out


def _external_references(doc: str) -> list[str]:
    """Every attribute or CSS reference that would make the browser fetch something."""
    found = []
    for match in re.finditer(r"""\b(?:src|href|xlink:href|action|poster|srcset)\s*=\s*["']?([^"'\s>]*)""", doc):
        target = match.group(1)
        if not (target.startswith("#") or target.startswith("data:")):
            found.append(match.group(0))
    found += re.findall(r"url\(\s*['\"]?(?!#|data:)[^)]*\)", doc)
    found += re.findall(r"@import", doc)
    return found


@pytest.mark.parametrize("key", ["broken", "healthy", "hostile"])
def test_self_contained(reports, key):
    _, doc = reports[key]
    assert doc.startswith("<!DOCTYPE html>")
    assert _external_references(doc) == []
    # Not even a namespace URL or a reference link: nothing in the file points outside it.
    assert "http://" not in doc and "https://" not in doc
    assert "<script" not in doc.lower()  # no scripts at all, ours or injected
    assert re.findall(r"<link\b[^>]*>", doc) == ['<link rel="icon" href="data:,">']


def test_every_finding_has_a_card_and_a_mark_on_its_layer(reports):
    run, doc = reports["broken"]
    findings = run.findings()
    rules = {f.rule for f in findings}
    assert {"ACT101", "ACT201", "ACT701"} <= rules, rules  # static, confirmed and measured
    for f in findings:
        assert f'data-rule="{f.rule}"' in doc
        assert html.escape(f.message, quote=False) in doc
    cards = re.findall(r'<section class="card finding (\w+)" id="(m0-f\d+)" data-rule="(ACT\d+)"', doc)
    assert len(cards) == len(findings)
    # Most severe first, and each card's severity is the finding's.
    severities = [Severity.parse(sev) for sev, _, _ in cards]
    assert severities == sorted(severities, reverse=True)
    for _, anchor, _ in cards:
        # The layer outline links back to every card.
        assert f'href="#{anchor}"' in doc
    # The card shows the user's source line with context, highlighted.
    softmax_line = next(f.location.line for f in findings if f.rule == "ACT101")
    assert re.search(rf'<tr class="target"><td class="n">{softmax_line}</td><td>\s*layers = \[nn.Linear\(16, 32\), '
                     r'nn.Softmax\(dim=1\)\]</td></tr>', doc)
    # Why it matters and the fix come from the rule's documentation.
    from actlint.rules.registry import default_registry

    why = default_registry().get("ACT101").why
    assert html.escape(why, quote=False) in doc
    assert "<h4>How to fix it</h4>" in doc
    assert "confirmed" in doc and "measured" in doc  # probe statuses


def test_header_counts_and_probe_facts(reports):
    run, doc = reports["broken"]
    counts = run.counts()
    for label, n in counts.items():
        assert re.search(rf'<div class="count {label}[^"]*"><b>{n}</b>', doc), label
    assert f"{run.models[0].parameters:,}" in doc
    assert "torch.fx dataflow graph" in doc
    assert re.search(r"device <b>cpu</b>", doc) and re.search(r"time <b>[\d.]+ s</b>", doc)


def _chart(doc: str, key: str) -> str:
    match = re.search(rf'<section class="card chart" id="m0-{key}" data-chart="{key}">(.*?)</section>', doc, re.S)
    assert match, f"no {key} chart"
    return match.group(1)


def test_both_charts_with_thresholds(reports):
    run, doc = reports["broken"]
    report = run.models[0].probe_report
    gradient = _chart(doc, "gradient-flow")
    # One point per weight layer for each of the two series, on a log axis with decade ticks.
    weight_layers = len(report.weight_layers())
    assert gradient.count('<circle class="pt signal"') == weight_layers
    assert gradient.count('<circle class="pt wgrad"') == weight_layers
    assert re.search(r">10<tspan[^>]*>-\d+</tspan>", gradient)
    assert "ACT701 vanishing: first layer &lt; 0.0001 \u00d7 last" in gradient
    assert "ACT702 exploding: first layer &gt; 100000 \u00d7 last" in gradient

    health = _chart(doc, "activation-health")
    saturating = [s for s in report.layers if s.saturated_fraction is not None]
    assert len(saturating) == 10  # nine sigmoids and a tanh
    assert health.count('<rect class="sat') == len(saturating)
    assert "ACT703/ACT704 threshold 50%" in health
    assert health.count('<circle class="pt act"') == weight_layers
    assert "ACT707 collapse" in health


def test_healthy_model_has_no_cards_but_both_charts(reports):
    run, doc = reports["healthy"]
    assert run.findings() == []
    assert "No problems found" in doc
    assert '<div class="count clean"><b>0</b><span>problems</span></div>' in doc
    assert 'class="count error' not in doc
    assert 'data-chart="gradient-flow"' in doc and 'data-chart="activation-health"' in doc
    health = _chart(doc, "activation-health")
    # Functional relu calls (x.relu()) are measured and drawn as dead-unit bars.
    assert health.count('<rect class="dead') == 3
    # The outline nests modules: blocks > 0 > fc, with shapes and parameter counts.
    assert re.search(r'<span class="pre">blocks\.0\.</span>fc \u00b7 Linear.*?\[8, 32\].*?1,056', doc, re.S)
    assert '<span class="pre">blocks.0:</span>.relu()' in doc


def test_thresholds_follow_rule_options(tmp_path):
    path = write_model(tmp_path, BROKEN, "broken.py")
    selection = RuleSelection(ignore=("ACT702",),
                              options={"ACT701": {"threshold": 1e-6}, "ACT703": {"threshold": 0.3}})
    doc = render_html(_lint(path, selection=selection))
    assert "ACT701 vanishing: first layer &lt; 1e-06 \u00d7 last" in doc
    assert "ACT702 exploding" not in doc  # an ignored rule draws no threshold
    # Different dead/saturated thresholds are drawn as two lines.
    assert "ACT703 threshold 30%" in doc and "ACT704 threshold 50%" in doc


def test_markup_in_names_is_escaped(reports):
    run, doc = reports["hostile"]
    assert [f.rule for f in run.findings()] == ["ACT101"]
    assert "<script>" not in doc
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f'<span class="pre">layers.</span>{escaped} \u00b7 Linear' in doc  # the outline row
    assert "net &lt;script&gt;alert(1).py" in doc  # the file name, in the header and the card
    assert f"{escaped}&#34;](x))" in doc  # the source line of the finding card
    assert 'title="softmax output feeds the layer layers.head' in doc
    assert default_report_path(run.models[0], Path("reports")) == Path("reports/net_script_alert_1_-Net.html")


def test_without_probe_the_report_says_so(tmp_path):
    path = write_model(tmp_path, BROKEN, "broken.py")
    doc = render_html(_lint(path, probe=False))
    assert 'data-chart="gradient-flow"' not in doc and 'data-chart="activation-health"' not in doc
    assert "The probe did not run" in doc
    assert "ACT101" in doc  # static findings are still there, not probed
    assert "not-probed" in doc


def test_cli_default_path_one_file_per_model(tmp_path):
    write_model(tmp_path, BROKEN, "broken.py")
    write_model(tmp_path, HEALTHY + "\n\ndef build_model():\n    return Net()\n", "two.py")
    proc = run_cli("broken.py", "two.py", "--format", "html", "--no-probe", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    written = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert written == ["broken-build_model.html", "two-build_model.html"]
    assert proc.stderr.splitlines() == [
        "actlint: wrote HTML report reports/broken-build_model.html",
        "actlint: wrote HTML report reports/two-build_model.html",
    ]
    # Each per-model file holds its own model only.
    two = (tmp_path / "reports" / "two-build_model.html").read_text()
    assert "two.py" in two and "broken.py" not in two


def test_cli_output_file_holds_every_model_and_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_model(tmp_path, BROKEN, "broken.py")
    write_model(tmp_path, HEALTHY, "healthy.py")
    out = tmp_path / "out" / "report.html"
    result = invoke_cli("broken.py", "healthy.py", "missing.py", "--format", "html", "-o", str(out), "--no-probe")
    assert result.exit_code == 2  # a file could not be linted
    assert result.stdout == ""
    assert f"actlint: wrote HTML report {out}" in result.stderr
    doc = out.read_text()
    assert doc.count('<article class="model"') == 2
    assert 'href="#m0"' in doc and 'href="#m1"' in doc  # table of contents
    assert "could not be linted" in doc and "missing.py" in doc
    assert not (tmp_path / "reports").exists()


def test_unwritable_output_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_model(tmp_path, BROKEN, "broken.py")
    (tmp_path / "reports").write_text("a file where the folder should be")
    result = invoke_cli("broken.py", "--format", "html", "--no-probe")
    assert result.exit_code == 2
    assert result.stderr.startswith("actlint: error: cannot write the HTML report")
    assert len(result.stderr.splitlines()) == 1


def test_same_names_get_distinct_files(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_model(tmp_path / folder, BROKEN, "model.py")
    run = lint_paths([str(tmp_path / "a" / "model.py"), str(tmp_path / "b" / "model.py")],
                     LintOptions(probe=False))
    paths = write_html_reports(run, directory=str(tmp_path / "reports"))
    assert [p.name for p in paths] == ["model-build_model.html", "model-build_model-2.html"]
    assert all(p.stat().st_size > 0 for p in paths)


# --- large models --------------------------------------------------------------------------

LARGE = """
import torch.nn as nn

def build_model():
    layers = []
    for _ in range(520):
        layers += [nn.Linear(8, 8), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(8, 2))
"""


def test_large_model_renders_compactly(tmp_path):
    run = _lint(write_model(tmp_path, LARGE, "large.py"))
    report = run.models[0].probe_report
    assert len(report.layers) == 1041
    doc = render_html(run)
    rows = len(re.findall(r'<div class="row', doc))
    assert rows == 1041 + 2  # every op, plus the input and output rows
    # Bounded size: about half a kilobyte per op, charts binned to at most MAX_POINTS points.
    assert len(doc.encode()) < 1100 * rows
    gradient = _chart(doc, "gradient-flow")
    assert gradient.count('<circle class="pt signal"') <= MAX_POINTS
    assert "weight layers aggregated into" in gradient
    health = _chart(doc, "activation-health")
    assert health.count("<rect ") <= MAX_POINTS
    # The flat list of 1043 rows is cut into collapsible chunks; those without findings
    # start closed, so the page opens short.
    chunks = re.findall(r"<details( open)?>\s*<summary><span class=\"name\"[^>]*><b>items (\d+)\u2013(\d+) of 1043</b>",
                        doc)
    assert len(chunks) == math.ceil(1043 / 50)
    assert any(not is_open for is_open, _, _ in chunks)
    assert "modules without findings start collapsed" in doc


# --- chart geometry ---------------------------------------------------------------------------


def _layer(i: int, **values) -> LayerStats:
    return LayerStats(path=f"l{i}", kind=values.pop("kind", "linear"), order=i,
                      weight_layer=values.pop("weight_layer", True), **values)


def test_bins_cover_every_layer_once():
    layers = [_layer(i) for i in range(1001)]
    bins = make_bins(layers, max_points=240)
    assert len(bins) <= 240
    assert [layer.path for b in bins for layer in b.layers] == [layer.path for layer in layers]
    assert bins[0].first == 1 and bins[-1].last == 1001


def test_zero_and_non_finite_gradients_are_flagged_not_dropped():
    layers = (
        _layer(0, backward_signal=0.0, weight_grad_rms=0.0),
        _layer(1, backward_signal=float("nan"), weight_grad_rms=1e-3),
        _layer(2, backward_signal=1e-2, weight_grad_rms=1e-3),
        _layer(3, backward_signal=1.0, weight_grad_rms=1e-1),
    )
    report = ProbeReport(status="ok", layers=layers)
    chart = gradient_flow_chart(report, {"ACT701": {"threshold": 1e-4}, "ACT702": {"threshold": 1e5}})
    flags = {(f.css, f.title.split(":")[0]) for f in chart.panels[0].flags}
    assert ("zero", "backward signal") in flags and ("zero", "weight-gradient RMS") in flags
    assert ("nonfinite", "backward signal") in flags
    assert any("exactly zero" in note for note in chart.notes)
    # The threshold lines sit at 1e-4 and 1e5 times the last layer's signal: ticks span them.
    panel = chart.panels[0]
    assert [h.css for h in panel.hlines] == ["threshold-vanish", "threshold-explode"]
    assert panel.hlines[0].y > panel.hlines[1].y  # lower value, lower on the screen


def test_activation_chart_without_activations_says_so():
    report = ProbeReport(status="ok", layers=(_layer(0, activation_rms=1.0, activation_std=1.0),
                                              _layer(1, activation_rms=2.0, activation_std=0.5)))
    chart = activation_health_chart(report, {"ACT707": {"low": 1e-3, "high": 1e3}})
    percent, forward = chart.panels
    assert percent.empty.startswith("No ReLU-family or sigmoid/tanh layers")
    assert not forward.empty and len(forward.hlines) == 2

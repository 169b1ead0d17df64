"""Chart geometry for the HTML report: log-scale line charts and percentage bars as plain data.

Python computes every coordinate; the template ``_charts.html.j2`` only writes SVG
elements from these objects (so autoescaping covers every label). Charts are drawn in a
fixed ``viewBox`` and scale with the page.

Large models stay light: beyond :data:`MAX_POINTS` layers, consecutive layers are
aggregated into bins. A bin draws the geometric mean as the line and the min-max range as
a band; percentage bars show the bin's worst layer. Each bin carries a tooltip naming its
layers, so the page size is bounded whatever the depth of the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from actlint.probe.reports import LayerStats, ProbeReport

#: Most points (or bars) drawn per series; deeper models are binned.
MAX_POINTS = 240
#: Layers labelled by name on the x axis up to this many; above, by number.
MAX_NAMED_TICKS = 36
#: Draw a marker on every point up to this many points.
MAX_MARKERS = 120

WIDTH = 1040
LEFT, RIGHT = 74, 24


@dataclass(frozen=True)
class Tick:
    """An axis tick at ``pos`` (SVG units). Log axes write ``10`` with ``sup`` as exponent."""

    pos: float
    label: str
    sup: str = ""


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    title: str
    css: str = ""


@dataclass
class Series:
    """One line (``path``) with an optional min-max ``band`` and point markers."""

    name: str
    css: str
    path: str = ""
    band: str = ""
    markers: list[Marker] = field(default_factory=list)


@dataclass(frozen=True)
class HLine:
    """A horizontal threshold line with a label at its right end."""

    y: float
    label: str
    css: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    css: str


@dataclass
class Panel:
    """One plot area with its own y axis."""

    title: str
    y_label: str
    x0: float
    y0: float
    x1: float
    y1: float
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    rotate_x_labels: bool = False
    series: list[Series] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    hlines: list[HLine] = field(default_factory=list)
    #: Points that cannot sit on a log scale: NaN/Inf at the top, exact zeros at the bottom.
    flags: list[Marker] = field(default_factory=list)
    #: Shown instead of the plot when there is nothing to draw.
    empty: str = ""

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass(frozen=True)
class LegendItem:
    css: str
    label: str
    shape: str  # "line", "dash", "band" or "bar"


@dataclass
class Chart:
    """A whole figure: one or more panels, a legend and a caption note."""

    key: str  # "gradient-flow" or "activation-health" (the figure's id and test hook)
    title: str
    description: str  # accessible summary (the SVG's <desc>)
    height: float
    panels: list[Panel]
    legend: list[LegendItem]
    x_label: str
    notes: list[str] = field(default_factory=list)
    width: float = WIDTH


# --- scales and formatting -------------------------------------------------------------------


def finite_positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def sci(value: float | None) -> str:
    """``1.9e-11``; ``0``, ``NaN``, ``Inf`` and ``n/a`` spelled out."""
    if value is None:
        return "n/a"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    if 1e-2 <= abs(value) < 1e4:
        return f"{value:.3g}"
    return f"{value:.1e}"


class LogScale:
    """Maps positive values to y between ``top`` and ``bottom`` on whole decades."""

    def __init__(self, values: Sequence[float], top: float, bottom: float) -> None:
        logs = [math.log10(v) for v in values if finite_positive(v)]
        if not logs:
            logs = [0.0]
        self.lo = math.floor(min(logs))
        self.hi = math.ceil(max(logs))
        while self.hi - self.lo < 2:  # at least two decades, so the axis reads as log
            self.lo -= 1
            if self.hi - self.lo < 2:
                self.hi += 1
        self.top, self.bottom = top, bottom

    def y(self, value: float) -> float:
        frac = (math.log10(value) - self.lo) / (self.hi - self.lo)
        return round(self.bottom - frac * (self.bottom - self.top), 1)

    def ticks(self) -> list[Tick]:
        span = self.hi - self.lo
        step = max(1, math.ceil(span / 8))
        return [Tick(self.y(10.0**e), "10", str(e)) for e in range(self.lo, self.hi + 1, step)]


@dataclass(frozen=True)
class Bin:
    """Consecutive layers drawn as one point."""

    layers: tuple[LayerStats, ...]
    first: int  # 1-based number of the first layer in the plotted sequence
    last: int

    @property
    def label(self) -> str:
        if self.first == self.last:
            return f"#{self.first} {self.layers[0].path} ({self.layers[0].kind})"
        return f"#{self.first}-{self.last} ({self.layers[0].path} ... {self.layers[-1].path})"


def make_bins(layers: Sequence[LayerStats], max_points: int = MAX_POINTS) -> list[Bin]:
    """One bin per layer, or ``ceil(n / max_points)`` consecutive layers per bin."""
    size = max(1, math.ceil(len(layers) / max_points))
    return [
        Bin(tuple(layers[i:i + size]), i + 1, min(i + size, len(layers)))
        for i in range(0, len(layers), size)
    ]


def _x_centers(n: int, x0: float, x1: float) -> list[float]:
    step = (x1 - x0) / max(n, 1)
    return [round(x0 + (i + 0.5) * step, 1) for i in range(n)]


def _short(path: str, limit: int = 18) -> str:
    """Keep the end of a long layer path, where the distinguishing part is."""
    return path if len(path) <= limit else "\u2026" + path[-(limit - 1):]


#: Approximate width of one label character at 11px, to decide when names must be rotated.
_CHAR_PX = 6.4


@dataclass(frozen=True)
class XAxis:
    """Bin centres, their tick labels, and the room the labels need below the plot."""

    centers: list[float]
    ticks: list[Tick]
    rotate: bool
    room: float


def _x_axis(bins: Sequence[Bin], x0: float = LEFT, x1: float = WIDTH - RIGHT) -> XAxis:
    """Layer names when there are few layers (rotated when they do not fit), else ~10 numbers."""
    centers = _x_centers(len(bins), x0, x1)
    if not bins:
        return XAxis(centers, [], False, 34)
    if len(bins) <= MAX_NAMED_TICKS and all(b.first == b.last for b in bins):
        labels = [_short(b.layers[0].path or "(model)") for b in bins]
        widest = max(len(label) for label in labels) * _CHAR_PX
        spacing = (x1 - x0) / len(bins)
        rotate = widest > spacing - 6
        # A label rotated by 40 degrees rises sin(40) of its length below the axis.
        room = 22 + widest * 0.65 if rotate else 34
        return XAxis(centers, [Tick(x, label) for label, x in zip(labels, centers)], rotate, room)
    total = bins[-1].last
    step = _nice_step(total / 10)
    ticks = [Tick(centers[0], "1")]
    for number in range(step, total + 1, step):
        index = next(i for i, b in enumerate(bins) if b.last >= number)
        if number != 1:
            ticks.append(Tick(centers[index], str(number)))
    return XAxis(centers, ticks, False, 34)


def _nice_step(raw: float) -> int:
    if raw <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return int(factor * magnitude)
    return int(10 * magnitude)


def _log_series(
    name: str,
    css: str,
    bins: Sequence[Bin],
    centers: Sequence[float],
    value: Callable[[LayerStats], float | None],
    scale: LogScale,
    flags: list[Marker],
    flag_top: float,
    flag_bottom: float,
) -> Series:
    """Line through each bin's geometric mean, band over its min-max, flags for 0/NaN/Inf."""
    series = Series(name, css)
    path: list[str] = []
    upper: list[tuple[float, float]] = []
    lower: list[tuple[float, float]] = []
    binned = any(len(b.layers) > 1 for b in bins)
    pen_down = False
    for b, x in zip(bins, centers):
        raw = [value(layer) for layer in b.layers]
        good = [v for v in raw if finite_positive(v)]
        bad = [v for v in raw if v is not None and not math.isfinite(v)]
        zeros = [v for v in raw if v == 0]
        if bad:
            flags.append(Marker(x, flag_top, f"{name}: non-finite ({sci(bad[0])}) at {b.label}", "nonfinite"))
        elif zeros and not good:
            flags.append(Marker(x, flag_bottom, f"{name}: exactly 0 at {b.label}", "zero"))
        if not good:
            pen_down = False
            continue
        mean = 10 ** (sum(math.log10(v) for v in good) / len(good))
        y = scale.y(mean)
        path.append(f"{'L' if pen_down else 'M'}{x},{y}")
        pen_down = True
        if binned:
            upper.append((x, scale.y(max(good))))
            lower.append((x, scale.y(min(good))))
            title = f"{name} at layers {b.label}: {sci(min(good))} .. {sci(max(good))} (geometric mean {sci(mean)})"
        else:
            title = f"{name} at {b.label}: {sci(mean)}"
        if len(bins) <= MAX_MARKERS or binned:
            series.markers.append(Marker(x, y, title))
    series.path = " ".join(path)
    if upper:
        points = upper + list(reversed(lower))
        series.band = "M" + " L".join(f"{x},{y}" for x, y in points) + " Z"
    return series


# --- the gradient-flow chart ------------------------------------------------------------------

#: Plot heights (SVG units) of the charts' panels.
GRADIENT_PLOT = 250
HEALTH_PLOT = 150
FORWARD_PLOT = 170


def gradient_flow_chart(report: ProbeReport, options: dict[str, dict]) -> Chart:
    """Per weight layer, log scale: backward signal and weight-gradient RMS, with ACT701/702 lines.

    ACT701/ACT702 compare the backward signal at the first weight layer the gradient
    reaches with the last one, so their thresholds are drawn relative to the last
    layer's signal: a first layer below the vanishing line (above the exploding line) fires.
    """
    layers = report.weight_layers()
    bins = make_bins(layers)
    axis = _x_axis(bins)
    top, bottom = 16, 16 + GRADIENT_PLOT

    reached = [s for s in layers if finite_positive(s.backward_signal)]
    reference = reached[-1].backward_signal if len(reached) >= 2 else None
    lines: list[tuple[float, str, str]] = []
    if reference is not None:
        if "ACT701" in options:
            t = options["ACT701"]["threshold"]
            lines.append((reference * t, f"ACT701 vanishing: first layer < {t:g} \u00d7 last", "threshold-vanish"))
        if "ACT702" in options:
            t = options["ACT702"]["threshold"]
            lines.append((reference * t, f"ACT702 exploding: first layer > {t:g} \u00d7 last", "threshold-explode"))

    values = [v for s in layers for v in (s.backward_signal, s.weight_grad_rms)] + [v for v, _, _ in lines]
    scale, panel = _log_panel("", "gradient RMS (log)", values, top, bottom, axis)
    if not layers:
        panel.empty = "No weight layers were measured (no Linear/Conv/RNN/Embedding layer the probe could hook)."
    else:
        panel.series.append(_log_series("backward signal", "signal", bins, axis.centers, lambda s: s.backward_signal,
                                        scale, panel.flags, top + 4, bottom - 4))
        panel.series.append(_log_series("weight-gradient RMS", "wgrad", bins, axis.centers, lambda s: s.weight_grad_rms,
                                        scale, panel.flags, top + 4, bottom - 4))
        panel.hlines = [HLine(scale.y(v), label, css) for v, label, css in lines]

    notes = []
    if len(bins) < len(layers):
        notes.append(
            f"{len(layers):,} weight layers aggregated into {len(bins)} bins of up to {len(bins[0].layers)}: "
            "the line is each bin's geometric mean, the band its min-max."
        )
    if reference is None and layers:
        notes.append("The gradient reached fewer than two weight layers: no vanishing/exploding ratio to draw.")
    if report.reinitialised:
        notes.append("All-zero weights were temporarily re-initialised so gradients could flow past them: "
                     + ", ".join(report.reinitialised[:5]) + (" ..." if len(report.reinitialised) > 5 else ""))
    if any(f.css == "zero" for f in panel.flags):
        notes.append("Triangles at the bottom mark layers whose gradient was exactly zero (no place on a log scale).")
    if any(f.css == "nonfinite" for f in panel.flags):
        notes.append("Crosses at the top mark NaN/Inf gradients.")
    legend = [LegendItem("signal", "backward signal (dL/d output, pooling-corrected)", "line"),
              LegendItem("wgrad", "weight-gradient RMS", "line")]
    if any(len(b.layers) > 1 for b in bins):
        legend.append(LegendItem("signal", "min-max within a bin", "band"))
    legend += [LegendItem(css, label.split(":")[0] + " threshold", "dash") for _, label, css in lines]
    summary = ""
    if reference is not None:
        summary = (f" The backward signal at the first weight layer is {sci(reached[0].backward_signal / reference)}"
                   f" times that at the last.")
    return Chart(
        key="gradient-flow",
        title="Gradient flow",
        description=f"Log-scale gradient magnitudes over {len(layers)} weight layers in forward order.{summary}",
        height=round(bottom + axis.room + 4),
        panels=[panel],
        legend=legend,
        x_label="weight layers, input \u2192 output",
        notes=notes,
    )


# --- the activation-health chart -----------------------------------------------------------


def _percent_panel(report: ProbeReport, options: dict[str, dict], top: float) -> tuple[Panel, float]:
    """Dead/saturated bars; returns the panel and the room its labels need below it."""
    layers = [s for s in report.layers if s.dead_fraction is not None or s.saturated_fraction is not None]
    bins = make_bins(layers)
    axis = _x_axis(bins)
    y0, y1 = top, top + HEALTH_PLOT

    def y(fraction: float) -> float:
        return round(y1 - fraction * (y1 - y0), 1)

    panel = Panel(
        title="Dead units (ReLU family) and saturated outputs (sigmoid/tanh)",
        y_label="% of units",
        x0=LEFT, y0=y0, x1=WIDTH - RIGHT, y1=y1,
        y_ticks=[Tick(y(f), f"{f:.0%}") for f in (0, 0.25, 0.5, 0.75, 1.0)],
        x_ticks=axis.ticks, rotate_x_labels=axis.rotate,
    )
    if not layers:
        panel.empty = "No ReLU-family or sigmoid/tanh layers were measured: nothing can die or saturate."
        return panel, 34
    thresholds = {
        "dead": options.get("ACT703", {}).get("threshold"),
        "sat": options.get("ACT704", {}).get("threshold"),
    }
    width = max(1.0, min(28.0, panel.width / len(bins) * 0.7))
    for b, x in zip(bins, axis.centers):
        worst, kind, value = b.layers[0], "", -1.0
        for layer in b.layers:
            for k, v in (("dead", layer.dead_fraction), ("sat", layer.saturated_fraction)):
                if v is not None and v > value:
                    worst, kind, value = layer, k, v
        limit = thresholds[kind]
        over = limit is not None and value > limit
        what = "dead units" if kind == "dead" else "saturated outputs"
        title = f"{what}: {value:.1%} at {worst.path} ({worst.kind})"
        if len(b.layers) > 1:
            title = f"worst of layers {b.label}: " + title
        height = max(round(y1 - y(value), 1), 1.5)  # a sliver marks a measured 0%
        panel.bars.append(Bar(round(x - width / 2, 1), round(y1 - height, 1), round(width, 1), height,
                              title, f"{kind} over" if over else kind))
    labels = []
    if thresholds["dead"] is not None and thresholds["dead"] == thresholds["sat"]:
        labels.append((thresholds["dead"], f"ACT703/ACT704 threshold {thresholds['dead']:.0%}"))
    else:
        labels += [(t, f"{rule} threshold {t:.0%}")
                   for rule, t in (("ACT703", thresholds["dead"]), ("ACT704", thresholds["sat"])) if t is not None]
    panel.hlines = [HLine(y(t), label, "threshold-health") for t, label in labels]
    return panel, axis.room


def _log_panel(title: str, y_label: str, values: list, y0: float, y1: float, axis: Any) -> tuple["LogScale", Panel]:
    """A log-scaled panel over the layer axis, 12 units of room kept above and below for the 0/NaN flags."""
    scale = LogScale(values, y0 + 12, y1 - 12)
    panel = Panel(
        title=title,
        y_label=y_label,
        x0=LEFT, y0=y0, x1=WIDTH - RIGHT, y1=y1,
        y_ticks=scale.ticks(), x_ticks=axis.ticks, rotate_x_labels=axis.rotate,
    )
    return scale, panel


def _forward_panel(report: ProbeReport, options: dict[str, dict], top: float) -> tuple[Panel, float]:
    """Forward activation RMS per weight layer with ACT707's bounds; returns the panel and label room."""
    layers = report.weight_layers()
    bins = make_bins(layers)
    axis = _x_axis(bins)
    y0, y1 = top, top + FORWARD_PLOT
    varying = [s for s in layers if finite_positive(s.activation_std)]
    lines: list[tuple[float, str]] = []
    if len(varying) >= 2 and "ACT707" in options:
        # ACT707 compares the last weight layer's sample-to-sample RMS with the first one's.
        reference = varying[0].activation_std
        low, high = options["ACT707"]["low"], options["ACT707"]["high"]
        lines = [(reference * low, f"ACT707 collapse: < {low:g} \u00d7 first"),
                 (reference * high, f"ACT707 explosion: > {high:g} \u00d7 first")]
    values = [v for s in layers for v in (s.activation_rms, s.activation_std)] + [v for v, _ in lines]
    scale, panel = _log_panel("Forward activation RMS per weight layer", "RMS (log)", values, y0, y1, axis)
    if not layers:
        panel.empty = "No weight layers were measured."
        return panel, 34
    panel.series.append(_log_series("activation RMS", "act", bins, axis.centers, lambda s: s.activation_rms,
                                    scale, panel.flags, y0 + 4, y1 - 4))
    panel.series.append(_log_series("sample-to-sample RMS", "actstd", bins, axis.centers, lambda s: s.activation_std,
                                    scale, panel.flags, y0 + 4, y1 - 4))
    panel.hlines = [HLine(scale.y(v), label, "threshold-forward") for v, label in lines]
    return panel, axis.room


def activation_health_chart(report: ProbeReport, options: dict[str, dict]) -> Chart:
    """Dead % (ReLU family) and saturated % (sigmoid/tanh) per layer, and forward RMS per weight layer."""
    percent, percent_room = _percent_panel(report, options, 30)
    forward, forward_room = _forward_panel(report, options, percent.y1 + percent_room + 34)
    measured = sum(1 for s in report.layers if s.dead_fraction is not None or s.saturated_fraction is not None)
    notes = []
    if len(percent.bars) < measured:
        notes.append(f"{measured:,} activation layers aggregated into {len(percent.bars)} bars: each shows its worst layer.")
    if report.samples and report.samples < 32:
        notes.append(f"Only {report.samples} probe samples: dead-unit statistics need at least 32.")
    legend = [
        LegendItem("dead", "dead units (never positive)", "bar"),
        LegendItem("sat", "saturated outputs (flat region)", "bar"),
        LegendItem("act", "activation RMS", "line"),
        LegendItem("actstd", "sample-to-sample RMS", "dash"),
    ]
    if percent.hlines or forward.hlines:
        legend.append(LegendItem("threshold-health", "rule thresholds", "dash"))
    return Chart(
        key="activation-health",
        title="Activation health",
        description=(f"Dead and saturated fractions over {measured} activation layers, and forward activation RMS "
                     f"over {len(report.weight_layers())} weight layers."),
        height=round(forward.y1 + forward_room + 4),
        panels=[percent, forward],
        legend=legend,
        x_label="layers, input \u2192 output",
        notes=notes,
    )


__all__ = ["Chart", "gradient_flow_chart", "activation_health_chart", "make_bins", "MAX_POINTS", "sci"]


# --- the training charts (the training probe) ----------------------------------------------------

TRAINING_PLOT = 210
#: CSS classes of the training runs: the file's learning rate, then the sweep's.
_RUN_CSS = ("signal", "sweep1", "sweep2", "sweep3", "sweep4", "sweep5", "sweep6")


def _step_axis(steps: int, x0: float = LEFT, x1: float = WIDTH - RIGHT) -> tuple[Callable[[int], float], list[Tick]]:
    span = max(steps - 1, 1)

    def x(step: int) -> float:
        return round(x0 + (x1 - x0) * step / span, 1)

    stride = _nice_step(span / 10)
    return x, [Tick(x(s), str(s)) for s in range(0, steps, stride)]


def training_loss_chart(training, options: dict[str, dict]) -> Chart:
    """The loss on the probe's fixed batch per step, one line per learning rate, with ACT852's line.

    ``training`` is a :class:`~actlint.probe.training.TrainingReport` that ran.
    """
    runs = [training.run] + list(training.sweep)
    steps = max(len(r.losses) for r in runs)
    x, ticks = _step_axis(steps)
    top, bottom = 16, 16 + TRAINING_PLOT
    first = training.run
    baseline = min(first.initial_loss, first.constant_loss) if finite_positive(first.constant_loss) else first.initial_loss
    lines: list[tuple[float, str, str]] = []
    if finite_positive(first.constant_loss):
        lines.append((first.constant_loss, "best constant prediction", "threshold-baseline"))
    if "ACT852" in options and finite_positive(baseline):
        t = options["ACT852"]["min-reduction"]
        lines.append((baseline * (1 - t), f"ACT852: fitted below {1 - t:.0%} of the baseline", "threshold-vanish"))
    values = [v for r in runs for v in r.losses] + [v for v, _, _ in lines]
    scale = LogScale(values, top + 12, bottom - 12)
    panel = Panel(title="", y_label="loss (log)", x0=LEFT, y0=top, x1=WIDTH - RIGHT, y1=bottom,
                  y_ticks=scale.ticks(), x_ticks=ticks)
    legend = []
    for run, css in zip(runs, _RUN_CSS):
        series = Series(f"lr={run.lr:g}", css)
        path = []
        for step, loss in enumerate(run.losses):
            if not finite_positive(loss):
                if loss is not None and not math.isfinite(loss):
                    panel.flags.append(Marker(x(step), top + 4, f"lr={run.lr:g}: loss {sci(loss)} at step {step}",
                                              "nonfinite"))
                continue
            y = scale.y(loss)
            path.append(f"{'L' if path else 'M'}{x(step)},{y}")
            if len(run.losses) <= MAX_MARKERS:
                series.markers.append(Marker(x(step), y, f"lr={run.lr:g}, step {step}: loss {sci(loss)}"))
        series.path = " ".join(path)
        panel.series.append(series)
        origin = "the file's" if run is first and training.lr_explicit else ("default" if run is first else "sweep")
        legend.append(LegendItem(css, f"lr={run.lr:g} ({origin})", "line"))
    panel.hlines = [HLine(scale.y(v), label, css) for v, label, css in lines if finite_positive(v)]
    legend += [LegendItem(css, label.split(":")[0], "dash") for _, label, css in lines]
    notes = [f"{training.optimizer}, {training.loss} loss on one fixed batch of {training.batch_size} "
             f"({training.optimizer_origin}; loss: {training.loss_origin})."]
    if training.clipping:
        notes.append(f"Gradients clipped as the file does: {training.clipping}.")
    if training.sweep:
        notes.append("The batch was not fitted at the first learning rate, so the probe tried others.")
    notes += list(training.notes)
    return Chart(
        key="training-loss",
        title="Training probe: loss",
        description=(f"Log-scale loss over {steps} optimizer steps on one fixed batch, "
                     f"for {len(runs)} learning rate{'s' if len(runs) != 1 else ''}."),
        height=round(bottom + 34 + 4),
        panels=[panel],
        legend=legend,
        x_label="optimizer steps",
        notes=notes,
    )


def update_ratio_chart(training, options: dict[str, dict]) -> Chart:
    """Per weight tensor, log scale: the median update-to-weight ratio, with ACT853's bounds."""
    ratios = list(training.run.update_ratios)
    top, bottom = 16, 16 + GRADIENT_PLOT
    centers = _x_centers(len(ratios), LEFT, WIDTH - RIGHT)
    lines: list[tuple[float, str, str]] = []
    if "ACT853" in options:
        lines.append((options["ACT853"]["low"], f"ACT853 low: {options['ACT853']['low']:g}", "threshold-vanish"))
        lines.append((options["ACT853"]["high"], f"ACT853 high: {options['ACT853']['high']:g}", "threshold-explode"))
    scale = LogScale([r for _, r in ratios] + [v for v, _, _ in lines], top + 12, bottom - 12)
    named = len(ratios) <= MAX_NAMED_TICKS
    labels = [_short(name.rsplit(".", 1)[0] or name) for name, _ in ratios]
    widest = max((len(label) for label in labels), default=0) * _CHAR_PX
    rotate = named and bool(ratios) and widest > (WIDTH - RIGHT - LEFT) / len(ratios) - 6
    room = (22 + widest * 0.65 if rotate else 34) if named else 34
    ticks = ([Tick(x, label) for x, label in zip(centers, labels)] if named
             else [Tick(centers[i], str(i + 1)) for i in range(0, len(ratios), _nice_step(len(ratios) / 10))])
    panel = Panel(title="", y_label="update / weight (log)", x0=LEFT, y0=top, x1=WIDTH - RIGHT, y1=bottom,
                  y_ticks=scale.ticks(), x_ticks=ticks, rotate_x_labels=rotate)
    if not ratios:
        panel.empty = "No weight matrices or kernels were updated."
    series = Series("update ratio", "wgrad")
    path = []
    for (name, ratio), x in zip(ratios, centers):
        if ratio == 0:
            panel.flags.append(Marker(x, bottom - 4, f"{name}: exactly 0 (never updated)", "zero"))
            continue
        if not finite_positive(ratio):
            continue
        y = scale.y(ratio)
        path.append(f"{'L' if path else 'M'}{x},{y}")
        series.markers.append(Marker(x, y, f"{name}: {sci(ratio)}"))
    series.path = " ".join(path)
    panel.series.append(series)
    panel.hlines = [HLine(scale.y(v), label, css) for v, label, css in lines]
    notes = [f"||w_after - w_before|| / ||w_before|| per weight tensor, median over sampled steps at lr={training.run.lr:g}."]
    if any(f.css == "zero" for f in panel.flags):
        notes.append("Triangles at the bottom mark tensors that never moved.")
    return Chart(
        key="update-ratio",
        title="Training probe: update-to-weight ratios",
        description=f"Log-scale update-to-weight ratio of {len(ratios)} weight tensors in model order.",
        height=round(bottom + room + 4),
        panels=[panel],
        legend=[LegendItem("wgrad", "median update / weight", "line")]
        + [LegendItem(css, label.split(":")[0], "dash") for _, label, css in lines],
        x_label="weight tensors, input \u2192 output",
        notes=notes,
    )

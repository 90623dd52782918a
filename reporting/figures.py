"""The report's charts: matplotlib figures rendered to inline SVG, byte-identical for the
same data (fixed hash salt, no date, text kept as text in the reader's sans-serif font so
that no font is embedded or fetched). Every chart names its unit and population in its
axis labels; the caller's caption says where the uncertainty comes from."""
from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("svg")
from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator  # noqa: E402

from reporting.formats import decimal  # noqa: E402

RC = {
    "svg.hashsalt": "dmde-report",
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "legend.frameon": False,
    "legend.fontsize": 7.5,
    "path.simplify": False,
}
WIDTH_IN = 7.0  # the A4 text width (180 mm)
# Okabe–Ito: distinguishable by colour-blind readers and in grey on paper (with the markers)
COLOURS = {"blue": "#0072B2", "orange": "#E69F00", "vermilion": "#D55E00", "green": "#009E73",
           "purple": "#CC79A7", "sky": "#56B4E9", "grey": "#999999", "black": "#000000"}
BAND_COLOUR = "#dfeee5"


def _french(digits: int, scale: float = 1.0):
    return FuncFormatter(lambda value, _pos: decimal(value * scale, digits))


def to_svg(figure: Figure, name: str) -> str:
    """The figure as an <svg> element for inline HTML: no XML prolog or DOCTYPE (which
    names a remote DTD), no metadata, ids prefixed by `name` so that several charts can
    share one page."""
    buffer = io.StringIO()
    with matplotlib.rc_context(RC):
        FigureCanvasSVG(figure)
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', text)
    text = text.replace("url(#", f"url(#{name}-").replace('href="#', f'href="#{name}-')
    text = re.sub(r"<svg ", f'<svg role="img" aria-labelledby="{name}-title" ', text, count=1)
    return text.strip()


def _figure(height_in: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(WIDTH_IN, height_in), layout="constrained")


def _errors(values: Sequence[float | None], lows: Sequence[float | None], highs: Sequence[float | None]):
    lower = [v - lo if v is not None and lo is not None else 0 for v, lo, hi in zip(values, lows, highs)]
    upper = [hi - v if v is not None and hi is not None else 0 for v, lo, hi in zip(values, lows, highs)]
    return [lower, upper]


@dataclass
class Series:
    """Values of one rule or selection: value, low, high per x (None: absent; 's': suppressed)."""

    label: str
    colour: str
    marker: str = "o"
    values: list = field(default_factory=list)


def decile_bars(name: str, series: Sequence[Series], random: tuple | None, *, ylabel: str, xlabel: str,
                random_label: str) -> str:
    """Target rate per decile for each rule, Wilson bars; the random draw as a band."""
    with matplotlib.rc_context(RC):
        fig = _figure(3.0)
        ax = fig.add_subplot()
        width = 0.8 / max(1, len(series))
        top = 0.0
        for i, s in enumerate(series):
            xs = [d + (i - (len(series) - 1) / 2) * width for d in range(1, 11)]
            shown = [(x, v) for x, v in zip(xs, s.values) if isinstance(v, tuple) and v[0] is not None]
            if shown:
                vals = [v[0] for _, v in shown]
                ax.bar([x for x, _ in shown], vals, width=width * 0.92, color=s.colour, label=s.label,
                       yerr=_errors(vals, [v[1] for _, v in shown], [v[2] for _, v in shown]),
                       error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#222222"})
                top = max(top, max((v[2] or v[0]) for _, v in shown))
            for x, v in zip(xs, s.values):
                if v == "s":
                    ax.text(x, 0.002, "s", ha="center", va="bottom", fontsize=7, color=s.colour)
        if random is not None and random[0] is not None:
            rate, low, high = random
            ax.axhspan(low if low is not None else rate, high if high is not None else rate, color="#bbbbbb",
                       alpha=0.45, lw=0, label=random_label)
            ax.axhline(rate, color="#555555", lw=0.9, ls="--")
            top = max(top, high or rate)
        ax.set_xticks(range(1, 11))
        ax.set_xlim(0.4, 10.6)
        ax.set_ylim(0, top * 1.12 if top else 1)
        ax.yaxis.set_major_formatter(_french(0, 100))
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        ax.legend(loc="upper right", ncols=1)
        return to_svg(fig, name)


def calibration(name: str, points: Sequence[tuple], *, xlabel: str, ylabel: str, legend: str,
                diagonal_label: str) -> str:
    """Observed rate (Wilson bars) against the mean predicted probability, per decile."""
    with matplotlib.rc_context(RC):
        fig = _figure(3.2)
        ax = fig.add_subplot()
        shown = [p for p in points if p[1] is not None and p[2] is not None]
        top = max([0.05, *(p[1] for p in shown), *((p[4] or p[2]) for p in shown)]) * 1.1
        ax.plot([0, top], [0, top], color="#777777", lw=0.9, ls="--", label=diagonal_label)
        if shown:
            xs, ys = [p[1] for p in shown], [p[2] for p in shown]
            ax.errorbar(xs, ys, yerr=_errors(ys, [p[3] for p in shown], [p[4] for p in shown]), fmt="o",
                        color=COLOURS["blue"], ms=4, elinewidth=0.9, capsize=2, label=legend)
            for decile, x, y, *_ in shown:
                ax.annotate(str(decile), (x, y), textcoords="offset points", xytext=(5, -3), fontsize=6.5,
                            color="#333333")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_aspect("equal", adjustable="box")
        ax.xaxis.set_major_formatter(_french(0, 100))
        ax.yaxis.set_major_formatter(_french(0, 100))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper left")
        return to_svg(fig, name)


@dataclass
class ForestLine:
    label: str
    header: bool = False  # an attribute's name, above its categories
    bold: bool = False    # a flagged line
    values: dict = field(default_factory=dict)  # series key -> (value, low, high) | "s" | None


def forest_limits(lines: Sequence[ForestLine], band: Sequence[float]) -> tuple[float, float]:
    """The x range of forest plots that should share one scale."""
    values = [v for line in lines for v in line.values.values() if isinstance(v, tuple) and v[0]]
    low = min([band[0] * 0.9, *(v[1] or v[0] for v in values)])
    high = max([band[1] * 1.1, *(v[2] or v[0] for v in values)])
    return max(low * 0.92, 0.1), min(high * 1.08, 10)


def forest(name: str, lines: Sequence[ForestLine], series: Sequence[tuple[str, str, str, str]],
           band: Sequence[float] | None, *, xlabel: str, band_label: str,
           limits: tuple[float, float] | None = None) -> str:
    """One line per category, a marker with its interval per series, log scale, the band
    shaded (none when `band` is None). `series`: (key, label, colour, marker); `limits`: a
    shared x range (values beyond it are drawn at its edge)."""
    with matplotlib.rc_context(RC):
        height = 0.95 + 0.17 * len(lines)
        fig = Figure(figsize=(WIDTH_IN, height))  # fixed margins: the forests of a section align
        fig.subplots_adjust(left=0.43, right=0.98, top=1 - 0.42 / height, bottom=0.4 / height)
        ax = fig.add_subplot()
        low, high = limits or forest_limits(lines, band or (1, 1))
        if band is not None:
            ax.axvspan(band[0], band[1], color=BAND_COLOUR, lw=0, label=band_label, zorder=0)
        ax.axvline(1, color="#666666", lw=0.8, zorder=1)
        n = len(lines)
        offsets = [((len(series) - 1) / 2 - i) * 0.16 for i in range(len(series))]
        for k, (key, label, colour, marker) in enumerate(series):
            xs, ys, lo, hi = [], [], [], []
            for i, line in enumerate(lines):
                v = line.values.get(key)
                y = n - 1 - i + offsets[k]
                if isinstance(v, tuple) and v[0] is not None:
                    x = min(max(v[0], low), high)
                    xs.append(x)
                    ys.append(y)
                    lo.append(x - min(max(v[1], low), high) if v[1] is not None else 0)
                    hi.append(min(max(v[2], low), high) - x if v[2] is not None else 0)
                elif v == "s":
                    ax.text(high, y, "s", ha="right", va="center", fontsize=6, color=colour)
            ax.errorbar(xs, ys, xerr=[lo, hi], fmt=marker, color=colour, ms=3.2, elinewidth=0.8, capsize=0,
                        label=label, zorder=3)
        ax.set_xscale("log")
        ax.set_xlim(low, high)
        candidates = (0.1, 0.25, 0.5, band[0], 1, band[1], 2, 4, 8) if band and high / low < 5 else \
            (0.1, 0.25, 0.5, 1, 2, 4, 8)
        ticks = [t for t in candidates if low <= t <= high]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: decimal(v, 2).rstrip("0").rstrip(",")))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks(range(n))
        ax.set_yticklabels([_short(line.label) for line in reversed(lines)])
        for tick, line in zip(ax.get_yticklabels(), reversed(lines)):
            if line.header or line.bold:
                tick.set_fontweight("bold")
            if line.bold and not line.header:
                tick.set_color(COLOURS["vermilion"])
        ax.tick_params(axis="y", length=0)
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlabel(xlabel)
        fig.legend(loc="upper center", ncols=min(3, len(series) + (band is not None)), bbox_to_anchor=(0.5, 1.0))
        return to_svg(fig, name)


def band_lines(name: str, bands: Sequence[str], series: Sequence[Series], *, ylabel: str, xlabel: str) -> str:
    """Share not controlled per band, one line per horizon, its Wilson interval shaded."""
    with matplotlib.rc_context(RC):
        fig = _figure(3.0)
        ax = fig.add_subplot()
        xs = list(range(len(bands)))
        drawn = False
        for s in series:
            points = [(x, v) for x, v in zip(xs, s.values) if isinstance(v, tuple) and v[0] is not None]
            if not points:
                continue
            drawn = True
            px = [x for x, _ in points]
            ax.plot(px, [v[0] for _, v in points], marker=s.marker, color=s.colour, ms=3.5, lw=1.2, label=s.label)
            ax.fill_between(px, [v[1] if v[1] is not None else v[0] for _, v in points],
                            [v[2] if v[2] is not None else v[0] for _, v in points], color=s.colour, alpha=0.18,
                            lw=0)
            for x, v in zip(xs, s.values):
                if v == "s":
                    ax.text(x, 0.02, "s", ha="center", fontsize=6.5, color=s.colour)
        ax.set_xticks(xs)
        ax.set_xticklabels(bands, rotation=35, ha="right")
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(_french(0, 100))
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        if drawn:
            ax.legend(loc="lower right")
        else:  # no cohort followed long enough yet: say so rather than draw an empty legend
            ax.text(0.5, 0.5, "aucune cohorte suivie assez longtemps", transform=ax.transAxes, ha="center",
                    va="center", fontsize=8, color="#555555")
        return to_svg(fig, name)


def caf_dots(name: str, series: Sequence[Series], national: dict[str, float | None], *, ylabel: str,
             xlabel: str, national_label: str) -> str:
    """Control rate per Caf (one dot per Caf and mode, Caf ranked by their overall rate)
    and the national rate of each mode as a line."""
    with matplotlib.rc_context(RC):
        fig = _figure(2.9)
        ax = fig.add_subplot()
        for s in series:
            points = [(x, v) for x, v in enumerate(s.values, start=1) if v is not None]
            ax.scatter([x for x, _ in points], [v for _, v in points], s=9, color=s.colour, marker=s.marker,
                       label=s.label, lw=0, zorder=3)
            if national.get(s.label) is not None:
                ax.axhline(national[s.label], color=s.colour, lw=0.8, ls="--", zorder=2)
        ax.plot([], [], color="#555555", lw=0.8, ls="--", label=national_label)
        n = max((len(s.values) for s in series), default=1)
        ax.set_xlim(0, n + 1)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(_french(0))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper right", ncols=2)
        return to_svg(fig, name)


def psi_bars(name: str, labels: Sequence[str], values: Sequence[float | None], highlighted: Sequence[bool],
             thresholds: Sequence[tuple[float, str]], *, xlabel: str) -> str:
    """PSI per variable, horizontal bars, the thresholds as vertical lines."""
    with matplotlib.rc_context(RC):
        fig = _figure(0.6 + 0.2 * len(labels))
        ax = fig.add_subplot()
        ys = list(range(len(labels)))[::-1]
        shown = [v if v is not None else 0 for v in values]
        colours = [COLOURS["vermilion"] if h else COLOURS["blue"] for h in highlighted]
        ax.barh(ys, shown, color=colours, height=0.65)
        top = max([*(t for t, _ in thresholds), *shown]) * 1.12
        for (threshold, label), style in zip(thresholds, ("--", "-")):
            ax.axvline(threshold, color="#444444", lw=0.9, ls=style)
            ax.text(threshold, len(labels) - 0.4, f" {label}", fontsize=6.5, va="bottom", color="#444444")
        ax.set_yticks(ys)
        ax.set_yticklabels(labels)
        for tick, h in zip(ax.get_yticklabels(), highlighted):
            if h:
                tick.set_fontweight("bold")
        ax.set_xlim(0, top if top > 0 else 0.3)
        ax.set_ylim(-0.6, len(labels) - 0.1 + 0.5)
        ax.xaxis.set_major_formatter(_french(2))
        ax.set_xlabel(xlabel)
        ax.tick_params(axis="y", length=0)
        return to_svg(fig, name)


def _short(label: str, width: int = 46) -> str:
    """A forest line's label within the left margin (the table beside it has it whole)."""
    return label if len(label) <= width else label[: width - 1].rstrip() + "…"


def finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None

"""Inline SVG charts for the HTML report: each has both axes with ticks and tick labels, an axis
label naming the quantity and its unit, and a legend. Pure functions, numbers in and markup out;
no script, no external resource. Labels that may come from scanned data (provider names) are
escaped by the `escape` the caller passes; the rest is keysweep's own text, escaped here too.

Every chart is `<svg class="chart">` holding `text.axis-label.x-label`, `text.axis-label.y-label`,
`g.x-axis` and `g.y-axis` (each a `g.tick` per tick) and `g.legend`, the names the browser test
reads."""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from typing import Callable, Sequence

Escape = Callable[[str], str]

WIDTH, HEIGHT = 600, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 36, 56
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
COLOURS = ("#c0392b", "#2471a3", "#7d3c98", "#229954")

# Time units for an axis, largest first: (name, seconds).
TIME_UNITS = (("days", 86400), ("hours", 3600), ("minutes", 60), ("seconds", 1))


def nice_ticks(top: float, count: int = 5, *, whole: bool = False) -> list[float]:
    """0 and evenly spaced round values (1, 2, 2.5 or 5 × 10^n apart) up to at least `top`; with
    `whole` (counts of things) the step is a whole number."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1, math.ceil(step))
    ticks = [0.0]
    while ticks[-1] < top - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def time_unit(largest_seconds: float) -> tuple[str, int]:
    """The unit an axis of durations up to `largest_seconds` reads best in (at least 2 of it)."""
    return next(((name, size) for name, size in TIME_UNITS if largest_seconds >= 2 * size), TIME_UNITS[-1])


def number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def _frame(label: str, x_label: str, y_label: str, legend: Sequence[tuple[str, str]]) -> list[str]:
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" aria-label="{html.escape(label)}">',
             f'<text class="axis-label x-label" x="{LEFT + PLOT_W / 2:.1f}" y="{HEIGHT - 8}" '
             f'text-anchor="middle">{html.escape(x_label)}</text>',
             f'<text class="axis-label y-label" transform="translate(14,{TOP + PLOT_H / 2:.1f}) rotate(-90)" '
             f'text-anchor="middle">{html.escape(y_label)}</text>',
             '<g class="legend">']
    x = LEFT
    for name, colour in legend:
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="18">{html.escape(name)}</text>')
        x += 28 + 7 * len(name)
    parts.append("</g>")
    return parts


def _y_axis(ticks: list[float], top: float, fmt: Callable[[float], str] = number) -> list[str]:
    parts = ['<g class="axis y-axis">',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + PLOT_H}" stroke="#444"/>']
    for tick in ticks:
        y = TOP + PLOT_H - PLOT_H * tick / top
        parts.append(f'<g class="tick"><line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT + PLOT_W}" y2="{y:.1f}" '
                     f'stroke="#ddd"/><text x="{LEFT - 7}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{html.escape(fmt(tick))}</text></g>')
    parts.append("</g>")
    return parts


def _x_axis_line() -> str:
    return f'<line x1="{LEFT}" y1="{TOP + PLOT_H}" x2="{LEFT + PLOT_W}" y2="{TOP + PLOT_H}" stroke="#444"/>'


def bar_chart(label: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *,
              x_label: str, y_label: str, escape: Escape, fmt: Callable[[float], str] = number,
              whole: bool = False) -> str:
    """Grouped bars: one group per category, one bar per series (with its value as the bar's title);
    `whole` when the values are counts."""
    top_value = max((v for _name, values in series for v in values), default=0)
    ticks = nice_ticks(top_value, whole=whole)
    top = ticks[-1]
    legend = [(name, COLOURS[i % len(COLOURS)]) for i, (name, _values) in enumerate(series)]
    parts = _frame(label, x_label, y_label, legend) + _y_axis(ticks, top, fmt)
    group = PLOT_W / max(len(categories), 1)
    bar = min((group - 8) / max(len(series), 1), 48)
    inset = (group - bar * len(series)) / 2
    parts.append('<g class="axis x-axis">' + _x_axis_line())
    for index, category in enumerate(categories):
        x = LEFT + index * group
        parts.append(f'<g class="tick"><line x1="{x + group / 2:.1f}" y1="{TOP + PLOT_H}" x2="{x + group / 2:.1f}" '
                     f'y2="{TOP + PLOT_H + 4}" stroke="#444"/><text x="{x + group / 2:.1f}" y="{TOP + PLOT_H + 17}" '
                     f'text-anchor="middle">{escape(category)}</text></g>')
    parts.append("</g><g class=\"bars\">")
    for s, (name, values) in enumerate(series):
        for index, value in enumerate(values):
            h = PLOT_H * value / top
            x = LEFT + index * group + inset + s * bar
            parts.append(f'<rect x="{x:.1f}" y="{TOP + PLOT_H - h:.1f}" width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
                         f'fill="{legend[s][1]}"><title>{html.escape(name)}, {escape(categories[index])}: '
                         f'{html.escape(fmt(value))}</title></rect>')
    parts.append("</g></svg>")
    return "".join(parts)


def step_chart(label: str, series: Sequence[tuple[str, Sequence[tuple[datetime, float]]]], *,
               x_label: str, y_label: str) -> str:
    """Lines over time that hold their value until the next point (counts that change at events)."""
    moments = [m for _name, points in series for m, _v in points]
    start, end = min(moments).timestamp(), max(moments).timestamp()
    if end - start < 3600:  # one moment, or a few close together: an hour of axis around them
        start, end = start - 1800, end + 1800
    ticks = nice_ticks(max((v for _name, points in series for _m, v in points), default=0), whole=True)
    top = ticks[-1]
    legend = [(name, COLOURS[(i + 1) % len(COLOURS)]) for i, (name, _points) in enumerate(series)]
    parts = _frame(label, x_label, y_label, legend) + _y_axis(ticks, top)

    def x_of(moment: float) -> float:
        return LEFT + PLOT_W * (moment - start) / (end - start)

    parts.append('<g class="axis x-axis">' + _x_axis_line())
    span = end - start
    fmt = "%Y-%m-%d" if span >= 3 * 86400 else "%m-%d %H:%M"
    for i in range(5):
        moment = start + span * i / 4
        x = x_of(moment)
        text = datetime.fromtimestamp(moment, timezone.utc).strftime(fmt)
        parts.append(f'<g class="tick"><line x1="{x:.1f}" y1="{TOP + PLOT_H}" x2="{x:.1f}" y2="{TOP + PLOT_H + 4}" '
                     f'stroke="#444"/><text x="{x:.1f}" y="{TOP + PLOT_H + 17}" text-anchor="middle">{text}</text></g>')
    parts.append("</g>")
    for (name, points), (_legend, colour) in zip(series, legend):
        coords: list[str] = []
        previous = None
        for moment, value in sorted(points):
            x, y = x_of(moment.timestamp()), TOP + PLOT_H - PLOT_H * value / top
            if previous is not None:
                coords.append(f"{x:.1f},{previous:.1f}")
            coords.append(f"{x:.1f},{y:.1f}")
            previous = y
        parts.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{" ".join(coords)}"><title>{html.escape(name)}</title></polyline>')
    parts.append("</svg>")
    return "".join(parts)

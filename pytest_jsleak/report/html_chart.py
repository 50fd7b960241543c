"""The HTML report's charts: an item's memory samples as an inline SVG, and the index's sparkline."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_jsleak.report.html_assets import esc
from pytest_jsleak.units import format_bytes


def sample_rows(entry: Mapping[str, Any]) -> list[dict[str, int]]:
    """The entry's samples (`MemorySample.to_dict()`: iteration, heap, external, rss), as ints."""
    return [
        {key: int(sample.get(key) or 0) for key in ("iteration", "heap", "external", "rss")}
        for sample in entry.get("samples") or []
    ]


SERIES = (
    ("heap", "JS heap after GC", "#0969da"),
    ("external", "external (ArrayBuffers, …)", "#8250df"),
    ("rss", "resident set (RSS)", "#57606a"),
)
CHART_WIDTH = 660
PANEL_HEIGHT = 74
PLOT_LEFT = 8
PLOT_RIGHT = 560
AXIS_HEIGHT = 18


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + format_bytes(value)


def _value_range(values: Sequence[int]) -> tuple[float, float]:
    """(low, span) of a plot: at least 0.5 % of the value, so GC noise of a few hundred bytes stays flat."""
    low: float = min(values)
    high = max(values)
    span = max(high - low, math.ceil(0.005 * high), 1)
    if high - low < span:
        low -= (span - (high - low)) / 2
    return low, span


SPARK_POINTS = 40


def sparkline_svg(entry: Mapping[str, Any]) -> str:
    """Heap + external as a 90×18 line for the index: the shape of every item at a glance."""
    rows = sample_rows(entry)
    if len(rows) < 2:
        return ""
    values = [row["heap"] + row["external"] for row in rows]  # what the verdict judges, as in the terminal
    if len(values) > SPARK_POINTS:
        step = (len(values) - 1) / (SPARK_POINTS - 1)
        values = [values[round(i * step)] for i in range(SPARK_POINTS)]
    low, span = _value_range(values)
    points = " ".join(
        f"{1 + i / (len(values) - 1) * 88:.1f},{1 + (1 - (v - low) / span) * 16:.1f}" for i, v in enumerate(values)
    )
    return (f'<svg class="spark" viewBox="0 0 90 18" aria-hidden="true">'
            f'<polyline points="{points}" fill="none" stroke-width="1.3"/></svg>')


def chart(entry: Mapping[str, Any]) -> str:
    """An inline SVG: one panel per measured series (heap, external, RSS), on a shared iteration axis.

    Each panel is scaled to its own range (RSS is tens of MB, the heap's growth a few KB), with a floor
    of 0.5 % of the value so that GC noise of a few hundred bytes draws as the flat line it is. The
    snapshot points S1–S3 of the confirming rounds are marked.
    """
    rows = sample_rows(entry)
    series = [(key, label, colour) for key, label, colour in SERIES if any(row[key] for row in rows)]
    if not rows or not series:
        why = " (the check stopped before measuring)" if entry.get("verdict") == "error" else ""
        return ('<svg class="chart" role="img" aria-label="no samples" viewBox="0 0 640 24">'
                f'<text x="8" y="16" class="muted">no samples{why}</text></svg>')
    first_it, last_it = rows[0]["iteration"], rows[-1]["iteration"]
    span_it = max(1, last_it - first_it)

    def x_of(iteration: int) -> float:
        return PLOT_LEFT + (iteration - first_it) / span_it * (PLOT_RIGHT - PLOT_LEFT)

    height = len(series) * PANEL_HEIGHT + AXIS_HEIGHT
    parts = []
    descriptions = []
    for position, (key, label, colour) in enumerate(series):
        values = [row[key] for row in rows]
        first, last = values[0], values[-1]
        low, span = _value_range(values)
        top = position * PANEL_HEIGHT + 16
        plot_h = PANEL_HEIGHT - 22
        points = " ".join(
            f"{x_of(row['iteration']):.1f},{top + (1 - (v - low) / span) * plot_h:.1f}"
            for row, v in zip(rows, values, strict=True)
        )
        summary = f"{format_bytes(first)} → {format_bytes(last)} ({_signed(last - first)})"
        descriptions.append(f"{label}: {summary}")
        parts.append(
            f'<text x="{PLOT_LEFT}" y="{top - 4}" class="series">{esc(label)}'
            f'<tspan class="muted"> {esc(summary)}</tspan></text>'
            f'<rect x="{PLOT_LEFT}" y="{top}" width="{PLOT_RIGHT - PLOT_LEFT}" height="{plot_h}" class="plot"/>'
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.6"'
            f' stroke-linejoin="round"/>'
            f'<text x="{PLOT_RIGHT + 6}" y="{top + 8}" class="tick">{esc(_signed(low + span - first))}</text>'
            f'<text x="{PLOT_RIGHT + 6}" y="{top + plot_h}" class="tick">{esc(_signed(low - first))}</text>'
        )
    bottom = len(series) * PANEL_HEIGHT
    markers = []
    iterations = int(entry.get("iterations") or 0)
    if entry.get("method") in ("ids", "counts") and iterations and last_it >= 3 * iterations:
        for n, name in ((1, "S1"), (2, "S2"), (3, "S3")):
            x = x_of(n * iterations)
            markers.append(
                f'<line x1="{x:.1f}" y1="10" x2="{x:.1f}" y2="{bottom - 4}" class="marker"/>'
                f'<text x="{x:.1f}" y="{bottom + 12}" class="tick" text-anchor="middle">{name} @{n * iterations}</text>'
            )
    end_label = "" if markers else str(last_it)  # S3 marks the end already
    axis = (
        f'<text x="{PLOT_LEFT}" y="{bottom + 12}" class="tick">{first_it}</text>'
        f'<text x="{PLOT_RIGHT}" y="{bottom + 12}" class="tick" text-anchor="end">{end_label}</text>'
        f'<text x="{PLOT_RIGHT + 30}" y="{bottom + 12}" class="tick">iteration</text>'
    )
    aria = "; ".join(descriptions)
    return (
        f'<svg class="chart" role="img" aria-label="{esc(aria)}" viewBox="0 0 {CHART_WIDTH} {height}"'
        f' preserveAspectRatio="xMinYMin meet">{"".join(parts)}{"".join(markers)}{axis}</svg>'
    )


__all__ = ["SERIES", "chart", "sample_rows", "sparkline_svg"]

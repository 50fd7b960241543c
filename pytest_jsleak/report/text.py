"""The leak report as text (DESIGN §6): verdict line, survivors table, retainer paths, sparkline."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from pytest_jsleak.model import LeakResult
from pytest_jsleak.units import format_bytes

SPARK_LEVELS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60


def sparkline(values: Sequence[int], width: int = SPARK_WIDTH) -> str:
    """One character per sample (averaged down to `width`), lowest to highest over the range."""
    if not values:
        return ""
    if len(values) > width:
        chunk = len(values) / width
        values = [
            round(
                sum(values[int(i * chunk) : int((i + 1) * chunk)])
                / max(1, int((i + 1) * chunk) - int(i * chunk))
            )
            for i in range(width)
        ]
    low, high = min(values), max(values)
    if high == low:
        return SPARK_LEVELS[0] * len(values)
    scale = (len(SPARK_LEVELS) - 1) / (high - low)
    return "".join(SPARK_LEVELS[round((v - low) * scale)] for v in values)


def headline(result: LeakResult, label: str | None = None) -> str:
    """Line 1 of the report: scenario, runtime, iterations, growth per iteration, total."""
    name = label or f"{result.target}::{result.scenario}"
    runtime = f"{result.runtime} {result.runtime_version}".strip()
    if result.verdict == "error":
        return f"ERROR in {name} ({runtime}): {_first_line(result.error)}"
    word = "LEAK" if result.verdict == "leak" else "clean"
    rounds = "2 rounds of " if result.method in ("ids", "counts") else ""
    return (
        f"{word}: {name} ({runtime}), {rounds}{result.iterations} iterations: "
        f"{format_bytes(result.growth_per_iteration)} retained per iteration, "
        f"{format_bytes(result.total_growth)} in total"
    )


def survivors_table(result: LeakResult) -> str:
    rows = [
        (s.class_name, s.new_alive, f"{s.per_iteration:.2f}", format_bytes(s.retained_bytes))
        for s in result.suspects
    ]
    return tabulate(
        rows,
        headers=("surviving class", "new objects alive", "per iteration", "retained"),
        colalign=("left", "right", "right", "right"),
        disable_numparse=True,
    )


def heap_line(result: LeakResult) -> str:
    if not result.samples:
        return ""
    first, last = result.samples[0], result.samples[-1]
    return (
        f"heap used after GC: {sparkline(result.samples)}  "
        f"{format_bytes(first)} → {format_bytes(last)} ({len(result.samples)} samples)"
    )


def snapshots_line(result: LeakResult) -> str:
    if not result.snapshot_paths:
        return ""
    final = result.snapshot_paths[-1]
    return (
        f"snapshots kept in {result.snapshot_dir or ''}\n"
        f"  open {final} in Chrome DevTools (Memory tab → Load) to dig further"
    )


def render(result: LeakResult, label: str | None = None) -> str:
    """The whole report of one check: the pytest failure text and the terminal section."""
    from pytest_jsleak.report.paths import format_retainer_path

    parts = [headline(result, label)]
    if result.verdict == "error":
        if result.error and "\n" in result.error:
            parts.append(result.error.split("\n", 1)[1].rstrip())
    elif result.suspects:
        parts += ["", survivors_table(result)]
        for suspect in result.suspects:
            if suspect.path is None:
                continue
            parts += ["", f"why {suspect.class_name} is alive (shortest retainer path from the GC roots):"]
            parts.append(format_retainer_path(suspect.path))
    parts += ["", *result.notes] if result.notes else []
    extra = [line for line in (heap_line(result), snapshots_line(result)) if line]
    if extra:
        parts += ["", *extra]
    return "\n".join(parts).rstrip()


def _first_line(text: str | None) -> str:
    return (text or "unknown error").strip().split("\n", 1)[0]


__all__ = ["headline", "heap_line", "render", "sparkline", "survivors_table"]

"""The leak report as text (DESIGN §6): verdict line, survivors table, retainer paths, sparkline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tabulate import tabulate

from pytest_jsleak.model import (
    HARNESS_PREFIX,
    MODULE_SCOPE,
    VARIABLE_EDGE_TYPES,
    HandleGrowth,
    InPlaceGrowth,
    LeakResult,
    PathStep,
    RetainerPath,
    is_scope_class,
)
from pytest_jsleak.report.fold import Repeat, fold_repeats
from pytest_jsleak.report.paths import edge_label, node_label
from pytest_jsleak.report.sites import sites_lines
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
    rounds = "2 rounds of " if result.method in ("ids", "counts") else ""
    calls = f"{rounds}{result.round_iterations or result.iterations} iterations"
    if result.verdict == "inconclusive":
        return f"INCONCLUSIVE: {name} ({runtime}), {calls}: {result.reason or 'the evidence did not settle'}"
    word = VERDICT_WORDS.get(result.verdict, result.verdict)
    piled = "".join(f"{growth.per_iteration:.2f} {growth.kind} per iteration, " for growth in result.handles[:2])
    line = (
        f"{word}: {name} ({runtime}), {calls}: {piled}"
        f"{format_bytes(result.growth_per_iteration)} retained per iteration, "
        f"{format_bytes(result.total_growth)} in total"
    )
    recorded = (result.baseline or {}).get("recorded") or {}
    if result.verdict in ("known", "fixed") and recorded:
        tolerance = (result.baseline or {}).get("tolerance")
        within = f", tolerance {tolerance:g}%" if result.verdict == "known" and tolerance is not None else ""
        line += f" (baseline {format_bytes(recorded.get('growth_per_iteration') or 0)}/iteration{within})"
    return line


VERDICT_WORDS = {"leak": "LEAK", "clean": "clean", "known": "KNOWN LEAK", "fixed": "FIXED"}


def inconclusive_lines(result: LeakResult) -> list[str]:
    """What an inconclusive verdict adds under its headline: what to change, and what was measured."""
    lines = []
    if result.advice:
        lines.append(f"what to change: {result.advice}")
    if result.measured_growth_per_iteration:
        lines.append(
            f"measured: {format_bytes(result.measured_growth_per_iteration)}/iteration over the rounds "
            f"(heap + external), {format_bytes(result.growth_per_iteration)}/iteration accounted for by objects"
        )
    lines.append("it passes with a warning; --jsleak-strict (ini jsleak_strict, marker strict=True) fails it")
    return lines


def baseline_change_lines(result: LeakResult) -> list[str]:
    """A leak the baseline does not accept: what changed against its entry, one line each."""
    baseline = result.baseline or {}
    changes = baseline.get("changes") or []
    if result.verdict != "leak" or not changes:
        return []
    return ["against the baseline:", *(f"  {change}" for change in changes)]


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


def _signed(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}{format_bytes(abs(value))}"


def heap_line(result: LeakResult) -> str:
    """The samples: a sparkline of heap + external, then how each part and the resident set moved."""
    if not result.samples:
        return ""
    first, last = result.samples[0], result.samples[-1]
    retained = [s.retained for s in result.samples]
    line = (
        f"memory after GC (heap + external): {sparkline(retained)}  "
        f"{format_bytes(first.retained)} → {format_bytes(last.retained)} "
        f"({_signed(last.retained - first.retained)}, {len(result.samples)} samples)"
    )
    parts = [f"heap {_signed(last.heap - first.heap)}", f"external {_signed(last.external - first.external)}"]
    if first.rss and last.rss:
        parts.append(f"RSS {format_bytes(first.rss)} → {format_bytes(last.rss)}")
    return f"{line}\n  {', '.join(parts)}"


def snapshots_line(result: LeakResult) -> str:
    if not result.snapshot_paths:
        return ""
    final = result.snapshot_paths[-1]
    redacted = " (string values redacted: --jsleak-redact=off keeps them)" if result.redacted else ""
    return (
        f"snapshots kept in {result.snapshot_dir or ''}{redacted}\n"
        f"  open {final} in Chrome DevTools (Memory tab → Load) to dig further"
    )


def render(result: LeakResult, label: str | None = None) -> str:
    """The whole report of one check: the pytest failure text and the terminal section."""
    parts = [headline(result, label)]
    if result.verdict == "inconclusive":
        parts += inconclusive_lines(result)
    parts += baseline_change_lines(result)
    if result.verdict == "error":
        if result.error and "\n" in result.error:
            parts.append(result.error.split("\n", 1)[1].rstrip())
    elif result.suspects:
        parts += ["", survivors_table(result)]
        explained_at = {item.index: item for item in explain_paths([suspect.path for suspect in result.suspects])}
        for index, suspect in enumerate(result.suspects):
            # Where the objects were made: the line the fix usually goes to.
            sites = sites_lines(suspect.allocation_sites)
            explained = explained_at.get(index)
            if explained is None:
                if sites:
                    parts += ["", f"where {suspect.class_name} was allocated:", *sites]
                continue
            if not explained.full:
                parts += ["", f"{suspect.class_name} is held by: {explained.holder}", *sites]
                continue
            parts += ["", f"why {suspect.class_name} is alive (shortest retainer path from the GC roots):"]
            if explained.holder:
                parts.append(f"  held by: {explained.holder}")
            parts += sites
            parts.append(format_folded_path(explained.path))
    for grown in result.grown_in_place:
        parts += ["", grown_line(grown)]
        if grown.path is not None:
            parts.append(format_folded_path(grown.path))
    for growth in result.handles:
        parts += ["", handle_line(growth), *sites_lines(growth.sites, verb="created at")]
    parts += ["", *result.notes] if result.notes else []
    extra = [line for line in (heap_line(result), snapshots_line(result)) if line]
    if extra:
        parts += ["", *extra]
    return "\n".join(parts).rstrip()


def handle_line(growth: HandleGrowth) -> str:
    """`Timeout: 1.00 more active per iteration (+200 in round A, +200 in round B; 402 active at the end)`."""
    gained = ", ".join(f"+{gain} in round {name}" for gain, name in zip(growth.rounds, "AB", strict=False))
    return (f"{growth.kind}: {growth.per_iteration:.2f} more active per iteration ({gained}; "
            f"{growth.active} active at the end)")


def grown_line(grown: InPlaceGrowth) -> str:
    """`latencies (variable) → Array grew by 10.5 B/iteration, no new objects: 2.8 KB → 4.4 KB → 6.7 KB retained`."""
    holder = held_by(grown.path) if grown.path is not None else ""
    what = holder or f"{grown.class_name} @{grown.node_id}"
    if grown.entries:
        # Per call: the entries gained over the bytes they were charged, times the bytes per call.
        span = max(1, grown.sizes[-1] - grown.sizes[0])
        gained = (grown.entries[-1] - grown.entries[0]) * grown.per_iteration / span
        counts = " → ".join(f"{count:,}" for count in grown.entries)
        return (f"{what} gained {gained:.2f} entries/iteration, no new objects: {counts} entries "
                f"(at least {format_bytes(grown.per_iteration)}/iteration)")
    sizes = " → ".join(format_bytes(size) for size in grown.sizes)
    return f"{what} grew by {format_bytes(grown.per_iteration)}/iteration, no new objects: {sizes} retained"


@dataclass(frozen=True, slots=True)
class ExplainedPath:
    """How the report explains one suspect's retainer path (shared by the text and HTML reports)."""

    index: int
    """Position of the suspect in the result's list."""
    path: RetainerPath
    holder: str
    """The `held by` line (empty when no variable of the target's code is on the path)."""
    full: bool
    """False when the holder runs through a suspect already explained: the one line is enough."""


def explain_paths(paths: Sequence[RetainerPath | None]) -> list[ExplainedPath]:
    """The suspects' paths in report order; those reached through an earlier holder get one line only."""
    explained: list[ExplainedPath] = []
    shown: list[str] = []
    for index, path in enumerate(paths):
        if path is None:
            continue
        holder = held_by(path)
        if holder and any(holder.startswith(earlier + " → ") for earlier in shown):
            # Reached through a suspect already explained (a record's string): one line is enough.
            explained.append(ExplainedPath(index, path, holder, full=False))
            continue
        if holder:
            shown.append(holder)
        explained.append(ExplainedPath(index, path, holder, full=True))
    return explained


def held_by(path: RetainerPath) -> str:
    """`requestLog (variable) → Array → [250] → RequestRecord`: the path from the first named variable on.

    The steps before it (GC roots, the harness, the module record) say how the scope itself is alive,
    which is rarely the question.
    """
    steps = path.steps
    listener = _held_by_listener(steps)
    if listener:
        return listener
    for position in range(1, len(steps)):
        step = steps[position]
        if step.edge_name.startswith(HARNESS_PREFIX) if step.edge_name else True:
            continue  # the harness's own table of the target's exports, not the target's variable
        if step.edge_type in VARIABLE_EDGE_TYPES and is_scope_class(steps[position - 1].class_name):
            kind = {"context": " (variable)", "import": " (import)"}.get(step.edge_type or "", "")
            scope = steps[position - 1]
            if step.edge_type == "context" and scope.node_name.startswith(MODULE_SCOPE + " "):
                module = scope.node_name[len(MODULE_SCOPE) + 1:]
                if module.startswith("node:") or "node_modules/" in module:
                    kind = f" (variable in {module})"  # the runtime's or a library's, not yours
            parts = [f"{step.edge_name}{kind}"]
            parts.append(node_label(step))
            for item in fold_repeats(steps[position + 1:]):
                if isinstance(item, Repeat):
                    block = " → ".join(_inline(s) for s in item.steps)
                    # A chain of closures (a function wrapped again on every call): the function
                    # whose wrapping repeats, and where it is defined.
                    made = next((s for s in item.steps if s.node_type == "closure" and s.location), None)
                    where = f" at {made.location}" if made else ""
                    parts.append(f"({block}) ×{item.times}{where}")
                else:
                    parts.append(_inline(item))
            return " → ".join(parts)
    return ""


def _held_by_listener(steps: Sequence[PathStep]) -> str:
    """`Window keydown listener onDialogKeydown() → box → Detached HTMLElement`: a DOM event
    listener on the path (heap/dom.py) is what holds everything after it; the steps before it say
    how the event target itself is alive."""
    for position in range(1, len(steps)):
        step = steps[position]
        if step.edge_type != "listener":
            continue
        target = node_label(steps[position - 1])
        parts = [f"{target} {edge_label(step)} {node_label(step)}"]
        for item in steps[position + 1:]:
            if is_scope_class(item.class_name) and item.edge_type == "internal":
                continue  # the function's own context: its variables follow
            parts.append(_inline(item))
        return " → ".join(parts)
    return ""


def _inline(step: PathStep) -> str:
    if step.edge_type == "element":
        edge = f"[{step.edge_name}]"
    elif step.edge_type in ("property", "context", "shortcut") and step.edge_name:
        edge = step.edge_name
    else:
        return node_label(step)
    return f"{edge} → {node_label(step)}"


def format_folded_path(path: RetainerPath, indent: str = "  ") -> str:
    """One line per edge, root first; a run repeated three times or more prints once with its count."""
    steps = list(path.steps)
    if len(steps) > 1 and steps[0].node_type == "synthetic" and not steps[0].node_name:
        steps = steps[1:]  # V8's nameless root node: the path reads from "(GC roots)"
    if not steps:
        return f"{indent}(empty path)"
    lines = [f"{indent}{node_label(steps[0])} @{steps[0].node_id}"]

    def line(step: PathStep, pad: str) -> str:
        text = f"{pad}{edge_label(step)} → {node_label(step)} @{step.node_id} ({step.self_size} B)"
        return text + (f" at {step.location}" if step.location else "")

    for item in fold_repeats(steps[1:]):
        if isinstance(item, Repeat):
            lines.append(f"{indent}  ┌ {item.times} times:")
            lines += [line(step, f"{indent}  │ ") for step in item.steps]
            lines.append(f"{indent}  └")
        else:
            lines.append(line(item, f"{indent}  "))
    return "\n".join(lines)


def _first_line(text: str | None) -> str:
    return (text or "unknown error").strip().split("\n", 1)[0]


__all__ = [
    "ExplainedPath", "baseline_change_lines", "explain_paths", "format_folded_path", "handle_line", "headline",
    "heap_line", "held_by",
    "inconclusive_lines", "render", "sparkline", "survivors_table",
]

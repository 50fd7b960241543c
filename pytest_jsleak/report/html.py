"""The run's HTML report (DESIGN §13): one self-contained page a reviewer opens from the CI artefacts.

It is rendered from the same JSON-ready entries as the JSON document (`LeakResult.to_dict()` plus the
node id), so the xdist controller writes it from the workers' results. No template engine: the page is
a dozen small functions, and one rule keeps it safe — every text that comes from a target (class
names, strings in snapshots, error output, file names) goes through `esc()`. The page loads nothing:
its Content-Security-Policy allows only its own style and script, by hash.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pytest_jsleak import __version__
from pytest_jsleak.model import InPlaceGrowth, PathStep, RetainerPath
from pytest_jsleak.report.fold import Repeat, fold_repeats
from pytest_jsleak.report.json_report import write_text_atomically
from pytest_jsleak.report.paths import edge_label, node_label
from pytest_jsleak.report.text import explain_paths, grown_line
from pytest_jsleak.units import format_bytes

VERDICT_ORDER = {"leak": 0, "error": 1, "inconclusive": 2, "known": 3, "fixed": 4, "clean": 5}
VERDICT_WORD = {"leak": "LEAK", "error": "ERROR", "inconclusive": "INCONCLUSIVE", "known": "KNOWN LEAK",
                "fixed": "FIXED", "clean": "clean"}
# The count boxes and filters: (verdict, label), in the page's order.
VERDICT_LABELS = (("leak", "leaked"), ("error", "errors"), ("inconclusive", "inconclusive"), ("known", "known"),
                  ("fixed", "fixed"), ("clean", "clean"))
METHOD_TEXT = {
    "ids": "3 heap snapshots, survivors by object id",
    "counts": "3 heap snapshots, per-class counts (ids are not stable on this runtime)",
    "samples": "heap samples only (flat heap: no snapshot needed)",
}
OUTPUT_MARK = "--- last output of the runtime ---"
MAX_ALLOCATION_SITES = 5
MAX_FRAMES = 6


def esc(value: object) -> str:
    """Text or attribute value from anywhere (a target's class names and strings included), made inert."""
    return html.escape("" if value is None else str(value), quote=True)


# -- samples ---------------------------------------------------------------------------------------------


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


# -- suspects, paths, allocation sites --------------------------------------------------------------------


def retainer_path(steps: Sequence[Mapping[str, Any]] | None) -> RetainerPath | None:
    """A JSON path (list of step dicts) as the `RetainerPath` the text report's folding works on."""
    if not steps:
        return None
    try:
        return RetainerPath(tuple(PathStep(**step) for step in steps))
    except TypeError:  # a key more or less than this version's PathStep: take the known ones
        names = PathStep.__dataclass_fields__
        known: list[dict[str, Any]] = [{name: step.get(name) for name in names} for step in steps]
        return RetainerPath(tuple(PathStep(**fields) for fields in known))


def _step_html(step: PathStep) -> str:
    edge = edge_label(step)
    location = f' <span class="loc">at {esc(step.location)}</span>' if step.location else ""
    return (
        f'<li><span class="edge">{esc(edge)}</span> → <b>{esc(node_label(step))}</b>'
        f' <span class="muted">@{esc(step.node_id)} ({esc(step.self_size)} B)</span>{location}</li>'
    )


def path_html(path: RetainerPath) -> str:
    """The folded path, root first, one line per edge; a run repeated 3+ times shows once with its count."""
    steps = list(path.steps)
    if len(steps) > 1 and steps[0].node_type == "synthetic" and not steps[0].node_name:
        steps = steps[1:]  # V8's nameless root node: the path reads from "(GC roots)"
    if not steps:
        return '<p class="muted">(empty path)</p>'
    lines = [f'<li class="root"><b>{esc(node_label(steps[0]))}</b> <span class="muted">@{esc(steps[0].node_id)}'
             f'</span></li>']
    for item in fold_repeats(steps[1:]):
        if isinstance(item, Repeat):
            inner = "".join(_step_html(step) for step in item.steps)
            lines.append(f'<li class="repeat"><span class="times">{item.times} times:</span><ol>{inner}</ol></li>')
        else:
            lines.append(_step_html(item))
    return f'<ol class="path">{"".join(lines)}</ol>'


def suspects_table(suspects: Sequence[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td><code>{esc(s.get('class_name'))}</code></td><td>{esc(s.get('new_alive'))}</td>"
        f"<td>{float(s.get('per_iteration') or 0):.2f}</td><td>{esc(format_bytes(s.get('self_bytes') or 0))}</td>"
        f"<td>{esc(format_bytes(s.get('retained_bytes') or 0))}</td></tr>"
        for s in suspects
    )
    return (
        '<table class="suspects"><thead><tr><th>surviving class</th><th>new objects alive</th>'
        f"<th>per iteration</th><th>self</th><th>retained</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _frame_html(frame: Mapping[str, Any]) -> str:
    """`buildAuditEntry (src/audit.mjs:12:10)` as the stack's text reads it; your code stands out."""
    file, line = frame.get("file") or "", frame.get("line") or 0
    where = f"{file}:{line}:{frame.get('column') or 0}" if file and line else file
    name = frame.get("function") or "(anonymous)"
    kind = frame.get("kind") or "user"
    package = frame.get("package")
    text = f"{name} ({where})" if where else str(name)
    if kind == "library" and package:
        text = f"[{package}] {text}"
    return f'<span class="frame {esc(kind)}">{esc(text)}</span>'


def allocation_sites_html(sites: Sequence[Mapping[str, Any]] | None) -> str:
    """The top stacks (innermost frame first) that allocated a suspect's survivors, with counts and bytes."""
    if not sites:
        return ""
    items = []
    for site in sites[:MAX_ALLOCATION_SITES]:
        frames = list(site.get("frames") or [])
        chain = " ← ".join(_frame_html(frame) for frame in frames[:MAX_FRAMES])
        if len(frames) > MAX_FRAMES:
            chain += f" ← … {len(frames) - MAX_FRAMES} more"
        count, size = site.get("count"), site.get("bytes")
        amount = ", ".join(x for x in (f"×{count}" if count is not None else "",
                                        format_bytes(size) if size is not None else "") if x)
        items.append(f'<li><code>{chain or "(no frames)"}</code>'
                     f'{f" <span class=muted>{esc(amount)}</span>" if amount else ""}</li>')
    more = f'<li class="muted">… {len(sites) - MAX_ALLOCATION_SITES} more stacks</li>' \
        if len(sites) > MAX_ALLOCATION_SITES else ""
    return f'<ul class="alloc">{"".join(items)}{more}</ul>'


def suspects_html(suspects: Sequence[Mapping[str, Any]]) -> str:
    parts = [suspects_table(suspects)]
    paths = [retainer_path(s.get("path")) for s in suspects]
    for explained in explain_paths(paths):
        suspect = suspects[explained.index]
        name = esc(suspect.get("class_name"))
        if not explained.full:
            parts.append(f'<p class="also"><code>{name}</code> is held by: <code>{esc(explained.holder)}</code></p>')
            continue
        holder = (f'<p class="holder">held by: <code>{esc(explained.holder)}</code></p>'
                  if explained.holder else "")
        parts.append(
            f'<div class="why"><h4>why <code>{name}</code> is alive</h4>{holder}'
            f"<details open><summary>shortest retainer path from the GC roots"
            f" ({len(explained.path.steps)} steps)</summary>{path_html(explained.path)}</details></div>"
        )
    for suspect in suspects:
        sites = allocation_sites_html(suspect.get("allocation_sites"))
        if sites:
            parts.append(f'<div class="why"><h4>where <code>{esc(suspect.get("class_name"))}</code> was allocated'
                         f"</h4>{sites}</div>")
    return "".join(parts)


def grown_html(grown: Mapping[str, Any]) -> str:
    """A long-lived object that grew in place: the same line as the terminal's, and its path."""
    path = retainer_path(grown.get("path"))
    model = InPlaceGrowth(
        class_name=str(grown.get("class_name", "")),
        node_id=int(grown.get("node_id") or 0),
        sizes=tuple(int(size) for size in grown.get("sizes") or ()),
        per_iteration=float(grown.get("per_iteration") or 0.0),
        path=path,
    )
    details = (f"<details open><summary>shortest retainer path from the GC roots ({len(path.steps)} steps)</summary>"
               f"{path_html(path)}</details>") if path is not None else ""
    line = f'<p class="holder"><code>{esc(grown_line(model))}</code></p>'
    return f'<div class="why"><h4>grew in place</h4>{line}{details}</div>'


# -- one item --------------------------------------------------------------------------------------------


def _href(path: str, base: Path | None) -> str:
    """A link that still works when the report and the snapshot folder are kept together as artefacts."""
    target = Path(path)
    if base is not None:
        try:
            text = os.path.relpath(target, base)
        except ValueError:  # another drive (Windows)
            text = str(target)
        return quote(text.replace(os.sep, "/"))
    return target.as_uri() if target.is_absolute() else quote(str(target))


def snapshots_html(entry: Mapping[str, Any], base: Path | None) -> str:
    paths = entry.get("snapshot_paths") or []
    if not paths:
        return ""
    links = "".join(
        f'<li><a href="{esc(_href(p, base))}" download>{esc(Path(p).name)}</a></li>' for p in paths
    )
    final = Path(paths[-1]).name
    redacted = ('<p class="hint">The text of string values is redacted in these snapshots and on this page '
                "(<code>--jsleak-redact=off</code> keeps it); names, paths and locations are all there.</p>"
                if entry.get("redacted") else "")
    return (
        f'<div class="snaps"><h4>heap snapshots kept</h4><ul class="inline">{links}</ul>'
        f'<p class="hint">Open <code>{esc(final)}</code> in Chrome DevTools (Memory tab → Load) and search a'
        f" path's <code>@id</code> to dig further; <code>jsleak diff</code> reads all three."
        f' Folder: <code>{esc(entry.get("snapshot_dir") or Path(paths[-1]).parent)}</code></p>{redacted}</div>'
    )


def _where(entry: Mapping[str, Any]) -> str:
    where = str(entry.get("nodeid") or f"{entry.get('target')}::{entry.get('scenario')}")
    scenario = entry.get("scenario")
    if scenario and not where.endswith("::" + str(scenario)):
        where += f" [{scenario}]"
    return where


def facts_html(entry: Mapping[str, Any]) -> str:
    runtime = f"{entry.get('runtime') or ''} {entry.get('runtime_version') or ''}".strip()
    facts = [("runtime", runtime or "?")]
    if entry.get("machine"):
        facts.append(("machine", str(entry["machine"])))
    if entry.get("verdict") != "error" or entry.get("samples"):
        n, warmup = entry.get("iterations", 0), entry.get("warmup", 0)
        if entry.get("method") in ("ids", "counts"):
            facts.append(("iterations", f"warm-up {warmup}, sampling {n}, 2 confirming rounds of {n}"))
        else:
            facts.append(("iterations", f"warm-up {warmup}, sampling {n}"))
        limit = int(entry.get("max_growth_per_iteration") or 0)
        facts.append(("retained per iteration",
                      f"{format_bytes(entry.get('growth_per_iteration') or 0)}"
                      f" (limit {format_bytes(limit) if limit else '0: any confirmed growth'})"))
        facts.append(("retained in total", format_bytes(entry.get("total_growth") or 0)))
        method = entry.get("method") or ""
        if method:
            facts.append(("method", METHOD_TEXT.get(method, method)))
    timings = entry.get("timings") or {}
    took = f"{float(entry.get('duration') or 0):.2f} s"
    if timings:
        took += " (" + ", ".join(f"{name} {float(sec):.2f}" for name, sec in timings.items()) + ")"
    facts.append(("time", took))
    return '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts) + "</dl>"


def error_html(entry: Mapping[str, Any]) -> str:
    text = str(entry.get("error") or "unknown error").strip()
    text, _, output = text.partition(OUTPUT_MARK)
    first, _, rest = text.strip().partition("\n")
    kind = entry.get("error_kind")
    parts = [f'<p class="errmsg">{f"<span class=kind>{esc(kind)}</span> " if kind else ""}{esc(first)}</p>']
    if rest.strip():
        parts.append(f"<pre>{esc(rest.strip())}</pre>")
    if output.strip():
        parts.append(f'<h4>last output of the runtime</h4><pre class="output">{esc(output.strip())}</pre>')
    return "".join(parts)


def inconclusive_html(entry: Mapping[str, Any]) -> str:
    """Why the evidence did not settle, and what to change; whether it failed (strict) or passed."""
    failed = entry.get("outcome") == "fail"
    then = "It failed the test (strict)." if failed else \
        "It passed with a warning; <code>--jsleak-strict</code> would fail it."
    measured = float(entry.get("measured_growth_per_iteration") or 0)
    slope = (f"<p class=muted>measured {esc(format_bytes(measured))}/iteration over the rounds (heap + external),"
             f" {esc(format_bytes(entry.get('growth_per_iteration') or 0))}/iteration accounted for by objects</p>"
             if measured else "")
    advice = f'<p class="advice">what to change: {esc(entry["advice"])}</p>' if entry.get("advice") else ""
    reason = esc(entry.get("reason") or "the evidence did not settle")
    return f'<div class="why inconclusive"><p class="reason">{reason}</p>{advice}{slope}<p class=muted>{then}</p></div>'


BASELINE_TEXT = {
    "new": "not in the baseline: a new leak",
    "known": "a known leak: within the tolerance of its baseline entry",
    "regressed": "in the baseline, but it grew",
    "fixed": "in the baseline, now clean: run with --jsleak-baseline-update to remove its entry",
    "added": "recorded in the baseline by this run",
    "updated": "its baseline entry was updated by this run",
    "kept": "in the baseline; this run did not settle it, so its entry stays",
}


def baseline_html(entry: Mapping[str, Any]) -> str:
    """What the baseline says of the check: its status, the recorded entry, what changed."""
    baseline = entry.get("baseline") or {}
    status = baseline.get("status")
    if not status:
        return ""
    recorded = baseline.get("recorded") or {}
    facts = []
    if recorded:
        facts.append(f"recorded {format_bytes(recorded.get('growth_per_iteration') or 0)}/iteration"
                     + (f" on {recorded['recorded']}" if recorded.get("recorded") else "")
                     + (f", classes {', '.join(recorded.get('classes') or [])}" if recorded.get("classes") else ""))
    if baseline.get("tolerance") is not None:
        facts.append(f"tolerance {float(baseline['tolerance']):g}%")
    changes = "".join(f"<li>{esc(change)}</li>" for change in baseline.get("changes") or [])
    return (f'<div class="why baseline"><h4>baseline: {esc(BASELINE_TEXT.get(status, status))}</h4>'
            f'<p class="muted">{esc("; ".join(facts))}</p>{f"<ul>{changes}</ul>" if changes else ""}</div>')


def item_html(number: int, entry: Mapping[str, Any], base: Path | None) -> str:
    verdict = _verdict(entry)
    growth = ""
    if verdict in ("leak", "known"):
        growth = f'<span class="growth {verdict}">{esc(format_bytes(entry.get("growth_per_iteration") or 0))}' \
                 '/iteration</span>'
    body = [f'<div class="grid"><div class="chartbox">{chart(entry)}</div>{facts_html(entry)}</div>']
    if verdict == "error":
        body.append(error_html(entry))
    if verdict == "inconclusive":
        body.append(inconclusive_html(entry))
    body.append(baseline_html(entry))
    suspects = entry.get("suspects") or []
    if suspects:
        body.append(suspects_html(suspects))
    body += [grown_html(grown) for grown in entry.get("grown_in_place") or []]
    notes = entry.get("notes") or []
    if notes:
        body.append('<ul class="notes">' + "".join(f"<li>{esc(note)}</li>" for note in notes) + "</ul>")
    body.append(snapshots_html(entry, base))
    return (
        f'<section class="item {verdict}" id="item-{number}" data-verdict="{verdict}"'
        f' data-name="{esc(_where(entry).lower())}">'
        f'<h3><span class="badge {verdict}">{VERDICT_WORD[verdict]}</span> <code>{esc(_where(entry))}</code>'
        f' {growth}<a class="anchor" href="#item-{number}" title="link to this item">#</a>'
        f'<a class="top" href="#top" title="back to the index">↑</a></h3>{"".join(body)}</section>'
    )


# -- the page --------------------------------------------------------------------------------------------


def _verdict(entry: Mapping[str, Any]) -> str:
    """The entry's verdict; `error` for one this version does not know."""
    verdict = entry.get("verdict")
    return verdict if isinstance(verdict, str) and verdict in VERDICT_ORDER else "error"


def ordered(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Leaks first, then errors, then clean; the biggest leak first, otherwise in run order."""
    indexed = list(enumerate(entries))
    indexed.sort(key=lambda pair: (VERDICT_ORDER.get(str(pair[1].get("verdict")), 1),
                                   -float(pair[1].get("growth_per_iteration") or 0)
                                   if pair[1].get("verdict") == "leak" else 0, pair[0]))
    return [entry for _, entry in indexed]


def _index_row(number: int, entry: Mapping[str, Any], *, machines: bool = False) -> str:
    verdict = _verdict(entry)
    if verdict == "leak":
        suspects = entry.get("suspects") or []
        what = f"{format_bytes(entry.get('growth_per_iteration') or 0)}/iteration"
        if suspects:
            what += f", top: {suspects[0].get('class_name')}"
    elif verdict == "error":
        what = str(entry.get("error") or "").strip().split("\n", 1)[0]
    elif verdict == "inconclusive":
        what = str(entry.get("reason") or "")
    elif verdict in ("known", "fixed"):
        recorded = (entry.get("baseline") or {}).get("recorded") or {}
        what = f"{format_bytes(entry.get('growth_per_iteration') or 0)}/iteration" if verdict == "known" else ""
        if recorded:
            was = format_bytes(recorded.get("growth_per_iteration") or 0)
            what += f"{', ' if what else ''}baseline {was}/iteration"
    else:
        what = ""
    # A merged report (several machines) says where each check ran.
    machine = f' <span class="muted">{esc(entry.get("machine"))}</span>' if machines and entry.get("machine") else ""
    return (
        f'<tr class="{verdict}" data-verdict="{verdict}" data-name="{esc(_where(entry).lower())}">'
        f'<td><span class="badge {verdict}">{VERDICT_WORD[verdict]}</span></td>'
        f'<td><a href="#item-{number}"><code>{esc(_where(entry))}</code></a></td>'
        f"<td>{esc(entry.get('runtime') or '')}{machine}</td><td>{sparkline_svg(entry)}</td>"
        f"<td class=what>{esc(what)}</td>"
        f"<td class=num>{float(entry.get('duration') or 0):.2f} s</td></tr>"
    )


SCRIPT = """
const items = document.querySelectorAll('[data-verdict]');
const search = document.getElementById('search');
function apply() {
  const show = document.querySelector('input[name=show]:checked').value;
  const text = search.value.trim().toLowerCase();
  for (const el of items) {
    el.hidden = (show !== 'all' && el.dataset.verdict !== show) || (text && !el.dataset.name.includes(text));
  }
}
for (const input of document.querySelectorAll('input[name=show]')) input.addEventListener('change', apply);
search.addEventListener('input', apply);
window.addEventListener('beforeprint', () => { for (const d of document.querySelectorAll('details')) d.open = true; });
"""

STYLE = """
:root { --leak: #b3261e; --error: #9a6700; --clean: #1a7f37; --inconclusive: #bc4c00; --known: #6e7781;
  --fixed: #0969da; --line: #d0d7de; --muted: #57606a; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1f2328; background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 24px 0 8px; }
h3 { font-size: 15px; margin: 0 0 10px; display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
h4 { font-size: 13px; margin: 14px 0 4px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 12.5px; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
  white-space: pre-wrap; overflow-wrap: anywhere; max-height: 24em; overflow: auto; margin: 4px 0; }
a { color: #0969da; }
.muted, .hint { color: var(--muted); }
.counts { display: flex; gap: 12px; margin: 12px 0; flex-wrap: wrap; }
.count { border: 1px solid var(--line); border-radius: 8px; padding: 8px 16px; min-width: 120px; }
.count b { display: block; font-size: 24px; }
.count.leak b { color: var(--leak); } .count.error b { color: var(--error); } .count.clean b { color: var(--clean); }
.count.inconclusive b { color: var(--inconclusive); } .count.known b { color: var(--known); }
.count.fixed b { color: var(--fixed); }
.meta { color: var(--muted); margin: 0; } .meta span { white-space: nowrap; }
.badge { display: inline-block; min-width: 52px; text-align: center; border-radius: 4px; padding: 0 6px;
  font-size: 12px; font-weight: 700; color: #fff; }
.badge.leak { background: var(--leak); } .badge.error { background: var(--error); }
.badge.clean { background: var(--clean); } .badge.inconclusive { background: var(--inconclusive); }
.badge.known { background: var(--known); } .badge.fixed { background: var(--fixed); }
.toolbar { position: sticky; top: 0; background: #fff; padding: 8px 0; border-bottom: 1px solid var(--line);
  display: flex; gap: 14px; align-items: center; flex-wrap: wrap; z-index: 1; }
.toolbar label { cursor: pointer; } .toolbar input[type=search] { flex: 1; min-width: 200px; max-width: 360px;
  padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
table { border-collapse: collapse; }
table.index { width: 100%; } table.index td { padding: 3px 8px; border-bottom: 1px solid var(--line);
  vertical-align: middle; }
table.index td.what { color: var(--muted); overflow-wrap: anywhere; width: 42%; }
td.num { text-align: right; white-space: nowrap; }
table.suspects { margin: 8px 0; } table.suspects th, table.suspects td { padding: 3px 12px 3px 0;
  border-bottom: 1px solid var(--line); text-align: right; }
table.suspects th:first-child, table.suspects td:first-child { text-align: left; }
table.suspects th { font-weight: 600; font-size: 12.5px; color: var(--muted); }
.item { border: 1px solid var(--line); border-left: 6px solid var(--clean); border-radius: 8px; padding: 12px 16px;
  margin: 14px 0; break-inside: avoid-page; scroll-margin-top: 52px; }
.item.leak { border-left-color: var(--leak); } .item.error { border-left-color: var(--error); }
.item.inconclusive { border-left-color: var(--inconclusive); } .item.known { border-left-color: var(--known); }
.item.fixed { border-left-color: var(--fixed); }
.why.inconclusive .reason { font-weight: 600; color: var(--inconclusive); } .advice { font-weight: 600; }
.growth.known { color: var(--known); }
.item h3 code { font-size: 14px; overflow-wrap: anywhere; }
.growth { color: var(--leak); font-weight: 700; }
.anchor, .top { color: var(--muted); text-decoration: none; margin-left: auto; }
.top { margin-left: 0; }
.grid { display: grid; grid-template-columns: minmax(0, 660px) minmax(240px, 1fr); gap: 8px 24px; align-items: start; }
.chart { width: 100%; height: auto; display: block; }
.chart text { font: 10.5px system-ui, sans-serif; fill: #1f2328; } .chart .muted, .chart .tick { fill: var(--muted); }
.chart .series { font-weight: 600; } .chart .plot { fill: #fbfcfd; stroke: var(--line); }
.chart .marker { stroke: #8c959f; stroke-dasharray: 3 3; }
.spark { width: 90px; height: 18px; display: block; } .spark polyline { stroke: #0969da; }
tr.leak .spark polyline { stroke: var(--leak); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; font-size: 13px; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
ol.path { list-style: none; padding: 6px 10px; margin: 4px 0; background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
ol.path li { padding-left: 16px; overflow-wrap: anywhere; } ol.path li.root { padding-left: 0; }
ol.path li.repeat { border-left: 2px solid #8c959f; margin: 2px 0 2px 16px; padding-left: 6px; }
ol.path li.repeat ol { list-style: none; padding: 0; margin: 0; }
.times { color: var(--muted); font-style: italic; }
.edge { color: #0550ae; } .loc { color: #6e7781; }
.holder code, .also code { background: var(--bg); padding: 1px 4px; border-radius: 4px; overflow-wrap: anywhere; }
.why { margin-top: 10px; } details summary { cursor: pointer; color: var(--muted); }
.help { margin: 0 0 8px; max-width: 900px; } .help ul { margin: 6px 0; padding-left: 20px; }
.help li { margin: 3px 0; }
ul.alloc { margin: 4px 0; padding-left: 20px; } ul.alloc code { overflow-wrap: anywhere; }
.frame.user { font-weight: 700; } .frame.library, .frame.runtime { color: var(--muted); }
ul.inline { list-style: none; padding: 0; margin: 4px 0; display: flex; gap: 14px; flex-wrap: wrap; }
.notes { color: var(--muted); margin: 8px 0 0; padding-left: 20px; }
.errmsg { font-weight: 600; overflow-wrap: anywhere; } .kind { font-weight: 400; color: var(--error);
  border: 1px solid var(--error); border-radius: 4px; padding: 0 4px; font-size: 12px; }
pre.output { max-height: 16em; }
[hidden] { display: none !important; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
@media print {
  main { max-width: none; padding: 0; } .toolbar, .anchor, .top { display: none; }
  .item { break-inside: auto; } .chartbox, .why h4, tr { break-inside: avoid; }
  pre { max-height: none; overflow: visible; } a { color: inherit; text-decoration: none; }
  .badge, .item, .chart { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""


HELP = """<details class="help"><summary>How to read this report</summary><ul>
<li>A <b>leak</b>: objects created by the measured calls that are still alive at the end, in numbers that
keep pace with the calls (checked over two rounds between three heap snapshots), beyond
<code>max_growth_per_iteration</code>. Memory that grows and then stops (a cache filling up) is clean.</li>
<li>The <b>chart</b>: memory after a forced full GC, sampled along the run: the JS heap, external memory
(ArrayBuffers, Buffers) and the process's resident set, each on its own scale; the labels on the right are
the change from the first sample. S1, S2, S3 mark the heap snapshots of the confirming rounds.</li>
<li><b>Surviving class</b>: the leaked objects as Chrome DevTools names them; <i>new objects alive</i> were
allocated between S1 and S2 and are still alive at S3; <i>retained</i> is what releasing them would free.</li>
<li><b>held by</b>: the chain from the first variable of the tested code to a leaked object. The full path
below it starts at the GC roots, one edge per line; a run repeated many times shows once with its count;
<code>@id</code> is the object's id in the snapshot.</li>
<li><b>Snapshots</b>: load one in Chrome DevTools (Memory tab → Load) and search an <code>@id</code>, or run
<code>jsleak diff s1 s2 s3</code> on them.</li></ul></details>"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# Nothing may load: no network, no file, no font. Only this style and this script run (by hash), so even
# markup that slipped through escaping could not execute.
CSP = f"default-src 'none'; style-src {_csp_hash(STYLE)}; script-src {_csp_hash(SCRIPT)}; img-src data:"


def render_page(
    entries: Iterable[Mapping[str, Any]],
    *,
    complete: bool = True,
    duration: float | None = None,
    created: float | None = None,
    base: Path | None = None,
) -> str:
    """The whole page. `base` is the report's folder: snapshot links are relative to it."""
    items = ordered(entries)
    counts = Counter(entry.get("verdict") for entry in items)
    runtimes = Counter(
        f"{entry.get('runtime') or '?'} {entry.get('runtime_version') or ''}".strip() for entry in items
    )
    total_check = sum(float(entry.get("duration") or 0) for entry in items)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(created if created is not None else time.time()))
    extra = "".join(f", {counts[v]} {label}" for v, label in VERDICT_LABELS[2:5] if counts[v])
    title = (f"pytest-jsleak: {counts['leak']} leaked, {counts['error']} errors, {counts['clean']} clean{extra}"
             if items else "pytest-jsleak: no leak checks")
    meta = [f"{stamp}", f"pytest-jsleak {__version__}"]
    if duration is not None:
        meta.append(f"run {duration:.1f} s")
    meta.append(f"checks {total_check:.1f} s")
    if runtimes:
        meta.append("runtimes: " + ", ".join(f"{name} ({n})" for name, n in sorted(runtimes.items())))
    if items:
        slowest = max(items, key=lambda entry: float(entry.get("duration") or 0))
        meta.append(f"slowest: {_where(slowest)} {float(slowest.get('duration') or 0):.2f} s")
    meta_html = " · ".join(f"<span>{esc(part)}</span>" for part in meta)
    incomplete = "" if complete else \
        '<p class="errmsg">The run was interrupted: this page shows the checks that finished.</p>'
    # The three statuses every run can have always show; inconclusive, known and fixed when there are some.
    shown = [(v, label) for v, label in VERDICT_LABELS if v in ("leak", "error", "clean") or counts[v]]
    summary = (
        '<div class="counts">'
        f'<div class="count"><b>{len(items)}</b>checked</div>'
        + "".join(f'<div class="count {v}"><b>{counts[v]}</b>{label}</div>' for v, label in shown)
        + "</div>"
    )
    numbered = list(enumerate(items, 1))
    filter_words = {"leak": "leaks", "error": "errors"}
    toolbar = (
        '<div class="toolbar">'
        '<label><input type="radio" name="show" value="all" checked> all</label>'
        + "".join(f'<label><input type="radio" name="show" value="{v}"> {filter_words.get(v, v)} ({counts[v]})</label>'
                  for v, _ in shown)
        + '<input type="search" id="search" placeholder="filter by test id" aria-label="filter by test id"></div>'
    )
    several = len({entry.get("machine") for entry in items}) > 1
    index = ('<table class="index">' + "".join(_index_row(n, e, machines=several) for n, e in numbered)
             + "</table>") if items \
        else '<p class="muted">No leak-checked item ran.</p>'
    body = "".join(item_html(n, e, base) for n, e in numbered)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n"
        f'<body><main id="top"><h1>{esc(title)}</h1><p class="meta">{meta_html}</p>{incomplete}'
        f"{summary}{HELP}{toolbar}<h2>Items</h2>{index}<h2>Details</h2>\n{body}\n</main>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def write_html_report(
    path: Path,
    entries: Iterable[Mapping[str, Any]],
    *,
    complete: bool,
    started: float | None = None,
) -> None:
    """Write the page atomically; snapshot links are relative to the page's folder."""
    path = Path(path)
    duration = time.time() - started if started else None
    page = render_page(entries, complete=complete, duration=duration, base=path.parent.resolve())
    write_text_atomically(path, page, suffix=".html")


__all__ = [
    "baseline_html", "chart", "esc", "inconclusive_html", "ordered", "render_page", "sample_rows", "write_html_report",
]

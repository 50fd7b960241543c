"""One item of the HTML report: its chart and facts, the error or the reason it is inconclusive, its
baseline, its suspects with their retainer paths and allocation sites, what grew in place, its notes and
the snapshots it kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pytest_jsleak.model import InPlaceGrowth, PathStep, RetainerPath
from pytest_jsleak.report.fold import Repeat, fold_repeats
from pytest_jsleak.report.html_assets import VERDICT_ORDER, VERDICT_WORD, esc
from pytest_jsleak.report.html_chart import chart
from pytest_jsleak.report.paths import edge_label, node_label
from pytest_jsleak.report.text import explain_paths, grown_line
from pytest_jsleak.units import format_bytes

METHOD_TEXT = {
    "ids": "3 heap snapshots, survivors by object id",
    "counts": "3 heap snapshots, per-class counts (ids are not stable on this runtime)",
    "samples": "heap samples only (flat heap: no snapshot needed)",
}
OUTPUT_MARK = "--- last output of the runtime ---"
MAX_ALLOCATION_SITES = 5
MAX_FRAMES = 6


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
        entries=tuple(int(count) for count in grown.get("entries") or ()),
    )
    details = (f"<details open><summary>shortest retainer path from the GC roots ({len(path.steps)} steps)</summary>"
               f"{path_html(path)}</details>") if path is not None else ""
    line = f'<p class="holder"><code>{esc(grown_line(model))}</code></p>'
    return f'<div class="why"><h4>grew in place</h4>{line}{details}</div>'


def handles_html(growth: Mapping[str, Any]) -> str:
    """Active resources that piled up: the terminal's line, and where they were created."""
    rounds = list(growth.get("rounds") or [])
    gained = ", ".join(f"+{gain} in round {name}" for gain, name in zip(rounds, "AB", strict=False))
    line = (f"{growth.get('kind')}: {float(growth.get('per_iteration') or 0):.2f} more active per iteration "
            f"({gained}; {growth.get('active', 0)} active at the end)")
    sites = allocation_sites_html(growth.get("sites"))
    where = f"<h5>created at</h5>{sites}" if sites else ""
    return f'<div class="why"><h4>active resources</h4><p class="holder"><code>{esc(line)}</code></p>{where}</div>'


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


def where_of(entry: Mapping[str, Any]) -> str:
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


def verdict_of(entry: Mapping[str, Any]) -> str:
    """The entry's verdict; `error` for one this version does not know."""
    verdict = entry.get("verdict")
    return verdict if isinstance(verdict, str) and verdict in VERDICT_ORDER else "error"


def item_html(number: int, entry: Mapping[str, Any], base: Path | None) -> str:
    verdict = verdict_of(entry)
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
    body += [handles_html(growth) for growth in entry.get("handles") or []]
    notes = entry.get("notes") or []
    if notes:
        body.append('<ul class="notes">' + "".join(f"<li>{esc(note)}</li>" for note in notes) + "</ul>")
    body.append(snapshots_html(entry, base))
    return (
        f'<section class="item {verdict}" id="item-{number}" data-verdict="{verdict}"'
        f' data-name="{esc(where_of(entry).lower())}">'
        f'<h3><span class="badge {verdict}">{VERDICT_WORD[verdict]}</span> <code>{esc(where_of(entry))}</code>'
        f' {growth}<a class="anchor" href="#item-{number}" title="link to this item">#</a>'
        f'<a class="top" href="#top" title="back to the index">↑</a></h3>{"".join(body)}</section>'
    )


__all__ = [
    "BASELINE_TEXT", "METHOD_TEXT", "OUTPUT_MARK", "allocation_sites_html", "baseline_html", "error_html",
    "facts_html", "grown_html", "inconclusive_html", "item_html", "path_html", "retainer_path", "snapshots_html",
    "suspects_html", "suspects_table", "verdict_of", "where_of",
]

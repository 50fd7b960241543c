"""The run's HTML report (DESIGN §13): one self-contained page a reviewer opens from the CI artefacts.

It is rendered from the same JSON-ready entries as the JSON document (`LeakResult.to_dict()` plus the
node id), so the xdist controller writes it from the workers' results. No template engine: the page is
a dozen small functions, and one rule keeps it safe — every text that comes from a target (class
names, strings in snapshots, error output, file names) goes through `esc()`. The page loads nothing:
its Content-Security-Policy allows only its own style and script, by hash.

This module lays out the page (counts, filters, index, items); what it is made of lives beside it:
`html_assets` (style, script, help, policy, `esc`), `html_chart` (the SVG charts) and `html_item` (one
item's sections).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_jsleak import __version__
from pytest_jsleak.report.html_assets import CSP, HELP, SCRIPT, STYLE, VERDICT_LABELS, VERDICT_ORDER, VERDICT_WORD, esc
from pytest_jsleak.report.html_chart import chart, sample_rows, sparkline_svg
from pytest_jsleak.report.html_item import (
    BASELINE_TEXT,
    METHOD_TEXT,
    OUTPUT_MARK,
    allocation_sites_html,
    baseline_html,
    error_html,
    facts_html,
    grown_html,
    inconclusive_html,
    item_html,
    path_html,
    retainer_path,
    snapshots_html,
    suspects_html,
    suspects_table,
    verdict_of,
    where_of,
)
from pytest_jsleak.report.json_report import write_text_atomically
from pytest_jsleak.units import format_bytes


def ordered(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Leaks first, then errors, then clean; the biggest leak first, otherwise in run order."""
    indexed = list(enumerate(entries))
    indexed.sort(key=lambda pair: (VERDICT_ORDER.get(str(pair[1].get("verdict")), 1),
                                   -float(pair[1].get("growth_per_iteration") or 0)
                                   if pair[1].get("verdict") == "leak" else 0, pair[0]))
    return [entry for _, entry in indexed]


def _index_row(number: int, entry: Mapping[str, Any], *, machines: bool = False) -> str:
    verdict = verdict_of(entry)
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
        f'<tr class="{verdict}" data-verdict="{verdict}" data-name="{esc(where_of(entry).lower())}">'
        f'<td><span class="badge {verdict}">{VERDICT_WORD[verdict]}</span></td>'
        f'<td><a href="#item-{number}"><code>{esc(where_of(entry))}</code></a></td>'
        f"<td>{esc(entry.get('runtime') or '')}{machine}</td><td>{sparkline_svg(entry)}</td>"
        f"<td class=what>{esc(what)}</td>"
        f"<td class=num>{float(entry.get('duration') or 0):.2f} s</td></tr>"
    )


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
        meta.append(f"slowest: {where_of(slowest)} {float(slowest.get('duration') or 0):.2f} s")
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


# The page's own functions, and what html_assets, html_chart and html_item hold that this module defined
# before they were split from it: callers import them from here as before.
__all__ = [
    "BASELINE_TEXT", "CSP", "HELP", "METHOD_TEXT", "OUTPUT_MARK", "SCRIPT", "STYLE", "VERDICT_LABELS", "VERDICT_ORDER",
    "VERDICT_WORD", "allocation_sites_html", "baseline_html", "chart", "error_html", "esc", "facts_html", "grown_html",
    "inconclusive_html", "item_html", "ordered", "path_html", "render_page", "retainer_path", "sample_rows",
    "snapshots_html", "sparkline_svg", "suspects_html", "suspects_table", "write_html_report",
]

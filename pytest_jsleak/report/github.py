"""What the pull request sees under GitHub Actions (DESIGN §15): annotations and the job summary.

Both come from the same JSON-ready entries as the terminal summary and the JSON and HTML reports.
An `::error` workflow command per check that failed its test (a leak; an inconclusive one under
strict; an error), a `::warning` per inconclusive or known leak, each at the scenario's line; and a
Markdown summary for `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_jsleak.report.summary import where_of
from pytest_jsleak.units import format_bytes

# GitHub shows at most 10 error and 10 warning annotations per step (its documented limit): the rest
# are in the job summary, which lists every leak.
MAX_ANNOTATIONS = 10


def escape_data(text: str) -> str:
    """A workflow command's message: `%`, CR and LF escaped (GitHub's toolkit does the same)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (file, title): also `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def holder_of(entry: Mapping[str, Any]) -> str:
    """`requestLog (variable) → Array → [250] → RequestRecord`: what holds the top suspect, or the
    object that grew in place; empty when the snapshots name none."""
    from pytest_jsleak.report.html_item import retainer_path
    from pytest_jsleak.report.text import held_by

    for suspect in entry.get("suspects") or []:
        path = retainer_path(suspect.get("path"))
        if path is not None and (holder := held_by(path)):
            return holder
    for grown in entry.get("grown_in_place") or []:
        path = retainer_path(grown.get("path"))
        if path is not None and (holder := held_by(path)):
            return holder
        return f"{grown.get('class_name')} @{grown.get('node_id')} (grew in place)"
    return ""


def message_of(entry: Mapping[str, Any]) -> str:
    """The annotation's text: the headline's facts, and what the reader needs next."""
    verdict = entry.get("verdict")
    runtime = f"{entry.get('runtime') or ''} {entry.get('runtime_version') or ''}".strip()
    growth = f"{format_bytes(entry.get('growth_per_iteration') or 0)} retained per iteration"
    baseline = entry.get("baseline") or {}
    recorded = baseline.get("recorded") or {}
    if verdict == "error":
        first = str(entry.get("error") or "unknown error").strip().split("\n", 1)[0]
        return f"jsleak: error ({runtime}): {first}"
    if verdict == "inconclusive":
        lines = [f"jsleak: inconclusive ({runtime}): {entry.get('reason') or 'the evidence did not settle'}"]
        if entry.get("advice"):
            lines.append(f"what to change: {entry['advice']}")
        return "\n".join(lines)
    if verdict == "known":
        was = format_bytes(recorded.get("growth_per_iteration") or 0)
        return f"jsleak: known leak ({runtime}): {growth} (baseline {was}/iteration)"
    lines = [f"jsleak: leak ({runtime}): {growth}"]
    suspects = entry.get("suspects") or []
    if suspects:
        lines[0] += f", top: {suspects[0].get('class_name')}"
    holder = holder_of(entry)
    if holder:
        lines.append(f"held by: {holder}")
    lines += [f"against the baseline: {change}" for change in baseline.get("changes") or []]
    return "\n".join(lines)


def level_of(entry: Mapping[str, Any]) -> str | None:
    """`error` for a check that failed its test, `warning` for inconclusive and known, None otherwise."""
    if entry.get("outcome") == "fail" or entry.get("verdict") in ("leak", "error"):
        return "error"
    if entry.get("verdict") in ("inconclusive", "known"):
        return "warning"
    return None


def _annotation_file(entry: Mapping[str, Any], root: Path, workspace: Path | None) -> str:
    """The file as the repository spells it: relative to the workspace when the rootdir is inside one."""
    source = str(entry.get("source_file") or "")
    if not source:
        return ""
    if workspace is not None:
        try:
            return (root / source).resolve().relative_to(workspace.resolve()).as_posix()
        except ValueError:
            pass
    return source


def annotation_lines(entries: Iterable[Mapping[str, Any]], *, root: Path, workspace: Path | None = None) -> list[str]:
    """One workflow command per check worth the reviewer's eye, errors first, each at its scenario."""
    lines: dict[str, list[str]] = {"error": [], "warning": []}
    for entry in entries:
        level = level_of(entry)
        if level is None:
            continue
        properties = []
        file = _annotation_file(entry, root, workspace)
        if file:
            properties.append(f"file={escape_property(file)}")
            if entry.get("source_line"):
                properties.append(f"line={int(entry['source_line'])}")
        properties.append(f"title={escape_property(where_of(entry))}")
        lines[level].append(f"::{level} {','.join(properties)}::{escape_data(message_of(entry))}")
    result = []
    for level, found in lines.items():
        result += found[:MAX_ANNOTATIONS]
        if len(found) > MAX_ANNOTATIONS:
            more = f"jsleak: {len(found) - MAX_ANNOTATIONS} more {level}s: see the job summary"
            result.append(f"::{level} title=pytest-jsleak::{escape_data(more)}")
    return result


def _cell(text: object) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def job_summary(entries: Sequence[Mapping[str, Any]], *, baseline: Sequence[str] = ()) -> str:
    """The Markdown of `$GITHUB_STEP_SUMMARY`: counts, the table of leaks with growth and holder,
    inconclusive checks with reason and advice, known leaks, and the baseline's changes."""
    counts = Counter(entry.get("verdict") for entry in entries)
    order = ("leak", "error", "inconclusive", "known", "fixed", "clean")
    tally = ", ".join(f"{counts[verdict]} {verdict}" for verdict in order if counts[verdict])
    out = ["## pytest-jsleak", "", f"{len(entries)} checked: {tally}", ""]
    failing = [e for e in entries if level_of(e) == "error"]
    leaks = [e for e in failing if e.get("verdict") == "leak"]
    if leaks:
        out += ["### Leaks", "", "| test | runtime | retained per iteration | top class | held by | baseline |",
                "| --- | --- | ---: | --- | --- | --- |"]
        for entry in sorted(leaks, key=lambda e: -float(e.get("growth_per_iteration") or 0)):
            suspects = entry.get("suspects") or []
            changes = "; ".join((entry.get("baseline") or {}).get("changes") or [])
            out.append(
                f"| `{_cell(where_of(entry))}` | {_cell(entry.get('runtime') or '')} "
                f"| {format_bytes(entry.get('growth_per_iteration') or 0)} "
                f"| {_cell(suspects[0].get('class_name')) if suspects else ''} "
                f"| {'`' + _cell(holder_of(entry)) + '`' if holder_of(entry) else ''} | {_cell(changes)} |"
            )
        out.append("")
    others = [e for e in failing if e.get("verdict") != "leak"]
    if others:
        out += ["### Failed checks", ""]
        out += [f"- `{_cell(where_of(e))}`: {_cell(message_of(e))}" for e in others]
        out.append("")
    inconclusive = [e for e in entries if e.get("verdict") == "inconclusive" and level_of(e) != "error"]
    if inconclusive:
        out += ["### Inconclusive (passed with a warning)", "", "| test | runtime | reason | what to change |",
                "| --- | --- | --- | --- |"]
        out += [f"| `{_cell(where_of(e))}` | {_cell(e.get('runtime') or '')} | {_cell(e.get('reason') or '')} "
                f"| {_cell(e.get('advice') or '')} |" for e in inconclusive]
        out.append("")
    known = [e for e in entries if e.get("verdict") == "known"]
    if known:
        out += ["### Known leaks (in the baseline, within tolerance)", "",
                "| test | runtime | retained per iteration | baseline |", "| --- | --- | ---: | ---: |"]
        for entry in known:
            recorded = (entry.get("baseline") or {}).get("recorded") or {}
            out.append(f"| `{_cell(where_of(entry))}` | {_cell(entry.get('runtime') or '')} "
                       f"| {format_bytes(entry.get('growth_per_iteration') or 0)} "
                       f"| {format_bytes(recorded.get('growth_per_iteration') or 0)} |")
        out.append("")
    fixed = [e for e in entries if e.get("verdict") == "fixed"]
    if fixed:
        out += ["### Fixed (in the baseline, now clean)", ""]
        out += [f"- `{_cell(where_of(e))}` ({_cell(e.get('runtime') or '')})" for e in fixed]
        out.append("")
    if baseline:
        out += ["### Baseline", "", *[f"- {_cell(line.strip())}" for line in baseline], ""]
    return "\n".join(out) + "\n"


__all__ = ["annotation_lines", "escape_data", "escape_property", "holder_of", "job_summary", "level_of", "message_of"]

"""The `jsleak` section of pytest's terminal summary, from the gathered JSON-ready entries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_jsleak.units import format_bytes


def summary_lines(entries: Iterable[Mapping[str, Any]], *, verbose: bool = False) -> list[str]:
    """One line per leak or error (every check with -v), then the counts."""
    entries = list(entries)
    lines = []
    for entry in entries:
        verdict = entry["verdict"]
        if verdict == "clean" and not verbose:
            continue
        where = entry["nodeid"]
        if entry.get("scenario") and not where.endswith("::" + entry["scenario"]):
            where += f" [{entry['scenario']}]"
        runtime = f"{entry.get('runtime', '')} {entry.get('runtime_version', '')}".strip()
        if verdict == "error":
            first = (entry.get("error") or "").strip().split("\n", 1)[0]
            lines.append(f"ERROR  {where} ({runtime}): {first}")
            continue
        word = "LEAK " if verdict == "leak" else "clean"
        suspects = entry.get("suspects") or []
        top = f", top: {suspects[0]['class_name']}" if suspects else ""
        lines.append(
            f"{word}  {where} ({runtime}): {format_bytes(entry.get('growth_per_iteration', 0))}/iteration"
            f"{top}, {entry.get('duration', 0):.2f}s"
        )
    counts = Counter(entry["verdict"] for entry in entries)
    lines.append(
        f"{len(entries)} checked: {counts['leak']} leaked, {counts['clean']} clean, {counts['error']} errors"
    )
    kept = sorted({entry["snapshot_dir"] for entry in entries if entry.get("snapshot_dir")})
    if kept:
        lines.append(f"snapshots kept for {len(kept)} checks, e.g. {kept[0]}")
    return lines


__all__ = ["summary_lines"]

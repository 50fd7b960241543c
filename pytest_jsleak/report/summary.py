"""The `jsleak` section of pytest's terminal summary, from the gathered JSON-ready entries."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_jsleak.units import format_bytes

# The word that starts a check's summary line, padded to one width so the node ids line up.
WORDS = {"leak": "LEAK ", "clean": "clean", "inconclusive": "INCONCLUSIVE", "known": "KNOWN", "fixed": "FIXED"}
# The statuses that only some runs have: counted in the last line when there are any.
EXTRA_COUNTS = (("inconclusive", "inconclusive"), ("known", "known"), ("fixed", "fixed"))


def where_of(entry: Mapping[str, Any]) -> str:
    """The node id, with the scenario in brackets when a Python test checked it."""
    where = str(entry.get("nodeid") or "")
    if entry.get("scenario") and not where.endswith("::" + str(entry["scenario"])):
        where += f" [{entry['scenario']}]"
    return where


def summary_lines(entries: Iterable[Mapping[str, Any]], *, verbose: bool = False) -> list[str]:
    """One line per leak, error, inconclusive, known or fixed check (every check with -v), then the counts."""
    entries = list(entries)
    lines = []
    for entry in entries:
        verdict = entry["verdict"]
        if verdict == "clean" and not verbose:
            continue
        where = where_of(entry)
        runtime = f"{entry.get('runtime', '')} {entry.get('runtime_version', '')}".strip()
        if verdict == "error":
            first = (entry.get("error") or "").strip().split("\n", 1)[0]
            lines.append(f"ERROR  {where} ({runtime}): {first}")
            continue
        if verdict == "inconclusive":
            strict = " (strict: failed)" if entry.get("outcome") == "fail" else ""
            reason = entry.get("reason") or "the evidence did not settle"
            lines.append(f"INCONCLUSIVE  {where} ({runtime}){strict}: {reason}")
            if entry.get("advice"):
                lines.append(f"  what to change: {entry['advice']}")
            continue
        word = WORDS.get(verdict, verdict)
        suspects = entry.get("suspects") or []
        top = f", top: {suspects[0]['class_name']}" if suspects else ""
        line = (
            f"{word}  {where} ({runtime}): {format_bytes(entry.get('growth_per_iteration', 0))}/iteration"
            f"{top}, {entry.get('duration', 0):.2f}s"
        )
        baseline = entry.get("baseline") or {}
        recorded = baseline.get("recorded") or {}
        if verdict in ("known", "fixed") and recorded:
            line += f" (baseline: {format_bytes(recorded.get('growth_per_iteration') or 0)}/iteration)"
        lines.append(line)
        if verdict == "leak":
            lines += [f"  against the baseline: {change}" for change in baseline.get("changes") or []]
    counts = Counter(entry["verdict"] for entry in entries)
    extra = "".join(f", {counts[key]} {word}" for key, word in EXTRA_COUNTS if counts[key])
    lines.append(
        f"{len(entries)} checked: {counts['leak']} leaked, {counts['clean']} clean, {counts['error']} errors{extra}"
    )
    kept = sorted({entry["snapshot_dir"] for entry in entries if entry.get("snapshot_dir")})
    if kept:
        lines.append(f"snapshots kept for {len(kept)} checks, e.g. {kept[0]}")
    return lines


def baseline_lines(entries: Iterable[Mapping[str, Any]], path: Path, update: Any = None) -> list[str]:
    """What the baseline said of this run (known, new, grew, fixed), and what an update wrote."""
    statuses = Counter((entry.get("baseline") or {}).get("status") for entry in entries)
    parts = [f"{statuses[status]} {word}" for status, word in (
        ("known", "known"), ("new", "new"), ("regressed", "grew"), ("fixed", "fixed"), ("added", "added"),
        ("updated", "updated"), ("kept", "not settled (entry kept)"),
    ) if statuses[status]]
    lines = [f"baseline {path}: " + (", ".join(parts) if parts else "no check of this run is in it")]
    if update is not None:
        lines.append(update.line(path))
    elif statuses["fixed"] or statuses["new"] or statuses["regressed"]:
        lines.append("  run with --jsleak-baseline-update to record the new and grown leaks and drop the fixed ones")
    return lines


__all__ = ["baseline_lines", "summary_lines", "where_of"]

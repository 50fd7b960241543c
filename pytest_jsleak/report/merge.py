"""`jsleak merge`: the JSON reports of several runs (CI shards, a matrix's machines, hosts) as one document.

A check is the same check when its node id, its scenario and its runtime are: two inputs that both
ran one are an error by default (the shards overlapped, and counting it twice would misstate the run),
or, with `allow_duplicates`, kept apart, each with the machine it ran on (the same tests on two
operating systems). Items come out sorted by node id, scenario and runtime, so the merge of any split
of a run lists its items in one order whatever order the shards finished in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_jsleak.errors import JsLeakError

# Documents of these schemas can be merged: 2 (before inconclusive and baselines) reads as a subset of 3.
READABLE_SCHEMAS = (2, 3)


class MergeError(JsLeakError):
    """An input cannot be merged (unreadable, not a pytest-jsleak report, or a duplicate check)."""


def read_report(path: Path) -> dict[str, Any]:
    """One input document; a `MergeError` naming the file when it is not a pytest-jsleak report."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise MergeError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MergeError(f"{path}: not a JSON document: {exc}") from None
    if not isinstance(document, dict) or (document.get("tool") or {}).get("name") != "pytest-jsleak":
        raise MergeError(f"{path}: not a pytest-jsleak report (--jsleak-report writes them)")
    if document.get("schema") not in READABLE_SCHEMAS:
        raise MergeError(
            f"{path}: report schema {document.get('schema')!r}; this version merges schemas "
            + ", ".join(str(s) for s in READABLE_SCHEMAS)
        )
    if not isinstance(document.get("items"), list):
        raise MergeError(f"{path}: its \"items\" is not a list")
    return document


def check_key(item: Mapping[str, Any]) -> tuple[str, str, str]:
    """What makes two items the same check: node id, scenario, runtime."""
    return (str(item.get("nodeid") or ""), str(item.get("scenario") or ""), str(item.get("runtime") or ""))


def merge_documents(
    inputs: Sequence[tuple[Path, Mapping[str, Any]]], *, allow_duplicates: bool = False
) -> dict[str, Any]:
    """One schema-3 document of every item of `inputs` ((path, document) pairs), each with its machine."""
    from pytest_jsleak.report.json_report import build_document

    items: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], Path] = {}
    sources = []
    for path, document in inputs:
        mine: set[tuple[str, str, str]] = set()
        for raw in document["items"]:
            item = dict(raw)
            # A schema-2 item has no machine: the input's file name is the best name of where it ran.
            item.setdefault("machine", Path(path).name)
            key = check_key(item)
            if key in seen and key not in mine and not allow_duplicates:
                nodeid, scenario, runtime = key
                raise MergeError(
                    f"{nodeid} [{scenario}] ({runtime}) is in both {seen[key]} and {path}: did the shards overlap? "
                    "(--allow-duplicates keeps both, each with its machine)"
                )
            seen.setdefault(key, Path(path))
            mine.add(key)
            items.append(item)
        sources.append({
            "path": str(path),
            "created": document.get("created"),
            "complete": document.get("complete"),
            "duration": document.get("duration"),
            "machines": sorted({str(i.get("machine") or Path(path).name) for i in document["items"]}),
            "items": len(document["items"]),
        })
    items.sort(key=check_key)  # stable: two checks of one test keep their order
    merged = build_document(items, complete=all(bool(d.get("complete")) for _, d in inputs))
    durations = [float(d["duration"]) for _, d in inputs if isinstance(d.get("duration"), (int, float))]
    # Shards run side by side: the merged run took as long as its longest part.
    merged["duration"] = max(durations) if durations else None
    merged["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    merged["merged_from"] = sources
    return merged


__all__ = ["MergeError", "check_key", "merge_documents", "read_report"]

"""The run's JSON document (DESIGN §7): schema 3, one entry per leak check, written atomically.

Schema 3 (over 2): the verdicts `inconclusive`, `known`, `fixed`; per item `reason`, `advice`, `baseline`,
`outcome`, `source_file`, `source_line`, `machine`; the summary counts every verdict; a merged document
(`jsleak merge`) lists its inputs in `merged_from`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_jsleak import __version__
from pytest_jsleak.model import VERDICTS

SCHEMA_VERSION = 3


def schema() -> dict[str, Any]:
    """The JSON Schema that every document written here validates against."""
    text = resources.files("pytest_jsleak.report").joinpath("schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def build_document(
    entries: Iterable[Mapping[str, Any]], *, complete: bool, started: float | None = None
) -> dict[str, Any]:
    items = [dict(entry) for entry in entries]
    counts = Counter(item["verdict"] for item in items)
    return {
        "schema": SCHEMA_VERSION,
        "tool": {"name": "pytest-jsleak", "version": __version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration": round(time.time() - started, 3) if started else None,
        # False while the run is going on, and after an interruption: the items are what finished.
        "complete": complete,
        "summary": {verdict: counts[verdict] for verdict in VERDICTS},
        "items": items,
    }


def write_report(
    path: Path, entries: Iterable[Mapping[str, Any]], *, complete: bool, started: float | None = None
) -> None:
    """Write the document so that a reader never sees a half-written file (temp file + rename)."""
    document = build_document(entries, complete=complete, started=started)
    write_text_atomically(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n", suffix=".json")


def write_text_atomically(path: Path, text: str, *, suffix: str) -> None:
    """Temp file in the same folder, then rename: a reader sees the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".jsleak-report-", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


__all__ = ["SCHEMA_VERSION", "build_document", "schema", "write_report", "write_text_atomically"]

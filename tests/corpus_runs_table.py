"""Tabulate repeated runs of a corpus against its ground truth (the READMEs' "Today's verdicts" tables).

    python -m pytest tests/corpus_pages --runxfail --jsleak-report=run1.json   # as many runs as wanted
    python tests/corpus_runs_table.py tests/corpus_pages/ground_truth.json run1.json run2.json run3.json

Prints one markdown row per scenario: the ground truth (verdict, bytes per action), the plugin's
verdict in each run, the growth per iteration it reported, and the time each check took.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

PARAM = re.compile(r"\[(.+)\]$")


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    truth = json.loads(Path(argv[0]).read_text())
    runs = []
    for path in argv[1:]:
        items = {}
        for item in json.loads(Path(path).read_text())["items"]:
            match = PARAM.search(item["nodeid"])
            if match:
                items[match.group(1)] = item
        runs.append(items)
    print("| scenario | ground truth | verdicts (runs) | reported B/iteration | s per check |")
    print("| --- | --- | --- | --- | --- |")
    for name, entry in truth.items():
        size = next(v for k, v in entry.items() if k.startswith("bytes_per_"))
        found = [run.get(name) for run in runs]
        verdicts = " / ".join(item["verdict"] if item else "-" for item in found)
        growth = " / ".join(f"{item['growth_per_iteration']:.0f}" if item else "-" for item in found)
        seconds = " / ".join(f"{item['duration']:.1f}" if item and item.get("duration") else "-" for item in found)
        print(f"| `{name}` | {entry['verdict']}, {size:g} B | {verdicts} | {growth} | {seconds} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

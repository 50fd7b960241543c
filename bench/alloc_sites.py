"""What allocation sites cost: a leak verdict with and without allocation tracking, per example.

    python bench/alloc_sites.py [--repeat 3] [--markdown]

Runs the leaky examples under node (`pytest --jsleak examples/ -k leaky`) alternately with
`--jsleak-allocation-sites=on` and `off`, `--repeat` times each, and prints per scenario the median
duration (spawn to verdict) and its two phases that tracking touches: the confirming rounds with
their snapshots (tracking is on from S1 to S2) and the analysis (S2 is then parsed whole, for its
stacks). Clean scenarios never reach the confirming rounds, so they pay nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("off", "on")


def run(mode: str, scratch: Path, index: int) -> tuple[dict[str, dict], float]:
    report = scratch / f"{mode}-{index}.json"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--jsleak", "-k", "leaky",
         f"--jsleak-allocation-sites={mode}", f"--jsleak-report={report}", f"--jsleak-dir={scratch / mode}",
         str(ROOT / "examples")],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False,
    )
    wall = time.perf_counter() - started
    items = {item["nodeid"].split("examples/", 1)[-1]: item for item in json.loads(report.read_text())["items"]}
    return items, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table for bench/README.md")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="jsleak-alloc-bench-"))
    runs: dict[str, list[dict[str, dict]]] = {mode: [] for mode in MODES}
    walls: dict[str, list[float]] = {mode: [] for mode in MODES}
    for index in range(args.repeat):
        for mode in MODES:  # alternated, so that a noisy minute hits both
            items, wall = run(mode, scratch, index)
            runs[mode].append(items)
            walls[mode].append(wall)
    names = sorted({name for items in runs["on"] for name in items})

    def median(mode: str, name: str, key: str) -> float:
        values = []
        for items in runs[mode]:
            item = items.get(name)
            if item:
                values.append(item["duration"] if key == "duration" else item.get("timings", {}).get(key, 0.0))
        return statistics.median(values) if values else float("nan")

    header = ["scenario", "verdict off / on", "total off → on, s", "confirming rounds off → on, s",
              "analysis off → on, s", "sites found"]
    rows = []
    for name in names:
        verdicts = "/".join(runs[mode][-1].get(name, {}).get("verdict", "-") for mode in MODES)
        sites = sum(bool(s.get("allocation_sites")) for s in runs["on"][-1].get(name, {}).get("suspects", []))
        rows.append([
            name, verdicts,
            f"{median('off', name, 'duration'):.2f} → {median('on', name, 'duration'):.2f}",
            f"{median('off', name, 'snapshots'):.2f} → {median('on', name, 'snapshots'):.2f}",
            f"{median('off', name, 'analysis'):.2f} → {median('on', name, 'analysis'):.2f}",
            str(sites),
        ])
    rows.append(["whole run (pytest wall time, median)", "",
                 f"{statistics.median(walls['off']):.1f} → {statistics.median(walls['on']):.1f}", "", "", ""])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + " --- |" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        from tabulate import tabulate

        print(tabulate(rows, headers=header, disable_numparse=True))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

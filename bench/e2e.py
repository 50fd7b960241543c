"""Wall time per example scenario, spawn to verdict, under node and bun, and where the time goes.

    python bench/e2e.py [--runtimes node,bun] [--markdown]

Runs `pytest --jsleak examples/` once per runtime with a JSON report and prints, per scenario, the
verdict and the duration with its phases (start: spawn + load + setup; warmup; sampling round;
snapshots: the confirming rounds with three snapshots; analysis: parsing and the diff in Python).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("start", "warmup", "sampling", "snapshots", "analysis")


def run(runtime: str, scratch: Path) -> tuple[dict[str, dict], float]:
    report = scratch / f"{runtime}.json"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--jsleak", f"--jsleak-runtime={runtime}",
         f"--jsleak-report={report}", f"--jsleak-dir={scratch / runtime}", str(ROOT / "examples")],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False,
    )
    wall = time.perf_counter() - started
    items = {item["nodeid"].split("examples/", 1)[-1]: item for item in json.loads(report.read_text())["items"]}
    return items, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runtimes", default="node,bun")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table for bench/README.md")
    args = parser.parse_args()
    runtimes = [r for r in args.runtimes.split(",") if shutil.which(r)]
    scratch = Path(tempfile.mkdtemp(prefix="jsleak-bench-"))
    results = {runtime: run(runtime, scratch) for runtime in runtimes}
    names = sorted({name for items, _ in results.values() for name in items})
    header = ["scenario"] + [f"{r} verdict, s" for r in runtimes] + [f"{r} phases (s)" for r in runtimes]
    rows = []
    for name in names:
        row = [name]
        phases = []
        for runtime in runtimes:
            item = results[runtime][0].get(name)
            row.append(f"{item['verdict']} {item['duration']:.2f}" if item else "-")
            if item:
                t = item.get("timings", {})
                phases.append(" / ".join(f"{t.get(p, 0):.2f}" for p in PHASES))
            else:
                phases.append("-")
        rows.append(row + phases)
    totals = ["whole run (pytest wall time)"] + [f"{results[r][1]:.1f}" for r in runtimes] + [""] * len(runtimes)
    rows.append(totals)
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + " --- |" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        from tabulate import tabulate

        print(tabulate(rows, headers=header, disable_numparse=True))
    print(f"phases: {' / '.join(PHASES)}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

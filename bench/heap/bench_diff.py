"""Benchmark: `jsleak diff s1 s2 s3` against memlab `find-leaks` on three sizes of snapshot sets.

    python bench/heap/bench_diff.py [--sets small,medium,large] [--repeat N] [--no-memlab]

Generates the sets with `node --expose-gc gen_snapshots.mjs` (a process that leaks 1000
`RequestRecord`s per step through the global array `requestLog` and `onRequest` listener
closures), installs memlab from the npm registry into bench/.scratch/memlab, and prints both
tools side by side: wall time and peak RSS of the whole process (os.wait4), with the ratios; and
jsleak's forms: afresh (`--no-cache`, growth in place on, the default analysis), `--no-growth`, the
first run that writes the processed-snapshot cache, and the runs that start from it (medians).
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


def drop_indexes(files: list[Path]) -> None:
    for path in files:
        Path(str(path) + ".jsleak-index").unlink(missing_ok=True)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def jsleak_runs(files: list[Path], extra: list[str], repeat: int) -> list[tuple[float, float, int, str]]:
    command = [sys.executable, "-m", "pytest_jsleak", "diff", *map(str, files), "--json", *extra]
    return [measure(command) for _ in range(repeat)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="small,medium,large")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each jsleak form per set (the median is shown)")
    parser.add_argument("--no-memlab", action="store_true")
    args = parser.parse_args()
    memlab = None if args.no_memlab else install_memlab()
    results = []
    for name in args.sets.split(","):
        files = generate(name)
        size, nodes, edges = snapshot_facts(files[2])
        leaks = SETS[name][1]
        drop_indexes(files)
        # The default diff (growth in place on) analysing the files afresh, its --no-growth form,
        # then the cache: one run that writes the index, and runs that start from it.
        fresh = jsleak_runs(files, ["--no-cache"], args.repeat)
        no_growth = jsleak_runs(files, ["--no-cache", "--no-growth"], args.repeat)
        writing = jsleak_runs(files, [], 1)[0]
        cached = jsleak_runs(files, [], args.repeat)
        index_mb = sum(Path(str(path) + ".jsleak-index").stat().st_size for path in files) / 1e6
        drop_indexes(files)
        row = {
            "set": name, "snapshot_mb": round(size, 1), "nodes": nodes, "edges": edges,
            "jsleak_s": round(median([run[0] for run in fresh]), 2),
            "jsleak_rss_mb": round(median([run[1] for run in fresh])),
            "no_growth_s": round(median([run[0] for run in no_growth]), 2),
            "no_growth_rss_mb": round(median([run[1] for run in no_growth])),
            "writing_s": round(writing[0], 2), "writing_rss_mb": round(writing[1]),
            "cached_s": round(median([run[0] for run in cached]), 2),
            "cached_rss_mb": round(median([run[1] for run in cached])),
            "index_mb": round(index_mb, 1),
            "jsleak_check": check_jsleak(fresh[0][3], leaks),
            "cached_same": all(run[3] == fresh[0][3] for run in [*fresh, writing, *cached]),
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
    print("| set | snapshot | nodes / edges | memlab find-leaks | `jsleak diff` (growth on) "
          "| ratio to memlab (time, RSS) | `--no-growth` | first run writing the index | from the index "
          "| from the index / afresh | same output | check |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in results:
        memlab_cell = (f"{row['memlab_s']:.2f} s, {row['memlab_rss_mb']} MB" if "memlab_s" in row else "–")
        ratios = "–"
        if "memlab_s" in row:
            ratios = f"{row['jsleak_s'] / row['memlab_s']:.2f}×, {row['jsleak_rss_mb'] / row['memlab_rss_mb']:.2f}×"
        print(f"| {row['set']} | {row['snapshot_mb']} MB | {row['nodes']:,} / {row['edges']:,} | {memlab_cell} | "
              f"{row['jsleak_s']:.2f} s, {row['jsleak_rss_mb']} MB | {ratios} | "
              f"{row['no_growth_s']:.2f} s, {row['no_growth_rss_mb']} MB | "
              f"{row['writing_s']:.2f} s, {row['writing_rss_mb']} MB (index {row['index_mb']} MB) | "
              f"{row['cached_s']:.2f} s, {row['cached_rss_mb']} MB | {row['cached_s'] / row['jsleak_s']:.2f}× | "
              f"{'yes' if row['cached_same'] else 'NO'} | {row['jsleak_check']} |")
    (SCRATCH / "heap-bench.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    if shutil.which("node") is None:
        sys.exit("node is not on PATH")
    sys.exit(main())

"""Regenerate tests/corpus/ground_truth.json: the corpus's verdicts, measured without pytest-jsleak.

    python tests/corpus/ground_truth.py            # every scenario, node and bun (several minutes)
    python tests/corpus/ground_truth.py ajv-compile.leak.mjs::leaky   # some scenarios only (merged in)

Each scenario runs in its own process under `node --expose-gc` and under `bun`
(ground_truth.mjs): CALLS plain calls (50,000 unless SLOW_CALLS says otherwise), with the memory
read after a full GC at 20 evenly spaced points. The verdict comes from the second half of the run:
a leak keeps growing linearly there (Theil–Sen slope of heap + external, in bytes per call); a
clean scenario has levelled off. Both runtimes must agree, and a slope in the grey zone between
the two thresholds is measured again over 4x the calls, and if it stays there it is an error:
such a pair must be changed, not classified.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRUTH = HERE / "ground_truth.json"
SAMPLES = HERE / "ground_truth_samples.json"
CALLS = 50_000
POINTS = 20
# Fewer calls where 50,000 would take minutes or most of a GB per runtime (ajv: ~2 ms and ~14 KB a call).
SLOW_CALLS = {
    "ajv-compile.leak.mjs::leaky": 20_000,
    # Every sync flush retires a whole 16 KB output chunk: 50,000 calls would keep 800 MB.
    "pako-deflate.leak.mjs::streamLeaky": 10_000,
}
# Bytes per call over the second half. A leak is well above LEAK_SLOPE; a plateau is below CLEAN_SLOPE.
# (Bun's clean loops still creep by ~0.3 B/call; the slowest real leak here, one null slot per call,
# is ~8 B/call.)
LEAK_SLOPE = 3.0
CLEAN_SLOPE = 1.0
RUNTIMES = {"node": ["node", "--expose-gc"], "bun": ["bun"]}
EXPORT = re.compile(r"^export (?:async )?function (\w+)", re.MULTILINE)


def scenarios() -> list[str]:
    """Every `file::scenario` of the corpus, in file order."""
    names = []
    for path in sorted(HERE.glob("*.leak.mjs")):
        names += [f"{path.name}::{name}" for name in EXPORT.findall(path.read_text())]
    return names


def slope(points: list[tuple[int, int]]) -> float:
    """Theil–Sen slope of memory over calls (the median of all pairwise slopes), bytes per call.

    Robust where least squares is not: one read taken while the runtime held a transient buffer,
    or one release of runtime-owned memory (Bun drops tens of MB of JSC extra memory at a time
    under a growing cache), moves the median little.
    """
    return statistics.median((y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in itertools.combinations(points, 2))


def classify(samples: list[dict]) -> dict:
    """Verdict and slopes of one run: first half (warm-up, caches filling) and second half.

    Two series are judged, everything (`total`) and the JS objects alone (`total - external`):
    JSC keeps compiled code and source text of `new Function` in "extra memory" that it releases in
    bursts of tens of MB while the functions themselves stay alive (a growing template cache on Bun
    rises 300 MB and then falls back 100 MB), and ArrayBuffer stores exist only in `total`. The
    larger slope counts.
    """
    series = [[(s["calls"], s["total"]) for s in samples],
              [(s["calls"], s["total"] - s["external"]) for s in samples]]
    mid = samples[-1]["calls"] // 2
    second_slope = max(slope([p for p in points if p[0] >= mid]) for points in series)
    first_slope = max(slope([p for p in points if p[0] <= mid]) for points in series)
    if second_slope >= LEAK_SLOPE:
        verdict = "leak"
    elif second_slope < CLEAN_SLOPE:  # falling is clean too
        verdict = "clean"
    else:
        verdict = "unclear"
    judged = {
        "verdict": verdict,
        "second_half_bytes_per_call": round(second_slope, 2),
        "first_half_bytes_per_call": round(first_slope, 2),
    }
    if "objects" in samples[-1]:  # Bun: live JS objects, for checking by eye (not part of the verdict)
        judged["second_half_objects_per_call"] = round(slope([(s["calls"], s["objects"]) for s in samples
                                                              if s["calls"] >= mid]), 3)
    return judged


def run(item: str, runtime: str, calls: int) -> dict:
    file, scenario = item.split("::")
    cmd = [*RUNTIMES[runtime], str(HERE / "ground_truth.mjs"), file, scenario, str(calls), str(POINTS)]
    proc = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{item} on {runtime}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**classify(result["samples"]), "version": result["version"], "calls": calls,
            "us_per_call": round(result["ms"] * 1000 / calls, 1), "samples": result["samples"]}


def measure(item: str, runtime: str) -> dict:
    """One scenario on one runtime; a slope in the grey zone is measured again over 4x the calls.

    A few hundred KB of heap noise at one reading (bytecode flushed or not, a buffer the runtime
    happened to hold) is a few B/call over 25,000 calls and a quarter of that over 100,000; a real
    leak keeps its slope.
    """
    calls = SLOW_CALLS.get(item, CALLS)
    result = run(item, runtime, calls)
    if result["verdict"] == "unclear":
        result = run(item, runtime, calls * 4)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("items", nargs="*", help="file::scenario to (re)measure; default: all")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--reclassify", action="store_true",
                        help="judge the samples stored in ground_truth_samples.json again, without running anything")
    args = parser.parse_args(argv)
    known = scenarios()
    items = args.items or known
    unknown = sorted(set(items) - set(known))
    if unknown:
        parser.error(f"not in the corpus: {unknown}")
    jobs = [(item, runtime) for item in items for runtime in RUNTIMES]
    if args.reclassify:
        stored = json.loads(SAMPLES.read_text())
        results = {(item, rt): {**stored[item][rt], **classify(stored[item][rt]["samples"])} for item, rt in jobs}
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            results = dict(zip(jobs, pool.map(lambda job: measure(*job), jobs), strict=True))

    keep = bool(args.items) or args.reclassify
    truth = json.loads(TRUTH.read_text()) if TRUTH.exists() and keep else {}
    raw = json.loads(SAMPLES.read_text()) if SAMPLES.exists() and keep else {}
    problems = []
    for item in items:
        node, bun = results[(item, "node")], results[(item, "bun")]
        print(f"{item:48} node {node['verdict']:7} {node['second_half_bytes_per_call']:>10} B/call"
              f" (first half {node['first_half_bytes_per_call']:>9})   bun {bun['verdict']:7}"
              f" {bun['second_half_bytes_per_call']:>10} B/call (first half {bun['first_half_bytes_per_call']:>9})")
        if node["verdict"] != bun["verdict"] or node["verdict"] == "unclear":
            problems.append(f"{item}: node says {node['verdict']}, bun says {bun['verdict']}")
        truth[item] = {
            "verdict": node["verdict"],
            "node_bytes_per_call": node["second_half_bytes_per_call"],
            "bun_bytes_per_call": bun["second_half_bytes_per_call"],
            "node_calls": node["calls"],
            "bun_calls": bun["calls"],
            "bun_objects_per_call": bun.get("second_half_objects_per_call"),
        }
        raw[item] = {rt: results[(item, rt)] for rt in RUNTIMES}
    order = {name: i for i, name in enumerate(known)}
    TRUTH.write_text(json.dumps(dict(sorted(truth.items(), key=lambda kv: order[kv[0]])), indent=2) + "\n")
    SAMPLES.write_text(json.dumps(dict(sorted(raw.items(), key=lambda kv: order[kv[0]])), indent=1) + "\n")
    if problems:
        print("\nNOT A USABLE GROUND TRUTH (change these pairs):\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Regenerate tests/corpus_services/ground_truth.json: each route's memory, measured without pytest-jsleak.

    python tests/corpus_services/ground_truth.py                      # every scenario (~1 min each)
    python tests/corpus_services/ground_truth.py koa-inflight-map::fixed  # some only (merged in)

Each scenario runs in its own `node --expose-gc` process (ground_truth.mjs): the app started in
that process, REQUESTS plain HTTP requests to its route over loopback, one connection each with
the headers urllib sends, and after every EVERY requests two full GCs and `process.memoryUsage()`.
The verdict comes from the second half of the run: a leak keeps growing linearly there (Theil–Sen
slope of heapUsed - code + external, in bytes per request, with the least-squares R² beside it); a
clean route has levelled off, and `settled_after` says from which reading on it stays within NOISE of its final level. A
slope in the grey zone (or one without a straight line) is measured again over 4x the requests;
still there, the script exits 1: such a route must be changed, not classified.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scenarios import SCENARIOS  # noqa: E402

# What urllib.request.urlopen sends as User-Agent in the tests: the routes keep that string.
USER_AGENT = f"Python-urllib/{sys.version_info.major}.{sys.version_info.minor}"
TRUTH = HERE / "ground_truth.json"
SAMPLES = HERE / "ground_truth_samples.json"
REQUESTS = 10_000
EVERY = 500
# B/request over the second half. The leaks here keep 130+ B a request. A route that has warmed up
# is flat but noisy: one reading 100-250 KB off (JIT code, a socket's buffers) is 20-50 B/request
# over a 5,000-request half before Theil–Sen discounts it; between the two, measure 4x longer.
LEAK_SLOPE = 50.0
CLEAN_SLOPE = 10.0
# A leak keeps memory in proportion to the requests, so a straight line fits its readings; a step
# of compiled code or a rise still settling does not.
LEAK_FIT = 0.9
# A reading within this of the final level counts as settled: V8's GC'd heap moves by some tens of
# KB between two reads of a flat loop (feedback, inline caches, the sockets' free lists).
NOISE = 64 * 1024


def theil_sen(points: list[tuple[int, float]]) -> float:
    """Median of the pairwise slopes: one odd reading moves it little."""
    return statistics.median((y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in itertools.combinations(points, 2))


def r_squared(points: list[tuple[int, float]]) -> float:
    """How well a straight line (least squares) fits the points: 1.0 is a perfect line."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys)
    if ss_tot == 0:
        return 1.0
    ss_res = sum((y - (my + sxy / sxx * (x - mx))) ** 2 for x, y in zip(xs, ys, strict=True))
    return 1 - ss_res / ss_tot


def classify(samples: list[dict]) -> dict:
    points = [(s["requests"], s["total"]) for s in samples]
    mid = points[-1][0] // 2
    judged = [p for p in points if p[0] >= mid]
    slope = theil_sen(judged)
    fit = r_squared(judged)
    verdict = "leak" if slope >= LEAK_SLOPE and fit >= LEAK_FIT else "clean" if slope < CLEAN_SLOPE else "unclear"
    final = statistics.median(p[1] for p in points[-5:])
    settled_after = next(
        (x for i, (x, _) in enumerate(points) if all(abs(y - final) <= NOISE for _, y in points[i:])), None
    )
    return {
        "verdict": verdict,
        "bytes_per_request": round(slope, 1),
        "r_squared": round(fit, 4),
        "first_half_bytes_per_request": round(theil_sen([p for p in points if p[0] <= mid]), 1),
        "settled_after": settled_after if verdict == "clean" else None,
        "rise_before_settling": round(final - points[0][1]) if verdict == "clean" else None,
    }


def run(name: str, requests: int) -> dict:
    scenario = SCENARIOS[name]
    cmd = ["node", "--expose-gc", str(HERE / "ground_truth.mjs"), scenario.app, scenario.path, str(requests),
           str(requests // (REQUESTS // EVERY)), USER_AGENT]
    proc = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{name}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**classify(result["samples"]), "node": result["version"], "requests": requests,
            "ms_per_request": round(result["ms"] / requests, 3), "samples": result["samples"]}


def measure(name: str) -> dict:
    result = run(name, REQUESTS)
    if result["verdict"] == "unclear":
        result = run(name, REQUESTS * 4)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("items", nargs="*", help="scenarios to (re)measure; default: all")
    parser.add_argument("--reclassify", action="store_true", help="judge the stored samples again")
    args = parser.parse_args(argv)
    items = args.items or list(SCENARIOS)
    unknown = sorted(set(items) - set(SCENARIOS))
    if unknown:
        parser.error(f"not in the corpus: {unknown} (known: {sorted(SCENARIOS)})")
    keep = bool(args.items) or args.reclassify
    truth = json.loads(TRUTH.read_text()) if TRUTH.exists() and keep else {}
    raw = json.loads(SAMPLES.read_text()) if SAMPLES.exists() and keep else {}
    problems = []
    for name in items:  # one at a time: the loops are timed, and the machine is shared
        r = {**raw[name], **classify(raw[name]["samples"])} if args.reclassify else measure(name)
        print(f"{name:34} {r['verdict']:7} {r['bytes_per_request']:>8} B/request (R² {r['r_squared']},"
              f" first half {r['first_half_bytes_per_request']}, settled after {r['settled_after']},"
              f" {r['ms_per_request']} ms/request)", flush=True)
        expected = "clean" if SCENARIOS[name].fixed else "leak"
        if r["verdict"] != expected:
            problems.append(f"{name}: measured {r['verdict']} ({r['bytes_per_request']} B/request),"
                            f" expected {expected}")
        truth[name] = {"verdict": r["verdict"], "library": SCENARIOS[name].library,
                       **{k: r[k] for k in ("bytes_per_request", "r_squared", "first_half_bytes_per_request",
                                            "settled_after", "rise_before_settling", "requests", "ms_per_request",
                                            "node")}}
        raw[name] = r
    order = {name: i for i, name in enumerate(SCENARIOS)}
    TRUTH.write_text(json.dumps(dict(sorted(truth.items(), key=lambda kv: order[kv[0]])), indent=2) + "\n")
    SAMPLES.write_text(json.dumps(dict(sorted(raw.items(), key=lambda kv: order[kv[0]])), indent=1) + "\n")
    if problems:
        print("\nNOT A USABLE GROUND TRUTH (change these routes):\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

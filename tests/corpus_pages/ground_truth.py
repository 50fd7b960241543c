"""Regenerate tests/corpus_pages/ground_truth.json: each page's memory, measured without pytest-jsleak.

    python tests/corpus_pages/ground_truth.py                  # every scenario (~1-2 min each)
    python tests/corpus_pages/ground_truth.py vue-resize::fixed  # some only (merged in)

A plain loop in a fresh browser context per scenario (Playwright opens the system Chromium and the
page; the clicks are CDP mouse events, see `cdp_clicks`): ACTIONS actions (the scenario's clicks),
and every EVERY actions `HeapProfiler.collectGarbage` over CDP until two readings of
`Runtime.getHeapUsage` agree. Memory is V8's used heap plus Blink's (Oilpan) used heap
(`usedSize + embedderHeapUsedSize`): detached DOM lives in the latter; each reading counts as the
lowest of the five around it (`kept`). The verdict comes from the second half of the readings: a leak keeps
growing linearly there (Theil–Sen slope, in bytes per action, with the least-squares fit's R²
beside it); a clean page is flat there, and `settled_after` says from which reading on it stays
within NOISE of its final level. In between (or a slope without a straight line), the scenario is
measured again over 4x the actions; still in between, the script exits 1: such a page must be
changed, not classified.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pages_support import CHROMIUM_ARGS, SCENARIOS, chromium_executable, serve_corpus  # noqa: E402

TRUTH = HERE / "ground_truth.json"
SAMPLES = HERE / "ground_truth_samples.json"
ACTIONS = 1000
EVERY = 50
# The plain loops show every page rising for its first few hundred actions (compiled code, V8 and
# Blink internals, Playwright's own scripts) before it levels off or grows linearly: the second half
# of the run is judged.
# B/action over the judged readings. Every leak here keeps 16 KB/action or more. A fixed page's
# floor still creeps by 15-60 B/action over thousands of actions (V8's and Blink's own tables, and
# the floor of Blink's heap moves by 100-200 KB, up to 100 B/action over 2,000 actions): below
# CLEAN_SLOPE a page is as flat as these readings can tell.
LEAK_SLOPE = 1000.0
CLEAN_SLOPE = 100.0
# A leak keeps memory in proportion to the actions, so a straight line fits its readings; a step of
# compiled code (50-100 KB at once, a few hundred actions in) or a rise still settling does not.
LEAK_FIT = 0.9
# A reading within this of the final level counts as settled: the size of one GC's leftovers that
# move from reading to reading on a flat page.
NOISE = 64 * 1024
# Readings on each side of one that its floor is taken over (`kept`): Blink's high readings come
# one or two in a row.
KEPT_WINDOW = 2
# At most this many collections per reading: a page settles in 2-4 (a detached subtree, then the
# wrappers it kept).
GC_ROUNDS = 6


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


def kept(values: list[float]) -> list[float]:
    """Each reading as the lowest of the five around it (two before, two after): the page's floor.

    Blink's heap after GC flips between levels 100-200 KB apart from one reading to the next on a
    flat page, one or two readings at a time; a leak's floor rises at the leak's slope (the window
    only shifts it by two readings), a flat page's floor stays flat.
    """
    return [min(values[max(0, i - KEPT_WINDOW):i + KEPT_WINDOW + 1]) for i in range(len(values))]


def classify(samples: list[dict]) -> dict:
    totals = kept([s["total"] for s in samples])
    points = [(s["actions"], total) for s, total in zip(samples, totals, strict=True)]
    mid = points[-1][0] // 2
    judged = [p for p in points if p[0] >= mid]
    slope = theil_sen(judged)
    early = theil_sen([p for p in points if p[0] <= mid])
    fit = r_squared(judged)
    verdict = "leak" if slope >= LEAK_SLOPE and fit >= LEAK_FIT else "clean" if slope < CLEAN_SLOPE else "unclear"
    final = statistics.median(p[1] for p in points[-5:])
    settled_after = next(
        (x for i, (x, _) in enumerate(points) if all(abs(y - final) <= NOISE for _, y in points[i:])), None
    )
    return {
        "verdict": verdict,
        "bytes_per_action": round(slope, 1),
        "r_squared": round(fit, 4),
        "first_half_bytes_per_action": round(early, 1),
        "js_bytes_per_action": round(theil_sen([(s["actions"], s["used"]) for s in samples if s["actions"] >= mid]), 1),
        "settled_after": settled_after if verdict == "clean" else None,
        "rise_before_settling": round(final - points[0][1]) if verdict == "clean" else None,
    }


def read(cdp) -> dict:
    """Memory after GC: collections until two in a row leave the same heaps (Blink's heap needs 2-3)."""
    last = None
    for _ in range(GC_ROUNDS):
        cdp.send("HeapProfiler.collectGarbage")
        usage = cdp.send("Runtime.getHeapUsage")
        now = (usage["usedSize"], usage.get("embedderHeapUsedSize", 0))
        if now == last:
            break
        last = now
    used, embedder = last
    return {"used": used, "embedder": embedder, "backing": usage.get("backingStorageSize", 0), "total": used + embedder}


def cdp_clicks(cdp, scenario) -> Callable[[], None]:
    """The scenario's clicks as CDP mouse events at each button's centre.

    Not Playwright's `page.click`: that runs Playwright's injected script in the page's heap
    (actionability checks, handles), which grows by itself for hundreds of clicks. The events are
    the ones `page.click` ends with (`Input.dispatchMouseEvent`), so the page runs the same code.
    """
    centres = []
    for selector in scenario.clicks:
        box = cdp.send("Runtime.evaluate", {
            "expression": f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                          " return [r.x + r.width / 2, r.y + r.height / 2]; })()",
            "returnByValue": True,
        })["result"]["value"]
        centres.append(box)

    def clicks() -> None:
        for x, y in centres:
            for kind in ("mousePressed", "mouseReleased"):
                cdp.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    return clicks


def measure(browser, base: str, name: str, actions: int) -> dict:
    """One scenario; a verdict in the grey zone is measured again over 4x the actions.

    A one-off step or a rise that is still settling weighs a quarter as much per action over a run
    4x as long; a leak keeps its slope.
    """
    result = measure_once(browser, base, name, actions, EVERY)
    if result["verdict"] == "unclear":
        result = measure_once(browser, base, name, actions * 4, EVERY * 4)
    return result


def measure_once(browser, base: str, name: str, actions: int, every: int) -> dict:
    scenario = SCENARIOS[name]
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []  # a page that throws is not the scenario it claims to be
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(base + scenario.path())
        cdp = context.new_cdp_session(page)
        step = cdp_clicks(cdp, scenario)
        samples = [{"actions": 0, **read(cdp)}]
        started = time.perf_counter()
        for done in range(1, actions + 1):
            step()
            if done % every == 0:
                samples.append({"actions": done, **read(cdp)})
        seconds = time.perf_counter() - started
        cdp.detach()
        if errors:
            raise SystemExit(f"{name}: the page reported errors: {errors[:3]}")
    finally:
        context.close()
    return {**classify(samples), "actions": actions, "ms_per_action": round(seconds * 1000 / actions, 1),
            "samples": samples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("items", nargs="*", help="scenarios to (re)measure; default: all")
    parser.add_argument("--actions", type=int, default=ACTIONS)
    parser.add_argument("--reclassify", action="store_true", help="judge the stored samples again")
    args = parser.parse_args(argv)
    items = args.items or list(SCENARIOS)
    unknown = sorted(set(items) - set(SCENARIOS))
    if unknown:
        parser.error(f"not in the corpus: {unknown} (known: {sorted(SCENARIOS)})")
    keep = bool(args.items) or args.reclassify
    if args.reclassify:
        raw = json.loads(SAMPLES.read_text())
        results = {name: {**raw[name], **classify(raw[name]["samples"])} for name in items}
    else:
        from playwright.sync_api import sync_playwright

        results = {}
        with serve_corpus() as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
            version = browser.version
            for name in items:
                results[name] = {**measure(browser, base, name, args.actions), "chromium": version}
                r = results[name]
                print(f"{name:28} {r['verdict']:7} {r['bytes_per_action']:>9} B/action (R² {r['r_squared']},"
                      f" first half {r['first_half_bytes_per_action']}, settled after {r['settled_after']},"
                      f" {r['ms_per_action']} ms/action)", flush=True)
            browser.close()
    # Read only now: another run over other scenarios may have written meanwhile.
    truth = json.loads(TRUTH.read_text()) if TRUTH.exists() and keep else {}
    raw = json.loads(SAMPLES.read_text()) if SAMPLES.exists() and keep else {}
    problems = []
    for name in items:
        r = results[name]
        expected = "clean" if SCENARIOS[name].fixed else "leak"
        if r["verdict"] != expected:
            problems.append(f"{name}: measured {r['verdict']} ({r['bytes_per_action']} B/action), expected {expected}")
        truth[name] = {
            "verdict": r["verdict"],
            "library": SCENARIOS[name].library,
            "bytes_per_action": r["bytes_per_action"],
            "r_squared": r["r_squared"],
            "first_half_bytes_per_action": r["first_half_bytes_per_action"],
            "js_bytes_per_action": r["js_bytes_per_action"],
            "settled_after": r["settled_after"],
            "rise_before_settling": r["rise_before_settling"],
            "actions": r["actions"],
            "ms_per_action": r["ms_per_action"],
            "chromium": r["chromium"],
        }
        raw[name] = results[name]
    order = {name: i for i, name in enumerate(SCENARIOS)}
    TRUTH.write_text(json.dumps(dict(sorted(truth.items(), key=lambda kv: order[kv[0]])), indent=2) + "\n")
    SAMPLES.write_text(json.dumps(dict(sorted(raw.items(), key=lambda kv: order[kv[0]])), indent=1) + "\n")
    if problems:
        print("\nNOT A USABLE GROUND TRUTH (change these pages):\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

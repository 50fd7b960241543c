"""Page checks against the floor they cannot beat (issue 18).

    python bench/pages.py [--runs 3] [--scenarios react-interval::fixed,...] [--markdown]
                          [--compare-args "--disable-frame-rate-limit --disable-gpu-vsync"]

For each scenario of the page corpus (tests/corpus_pages: real front-end libraries' own browser
builds, served on a loopback port), in one run:

- **check**: `jsleak.page(page).check(action)` as the corpus test runs it (page defaults), on a fresh
  context, timed from the call to the result; its verdict, whether it ended on the fast path (no
  confirming rounds, so no snapshot), its calls and its phases;
- **floor**: the same action, on a fresh context of the same browser, called plainly as many times
  as the check called it: no GC, no sample, no snapshot.

Medians over `--runs`. `--compare-args`: a second Chromium launched with these flags too, each
scenario checked on both in turn within each run (the machine's load falls on both alike); rows
marked `+args`. Needs Chromium (`JSLEAK_CHROMIUM` or `chromium` on PATH) and the corpus's
npm builds (`npm ci` in tests/corpus_pages).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "corpus_pages"), str(ROOT / "tests")]

from npm_ci import npm_ci  # noqa: E402
from pages_support import CHROMIUM_ARGS, SCENARIOS, action, chromium_executable, serve_corpus  # noqa: E402

from pytest_jsleak.check import run_driver_check  # noqa: E402
from pytest_jsleak.drivers.page import PageDriver, page_options  # noqa: E402
from pytest_jsleak.model import LeakResult  # noqa: E402

PHASES = ("warmup", "sampling", "snapshots", "analysis")


def one_check(browser: Any, base: str, name: str) -> dict[str, Any]:
    scenario = SCENARIOS[name]
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base + scenario.path())
        options = page_options()
        result = LeakResult(target=scenario.page, scenario=name, runtime="chromium", verdict="clean")
        with tempfile.TemporaryDirectory() as folder:
            began = time.perf_counter()
            run_driver_check(lambda: PageDriver(page, action(page, scenario), timeout=options.timeout),
                             options, Path(folder), result)
            seconds = time.perf_counter() - began
    finally:
        context.close()
    calls = result.warmup_calls + (result.samples[-1].iteration if result.samples else 0)
    return {
        "verdict": result.verdict,
        "seconds": seconds,
        "fast": result.round_iterations == 0,  # no confirming rounds: no snapshot was taken
        "calls": calls,
        "phases": {phase: result.timings.get(phase, 0.0) for phase in PHASES},
        "error": result.error,
    }


def floor(browser: Any, base: str, name: str, calls: int) -> float:
    scenario = SCENARIOS[name]
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base + scenario.path())
        act = action(page, scenario)
        began = time.perf_counter()
        for _ in range(calls):
            act()
        return time.perf_counter() - began
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--compare-args", default="", help="Chromium flags of a second browser to compare")
    args = parser.parse_args(argv)
    names = [n for n in args.scenarios.split(",") if n]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    npm_ci(ROOT / "tests" / "corpus_pages")  # the pinned builds, once (a stamp says which lock)
    from playwright.sync_api import sync_playwright

    configs = {"": CHROMIUM_ARGS} | ({" +args": [*CHROMIUM_ARGS, *args.compare_args.split()]}
                                      if args.compare_args else {})
    rows: dict[str, list[dict[str, Any]]] = {n + c: [] for n in names for c in configs}
    with serve_corpus() as base, sync_playwright() as playwright:
        browsers = {c: playwright.chromium.launch(executable_path=chromium_executable(), args=flags)
                    for c, flags in configs.items()}
        try:
            for run in range(args.runs):
                for name in names:
                    for config, browser in browsers.items():
                        row = one_check(browser, base, name)
                        row["floor"] = floor(browser, base, name, row["calls"])
                        rows[name + config].append(row)
                        phases = " / ".join(f"{row['phases'][p]:.1f}" for p in PHASES)
                        print(f"run {run + 1} {name}{config}: {row['verdict']} {row['seconds']:.1f} s "
                              f"({'fast path' if row['fast'] else 'snapshots'}, {row['calls']} calls, "
                              f"floor {row['floor']:.1f} s; {phases})"
                              + (f" error: {row['error'].splitlines()[0]}" if row["error"] else ""), flush=True)
        finally:
            for browser in browsers.values():
                browser.close()
    if args.markdown:
        print()
        print("| scenario | verdicts | check, s (median) | floor, s | check / floor | fast path | calls | "
              "warmup / sampling / snapshots / analysis, s |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, runs in rows.items():
            seconds = statistics.median(r["seconds"] for r in runs)
            low = statistics.median(r["floor"] for r in runs)
            phases = " / ".join(f"{statistics.median(r['phases'][p] for r in runs):.1f}" for p in PHASES)
            verdicts = "/".join(sorted({r["verdict"] for r in runs}))
            print(f"| {name} | {verdicts} | {seconds:.1f} | {low:.1f} | {seconds / max(low, 1e-9):.1f}× | "
                  f"{sum(r['fast'] for r in runs)} of {len(runs)} | {statistics.median(r['calls'] for r in runs):.0f} "
                  f"| {phases} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Acceptance: `pytest --jsleak examples/` fails exactly the leaky examples, naming class and holder.

Runs the shipped examples once per runtime (a subprocess pytest run with a JSON report) and checks
every verdict, the leaked class and the variable on its retainer path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Leaky scenario → (the class that must be reported, names of which one must be on a retainer path)
LEAKS = {
    "global-array.leak.mjs::leaky": ("RequestRecord", {"requestLog"}),
    # A chain: old links are held through `previous`, the newest through `current`.
    "closure.leak.mjs::leaky": ("BigThing", {"previous", "current"}),
    "event-listener.leak.cjs::leaky": ("Subscription", {"configBus"}),
    "interval.leak.mjs::leaky": ("Poller", {"poller"}),
    "unbounded-cache.leak.mjs::leaky": ("RenderedPage", {"pageCache"}),
    "abort-signal.leak.mjs::leaky": ("PendingQuery", {"query"}),
    "bind.leak.mjs::leaky": ("ResourceTracker", {"metricsRegistry"}),
    "pending-promises.leak.mjs::leaky": ("Job", {"waiting"}),
}
# Bun's snapshots carry no edges into Map storage: the report must say so instead of a path.
NO_PATH_ON_BUN = {"unbounded-cache.leak.mjs::leaky"}
CLEAN = [
    *(name.replace("::leaky", "::fixed") for name in LEAKS),
    "controls.leak.mjs::boundedLruCache",
    "controls.leak.mjs::lazyInit",
    "controls.leak.mjs::plateauingMemo",
    "controls.leak.mjs::heavyTemporaryAllocation",
    "controls.leak.mjs::weakMapSideTable",
    "controls.leak.mjs::ringBuffer",
    "controls.leak.mjs::settledAsyncWork",
]


def run_examples(pytester: pytest.Pytester, runtime: str) -> tuple[pytest.RunResult, dict[str, dict]]:
    for path in EXAMPLES.glob("*.leak.*"):
        shutil.copy(path, pytester.path / path.name)
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        "-v", "--jsleak", f"--jsleak-runtime={runtime}", f"--jsleak-report={report}", "-p", "no:cacheprovider",
        timeout=600,
    )
    items = {item["nodeid"]: item for item in json.loads(report.read_text())["items"]}
    return result, items


def path_names(suspect: dict) -> list[str]:
    return [step["edge_name"] or "" for step in suspect["path"] or []]


@pytest.mark.parametrize("runtime", ["node", pytest.param("bun", marks=pytest.mark.bun)])
def test_examples_verdicts_classes_and_holders(pytester: pytest.Pytester, runtime: str) -> None:
    result, items = run_examples(pytester, runtime)
    assert set(items) == set(LEAKS) | set(CLEAN), result.stdout.str()
    wrong = {nodeid: item["verdict"] for nodeid, item in items.items()
             if item["verdict"] != ("leak" if nodeid in LEAKS else "clean")}
    assert not wrong, f"unexpected verdicts under {runtime}: {wrong}\n" + result.stdout.str()
    for nodeid, (class_name, holders) in LEAKS.items():
        suspects = {s["class_name"]: s for s in items[nodeid]["suspects"]}
        assert class_name in suspects, f"{nodeid}: {class_name} not among {list(suspects)}"
        if runtime == "bun" and nodeid in NO_PATH_ON_BUN:
            assert any("no edges into the storage of Map" in note for note in items[nodeid]["notes"])
            continue
        paths = [path_names(s) for s in items[nodeid]["suspects"] if s["path"]]
        assert any(holders & set(names) for names in paths), f"{nodeid}: no path through {holders}: {paths}"
    result.assert_outcomes(passed=len(CLEAN), failed=len(LEAKS))
    # The LEAKED status letter and word, and the report in the failure text.
    result.stdout.fnmatch_lines(["*controls.leak.mjs::lazyInit PASSED*", "*global-array.leak.mjs::leaky LEAKED*"])
    text = result.stdout.str()
    assert "RequestRecord" in text and "requestLog" in text
    assert "Chrome DevTools" in text

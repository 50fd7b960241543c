"""Acceptance for DESIGN §12: `jsleak.page(page).check(action)` on real Chromium pages.

The shipped examples (examples/browser) run in a pytest subprocess with a JSON report: each leaky
page fails naming `Detached ...` (or the JS class) and its holder, each fixed twin passes. A second
run covers what goes wrong: not a page, an action that throws, a page closed mid-check. Playwright's
driver and Chromium live and die with the subprocess.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "browser"
PREFIX = "test_pages.py::"
# Leaky test → (the class that must be reported, what must hold it: names on its retainer path)
LEAKS = {
    "test_modal_kept_in_an_array": ("Detached HTMLDivElement", {"closedModals"}),
    "test_listener_never_removed": ("Detached HTMLElement", {"keydown", "box"}),
    "test_route_cache_with_unique_keys": ("ViewState", {"viewCache"}),
}
CLEAN = ["test_modal_dropped_on_close", "test_listener_removed_on_close", "test_route_cache_bounded"]


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, dict]]:
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        "-v", f"--jsleak-report={report}", "-p", "no:cacheprovider", *args, timeout=600
    )
    assert report.exists(), result.stdout.str() + result.stderr.str()
    items = {item["nodeid"]: item for item in json.loads(report.read_text())["items"]}
    return result, items


# Each leaky page with its fixed twin, one pytest subprocess per pair: three runs of ~40 s that
# xdist can spread, rather than one of two minutes that ends the suite last.
PAIRS = {
    "test_modal_kept_in_an_array": "test_modal_dropped_on_close",
    "test_listener_never_removed": "test_listener_removed_on_close",
    "test_route_cache_with_unique_keys": "test_route_cache_bounded",
}
# What the report's text must say of a leak, beyond its class and holders.
TEXTS = {
    "test_modal_kept_in_an_array": ["Detached HTMLDivElement", "closedModals (variable)"],
    "test_listener_never_removed": ["keydown listener onDialogKeydown()"],
    "test_route_cache_with_unique_keys": [],
}


def test_every_example_page_is_in_a_pair() -> None:
    assert set(PAIRS) == set(LEAKS) and set(PAIRS.values()) == set(CLEAN)
    shipped = (EXAMPLES / "test_pages.py").read_text()
    assert all(f"def {name}(" in shipped for name in [*LEAKS, *CLEAN])


@pytest.mark.parametrize("name", list(PAIRS))
def test_a_leaky_page_fails_naming_what_survived_and_its_holder_and_its_twin_passes(
    pytester: pytest.Pytester, name: str
) -> None:
    for path in EXAMPLES.iterdir():
        if path.suffix in (".py", ".html"):
            shutil.copy(path, pytester.path / path.name)
    twin = PAIRS[name]
    result, items = _run(pytester, "-k", f"{name} or {twin}")
    text = result.stdout.str()
    assert set(items) == {PREFIX + name, PREFIX + twin}, text
    assert (items[PREFIX + name]["verdict"], items[PREFIX + twin]["verdict"]) == ("leak", "clean"), text
    item = items[PREFIX + name]
    class_name, holders = LEAKS[name]
    assert item["runtime"] == "chromium" and item["method"] == "ids"
    suspects = {s["class_name"]: s for s in item["suspects"]}
    assert class_name in suspects, f"{name}: {class_name} not among {list(suspects)}"
    names = {step["edge_name"] for s in item["suspects"] if s["path"] for step in s["path"]}
    assert holders <= names, f"{name}: {holders} not all on the paths: {names}"
    # Kept snapshots open in DevTools: V8 format, from the page's session.
    assert len(item["snapshot_paths"]) == 3
    assert Path(item["snapshot_paths"][-1]).read_text()[:12] == '{"snapshot":'
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([f"*{name} LEAKED*"])
    for words in TEXTS[name]:
        assert words in text, f"{name}: {words!r} not in the report"
    for item in items.values():
        # Page defaults: 40 iterations per round; a two-click check stays near 20 s on a busy machine.
        assert item["iterations"] == 40
        assert item["duration"] < 60, item


FAULTS = '''
import pytest


def test_not_a_page(jsleak):
    jsleak.page(object())


def test_action_throws(jsleak, page):
    page.set_content("<button id=b>b</button>")
    calls = []

    def action():
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the button went away")
        page.click("#b")

    jsleak.page(page).check(action, warmup=5, iterations=4)


def test_page_closed(jsleak, page):
    page.set_content("<button id=b>b</button>")
    calls = []

    def action():
        calls.append(1)
        if len(calls) == 2:
            page.close()
        page.click("#b")

    jsleak.page(page).check(action, warmup=5, iterations=4)


def test_renderer_crash(jsleak, page):
    page.set_content("<button id=b>b</button>")
    calls = []

    def action():
        calls.append(1)
        if len(calls) == 3:
            try:
                page.goto("chrome://crash", timeout=5000)  # Chromium's own way to kill the renderer
            except Exception:
                pass
        page.click("#b", timeout=5000)

    jsleak.page(page).check(action, warmup=5, iterations=4)


@pytest.mark.jsleak(iterations=6)
def test_marker_and_keywords(jsleak, page):
    page.set_content("<button id=b onclick='void 0'>b</button>")
    result = jsleak.page(page).check(lambda: page.click("#b"), warmup=2)
    assert result.verdict == "clean"
    assert (result.iterations, result.runtime) == (6, "chromium")
    assert result.warmup >= 2  # the plan may warm up longer until memory settles
'''


def test_page_check_faults(pytester: pytest.Pytester) -> None:
    shutil.copy(EXAMPLES / "conftest.py", pytester.path / "conftest.py")
    pytester.makepyfile(test_faults=FAULTS)
    result, items = _run(pytester)
    text = result.stdout.str()
    result.assert_outcomes(passed=1, failed=4)
    assert "takes a Playwright Page (playwright.sync_api.Page), got builtins.object" in text
    thrown = items["test_faults.py::test_action_throws"]
    # As on a service: the test's own Python raised.
    assert thrown["verdict"] == "error" and thrown["error_kind"] == "action"
    assert "iteration 3 (warmup): RuntimeError: the button went away" in thrown["error"]
    closed = items["test_faults.py::test_page_closed"]
    assert closed["verdict"] == "error" and closed["error_kind"] == "crash", closed
    assert "the page was closed or crashed in iteration 2" in closed["error"]
    crashed = items["test_faults.py::test_renderer_crash"]
    assert crashed["verdict"] == "error" and crashed["error_kind"] == "crash", crashed
    assert "crashed in iteration 3 (warmup)" in crashed["error"] and "Target crashed" in crashed["error"]

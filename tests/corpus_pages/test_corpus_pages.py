"""The page corpus: `jsleak.page(page).check(action)` on pages built with real front-end libraries.

Every page (site/, on the npm builds of package-lock.json) comes as a leak and its fixed twin;
ground_truth.json says what each one does, measured WITHOUT the plugin (ground_truth.py: 1,000
actions in a plain Playwright loop, memory after GC every 50). Each check runs with the page
defaults: nothing here is tuned to a scenario. Scenarios today's verdict gets wrong are strict
xfails (README.md has the table): the marker must come off once the verdict is right.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from corpus_verdicts import assert_matches_truth, run_check
from pages_support import SCENARIOS, action

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
TRUTH = json.loads((HERE / "ground_truth.json").read_text())
# What today's verdict gets wrong in every one of three runs (README.md, "Today's verdicts"): strict,
# so the marker must come off once the verdict is right.
WRONG_TODAY: dict[str, str] = {}


def scenario_params() -> list:
    params = []
    for name in SCENARIOS:
        marks = []
        if name in WRONG_TODAY:
            marks.append(pytest.mark.xfail(strict=True, reason=f"issue 17: {WRONG_TODAY[name]}"))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def test_ground_truth_covers_every_scenario() -> None:
    assert set(TRUTH) == set(SCENARIOS), "run `python tests/corpus_pages/ground_truth.py`"
    for name, entry in TRUTH.items():
        assert entry["verdict"] == ("clean" if SCENARIOS[name].fixed else "leak"), (name, entry)
    assert not (set(WRONG_TODAY)) - set(SCENARIOS), "a marked scenario that does not exist"


def load_ground_truth_module():  # not a package: load the script by path
    spec = importlib.util.spec_from_file_location("corpus_pages_ground_truth", HERE / "ground_truth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readings(totals: list[float]) -> list[dict]:
    """Twenty-one readings 50 actions apart, as the ground truth takes them."""
    return [{"actions": i * 50, "total": total, "used": total} for i, total in enumerate(totals)]


@pytest.mark.parametrize(
    ("totals", "verdict"),
    [
        ([2_000_000 + 20000 * 50 * i for i in range(21)], "leak"),  # linear
        ([2_000_000 + 300_000 * min(i, 6) for i in range(21)], "clean"),  # a rise that settled by the middle
        ([2_000_000 + (400_000 if i in (12, 17) else 0) for i in range(21)], "clean"),  # two transient spikes
        ([2_000_000 + 150_000 * (i % 3 == 1) + 100_000 * (i > 12) * (i % 2) for i in range(21)], "clean"),  # flips
        ([2_000_000 + 25_000 * i for i in range(21)], "unclear"),  # slow growth: measured again, longer
        ([2_000_000 + (1_000_000 if i >= 15 else 0) for i in range(21)], "unclear"),  # one step, no line
    ],
)
def test_ground_truth_classification(totals: list[float], verdict: str) -> None:
    assert load_ground_truth_module().classify(readings(totals))["verdict"] == verdict


@pytest.mark.parametrize("name", scenario_params())
def test_page_verdict_equals_ground_truth(jsleak, corpus_page, pages_base_url: str, name: str) -> None:
    scenario = SCENARIOS[name]
    corpus_page.goto(pages_base_url + scenario.path())
    result, failure = run_check(jsleak, lambda: jsleak.page(corpus_page).check(action(corpus_page, scenario)))
    assert_matches_truth(name, TRUTH[name], result, failure, unit="action")

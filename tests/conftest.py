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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Bun and browser tests skip on a developer machine without bun / Playwright and Chromium, and
    # fail in CI, where .ci/run installs them.
    if IN_CI:
        return
    skips = {}
    if not shutil.which("bun"):
        skips["bun"] = pytest.mark.skip(reason="bun is not on PATH (npm install -g bun); CI installs it")
    missing = browser_missing()
    if missing:
        skips["browser"] = pytest.mark.skip(reason=missing + "; CI installs it")
    for item in items:
        for keyword, skip in skips.items():
            if keyword in item.keywords:
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

"""Shared test configuration: pytester, runtime availability, and no stray processes."""

from __future__ import annotations

import os
import shutil

import psutil
import pytest

pytest_plugins = ["pytester"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Bun tests skip on a developer machine without bun, and fail in CI, where bun must be installed.
    if shutil.which("bun") or IN_CI:
        return
    skip = pytest.mark.skip(reason="bun is not on PATH (npm install -g bun); CI installs it")
    for item in items:
        if "bun" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def no_stray_runtime_processes():
    """Every test must leave no node or bun process of its own behind."""
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
        if name in ("node", "bun", "bun.exe"):
            leftovers.append(proc)
    for proc in leftovers:
        proc.kill()
    assert not leftovers, f"runtime processes left behind: {[(p.pid, p.name()) for p in leftovers]}"

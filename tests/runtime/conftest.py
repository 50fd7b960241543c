"""Fixtures for the runtime layer's tests: real node, bun and deno, the JS targets, process accounting."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import psutil
import pytest

from pytest_jsleak.runtime import RuntimeInfo, find_runtime

TARGETS = Path(__file__).with_name("targets")


def require_runtime(name: str) -> RuntimeInfo:
    """The runtime `name`, or a skip (a failure under CI=true, where every runtime must be present)."""
    if shutil.which(name) is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is not on PATH, and CI=true does not allow skipping its tests")
        pytest.skip(f"{name} is not on PATH; install it to run these tests (CI=true makes this a failure)")
    return find_runtime(name)


@pytest.fixture(
    params=["node", pytest.param("bun", marks=pytest.mark.bun), pytest.param("deno", marks=pytest.mark.deno)]
)
def runtime(request: pytest.FixtureRequest) -> RuntimeInfo:
    """Each runtime in turn."""
    return require_runtime(request.param)


@pytest.fixture
def node() -> RuntimeInfo:
    return require_runtime("node")


@pytest.fixture
def bun() -> RuntimeInfo:
    """Bun; tests using it must be marked `@pytest.mark.bun`."""
    return require_runtime("bun")


@pytest.fixture
def deno() -> RuntimeInfo:
    """Deno; tests using it must be marked `@pytest.mark.deno`."""
    return require_runtime("deno")


@pytest.fixture
def targets() -> Path:
    return TARGETS


def living(pids: Iterable[int]) -> list[int]:
    """The pids among `pids` that still run (zombies are dead: only their parent's wait is missing)."""
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def assert_all_gone(pids: Iterable[int], within: float = 2.0) -> None:
    """SIGKILL is asynchronous: give the kernel a moment, then insist."""
    pids = list(pids)
    deadline = time.monotonic() + within
    while living(pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert living(pids) == [], f"processes left behind: {living(pids)}"


@pytest.fixture
def assert_gone() -> Callable[..., None]:
    """`assert_gone(pids)`: each pid has ended (within a short grace)."""
    return assert_all_gone


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Every test of this layer must end with no child process of ours still running."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    after = {p.pid for p in me.children(recursive=True)} - before
    assert_all_gone(after)

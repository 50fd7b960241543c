"""Snapshots for the heap tests, written by real runtimes once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TARGET = HERE / "leaky_target.mjs"
LEAKS = 7
"""RequestRecords (and onRequest closures) the target leaks per step."""
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _write_snapshots(command: list[str], folder: Path) -> tuple[Path, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [*command, str(TARGET), str(folder), str(LEAKS)],
        check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
    )
    return folder / "s1.heapsnapshot", folder / "s2.heapsnapshot", folder / "s3.heapsnapshot"


@pytest.fixture(scope="session")
def node_snapshots(tmp_path_factory) -> tuple[Path, Path, Path]:
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("node is not on PATH")
        pytest.skip("node is not on PATH")
    return _write_snapshots([node, "--expose-gc"], tmp_path_factory.mktemp("node-snapshots"))


@pytest.fixture(scope="session")
def bun_snapshots(tmp_path_factory) -> tuple[Path, Path, Path]:
    bun = shutil.which("bun")
    if bun is None:
        if IN_CI:
            pytest.fail("bun is not on PATH, and CI must run the bun tests")
        pytest.skip("bun is not on PATH (npm install -g bun)")
    return _write_snapshots([bun], tmp_path_factory.mktemp("bun-snapshots"))


@pytest.fixture(scope="session")
def node_final(node_snapshots):
    from pytest_jsleak import heap

    return heap.read_snapshot(node_snapshots[2])

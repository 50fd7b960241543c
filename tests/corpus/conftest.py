"""The corpus's npm packages: `npm ci` once per session when node_modules is missing or stale."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent
LOCK = CORPUS / "package-lock.json"
NODE_MODULES = CORPUS / "node_modules"
# Written after a successful `npm ci`: the hash of the lock it installed.
STAMP = NODE_MODULES / ".jsleak-corpus-lock.sha256"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def installed() -> bool:
    return STAMP.is_file() and STAMP.read_text().strip() == lock_digest()


@pytest.fixture(scope="session")
def corpus_node_modules() -> Iterator[Path]:
    """tests/corpus/node_modules, installed from package-lock.json (skips without npm, except in CI)."""
    npm = shutil.which("npm")
    if npm is None:
        if IN_CI:
            pytest.fail("npm is not on PATH: the corpus needs it to install its packages (it comes with node)")
        pytest.skip("npm is not on PATH: cannot install the corpus packages (tests/corpus/package.json)")
    # Two xdist workers may both get here: one installs, the other waits and finds it done.
    with open(CORPUS / ".npm-ci.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not installed():
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                cwd=CORPUS, capture_output=True, text=True, timeout=600, check=False,
            )
            if proc.returncode != 0:
                output = proc.stdout[-3000:] + proc.stderr[-3000:]
                pytest.fail(f"npm ci in {CORPUS} failed (exit {proc.returncode}):\n{output}")
            STAMP.write_text(lock_digest() + "\n")
    yield NODE_MODULES

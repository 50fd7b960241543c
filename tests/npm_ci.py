"""`npm ci` once per session for a corpus folder of npm packages (tests/corpus_pages, tests/corpus_services).

The pattern of tests/corpus/conftest.py: install from the folder's package-lock.json when
node_modules is missing or was installed from another lock (a stamp file holds the lock's hash),
with a file lock so two xdist workers install once. Without npm the tests skip, except in CI.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
STAMP_NAME = ".jsleak-corpus-lock.sha256"


def lock_digest(folder: Path) -> str:
    return hashlib.sha256((folder / "package-lock.json").read_bytes()).hexdigest()


def installed(folder: Path) -> bool:
    stamp = folder / "node_modules" / STAMP_NAME
    return stamp.is_file() and stamp.read_text().strip() == lock_digest(folder)


def npm_ci(folder: Path) -> Path:
    """`folder`/node_modules, installed from `folder`/package-lock.json unless it already is."""
    npm = shutil.which("npm")
    if npm is None:
        if IN_CI:
            pytest.fail(f"npm is not on PATH: {folder.name} needs it to install its packages (it comes with node)")
        pytest.skip(f"npm is not on PATH: cannot install the packages of {folder / 'package.json'}")
    with open(folder / ".npm-ci.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not installed(folder):
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                cwd=folder, capture_output=True, text=True, timeout=600, check=False,
            )
            if proc.returncode != 0:
                output = proc.stdout[-3000:] + proc.stderr[-3000:]
                pytest.fail(f"npm ci in {folder} failed (exit {proc.returncode}):\n{output}")
            (folder / "node_modules" / STAMP_NAME).write_text(lock_digest(folder) + "\n")
    return folder / "node_modules"

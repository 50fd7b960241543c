"""The service corpus's fixture: its frameworks installed once per session with `npm ci`."""

from __future__ import annotations

from pathlib import Path

import pytest
from npm_ci import npm_ci

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def services_node_modules() -> Path:
    return npm_ci(HERE)

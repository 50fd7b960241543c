"""The page corpus's fixtures: its npm builds installed once, a loopback server for them, Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from npm_ci import npm_ci
from pages_support import CHROMIUM_ARGS, chromium_executable, serve_corpus

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def pages_base_url() -> Iterator[str]:
    """http://127.0.0.1:PORT serving site/ and node_modules/ (installed with `npm ci` first)."""
    npm_ci(HERE)
    with serve_corpus() as base:
        yield base


@pytest.fixture(scope="module")
def corpus_browser() -> Iterator[object]:
    # Module scope: other tests start Playwright's sync API in this process too, one at a time.
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install 'pytest-jsleak[browser]'")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def corpus_page(corpus_browser) -> Iterator[object]:
    context = corpus_browser.new_context()
    yield context.new_page()
    context.close()

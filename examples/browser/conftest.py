"""A Chromium browser for the page examples, with Playwright's own API (pytest-playwright not needed).

Chromium comes from `JSLEAK_CHROMIUM` (a path), else a `chromium` on PATH (Debian's package),
else Playwright's own download (`playwright install chromium`). Without Playwright or without any
Chromium the tests skip, saying which one is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_executable() -> str | None:
    """The Chromium to launch: JSLEAK_CHROMIUM, a chromium on PATH, or None (Playwright's own)."""
    return os.environ.get("JSLEAK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed: pip install 'pytest-jsleak[browser]'"
    )
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=chromium_executable(), args=CHROMIUM_ARGS, headless=True
            )
        except sync_api.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            pytest.skip(
                "no Chromium to launch (apt-get install chromium, or playwright install chromium): " + first
            )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def example_url():
    """The file:// URL of one of the example pages next to this file."""
    return lambda name: (HERE / name).resolve().as_uri()

"""`--jsleak-html`: the page a run writes, read as text and opened in Chromium through Playwright."""

from __future__ import annotations

import os
import re
import shutil
import struct
from pathlib import Path
from urllib.parse import unquote

import pytest
from jsleak_targets import FAST, LEAKY_AND_CLEAN

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

HOSTILE = "<img src=x onerror=alert(1)>"
# A class whose name is markup (V8 names instances by Symbol.toStringTag when the constructor has no
# name), a string in the snapshot that is a script tag, and an error message with one.
HOSTILE_TARGET = """
const anonymous = () => class { constructor(i) { this.label = ["<script>alert(", i, ")</script>"].join(""); } };
const Hostile = anonymous();
Object.defineProperty(Hostile.prototype, Symbol.toStringTag, { value: "<img src=x onerror=alert(1)>" });
const keep = [];
let calls = 0;
export function hostile() { keep.push(new Hostile(calls++)); }
export function broken() { throw new Error("<script>alert('boom')</script> went wrong"); }
"""


def run_with_page(pytester: pytest.Pytester) -> tuple[pytest.RunResult, Path]:
    pytester.makefile(".leak.mjs", a=LEAKY_AND_CLEAN, hostile=HOSTILE_TARGET)
    page = pytester.path / "reports" / "jsleak.html"
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "--jsleak-html=reports/jsleak.html")
    result.assert_outcomes(passed=1, failed=3)
    return result, page


def test_the_page_of_a_run_orders_items_escapes_targets_and_links_snapshots(pytester: pytest.Pytester) -> None:
    result, page = run_with_page(pytester)
    result.stdout.fnmatch_lines([f"HTML report: {page}"])
    text = page.read_text(encoding="utf-8")
    sections = re.findall(r'<section class="item (\w+)" id="item-\d+" data-verdict="\w+" data-name="([^"]+)"', text)
    assert [verdict for verdict, _ in sections] == ["leak", "leak", "error", "clean"]
    assert {name for _, name in sections} == {
        "a.leak.mjs::leaky", "a.leak.mjs::clean", "hostile.leak.mjs::hostile", "hostile.leak.mjs::broken"}
    assert "<title>pytest-jsleak: 2 leaked, 1 errors, 1 clean</title>" in text
    assert text.count('<svg class="chart"') == 4
    # Target text is text.
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "<img" not in text
    assert "&lt;script&gt;alert(&#x27;boom&#x27;)&lt;/script&gt; went wrong" in text
    assert text.count("<script") == 1
    # The suspects of both leaks, with their holders.
    assert "<code>Leaked</code>" in text and "held by: <code>keep (variable) → Array" in text
    # Snapshot links are relative to the page and point at the kept files.
    links = re.findall(r'<a href="([^"]+\.heapsnapshot)"', text)
    assert len(links) == 6 and all(link.startswith("../.jsleak/") for link in links)
    assert all((page.parent / unquote(link)).is_file() for link in links)


def chromium_executable() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium"


@pytest.fixture
def browser():
    """Chromium through Playwright; skipped where either is missing, except in CI, which installs both."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is not installed (pip install -e '.[test]')")
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    executable = chromium_executable()
    if not os.path.exists(executable):
        if IN_CI:
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as playwright:
        # Playwright's own browser download is not reachable here: the system Chromium, headless.
        instance = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu", "--headless"]
        )
        try:
            yield instance
        finally:
            instance.close()


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_the_page_opens_in_chromium_without_errors_or_requests(pytester: pytest.Pytester, browser) -> None:
    _, page_path = run_with_page(pytester)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console, requests, dialogs = [], [], []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.on("request", lambda request: requests.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    url = page_path.as_uri()
    page.goto(url)
    page.wait_for_load_state("load")

    items = page.locator("section.item")
    assert items.count() == 4
    for index in range(4):
        assert items.nth(index).locator("svg.chart").count() == 1
    assert page.locator("img").count() == 0
    assert HOSTILE in page.locator("section.item.leak").nth(0).inner_text() + \
        page.locator("section.item.leak").nth(1).inner_text()

    # The filter: leaks only, then a text search.
    page.get_by_label("leaks (2)").check()
    assert page.locator("section.item:visible").count() == 2
    assert page.locator("table.index tr:visible").count() == 2
    page.get_by_label("all", exact=True).check()
    page.get_by_placeholder("filter by test id").fill("hostile.leak")
    assert page.locator("section.item:visible").count() == 2
    page.get_by_placeholder("filter by test id").fill("")

    screenshot = pytester.path / "jsleak-html.png"
    page.screenshot(path=str(screenshot), full_page=True)
    width, height = png_size(screenshot)
    assert width == 1280 and height > 900
    if os.environ.get("JSLEAK_HTML_SCREENSHOT"):  # for a human to look at
        shutil.copy(screenshot, os.environ["JSLEAK_HTML_SCREENSHOT"])
    page.close()

    assert console == []
    assert dialogs == []
    assert requests == [url]  # the page itself and nothing else: no script, style, font or image

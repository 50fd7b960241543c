"""What the page corpus's tests and its ground-truth script share: the scenarios, a loopback HTTP
server for the pages and their npm builds, and the Chromium to launch (no pytest-jsleak here)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@dataclass(frozen=True)
class Scenario:
    """One page of the corpus: `page` under site/, `fixed` adds `?fixed`, `clicks` is one action."""

    name: str
    page: str
    fixed: bool
    clicks: tuple[str, ...]
    library: str

    def path(self) -> str:
        return f"/site/{self.page}" + ("?fixed" if self.fixed else "")


def _pair(stem: str, page: str, clicks: tuple[str, ...], library: str) -> list[Scenario]:
    return [Scenario(f"{stem}::leaky", page, False, clicks, library),
            Scenario(f"{stem}::fixed", page, True, clicks, library)]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        *_pair("react-interval", "react-interval.html", ("#open", "#close"), "react@18.3.1 + react-dom@18.3.1"),
        *_pair("chartjs-recreate", "chartjs-recreate.html", ("#refresh",), "chart.js@4.6.1"),
        *_pair("vue-resize", "vue-resize.html", ("#open", "#close"), "vue@3.5.45"),
        *_pair("vue-keepalive", "vue-keepalive.html", ("#next",), "vue@3.5.45"),
    ]
}


def action(page: Any, scenario: Scenario) -> Callable[[], None]:
    """One iteration: the scenario's clicks, in order."""

    def clicks() -> None:
        for selector in scenario.clicks:
            page.click(selector)

    return clicks


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
        pass


@contextlib.contextmanager
def serve_corpus() -> Iterator[str]:
    """Serve tests/corpus_pages (site/ and node_modules/) on a free loopback port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(HERE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="corpus-pages-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def chromium_executable() -> str | None:
    """The Chromium to launch: JSLEAK_CHROMIUM, a chromium on PATH, or None (Playwright's own)."""
    return os.environ.get("JSLEAK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

"""What `jsleak.page()` accepts: a Playwright sync `Page` on Chromium (`check_page`), and the page's
settle step and renderer probe that `drivers/page.py` uses. Playwright is never imported here: it is
an optional dependency (`pytest-jsleak[browser]`)."""

from __future__ import annotations

import contextlib
from typing import Any

from pytest_jsleak.errors import TargetError

# Settle before a sample: a rendered frame (style, layout and paint done for what the action
# changed) and one macrotask (timers and tasks the action queued have run). A page in a
# background tab of a headed browser gets no animation frames: 200 ms is enough there.
SETTLE_EXPRESSION = (
    "new Promise(resolve => { requestAnimationFrame(() => setTimeout(resolve, 0)); setTimeout(resolve, 200); })"
)
# Grows V8's number-to-string cache to its full size before the warm-up. V8 allocates the full-size
# cache (64 KB) on the first collision of two numbers' hash in the small one it starts with, which
# a page may reach after any number of actions: on Chart.js and Vue pages, about the 128th, as a one-off
# 64 KB jump of the GC'd heap, held from the engine's strong roots (`smi_string_cache`), that sent
# clean pages to the confirming rounds and an extra round (30-50 s). 4099 and 8195 share a slot in
# any cache of up to 4096 entries (multi-digit numbers: V8 serves some small ones without the cache).
ENGINE_TABLES_EXPRESSION = "String(4099) + String(8195), 0"
# Marker allocation that tells the page's renderer apart from the browser's other renderers.
PROBE_BYTES = 48 * 1024 * 1024


class PageError(TargetError):
    """`jsleak.page()` was given something it cannot drive (not a sync Playwright Page on Chromium)."""


def check_page(page: Any) -> None:
    """Raise `PageError` naming what `page` is unless it is a sync Playwright Page on Chromium."""
    cls = type(page)
    module = cls.__module__ or ""
    what = f"{module}.{cls.__qualname__}" if module else cls.__qualname__
    if not module.startswith("playwright."):
        raise PageError(
            f"jsleak.page() takes a Playwright Page (playwright.sync_api.Page), got {what}"
        )
    if module.startswith("playwright.async_api"):
        raise PageError(
            f"jsleak.page() drives the page from a synchronous test: it takes a playwright.sync_api.Page, "
            f"got {what} (the async API)"
        )
    if cls.__name__ != "Page":
        raise PageError(f"jsleak.page() takes a Playwright Page, got {what}")
    browser_name = browser_type_name(page)
    if browser_name is not None and browser_name != "chromium":
        raise PageError(
            f"jsleak.page() needs a Chromium page (heap snapshots come from the DevTools protocol), "
            f"got a Page of {browser_name}"
        )


def browser_type_name(page: Any) -> str | None:
    """`chromium`, `firefox` or `webkit`, or None when Playwright does not say (persistent contexts)."""
    browser = page.context.browser
    if browser is not None:
        return str(browser.browser_type.name)
    with contextlib.suppress(Exception):
        return str(page.context._impl_obj._browser_type.name)  # a persistent context has no Browser
    return None


__all__ = [
    "ENGINE_TABLES_EXPRESSION", "PROBE_BYTES", "SETTLE_EXPRESSION", "PageError", "browser_type_name", "check_page",
]

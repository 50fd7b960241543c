"""A browser page as a driven target: a Playwright sync `Page` on Chromium, over a CDP session.

One iteration is one call of the Python `action` (clicks, typing, navigation inside the page).
Garbage collection, heap samples and heap snapshots go through the page's Chrome DevTools
Protocol session (`page.context.new_cdp_session(page)`):

- full GC: `HeapProfiler.collectGarbage` (V8 and Blink's C++ heap together, as one unified heap);
- heap: `Runtime.getHeapUsage` → `usedSize` (the JS heap);
- external: `backingStorageSize` (ArrayBuffer backing stores and external strings). Blink's own
  garbage-collected heap (`embedderHeapUsedSize`, where DOM nodes live) is left out: it jumps by
  ~165 KB from one sample to the next on a page that does nothing new (measured on Chromium 156),
  which made a steadily leaking page look like a cache that had filled up. A detached tree is
  found by the snapshots all the same (its JS wrappers and the variables that hold it raise the
  JS heap a little per call, and Playwright's own caches raise it on every page anyway);
- rss: the renderer process's resident set (psutil), when the renderer can be told apart from the
  others on this machine (see `_find_renderer`), else 0;
- snapshot: `HeapProfiler.takeHeapSnapshot`, written to the file chunk by chunk as it arrives.

The session stays attached from the first sample to the last snapshot: V8 keeps object ids only
while the heap profiler stays enabled (research/runtimes.md §4).

This module knows nothing of pytest or of the snapshots' contents. Playwright is imported lazily:
it is an optional dependency (`pytest-jsleak[browser]`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import psutil

from pytest_jsleak.errors import JsLeakError, RuntimeCrashError, ScenarioTimeoutError, TargetError
from pytest_jsleak.model import MemorySample

# Settle before a sample: a rendered frame (style, layout and paint done for what the action
# changed) and one macrotask (timers and tasks the action queued have run). A page in a
# background tab of a headed browser gets no animation frames: 200 ms is enough there.
SETTLE_EXPRESSION = (
    "new Promise(resolve => { requestAnimationFrame(() => setTimeout(resolve, 0)); setTimeout(resolve, 200); })"
)
# Marker allocation that tells the page's renderer apart from the browser's other renderers.
PROBE_BYTES = 48 * 1024 * 1024


class PageError(JsLeakError):
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


class PageDriver:
    """Drives one Playwright page for the shared plan (the `Driver` interface of drive.py).

    `action` is called once per iteration. The page and its browser belong to the caller: the
    driver only attaches a CDP session, and `teardown` detaches it.
    """

    runtime = "chromium"
    stable_ids = True

    def __init__(self, page: Any, action: Callable[[], Any], *, timeout: float = 60.0) -> None:
        check_page(page)
        if not callable(action):
            raise PageError(f"page check: the action must be a callable, got {type(action).__name__}")
        self.page = page
        self.action = action
        self.timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._chunks: IO[str] | None = None
        self._closed = False
        self._gone = False
        """The page crashed or was closed: no more protocol traffic."""
        try:
            self.cdp = page.context.new_cdp_session(page)
        except Exception as exc:
            raise PageError(f"jsleak.page(): cannot open a DevTools protocol session on the page: {exc}") from None
        self.cdp.on("HeapProfiler.addHeapSnapshotChunk", self._on_chunk)
        browser = page.context.browser
        self.runtime_version = str(browser.version) if browser is not None else ""
        self._send("HeapProfiler.enable")
        self.renderer = self._find_renderer()

    # -- the Driver interface --

    def run(self, iterations: int, *, sample_every: int, start: int = 0, phase: str = "measure") -> list[MemorySample]:
        samples: list[MemorySample] = []
        for number in range(start + 1, start + iterations + 1):
            self._check_deadline(phase, number)
            try:
                self.action()
            except Exception as exc:
                raise self._action_error(exc, phase, number) from None
            if (number - start) % sample_every == 0:
                samples.append(self._sample(number))
        return samples

    def sample(self) -> MemorySample:
        return self._sample(0)

    def snapshot(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._settle()
        self._collect_garbage()
        with path.open("w", encoding="utf-8") as out:
            self._chunks = out
            try:
                self._send("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
            finally:
                self._chunks = None
        return path

    def track_allocations(self, on: bool) -> bool:
        if on:
            self._send("HeapProfiler.startTrackingHeapObjects", {"trackAllocations": True})
        else:
            # V8 answers the stop with a snapshot of its own; its chunks are dropped (no file open).
            self._send("HeapProfiler.stopTrackingHeapObjects", {"reportProgress": False})
        return True

    def teardown(self) -> None:
        """The operation's own clean-up: none (the page is the caller's, and stays open)."""

    def close(self) -> None:
        """Detach the CDP session (after the plan, once the result no longer needs the live page)."""
        if self._closed:
            return
        self._closed = True
        if self._gone or self.page.is_closed():
            return  # detaching from a crashed target never returns (Playwright 1.65)
        with contextlib.suppress(Exception):
            self.cdp.detach()

    # -- CDP helpers --

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One DevTools protocol command on the page's session (for callers that annotate results)."""
        return self._send(method, params)

    def _send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return self.cdp.send(method, params or {})
        except Exception as exc:
            if _page_gone(exc) or self.page.is_closed():
                self._gone = True
                raise RuntimeCrashError(
                    f"the page was closed or crashed during {method}: {_first_line(exc)}"
                ) from None
            raise TargetError(f"DevTools protocol command {method} failed: {_first_line(exc)}") from None

    def _on_chunk(self, event: dict[str, Any]) -> None:
        if self._chunks is not None:
            self._chunks.write(event["chunk"])

    def _settle(self) -> None:
        result = self._send(
            "Runtime.evaluate", {"expression": SETTLE_EXPRESSION, "awaitPromise": True, "returnByValue": True}
        )
        details = result.get("exceptionDetails")
        if details:
            raise TargetError(f"the page could not settle before a sample: {details.get('text', details)}")

    def _collect_garbage(self) -> None:
        # Twice: the first full GC may leave objects whose finalisation frees others (weak
        # callbacks of DOM wrappers, Blink's pre-finalizers) for the next one.
        self._send("HeapProfiler.collectGarbage")
        self._send("HeapProfiler.collectGarbage")

    def _sample(self, iteration: int) -> MemorySample:
        self._settle()
        self._collect_garbage()
        usage = self._send("Runtime.getHeapUsage")
        heap = int(usage.get("usedSize", 0))
        external = int(usage.get("backingStorageSize", 0))
        rss = 0
        if self.renderer is not None:
            try:
                rss = self.renderer.memory_info().rss
            except psutil.Error:
                self.renderer = None
        return MemorySample(iteration=iteration, heap=heap, external=external, rss=rss)

    def _find_renderer(self) -> psutil.Process | None:
        """The renderer process of this page, or None when it cannot be told apart.

        Chromium runs several renderers (other sites, a spare one); the browser target's
        `SystemInfo.getProcessInfo` lists their pids, not which page each one hosts. The one whose
        resident memory jumps while the page holds a large buffer is this page's. A browser on
        another machine (connect_over_cdp) has no local pids: None.
        """
        browser = self.page.context.browser
        if browser is None:
            return None
        try:
            session = browser.new_browser_cdp_session()
        except Exception:
            return None
        try:
            info = session.send("SystemInfo.getProcessInfo")
        except Exception:
            return None
        finally:
            with contextlib.suppress(Exception):
                session.detach()
        candidates = []
        for entry in info.get("processInfo", []):
            if entry.get("type") != "renderer":
                continue
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(int(entry["id"]))
                if "chrom" in process.name().lower() or "headless" in process.name().lower():
                    candidates.append(process)
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        before = {p.pid: _rss(p) for p in candidates}
        probe = f"globalThis.__jsleakProbe = new Uint8Array({PROBE_BYTES}).fill(1); 0"
        try:
            self._send("Runtime.evaluate", {"expression": probe, "returnByValue": True})
            grown = [p for p in candidates if _rss(p) - before[p.pid] > PROBE_BYTES // 2]
        finally:
            self._send("Runtime.evaluate", {"expression": "delete globalThis.__jsleakProbe; 0"})
            self._collect_garbage()
        return grown[0] if len(grown) == 1 else None

    # -- errors --

    def _check_deadline(self, phase: str, number: int) -> None:
        if time.monotonic() > self._deadline:
            raise ScenarioTimeoutError(
                f"the page check did not finish within timeout={self.timeout:g}s "
                f"({phase}, before iteration {number})",
                phase=phase,
                iteration=number,
            )

    def _action_error(self, exc: Exception, phase: str, number: int) -> TargetError:
        if _page_gone(exc) or self.page.is_closed():
            self._gone = True
            return RuntimeCrashError(
                f"the page was closed or crashed in iteration {number} ({phase}): {_first_line(exc)}",
                phase=phase,
                iteration=number,
            )
        return TargetError(
            f"the action raised in iteration {number} ({phase}): {type(exc).__name__}: {_first_line(exc)}",
            phase=phase,
            iteration=number,
        )


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _page_gone(exc: BaseException) -> bool:
    text = str(exc)
    return any(mark in text for mark in ("Target crashed", "has been closed", "Target closed", "Session closed"))


__all__ = ["PageDriver", "PageError", "browser_type_name", "check_page"]

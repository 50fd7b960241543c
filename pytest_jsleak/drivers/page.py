"""A browser page as a driven target: a Playwright sync `Page` on Chromium, over a CDP session.

One iteration is one call of the Python `action` (clicks, typing, navigation inside the page).
Garbage collection, heap samples and heap snapshots go through the page's Chrome DevTools
Protocol session (`page.context.new_cdp_session(page)`), with the heap operations of
`runtime/cdp.py` where they are the same as a server's:

- full GC: the memory-reducing collection V8 runs before `Runtime.queryObjects` (asked for objects
  of a prototype nothing has), then `HeapProfiler.collectGarbage` (V8 and Blink's C++ heap together,
  as one unified heap). A plain full GC leaves what the JIT keeps compiling on the page: 40-200 KB
  over 100 actions of a clean page on React, Vue or Chart.js, steady enough that no clean page took
  the fast path. The memory-reducing collection also drops bytecode and caches the page can
  rebuild: the same pages stay within a few KB (see `_collect_garbage`);
- heap: `Runtime.getHeapUsage` → `usedSize` (the JS heap);
- external: `backingStorageSize` (ArrayBuffer backing stores and external strings). Blink's own
  garbage-collected heap (`embedderHeapUsedSize`, where DOM nodes live) is left out: it jumps by
  ~165 KB from one sample to the next on a page that does nothing new (measured on Chromium 156),
  which made a steadily leaking page look like a cache that had filled up. A detached tree is
  found by the snapshots all the same;
- rss: the renderer process's resident set (psutil), when the renderer can be told apart from the
  others on this machine (see `_find_renderer`), else 0;
- snapshot: `cdp.take_snapshot` (streamed to a temporary name, renamed when complete).

The session stays attached from the first sample to the last snapshot: V8 keeps object ids only
while the heap profiler stays enabled. After the plan, `annotate` names the event type of each
listener on a suspect's retainer path (the snapshot has the listener function, not the event:
`DOMDebugger.getEventListeners` does).

Page defaults (`profiles.CHROMIUM.defaults`) sit just above the built-in defaults, below ini,
command line, marker and keyword arguments (`page_options`).
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from pytest_jsleak.drivers.base import Phase
from pytest_jsleak.errors import ActionError, JsLeakError, RuntimeCrashError, ScenarioTimeoutError, TargetError
from pytest_jsleak.heap.dom import collapse_listeners, listener_handlers, name_listener_events
from pytest_jsleak.model import HandleSite, LeakResult, MemorySample
from pytest_jsleak.options import Options, resolve
from pytest_jsleak.profiles import CHROMIUM, RuntimeProfile
from pytest_jsleak.runtime import cdp
from pytest_jsleak.runtime.page import (
    ENGINE_TABLES_EXPRESSION,
    PROBE_BYTES,
    SETTLE_EXPRESSION,
    PageError,
    check_page,
)

OBJECT_GROUP = "jsleak-listeners"


def page_options(*layers: Mapping[str, Any]) -> Options:
    """Options of a page check: page defaults, then the layers (ini, CLI, marker, keywords)."""
    return resolve(CHROMIUM.defaults, *layers)


def action_name(action: Callable[..., Any]) -> str:
    name = getattr(action, "__name__", "") or type(action).__name__
    return "action" if name == "<lambda>" else name


class _PageSession:
    """The page's CDP session as `runtime/cdp.py` takes it, with the driver's error translation."""

    def __init__(self, driver: PageDriver) -> None:
        self.driver = driver

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.driver.send(method, params)

    def on(self, event: str, handler: Callable[[dict[str, Any]], None]) -> None:
        self.driver.cdp.on(event, handler)

    def remove_listener(self, event: str, handler: Callable[[dict[str, Any]], None]) -> None:
        self.driver.cdp.remove_listener(event, handler)


class PageDriver:
    """Drives one Playwright page for the shared plan (the `Driver` interface of drive.py).

    `action` is called once per iteration. The page and its browser belong to the caller: the
    driver only attaches a CDP session, and `teardown` detaches it.
    """

    profile: RuntimeProfile = CHROMIUM

    def __init__(self, page: Any, action: Callable[[], Any], *, timeout: float = 60.0) -> None:
        check_page(page)
        if not callable(action):
            raise PageError(f"page check: the action must be a callable, got {type(action).__name__}")
        self.page = page
        self.action = action
        self.timeout = timeout
        self._deadline = time.monotonic() + timeout
        self._closed = False
        self._gone = False
        """The page crashed or was closed: no more protocol traffic."""
        try:
            self.cdp = page.context.new_cdp_session(page)
        except Exception as exc:
            raise PageError(f"jsleak.page(): cannot open a DevTools protocol session on the page: {exc}") from None
        self.timings: dict[str, float] = {}
        self.session = _PageSession(self)
        browser = page.context.browser
        self.runtime_version = str(browser.version) if browser is not None else ""
        self._send("HeapProfiler.enable")
        # The engine's tables that grow once, at a moment the page's code decides, grow now.
        self._send("Runtime.evaluate", {"expression": ENGINE_TABLES_EXPRESSION, "returnByValue": True})
        self.renderer = self._find_renderer()

    # -- the Driver interface --

    def run(self, iterations: int, *, sample_every: int, start: int, phase: Phase) -> list[MemorySample]:
        samples: list[MemorySample] = []
        for number in range(start + 1, start + iterations + 1):
            self._check_deadline(phase, number)
            began = time.perf_counter()
            try:
                self.action()
            except Exception as exc:
                raise self._action_error(exc, phase, number) from None
            sampled = time.perf_counter()
            self._add_time("run.call", sampled - began)
            if (number - start) % sample_every == 0:
                samples.append(self._sample(number))
                self._add_time("run.sample", time.perf_counter() - sampled)
        return samples

    def sample(self) -> MemorySample:
        return self._sample(0)

    def _add_time(self, key: str, seconds: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + seconds

    def snapshot(self, path: Path, *, stop_tracking: bool = False) -> Path:
        self._settle()
        self._collect_garbage()
        return cdp.take_snapshot(self.session, path, stop_tracking=stop_tracking)

    def track_allocations(self, on: bool) -> bool:
        cdp.set_allocation_tracking(self.session, on)
        return True

    def track_handles(self, on: bool) -> bool:
        # A page has no event loop resources of Node's kinds: its samples carry no handle counts.
        return False

    def handle_sites(self) -> list[HandleSite]:
        return []

    def teardown(self) -> None:
        """The operation's own clean-up: none (the page is the caller's, and stays open)."""

    def annotate(self, result: LeakResult) -> LeakResult:
        """Name the event type of each listener on a suspect's path, while the page is still there."""
        with contextlib.suppress(JsLeakError):
            return name_listeners(self, result)
        return result

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

    def _settle(self) -> None:
        result = self._send(
            "Runtime.evaluate", {"expression": SETTLE_EXPRESSION, "awaitPromise": True, "returnByValue": True}
        )
        details = result.get("exceptionDetails")
        if details:
            raise TargetError(f"the page could not settle before a sample: {details.get('text', details)}")

    def _collect_garbage(self) -> None:
        # The memory-reducing collection (`cdp.collect_all_garbage`). Measured on four clean pages
        # (React 18, Vue 3 twice, Chart.js 4), 100 actions after 60, samples every 2 actions: +79
        # to +207 KB with two `HeapProfiler.collectGarbage`, +1.5 to +5 KB with this, besides a
        # one-off 64 KB at about the 128th action on two pages (V8's number-to-string cache, grown
        # beforehand since: `ENGINE_TABLES_EXPRESSION`). It costs ~80-120 ms against ~30 ms. The
        # plain GC after it frees the query's own two objects and whatever the first one's
        # finalisers released (weak callbacks of DOM wrappers, Blink's pre-finalizers).
        if not cdp.collect_all_garbage(self.session):  # a page that replaced Object.create: plain GCs
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
        # The same fault as a service check's action: the Python code of the test raised.
        return ActionError(
            f"the action raised in iteration {number} ({phase}): {type(exc).__name__}: {_first_line(exc)}",
            traceback_text="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
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




def name_listeners(driver: PageDriver, result: LeakResult) -> LeakResult:
    """Collapse Blink's listener chains on the suspects' paths and name each listener's event type.

    The event target and the listener function are found in the live page by their snapshot ids
    (the profiler is still enabled, so ids still resolve), and `DOMDebugger.getEventListeners`
    says which event the function listens to.
    """
    suspects = []
    for suspect in result.suspects:
        if suspect.path is None:
            suspects.append(suspect)
            continue
        path = collapse_listeners(suspect.path)
        events: dict[int, str] = {}
        for target_id, handler_id in listener_handlers(path):
            events.update(_event_types(driver, target_id, handler_id))
        suspects.append(replace(suspect, path=name_listener_events(path, events) if events else path))
    result.suspects = suspects
    with contextlib.suppress(Exception):
        driver.send("Runtime.releaseObjectGroup", {"objectGroup": OBJECT_GROUP})
    return result


def _event_types(driver: PageDriver, target_id: int, handler_id: int) -> dict[int, str]:
    try:
        target = driver.send(
            "HeapProfiler.getObjectByHeapObjectId", {"objectId": str(target_id), "objectGroup": OBJECT_GROUP}
        )
        object_id = target["result"]["objectId"]
        listeners = driver.send("DOMDebugger.getEventListeners", {"objectId": object_id})["listeners"]
    except Exception:
        return {}
    for listener in listeners:
        handler = listener.get("handler") or {}
        if "objectId" not in handler:
            continue
        try:
            found = driver.send("HeapProfiler.getHeapObjectId", {"objectId": handler["objectId"]})
        except Exception:
            continue
        if int(found.get("heapSnapshotObjectId", -1)) == handler_id:
            return {handler_id: str(listener["type"])}
    return {}


__all__ = ["OBJECT_GROUP", "PageDriver", "action_name", "name_listeners", "page_options"]

"""Check a browser page for leaks: the shared plan on a `PageDriver`, then DOM-specific touches.

`run_page_check(page, action, options, artefact_dir)` runs the one plan of measure.py (warm-up,
sampling, confirming rounds, verdict, kept snapshots) over the page's CDP session, and then, while
the page is still there, names the event type of each listener on a suspect's retainer path
(the snapshot has the listener function, not the event: `DOMDebugger.getEventListeners` does).

Page defaults (`PAGE_DEFAULTS`) sit just above the built-in defaults, below ini, command line,
marker and keyword arguments: one Playwright click costs ~30 ms, so a page check needs far fewer
iterations than a module scenario, and 40 two-click iterations per round keep a check near 20 s.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_jsleak.model import LeakResult
from pytest_jsleak.options import Options, resolve

PAGE_DEFAULTS: dict[str, Any] = {"iterations": 40, "warmup": 10, "timeout": 120.0}
"""Iterations per round, warm-up and time budget of a page check unless an option layer says otherwise.

Playwright's injected scripts raise a clean page's heap by ~150 KB over the first ~600 clicks,
a few bytes per click after that; the heap samples alone would call every page leaky, so the
snapshots decide (the confirming rounds run for nearly every page). The plan adds a chunk of at
least 50 calls to the warm-up until memory settles (measure._warm_up), so 10 here makes 60 calls
before the sampling round: enough for the page's own lazy set-up (first render, first listener)."""
OBJECT_GROUP = "jsleak-listeners"


def page_options(*layers: Mapping[str, Any]) -> Options:
    """Options of a page check: page defaults, then the layers (ini, CLI, marker, keywords)."""
    return resolve(PAGE_DEFAULTS, *layers)


def action_name(action: Callable[..., Any]) -> str:
    name = getattr(action, "__name__", "") or type(action).__name__
    return "action" if name == "<lambda>" else name


def run_page_check(
    page: Any,
    action: Callable[[], Any],
    options: Options,
    artefact_dir: Path,
) -> LeakResult:
    """Check that repeating `action` on `page` leaves nothing behind; errors become an `error` result."""
    from pytest_jsleak.errors import JsLeakError
    from pytest_jsleak.measure import error_kind, run_plan
    from pytest_jsleak.runtime.page import PageDriver

    result = LeakResult(
        target=str(page.url),
        scenario=action_name(action),
        runtime="chromium",
        verdict="clean",
    )
    started = time.perf_counter()
    try:
        driver = PageDriver(page, action, timeout=options.timeout)
    except JsLeakError as exc:
        _fail(result, exc)
        return result
    try:
        result = run_plan(driver, options, artefact_dir, result)
        if result.suspects:
            with contextlib.suppress(JsLeakError):
                name_listeners(driver, result)
    except JsLeakError as exc:
        _fail(result, exc)
        result.error_kind = error_kind(exc)
        if artefact_dir.exists() and not any(artefact_dir.iterdir()):
            artefact_dir.rmdir()
    finally:
        driver.close()
    result.duration = time.perf_counter() - started
    return result


def _fail(result: LeakResult, exc: Exception) -> None:
    result.verdict = "error"
    result.error = str(exc)
    result.error_kind = "target"


def name_listeners(driver: Any, result: LeakResult) -> None:
    """Collapse Blink's listener chains on the suspects' paths and name each listener's event type.

    The event target and the listener function are found in the live page by their snapshot ids
    (the profiler is still enabled, so ids still resolve), and `DOMDebugger.getEventListeners`
    says which event the function listens to.
    """
    from pytest_jsleak.heap.dom import collapse_listeners, listener_handlers, name_listener_events

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


def _event_types(driver: Any, target_id: int, handler_id: int) -> dict[int, str]:
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


__all__ = ["PAGE_DEFAULTS", "action_name", "name_listeners", "page_options", "run_page_check"]

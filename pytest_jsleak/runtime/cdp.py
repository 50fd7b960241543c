"""A small synchronous Chrome DevTools Protocol client, and the heap operations built on CDP.

`CdpClient` speaks CDP over one WebSocket (the `websockets` library's synchronous client): a request
waits for the response with its id, events that arrive meanwhile go to their handlers, every wait
has a deadline, and a closed connection is an `InspectorError`, never a hang.

The heap operations (`full_gc`, `read_memory`, `settle`, `take_snapshot`, `set_allocation_tracking`)
use only `send(method, params)` and `on(event, handler)` / `remove_listener(event, handler)`, the
shape of Playwright's `CDPSession` too, so a page session can reuse them.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pytest_jsleak.errors import InspectorError

#: Frames the WebSocket library may queue before it stops reading the socket. Bounded, so that a
#: heap snapshot streamed faster than it is written waits in the runtime's buffers, not in ours.
MAX_QUEUE = 64
#: The largest CDP message accepted (snapshot chunks are ~0.1–1 MB; a few MB leaves room).
MAX_MESSAGE = 64 * 1024 * 1024
#: How long a request may wait for its answer when the caller gives no deadline.
DEFAULT_TIMEOUT = 60.0

Handler = Callable[[dict[str, Any]], None]


class CdpSession(Protocol):
    """What the heap operations need of a CDP session (ours, or Playwright's `CDPSession`)."""

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def on(self, event: str, handler: Handler) -> Any: ...

    def remove_listener(self, event: str, handler: Handler) -> Any: ...


class CdpClient:
    """One CDP connection to one inspector target (a Node or Deno process), kept open throughout.

    V8 keeps heap object ids stable only while one session stays connected (runtimes.md §4), so a
    service keeps a single client from start to end.
    """

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        from websockets.sync.client import connect

        self.url = url
        self.default_timeout = DEFAULT_TIMEOUT
        #: A time.monotonic() instant no wait may pass (the budget of the check using the client).
        self.deadline: float | None = None
        self._handlers: dict[str, list[Handler]] = {}
        self._next_id = 0
        self._closed = False
        self._stack = contextlib.ExitStack()
        try:
            # No keep-alive pings (the inspector need not answer them, and a long snapshot would
            # then count as a dead peer); no compression (the inspector does not negotiate it).
            self._ws = self._stack.enter_context(
                connect(
                    url,
                    open_timeout=timeout,
                    ping_interval=None,
                    compression=None,
                    max_size=MAX_MESSAGE,
                    max_queue=MAX_QUEUE,
                    close_timeout=1.0,
                )
            )
        except Exception as exc:  # OSError, InvalidHandshake, TimeoutError ...
            self._closed = True
            raise InspectorError(f"could not connect to the inspector at {url}: {exc}", closed=True) from exc

    # --- events ------------------------------------------------------------------------------------

    def on(self, event: str, handler: Handler) -> None:
        """Call `handler(params)` for every `event` that arrives while a request waits."""
        self._handlers.setdefault(event, []).append(handler)

    def remove_listener(self, event: str, handler: Handler) -> None:
        handlers = self._handlers.get(event, [])
        with contextlib.suppress(ValueError):
            handlers.remove(handler)

    # --- requests ----------------------------------------------------------------------------------

    def send(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send one request and return its `result`; events that arrive meanwhile go to their handlers.

        Raises `InspectorError` when CDP answers with an error, the connection closes, or no answer
        comes within `timeout` seconds (`default_timeout` when None).
        """
        if self._closed:
            raise InspectorError(f"{method}: the inspector connection is closed", method=method, closed=True)
        self._next_id += 1
        request_id = self._next_id
        message = {"id": request_id, "method": method, "params": params or {}}
        wait = self.default_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        if self.deadline is not None and self.deadline < deadline:
            deadline, wait = self.deadline, max(0.0, self.deadline - time.monotonic())
        try:
            self._ws.send(json.dumps(message))
        except Exception as exc:
            raise self._closed_error(method, exc) from exc
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise InspectorError(
                    f"{method}: no answer from the inspector within {wait:.3g} s",
                    method=method,
                    timed_out=True,
                )
            try:
                raw = self._ws.recv(timeout=left)
            except TimeoutError:
                continue  # the loop reports it with the method's name
            except Exception as exc:
                raise self._closed_error(method, exc) from exc
            reply = json.loads(raw)
            if reply.get("id") == request_id:
                if "error" in reply:
                    error = reply["error"]
                    raise InspectorError(
                        f"{method} failed: {error.get('message', error)} (CDP error {error.get('code')})",
                        method=method,
                    )
                return reply.get("result", {})
            self._dispatch(reply)

    def drain(self) -> None:
        """Hand the events already received to their handlers, without waiting for more."""
        while not self._closed:
            try:
                raw = self._ws.recv(timeout=0)
            except TimeoutError:
                return
            except Exception as exc:
                raise self._closed_error("(events)", exc) from exc
            self._dispatch(json.loads(raw))

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:
            return  # the answer to a request that was given up (timed out)
        for handler in list(self._handlers.get(method, ())):
            handler(message.get("params", {}))

    def _closed_error(self, method: str, exc: BaseException) -> InspectorError:
        self._closed = True
        return InspectorError(
            f"{method}: the inspector connection closed ({type(exc).__name__}: {exc})", method=method, closed=True
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._closed = True
        with contextlib.suppress(Exception):
            self._stack.close()


# --- heap operations over any CdpSession ----------------------------------------------------------

#: One expression for both runtimes: Deno 2 has `process` too, `Deno.memoryUsage()` is the fallback.
#: A page has neither: 0 there.
EXTERNAL_EXPRESSION = "(globalThis.process ?? globalThis.Deno)?.memoryUsage?.().external ?? 0"

#: Waits until the event loop has run two macrotask turns and the work started by the last action is
#: over: the process's active resources (timers, sockets, file requests) are back to what they were
#: at idle (`baseline`), or have stayed the same for a while: `quietMs` when the only extras are
#: sockets (a client's keep-alive connection stays open), five times that when a timer or a request
#: is pending (a handler's `await sleep(...)` after its response). Gives up after `limitMs`, and
#: resolves to the resources it saw last. Where `getActiveResourcesInfo` is missing: two turns.
SETTLE_FUNCTION = """
async (baseline, quietMs, limitMs) => {
  const turn = () => new Promise((resolve) => (globalThis.setImmediate ?? setTimeout)(resolve));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const info = globalThis.process?.getActiveResourcesInfo;
  await turn(); await turn();
  if (typeof info !== "function") return null;
  const extras = (now) => {
    const left = new Map();
    for (const name of baseline) left.set(name, (left.get(name) || 0) + 1);
    const more = [];
    for (const name of now) {
      const n = left.get(name) || 0;
      if (n === 0) more.push(name); else left.set(name, n - 1);
    }
    return more;
  };
  const read = () => info().filter((name) => name !== "TTYWrap").sort();
  const start = Date.now();
  let last = null;
  let since = start;
  for (;;) {
    const now = read();
    const more = extras(now);
    if (more.length === 0) return now;
    const key = now.join(",");
    if (key !== last) { last = key; since = Date.now(); }
    const sockets = more.every((name) => /TCP|Pipe|Socket|TTY|UDP/.test(name) && !/Connect|Req/.test(name));
    if (Date.now() - since >= (sockets ? quietMs : 5 * quietMs)) return now;
    if (Date.now() - start >= limitMs) return now;
    await sleep(2);
    await turn();
  }
}
"""


def evaluate(session: CdpSession, expression: str, *, await_promise: bool = False) -> Any:
    """The value of a JS expression evaluated in the target's global scope (JSON-like values only)."""
    reply = session.send(
        "Runtime.evaluate",
        {"expression": expression, "returnByValue": True, "awaitPromise": await_promise, "silent": True},
    )
    if "exceptionDetails" in reply:
        details = reply["exceptionDetails"]
        text = details.get("exception", {}).get("description") or details.get("text", "an exception")
        raise InspectorError(f"evaluating in the target failed: {text}", method="Runtime.evaluate")
    return reply.get("result", {}).get("value")


#: The objects a memory-reducing collection asks the target for (released at once).
GC_GROUP = "jsleak-gc"


def collect_all_garbage(session: CdpSession) -> bool:
    """V8's memory-reducing collection: the one `Runtime.queryObjects` runs before it walks the heap.

    Repeated full GCs that also flush the bytecode and compiled code of functions not running and
    clear the compilation cache: what a target's JIT keeps compiling does not pile up between
    samples (a plain full GC left 40-200 KB of it over 100 actions on clean pages). Asked for the
    objects of a fresh null-prototype object, it finds none. False where the target could not be
    asked (a page that replaced `Object.create`); the objects it made are left for the next GC.

    Pages use it (`drivers/page.py`); servers do not yet: on a clean `node:http` route it took the
    check to the fast path in 4 of 5 checks (0 of 5 with `gc()`), but it made every sample of a
    growing heap dearer, and the service corpus's leaks took about twice as long.
    """
    found = session.send("Runtime.evaluate", {"expression": "Object.create(null)", "objectGroup": GC_GROUP})
    prototype = found.get("result", {}).get("objectId")
    if not prototype:
        return False
    session.send("Runtime.queryObjects", {"prototypeObjectId": prototype, "objectGroup": GC_GROUP})
    session.send("Runtime.releaseObjectGroup", {"objectGroup": GC_GROUP})
    return True


def full_gc(session: CdpSession) -> None:
    """A full, compacting GC of the target's heap.

    The runtime's own `gc()` (there with `--expose-gc`, which service mode always adds) is one
    mark-compact: ~8 ms on a small server. `HeapProfiler.collectGarbage` is a memory-pressure GC
    (several mark-compacts until nothing more is freed, ~21 ms) and the fallback where `gc` is
    missing. Plain `gc()`, not `gc({type: "major"})`, which on Node 20 is only a scavenge
    (runtimes.md caveat 1).
    """
    if evaluate(session, "typeof globalThis.gc === 'function' ? (globalThis.gc(), true) : false") is not True:
        session.send("HeapProfiler.collectGarbage")


#: External memory and V8's machine code with its metadata (`v8.getHeapCodeStatistics()`) in one
#: script, so a sample evaluates one script after its GC rather than two (on an Express server each
#: took ~4 ms after the GC; reading both in one took 7.3 ms where the two took 11.6). The code size
#: only where the runtime lets a script read it (`process.getBuiltinModule`: Node >= 20.16, Deno);
#: 0 elsewhere.
MEMORY_EXPRESSION = (
    f"[{EXTERNAL_EXPRESSION}, globalThis.process?.getBuiltinModule?.('node:v8')"
    "?.getHeapCodeStatistics?.().code_and_metadata_size ?? 0]"
)


def read_memory(session: CdpSession) -> tuple[int, int, int]:
    """(heap used, external, machine code) in bytes, the code 0 where the runtime cannot say.

    The heap comes first, from `Runtime.getHeapUsage`, which allocates nothing in the target: reading
    it with `process.memoryUsage()` compiles and runs a script first, which moved the reading by up to
    200 KB from one sample to the next. External memory (ArrayBuffer backing stores, external
    strings) is outside the JS heap, so the script that reads it does not disturb it; nor does it
    disturb the code statistics, which count machine code only (a script's bytecode is not in them).
    """
    heap = session.send("Runtime.getHeapUsage")["usedSize"]
    value = evaluate(session, MEMORY_EXPRESSION)
    external, code = value if isinstance(value, list) and len(value) == 2 else (0, 0)
    return int(heap), int(external or 0), int(code or 0)


def idle_resources(session: CdpSession, *, stable_ms: int = 100, limit_ms: int = 2000) -> list[str]:
    """The active resources of an idle process (the baseline `settle` waits for): the set once it has
    not changed for `stable_ms` (within `limit_ms`).

    Read at once after the server answered its readiness probe, it held the probe's connection
    (`TCPSocketWrap`, `SimpleShutdownWrap`) and lacked the pipe of the server's stdio (`PipeWrap`),
    which is there for good a moment later: in five of six starts of a `node:http` server, so every
    sample then waited `settle`'s 20 ms for a socket to go quiet (2 s of a route check).
    """
    value = evaluate(session, f"({IDLE_FUNCTION.strip()})({stable_ms}, {limit_ms})", await_promise=True)
    return sorted(value) if isinstance(value, list) else []


#: Polls the active resources until they have stayed the same for `stableMs` (see `idle_resources`).
IDLE_FUNCTION = """
async (stableMs, limitMs) => {
  const info = globalThis.process?.getActiveResourcesInfo;
  if (typeof info !== "function") return [];
  const read = () => info().filter((name) => name !== "TTYWrap").sort().join(",");
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const start = Date.now();
  let last = read();
  let since = start;
  while (Date.now() - since < stableMs && Date.now() - start < limitMs) {
    await sleep(5);
    const now = read();
    if (now !== last) { last = now; since = Date.now(); }
  }
  return last ? last.split(",") : [];
}
"""


def settle(session: CdpSession, baseline: list[str], *, quiet_ms: int = 20, limit_ms: int = 1000) -> list[str] | None:
    """Let the target finish the work an action left in flight (see `SETTLE_FUNCTION`)."""
    expression = f"({SETTLE_FUNCTION.strip()})({json.dumps(baseline)}, {quiet_ms}, {limit_ms})"
    return evaluate(session, expression, await_promise=True)


def discard_console(session: CdpSession) -> None:
    """Drop the console messages V8 keeps for the connected session (up to 1,000, with their
    arguments): a route that logs every request would otherwise look like a leak of strings."""
    session.send("Runtime.discardConsoleEntries")


def take_snapshot(session: CdpSession, path: str | os.PathLike[str], *, stop_tracking: bool = False) -> Path:
    """A V8 heap snapshot streamed to `path` chunk by chunk (never held whole in memory).

    `takeHeapSnapshot` collects garbage itself before it walks the heap. The file is written to a
    temporary name and renamed when complete, so a failed transfer leaves no truncated snapshot.
    With `stop_tracking`, the snapshot is the one V8 streams in answer to `stopTrackingHeapObjects`:
    taken before the tracking stops, it carries the allocation stacks, and object ids stay stable
    after it (checked on Node 20: a separate stop would cost a second snapshot, ~0.5 s on a server).
    """
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with open(partial, "w", encoding="utf-8", newline="") as out:

        def write_chunk(params: dict[str, Any]) -> None:
            out.write(params["chunk"])

        session.on("HeapProfiler.addHeapSnapshotChunk", write_chunk)
        try:
            session.send(
                "HeapProfiler.stopTrackingHeapObjects" if stop_tracking else "HeapProfiler.takeHeapSnapshot",
                {"reportProgress": False},
            )
        except BaseException:
            out.close()
            partial.unlink(missing_ok=True)
            raise
        finally:
            session.remove_listener("HeapProfiler.addHeapSnapshotChunk", write_chunk)
    os.replace(partial, target)
    return target


def set_allocation_tracking(session: CdpSession, on: bool) -> None:
    """Record (or stop recording) the allocation stack of every new object.

    Snapshots taken while it is on carry `trace_function_infos` and `trace_tree`. V8 answers the
    stop with a whole heap snapshot of its own, which is dropped here (no handler takes its chunks).
    Compaction is held off meanwhile in a Node process: Node 20's V8 drops the stack of an object
    the inspector numbered once the GC moves it (the harness's `keepTrackedObjectsInPlace`); a
    page, Deno and Node 22 need nothing, and the expression does nothing there.
    """
    if on:
        evaluate(session, COMPACTION_EXPRESSION.format(flag="--no-compact"))
        session.send("HeapProfiler.startTrackingHeapObjects", {"trackAllocations": True})
    else:
        session.send("HeapProfiler.stopTrackingHeapObjects", {"reportProgress": False})
        evaluate(session, COMPACTION_EXPRESSION.format(flag="--compact"))


#: Sets a V8 flag in a Node process (`process.getBuiltinModule`: Node >= 20.16); nothing elsewhere.
COMPACTION_EXPRESSION = (
    "void (globalThis.process?.versions?.node && !globalThis.Deno && "
    "globalThis.process.getBuiltinModule?.('node:v8')?.setFlagsFromString('{flag}'))"
)


__all__ = [
    "CdpClient",
    "CdpSession",
    "InspectorError",
    "collect_all_garbage",
    "discard_console",
    "evaluate",
    "full_gc",
    "idle_resources",
    "read_memory",
    "set_allocation_tracking",
    "settle",
    "take_snapshot",
]

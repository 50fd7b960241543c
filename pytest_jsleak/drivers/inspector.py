"""A running server as a driven target (service mode): one iteration is one call of a Python action.

Garbage collection, heap samples and snapshots go through the server's inspector (the Chrome
DevTools Protocol, `runtime/cdp.py`): every sample settles the event loop (the work a request left
in flight ends first), runs `gc()` and reads `Runtime.getHeapUsage`, `external` and psutil's RSS.
The server (`runtime.service.ServiceProcess`) is the caller's and runs on after the check.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_jsleak.drivers.base import Phase
from pytest_jsleak.errors import (
    ActionError,
    InspectorError,
    OptionError,
    RuntimeCrashError,
    ScenarioTimeoutError,
)
from pytest_jsleak.model import HandleSite, LeakResult, MemorySample
from pytest_jsleak.profiles import RuntimeProfile, service_profile
from pytest_jsleak.runtime import cdp
from pytest_jsleak.runtime.service import ServiceProcess


def _how_it_ended(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


class InspectorDriver:
    """One leak check on a running service: `action()` is one iteration, memory is read over CDP.

    The check's `timeout` runs from the driver's creation to `teardown()`; when it passes, a
    watchdog stops the server's whole process tree, so an action blocked on the server returns,
    and the check fails as timed out.
    """

    def __init__(self, service: ServiceProcess, action: Callable[[], object], *, timeout: float) -> None:
        if not callable(action):
            raise OptionError(f"svc.check(): action must be a callable (one iteration), got {action!r}")
        if service.client is None or service.client.closed:
            code = service.exit_code()
            if code is not None:
                raise RuntimeCrashError(
                    f"the server {service.command!r} is gone: it {_how_it_ended(code)} before this check",
                    phase="start",
                    output_tail=service.output_tail(),
                )
            raise InspectorError(
                f"the inspector session of {service.command!r} is not open (not started, or stopped)", closed=True
            )
        self.service = service
        self.client = service.client
        self.action = action
        self.profile: RuntimeProfile = service_profile(service.runtime)
        self.runtime_version = service.runtime_version
        self.timeout = float(timeout)
        self.timings: dict[str, float] = {}
        self._deadline = time.monotonic() + self.timeout
        self.client.deadline = self._deadline
        self._where: dict[str, Any] = {"phase": "warmup", "iteration": None}
        self._tracking = False
        self._expired = threading.Event()
        self._watchdog = threading.Timer(self.timeout, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self) -> None:
        self._expired.set()
        self.service.kill_tree()

    # --- Driver ------------------------------------------------------------------------------------

    def run(self, iterations: int, *, sample_every: int, start: int, phase: Phase) -> list[MemorySample]:
        """Call the action `iterations` times (numbered from start+1), sampling every `sample_every` calls."""
        samples: list[MemorySample] = []
        for offset in range(1, iterations + 1):
            iteration = start + offset
            self._where = {"phase": phase, "iteration": iteration}
            self._check_time()
            t0 = time.perf_counter()
            try:
                self.action()
            except Exception as exc:
                raise self._action_failed(exc, phase, iteration) from None
            self._add_time("run.call", time.perf_counter() - t0)
            if sample_every and offset % sample_every == 0:
                t0 = time.perf_counter()
                samples.append(self._sample(iteration))
                self._add_time("run.sample", time.perf_counter() - t0)
        return samples

    def sample(self) -> MemorySample:
        """Settle, full GC, then heap, external and RSS (iteration 0)."""
        self._where = {"phase": "sample", "iteration": None}
        return self._sample(0)

    def snapshot(self, path: Path, *, stop_tracking: bool = False) -> Path:
        """A full GC, then a heap snapshot streamed to `path` (with `stop_tracking`, the one V8 answers
        the stop of allocation tracking with: half a second less than a snapshot and a stop)."""
        self._where = {"phase": "snapshot", "iteration": None}
        t0 = time.perf_counter()
        with self._faults():
            cdp.settle(self.client, self.service.idle)
            cdp.discard_console(self.client)
            cdp.full_gc(self.client)
            written = cdp.take_snapshot(self.client, path, stop_tracking=stop_tracking and self._tracking)
            if stop_tracking:
                self._tracking = False
        self._add_time("snapshot", time.perf_counter() - t0)
        return written

    def track_allocations(self, on: bool) -> bool:
        """Allocation tracking through the inspector (both Node and Deno can)."""
        if on == self._tracking:
            return True
        self._where = {"phase": "allocation-tracking", "iteration": None}
        with self._faults():
            cdp.set_allocation_tracking(self.client, on)
        self._tracking = on
        return True

    def track_handles(self, on: bool) -> bool:
        # Samples count a server's resources (what `settle` leaves active); their creation stacks
        # would take an async_hooks agent inside the server: not recorded.
        return False

    def handle_sites(self) -> list[HandleSite]:
        return []

    def teardown(self) -> None:
        """The end of a check that reached its verdict: stop tracking allocations (the service runs on)."""
        if self._tracking:
            self.track_allocations(False)

    def annotate(self, result: LeakResult) -> LeakResult:
        return result

    def close(self) -> None:
        """Release the check, whatever happened: the watchdog, allocation tracking, the deadline. Idempotent."""
        self._watchdog.cancel()
        try:
            if self._tracking and not self._expired.is_set() and not self.client.closed:
                with contextlib.suppress(InspectorError, RuntimeCrashError, ScenarioTimeoutError):
                    self.track_allocations(False)
        finally:
            self._tracking = False
            self.client.deadline = None

    # --- the work ----------------------------------------------------------------------------------

    def _sample(self, iteration: int) -> MemorySample:
        with self._faults():
            # The response may have left before the handler's last await: let that work end first.
            active = cdp.settle(self.client, self.service.idle)
            cdp.discard_console(self.client)
            cdp.full_gc(self.client)
            # The code size is 0 where the runtime cannot read it (Bun's JSC reports 0).
            heap, external, code = cdp.read_memory(self.client)
        # What settling left active (timers, sockets) is the sample's count of resources, by kind.
        handles = dict(Counter(active)) if active else {}
        return MemorySample(iteration=iteration, heap=heap, external=external, rss=self.service.rss(), code=code,
                            handles=handles)

    def _add_time(self, key: str, seconds: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + seconds

    def _check_time(self) -> None:
        if self._expired.is_set() or time.monotonic() > self._deadline:
            raise self._timed_out()

    @contextlib.contextmanager
    def _faults(self) -> Any:
        """Turn a failed inspector call into the error that explains it: timeout, crash, disconnect."""
        self._check_time()
        try:
            yield
        except InspectorError as exc:
            raise self._explain(exc) from None

    def _explain(self, exc: InspectorError) -> Exception:
        if self._expired.is_set() or exc.timed_out:
            return self._timed_out()
        code = self.service.exit_code(wait=2.0 if self.service.exiting.is_set() else 0.5 if exc.closed else 0.0)
        if code is not None:
            return self._crashed(code)
        where = self._describe_where()
        self.service.settle_output()
        return InspectorError(
            f"{exc.message} {where}; the server {self.service.command!r} (pid {self.service.pid}) still runs",
            method=exc.method,
            closed=exc.closed,
            phase=self._where["phase"],
            iteration=self._where["iteration"],
            output_tail=self.service.output_tail() if exc.closed else None,
        )

    def _action_failed(self, exc: Exception, phase: str, iteration: int) -> Exception:
        if self._expired.is_set():
            return self._timed_out()
        # A request that killed the server fails in the action first (connection reset): the crash
        # is the cause worth reporting, with the server's last words.
        code = self.service.exit_code(wait=2.0 if self.service.exiting.is_set() else 0.3)
        if code is not None:
            return self._crashed(code)
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        name = getattr(self.action, "__qualname__", None) or repr(self.action)
        return ActionError(
            f"the action {name} raised {type(exc).__name__} at iteration {iteration} ({phase} phase): {exc}",
            traceback_text=text,
            phase=phase,
            iteration=iteration,
        )

    def _crashed(self, code: int) -> RuntimeCrashError:
        self.service.kill_tree()
        return RuntimeCrashError(
            f"the {self.profile.name} server {self.service.command!r} {_how_it_ended(code)} {self._describe_where()}",
            phase=self._where["phase"],
            iteration=self._where["iteration"],
            output_tail=self.service.output_tail(),
        )

    def _timed_out(self) -> ScenarioTimeoutError:
        self._expired.set()
        self.service.kill_tree()
        return ScenarioTimeoutError(
            f"timed out after {self.timeout:g} s {self._describe_where()}; the server's process tree was stopped",
            phase=self._where["phase"],
            iteration=self._where["iteration"],
            output_tail=self.service.output_tail(),
        )

    def _describe_where(self) -> str:
        phase, iteration = self._where["phase"], self._where["iteration"]
        if iteration is None:
            return f"in the {phase} phase"
        return f"at iteration {iteration} ({phase} phase)"


__all__ = ["InspectorDriver"]

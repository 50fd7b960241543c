"""What the measurement drives: one process and one operation that it repeats.

`measure.run_plan` knows the plan (warm-up, rounds, samples, snapshots) and nothing of how a process
is driven. Each kind of target brings a `Driver`:

- a module target: `HarnessDriver`, harness.mjs in a Node/Bun/Deno child, one scenario export;
- a running server (service mode): the operation is a Python callable, GC, samples and snapshots go
  through the inspector protocol;
- a browser page: likewise, over the page's Chrome DevTools Protocol session.

So there is one plan, one verdict and one report for every kind of target.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from pytest_jsleak.model import MemorySample
from pytest_jsleak.runtime.process import HarnessProcess


@runtime_checkable
class Driver(Protocol):
    """One process and one operation that the measurement repeats."""

    runtime: str
    """`node`, `bun`, `deno`, `chromium`: names the runtime in reports."""
    runtime_version: str
    stable_ids: bool
    """Whether an object keeps its heap-snapshot id across snapshots (V8: yes; Bun/JSC: no)."""

    def run(self, iterations: int, *, sample_every: int, start: int, phase: str) -> list[MemorySample]:
        """Do the operation `iterations` times (numbered from `start + 1`); after every `sample_every`
        calls settle, force a full GC and read memory. Errors are `JsLeakError`s naming the call."""
        ...

    def sample(self) -> MemorySample:
        """Settle, force a full GC, read memory (iteration 0)."""
        ...

    def snapshot(self, path: Path) -> Path:
        """Force a full GC, then write a V8-format `.heapsnapshot` at `path`."""
        ...

    def track_allocations(self, on: bool) -> bool:
        """Start or stop recording allocation stacks; False where the runtime cannot."""
        ...

    def teardown(self) -> None:
        """The operation's own clean-up at the end of a check (a module's `teardown` export)."""
        ...


class HarnessDriver:
    """A module target's scenario in a harness process (`HarnessProcess` stays the owner of the process)."""

    def __init__(self, process: HarnessProcess, scenario: str) -> None:
        self.process = process
        self.scenario = scenario
        hello = process.hello
        self.runtime = hello.runtime if hello else process.runtime.name
        self.runtime_version = hello.version if hello else process.runtime.version
        self.stable_ids = self.runtime != "bun"

    def run(self, iterations: int, *, sample_every: int, start: int, phase: str) -> list[MemorySample]:
        return self.process.run(self.scenario, iterations, sample_every=sample_every, start=start, phase=phase)

    def sample(self) -> MemorySample:
        return self.process.gc_sample()

    def snapshot(self, path: Path) -> Path:
        return self.process.snapshot(path)

    def track_allocations(self, on: bool) -> bool:
        if self.runtime == "bun":
            return False  # no HeapProfiler in Bun's inspector: not even a round trip before S1
        return self.process.track_allocations(on)

    def teardown(self) -> None:
        self.process.teardown()


__all__ = ["Driver", "HarnessDriver"]

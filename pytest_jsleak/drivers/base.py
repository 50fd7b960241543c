"""The one interface every driven target offers the plan: run calls, sample memory, take snapshots.

Like pytest-xdist's scheduling protocol, this file says everything the plan and the check use, and
nothing else; each kind of target is a module of its own beside it:

- `harness.py`: a module target's scenario, harness.mjs in a Node/Bun/Deno child process;
- `inspector.py`: a running server (service mode), one iteration a call of a Python action, memory
  and snapshots over the inspector protocol;
- `page.py`: a browser page, the same over the page's Chrome DevTools Protocol session.

Tests replace the driver with a fake that returns scripted samples and writes small generated
snapshots, so the plan and the verdict are tested without a runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pytest_jsleak.model import HandleSite, LeakResult, MemorySample
from pytest_jsleak.profiles import RuntimeProfile

Phase = Literal["warmup", "measured"]
"""Which part of the plan a call belongs to (named in errors: `at iteration 7 (warmup phase)`)."""


class Driver(Protocol):
    """One process and one operation that the plan repeats."""

    profile: RuntimeProfile
    """What the plan, the analysis and the verdict know about the runtime (names it in reports too)."""
    runtime_version: str
    timings: dict[str, float]
    """Seconds spent per kind of work (`run.call`, `run.sample`, `snapshot`), for the bench."""

    def run(self, iterations: int, *, sample_every: int, start: int, phase: Phase) -> list[MemorySample]:
        """Do the operation `iterations` times (numbered from `start + 1`); after every `sample_every`
        calls settle, force a full GC and read memory. Errors are `JsLeakError`s naming the call."""
        ...

    def sample(self) -> MemorySample:
        """Settle, force a full GC, read memory (iteration 0)."""
        ...

    def snapshot(self, path: Path, *, stop_tracking: bool = False) -> Path:
        """Force a full GC, then write a V8-format `.heapsnapshot` at `path`; with `stop_tracking`,
        stop recording allocation stacks too (the snapshot still carries them). V8's inspector answers
        a stop with a snapshot of its own: over CDP the two are one."""
        ...

    def track_allocations(self, on: bool) -> bool:
        """Start or stop recording allocation stacks (called only where the profile says it can)."""
        ...

    def track_handles(self, on: bool) -> bool:
        """Record the creation stack of every async resource born from now (on), or stop recording
        births (off; ends are still seen, so a resource that ends later is dropped); False where the
        driver cannot (its samples then carry no handle counts either, or counts without sites)."""
        ...

    def handle_sites(self) -> list[HandleSite]:
        """Where the resources recorded by `track_handles` that are still active were created, grouped
        by kind and stack (files as the runtime names them); ends the recording."""
        ...

    def teardown(self) -> None:
        """The operation's own clean-up at the end of a check (a module's `teardown` export)."""
        ...

    def annotate(self, result: LeakResult) -> LeakResult:
        """What only the live target can add to a finished result (a page names its listeners' events)."""
        ...

    def close(self) -> None:
        """Release what the driver opened, whatever happened (idempotent)."""
        ...


__all__ = ["Driver", "Phase"]

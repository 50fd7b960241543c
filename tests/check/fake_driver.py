"""A scripted target for the plan and the verdict: memory after GC and the heap it would show, per call.

`FakeDriver` is a `drivers.base.Driver` with no process behind it. A `Program` says, for the number of
calls made so far, how much memory a full GC leaves (heap and external) and how many objects of one
class a module-level array keeps; `snapshot()` writes that heap as a small V8-format snapshot (with
`tests/heap/snapshot_builder.py`), so the real analysis, verdict and explanation run on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from heap.snapshot_builder import SnapshotBuilder

from pytest_jsleak.errors import JsLeakError
from pytest_jsleak.model import HandleSite, LeakResult, MemorySample, StackFrame
from pytest_jsleak.profiles import NODE, RuntimeProfile

BASE_HEAP = 5_000_000


@dataclass
class Program:
    """What `calls` calls leave behind: kept objects, and memory that no object shows."""

    kept: Callable[[int], int] = lambda calls: 0
    """Objects of `class_name` alive (in the module's `log` array) after `calls` calls."""
    object_size: int = 48
    class_name: str = "RequestRecord"
    repeated: bool = False
    """`log` holds one object `kept` times (mitt's `on()` pushing the same handler once per call): the
    list gains entries, the class no objects."""
    scattered: bool = False
    """The kept objects are held each by the GC roots (Bun's conservative stack scan keeping dead
    objects alive, now here, now there), not by the `log` array."""
    unexplained: Callable[[int], int] = lambda calls: 0
    """Bytes of heap that no snapshot object shows (Bun's array storage, the JIT) after `calls` calls."""
    external: Callable[[int], int] = lambda calls: 0
    """Bytes outside the JS heap (backing stores) after `calls` calls."""
    in_place: Callable[[int], int] = lambda calls: 0
    """Bytes of the module's `latencies` array storage (numbers pushed per call: no new object)."""
    engine_held: Callable[[int], int] = lambda calls: 0
    """Bytes of an array's storage that only the engine's global handles hold (no variable of the program)."""
    compiled: Callable[[int], int] = lambda calls: 0
    """Bytes of compiled code (the JIT's) after `calls` calls: in the heap and in the snapshot's `code`."""
    machine_code: Callable[[int], int] = lambda calls: 0
    """Bytes of the JIT's machine code: in the heap, the snapshot's `code`, and V8's code statistics
    (`MemorySample.code`, for a driver that reads them)."""

    handles: Mapping[str, Callable[[int], int]] = field(default_factory=dict)
    """Active resources of each kind after `calls` calls (beside the harness's own pipe)."""

    def memory(self, calls: int, *, reads_code: bool = False) -> MemorySample:
        heap = (BASE_HEAP + self.kept(calls) * self.object_size + self.unexplained(calls) + self.in_place(calls)
                + self.engine_held(calls) + self.compiled(calls) + self.machine_code(calls))
        code = 1_000_000 + self.machine_code(calls) if reads_code else 0
        active = {"PipeWrap": 1} | {kind: grow(calls) for kind, grow in self.handles.items() if grow(calls)}
        return MemorySample(0, heap=heap, external=100_000 + self.external(calls), rss=50_000_000, code=code,
                            handles=active)


def leak_per_call(every: int = 1) -> Callable[[int], int]:
    return lambda calls: calls // every


def flat() -> Callable[[int], int]:
    return lambda calls: 0


def filling(limit: int) -> Callable[[int], int]:
    """A bounded cache: one entry per call up to `limit` entries."""
    return lambda calls: min(calls, limit)


@dataclass
class FakeDriver:
    """A `Driver` over a `Program`; records what the plan asked of it."""

    program: Program = field(default_factory=Program)
    profile: RuntimeProfile = NODE
    runtime_version: str = "0.0-fake"
    reads_code: bool = False
    """Samples carry the JIT's machine code size (a service's inspector on Node or Deno; the harness does not)."""
    fail_at: int | None = None
    """Raise a target error at this call (numbered across the whole check, warm-up included)."""
    calls: int = 0
    snapshots: list[Path] = field(default_factory=list)
    tracking: list[bool] = field(default_factory=list)
    phases: list[tuple[str, int]] = field(default_factory=list)
    torn_down: bool = False
    closed: bool = False
    annotated: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    handle_tracking: list[bool] = field(default_factory=list)
    sampled_at: list[int] = field(default_factory=list)
    """The call (numbered across the whole check) after which each sample was taken."""
    _handles_from: int | None = None
    _handles_until: int | None = None
    call_seconds: float = 0.0
    """What one call is said to cost in `timings["run.call"]` (nothing sleeps)."""
    sample_seconds: float = 0.0
    """What one sample is said to cost in `timings["run.sample"]`."""

    def run(self, iterations: int, *, sample_every: int, start: int, phase: str) -> list[MemorySample]:
        assert phase in ("warmup", "measured"), phase
        self.phases.append((phase, iterations))
        samples = []
        for offset in range(1, iterations + 1):
            self.calls += 1
            if self.fail_at is not None and self.calls == self.fail_at:
                raise JsLeakError(f"the scenario threw at call {self.calls} ({phase} phase)")
            self.timings["run.call"] = self.timings.get("run.call", 0.0) + self.call_seconds
            if sample_every and offset % sample_every == 0:
                samples.append(self._sample(start + offset))
                self.timings["run.sample"] = self.timings.get("run.sample", 0.0) + self.sample_seconds
        return samples

    def sample(self) -> MemorySample:
        return self._sample(0)

    def _sample(self, iteration: int) -> MemorySample:
        self.sampled_at.append(self.calls)
        memory = self.program.memory(self.calls, reads_code=self.reads_code)
        return MemorySample(iteration, memory.heap, memory.external, memory.rss, memory.code, memory.handles)

    def snapshot(self, path: Path, *, stop_tracking: bool = False) -> Path:
        renumber = 0 if self.profile.matches_by_id else len(self.snapshots)
        write_heap(path, self.program, self.calls, renumber=renumber)
        self.snapshots.append(path)
        if stop_tracking:
            self.track_allocations(False)
        return path

    def track_allocations(self, on: bool) -> bool:
        assert self.profile.can_track_allocations, "the plan asked a runtime that cannot track allocations"
        self.tracking.append(on)
        return True

    def track_handles(self, on: bool) -> bool:
        self.handle_tracking.append(on)
        if on:
            self._handles_from = self.calls
        elif self._handles_from is not None:
            self._handles_until = self.calls
        return True

    def handle_sites(self) -> list[HandleSite]:
        if self._handles_from is None:
            return []
        until = self.calls if self._handles_until is None else self._handles_until
        born = {kind: grow(until) - grow(self._handles_from) for kind, grow in self.program.handles.items()}
        frames = (StackFrame("setInterval", "node:timers", 0, 0, kind="runtime"),
                  StackFrame("schedulePoll", "/work/src/poller.mjs", 14, 5),
                  StackFrame("leaky", "/work/poller.leak.mjs", 6, 3))
        self._handles_from = self._handles_until = None
        return [HandleSite(kind, frames, count) for kind, count in born.items() if count > 0]

    def teardown(self) -> None:
        self.torn_down = True

    def annotate(self, result: LeakResult) -> LeakResult:
        self.annotated = True
        return result

    def close(self) -> None:
        self.closed = True


def write_heap(path: Path, program: Program, calls: int, *, renumber: int = 0) -> Path:
    """The heap after `calls` calls: a module scope whose `log` array keeps the program's objects.

    Ids are stable (as V8's while the profiler is on) and grow with allocation order; `renumber`
    shifts every id (Bun renumbers objects in every snapshot).
    """
    shift = 1_000_000 * renumber
    b = SnapshotBuilder()
    roots = b.add("synthetic", "(GC roots)", self_size=0, id=3 + shift)
    b.edge(0, roots, 1, "element")
    scope = b.add("object", "system / Context", self_size=40, id=5 + shift)
    b.edge(roots, scope, 1, "element")
    log = b.add("object", "Array", self_size=32, id=7 + shift)
    b.edge(scope, log, "log", "context")
    code = b.add("code", "(compiled code)", self_size=400 + program.compiled(calls) + program.machine_code(calls),
                 id=9 + shift)
    b.edge(scope, code, "code", "internal")
    latencies = b.add("object", "Array", self_size=32, id=11 + shift)
    b.edge(scope, latencies, "latencies", "context")
    storage = b.add("array", "(object elements)", self_size=16 + program.in_place(calls), id=13 + shift)
    b.edge(latencies, storage, "elements", "internal")
    handles = b.add("synthetic", "(Global handles)", self_size=0, id=15 + shift)
    b.edge(roots, handles, 2, "element")
    cache = b.add("object", "Array", self_size=32, id=17 + shift)
    cache_storage = b.add("array", "(object elements)", self_size=16 + program.engine_held(calls), id=19 + shift)
    b.edge(cache, cache_storage, "elements", "internal")
    b.edge(handles, cache, 1, "element")
    one = b.add("object", program.class_name, self_size=program.object_size, id=999 + shift) if program.repeated else 0
    for k in range(program.kept(calls)):
        obj = one or b.add("object", program.class_name, self_size=program.object_size, id=1001 + 2 * k + shift)
        b.edge(roots if program.scattered else log, obj, 100 + k if program.scattered else k, "element")
    return b.write(path)

"""The verdict: heap samples and per-class survivor counts → clean or leak, and growth per iteration.

Two rounds of `iterations` calls each are compared (A: S1→S2, B: S2→S3). A class leaks when
objects of it allocated in round A are still alive after round B *and* round B added about as many
again: growth that keeps pace with the calls. One-off survivors (lazy initialisation, an interned
string, the last result kept in a variable) appear in one round only; a bounded cache or a ring
buffer evicts round A's objects during round B. Both are clean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from pytest_jsleak.model import MemorySample

# A class needs at least this many survivors per round: one or two objects are what a runtime
# or a one-time cache leaves behind (interned strings, a feedback cell, the last result).
MIN_SURVIVORS_PER_ROUND = 2
# Round B must add at least this share of round A's survivors (and vice versa): a leak keeps pace
# with the calls, a filling cache does not.
MIN_ROUND_RATIO = 0.5
# Heap-used growth over the second half of the sampling round below which the heap is called
# flat. V8 and JSC repeat heap-used to the byte after a full GC when nothing is retained
# (research/runtimes.md), so this only absorbs the odd allocation of the runtime itself.
FLAT_TOLERANCE_BYTES = 512
# Share of the second half's sample steps that must rise for the growth to look like a leak.
MIN_RISING_SHARE = 0.5
# Share of rising steps that is suspicious whatever the amount (one small object every few calls).
STEADY_RISING_SHARE = 0.8
# Growth over the second half that is suspicious however it is spread.
LARGE_GROWTH_BYTES = 16 * 1024


# Classes of the language, the runtimes and Node's internals. A leak report leads with the user's own
# classes (a `Poller` kept by a `Timeout`), which say more than the containers that hold them.
BUILTIN_CLASSES = frozenset(
    """Object Array Map Set WeakMap WeakSet WeakRef FinalizationRegistry Promise Function Error TypeError
    RangeError RegExp Date ArrayBuffer SharedArrayBuffer DataView Uint8Array Int8Array Uint16Array Int16Array
    Uint32Array Int32Array Float32Array Float64Array BigInt64Array BigUint64Array Uint8ClampedArray Buffer
    Symbol Number String Boolean BigInt Proxy Generator AsyncGenerator Arguments Iterator Timeout Immediate
    Timer TimersList EventEmitter EventTarget Event AbortSignal AbortController Listener PromiseReaction
    Module Script Context Window GlobalObject JSGlobalObject JSGlobalProxy""".split()
)


def is_user_class(name: str) -> bool:
    """A constructor name the target's code probably defined: `RequestRecord`, not `Array` or `(string)`."""
    return name[:1].isalpha() and name.isidentifier() and name not in BUILTIN_CLASSES


@dataclass(frozen=True, slots=True)
class ClassGrowth:
    """How one class grew over the two confirming rounds."""

    class_name: str
    round_a: int
    """Objects allocated in round A still alive at the end (by id), or the count growth S1→S2."""
    round_b: int
    """Objects allocated in round B alive at the end, or the count growth S2→S3."""
    bytes_a: int
    """Shallow bytes of `round_a`'s objects (or the size growth S1→S2)."""
    bytes_b: int = 0
    retained_bytes: int = 0
    examples: tuple[int, ...] = ()
    """Node indices in the final snapshot of objects that survived (for retainer paths)."""


@dataclass(frozen=True, slots=True)
class SampleTrend:
    """What the memory samples of a round say (heap + external: every byte the calls keep)."""

    suspicious: bool
    """Rising consistently and faster than tolerated: worth snapshots."""
    rising: bool
    """Rising consistently over the second half (whether or not within the tolerance)."""
    growth_per_iteration: float
    """Growth per call over the second half of the round (bytes, may be negative)."""
    total_growth: int
    plateaued: bool
    """Memory grew in the first half and stopped: a cache filling up, lazy initialisation."""
    early_growth: int = 0
    """Growth over the first half of the round."""


def sample_trend(samples: Sequence[MemorySample], *, tolerated_per_iteration: int) -> SampleTrend:
    """Judge a round of samples: is the retained memory (heap + external) still rising over its second half?"""
    values = [s.retained for s in samples]
    iterations = [s.iteration for s in samples]
    if len(values) < 2:
        return SampleTrend(False, False, 0.0, 0, False)
    mid = len(values) // 2
    second = values[mid:]
    calls = max(1, iterations[-1] - iterations[mid])
    late_growth = second[-1] - second[0]
    steps = [after - before for before, after in pairwise(second)]
    rising_steps = sum(1 for step in steps if step > 0)
    # A leak raises the heap at (nearly) every sample; a runtime's own one-off allocations (JIT,
    # interned strings, a resized table) make one or two jumps. Large growth counts regardless.
    consistent = rising_steps >= MIN_RISING_SHARE * len(steps) or late_growth > LARGE_GROWTH_BYTES
    # A heap that rises at almost every step is a leak however small the steps: after a full GC
    # the heap is exact to the byte, so jitter does not go up ten times in a row.
    steady = len(steps) >= 5 and rising_steps >= STEADY_RISING_SHARE * len(steps) and late_growth > 0
    rising = (late_growth > FLAT_TOLERANCE_BYTES and consistent) or steady
    per_call = late_growth / calls
    total = values[-1] - values[0]
    suspicious = rising and per_call > tolerated_per_iteration
    early = values[mid] - values[0]
    # "Grew early, then stayed flat" only when the second half really is flat: no net rise beyond
    # the tolerance, whether or not the rise was consistent enough to call it a leak.
    plateaued = not suspicious and early > FLAT_TOLERANCE_BYTES and late_growth <= FLAT_TOLERANCE_BYTES
    return SampleTrend(suspicious, rising, per_call, total, plateaued, early)


@dataclass(slots=True)
class Decision:
    verdict: str
    growth_per_iteration: float
    leaking: list[ClassGrowth] = field(default_factory=list)
    """Leaking classes: the user's own classes first, then by retained bytes."""
    tolerated: list[ClassGrowth] = field(default_factory=list)
    """Classes that grew with the calls but were dropped by `ignore`."""


def is_leaking_class(growth: ClassGrowth) -> bool:
    a, b = growth.round_a, growth.round_b
    if a < MIN_SURVIVORS_PER_ROUND or b < MIN_SURVIVORS_PER_ROUND:
        return False
    return min(a, b) >= MIN_ROUND_RATIO * max(a, b)


def decide(
    classes: Iterable[ClassGrowth],
    *,
    iterations: int,
    max_growth_per_iteration: int,
    ignore: Iterable[str] = (),
) -> Decision:
    """Leak when some classes keep pace with the calls and their bytes per call exceed the limit."""
    ignored = set(ignore)
    leaking: list[ClassGrowth] = []
    tolerated: list[ClassGrowth] = []
    for growth in classes:
        if not is_leaking_class(growth):
            continue
        (tolerated if growth.class_name in ignored else leaking).append(growth)
    leaking.sort(key=lambda g: (is_user_class(g.class_name), g.retained_bytes or g.bytes_a, g.round_a), reverse=True)
    per_iteration = sum(g.bytes_a for g in leaking) / max(1, iterations)
    verdict = "leak" if leaking and per_iteration > max_growth_per_iteration else "clean"
    return Decision(verdict, per_iteration, leaking, tolerated)


__all__ = [
    "ClassGrowth",
    "Decision",
    "SampleTrend",
    "decide",
    "is_leaking_class",
    "is_user_class",
    "sample_trend",
]

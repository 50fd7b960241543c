"""The verdict: heap samples and per-class survivor counts → clean or leak, and growth per iteration.

Two rounds of `iterations` calls each are compared (A: S1→S2, B: S2→S3). A class leaks when
objects of it allocated in round A are still alive after round B *and* round B added about as many
again: growth that keeps pace with the calls. One-off survivors (lazy initialisation, an interned
string, the last result kept in a variable) appear in one round only; a bounded cache or a ring
buffer evicts round A's objects during round B. Both are clean.
"""

from __future__ import annotations

import math
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
# Share of the first half's growth that one step must hold to look like a resize, not a filling cache.
RESIZE_SHARE = 0.6
# Or (Bun) its few largest steps carry most of it: JUMP_STEPS steps, JUMPS_SHARE of the growth.
JUMP_STEPS = 3
JUMPS_SHARE = 0.9
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
    inconclusive: bool = False
    """Not rising steadily, but jumped: a resize of something long-lived, or the JIT. One more
    round of samples tells them apart (the JIT settles, a growing array resizes again)."""


def sample_trend(
    samples: Sequence[MemorySample], *, tolerated_per_iteration: int, jumps_inconclusive: bool = False
) -> SampleTrend:
    """Judge a round of samples: is the retained memory (heap + external) still rising over its second half?

    `jumps_inconclusive`: a first half that rose in a few jumps and stopped is inconclusive, not a
    cache filling (for runtimes whose snapshots cannot size a collection's storage: Bun).
    """
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
    early = values[mid] - values[0]
    early_steps = [after - before for before, after in pairwise(values[: mid + 1])]
    # Growth in place comes in jumps: an array's storage grows by half, a hash table doubles, so a
    # leak of numbers pushed into an array raises memory once or twice a round and is flat between.
    # The samples cannot tell such a jump from a one-off (JIT code, a table allocated late): the
    # next round can (the JIT settles, a growing array resizes again), so a second half that rose
    # at all, or a first half that rose in one jump and then stopped, is inconclusive. Growth
    # spread over the first half that stops is a cache filling.
    jumped = late_growth > FLAT_TOLERANCE_BYTES
    big_steps = sorted((step for step in early_steps if step > 0), reverse=True)[:JUMP_STEPS]
    resized = (
        early > FLAT_TOLERANCE_BYTES
        and late_growth <= FLAT_TOLERANCE_BYTES
        and (
            max(early_steps, default=0) >= RESIZE_SHARE * early
            # Storage that grows by a factor rose in a few jumps (smart-buffer's Buffer:
            # +13, +77, +115 KB); a cache fills call by call.
            or (jumps_inconclusive and sum(big_steps) >= JUMPS_SHARE * early)
        )
    )
    early_per_call = early / max(1, iterations[mid] - iterations[0])
    suspicious = rising and per_call > tolerated_per_iteration
    inconclusive = not suspicious and (
        (jumped and per_call > tolerated_per_iteration) or (resized and early_per_call > tolerated_per_iteration)
    )
    # "Grew early, then stayed flat" only when the second half really is flat: no net rise beyond
    # the tolerance, whether or not the rise was consistent enough to call it a leak.
    plateaued = not suspicious and early > FLAT_TOLERANCE_BYTES and late_growth <= FLAT_TOLERANCE_BYTES
    return SampleTrend(suspicious, rising, per_call, total, plateaued, early, inconclusive)


# Classes of the runtime's own machinery: compiled code, shapes (V8 maps, JSC structures), system
# cells. A JIT that tiers hot functions up and a cache of compiled `new Function` code add a few of
# them per round for thousands of calls; they may stand beside a leak, never decide one alone.
RUNTIME_INTERNAL_CLASSES = frozenset({"(compiled code)", "(object shape)", "(system)", "(code)", "(hidden)"})
# Without ids (Bun), a class must grow by at least this many objects per call in both rounds: a
# rate, not a constant handful per round (a JIT's code blocks, a cache being pruned).
MIN_COUNT_RATE = 0.05


def is_runtime_internal(name: str) -> bool:
    """A class of the runtime's own (compiled code, shapes, system cells), not of the program."""
    return name in RUNTIME_INTERNAL_CLASSES


@dataclass(frozen=True, slots=True)
class GrowthInPlace:
    """A long-lived object whose retained size grew with the calls (see heap/growth.py)."""

    class_name: str
    per_iteration: float
    """Its growth per measured call."""
    node: int = -1
    """Its node index in the last snapshot (for its retainer path)."""
    node_id: int = 0
    sizes: tuple[int, ...] = ()
    """Its retained size in each snapshot compared."""


@dataclass(slots=True)
class Decision:
    verdict: str
    growth_per_iteration: float
    """What was compared with the threshold: all the memory the calls keep, per call."""
    leaking: list[ClassGrowth] = field(default_factory=list)
    """Leaking classes: the user's own classes first, then by retained bytes."""
    tolerated: list[ClassGrowth] = field(default_factory=list)
    """Classes that grew with the calls but were dropped by `ignore`."""
    grown: list[GrowthInPlace] = field(default_factory=list)
    """Long-lived objects that grew in place (not explained by survivors)."""
    internal_only: bool = False
    """Only runtime-internal classes grew: not a leak on their own."""
    attributed_per_iteration: float = 0.0
    """Bytes per call the snapshots tie to objects: survivors and growth in place."""


def is_leaking_class(growth: ClassGrowth, *, iterations: int = 0, by_counts: bool = False) -> bool:
    """Whether a class kept pace with the calls in both rounds.

    By ids (V8): at least two survivors per round, the rounds within a factor of two. By counts
    (Bun): also a rate of at least `MIN_COUNT_RATE` objects per call.
    """
    a, b = growth.round_a, growth.round_b
    floor = MIN_SURVIVORS_PER_ROUND
    if by_counts:
        floor = max(floor, math.ceil(MIN_COUNT_RATE * iterations))
    if a < floor or b < floor:
        return False
    return min(a, b) >= MIN_ROUND_RATIO * max(a, b)


def decide(
    classes: Iterable[ClassGrowth],
    *,
    iterations: int,
    max_growth_per_iteration: int,
    ignore: Iterable[str] = (),
    grown: Iterable[GrowthInPlace] = (),
    measured_per_iteration: float | None = None,
    by_counts: bool = False,
) -> Decision:
    """Leak when something kept pace with the calls and all the memory kept per call exceeds the limit.

    The evidence is a class whose survivors kept pace (`is_leaking_class`; runtime-internal classes
    only beside another) or an object that grew in place. The amount is the larger of what the
    snapshots tie to objects and `measured_per_iteration`, the slope of heap + external memory over
    the confirming rounds (which also sees memory the snapshots do not show, and is the only honest
    size when survivors are counted by class rather than tracked by id).
    """
    ignored = set(ignore)
    leaking: list[ClassGrowth] = []
    tolerated: list[ClassGrowth] = []
    for growth in classes:
        if not is_leaking_class(growth, iterations=iterations, by_counts=by_counts):
            continue
        (tolerated if growth.class_name in ignored else leaking).append(growth)
    grown = [g for g in grown if g.class_name not in ignored]
    leaking.sort(key=lambda g: (is_user_class(g.class_name), g.retained_bytes or g.bytes_a, g.round_a), reverse=True)
    internal_only = bool(leaking) and all(is_runtime_internal(g.class_name) for g in leaking) and not grown
    calls = max(1, iterations)
    survivors = sum(g.bytes_a for g in leaking) / calls
    in_place = sum(g.per_iteration for g in grown)
    attributed = survivors + in_place
    # By ids the snapshots size what survived; the measured slope also sees memory they do not
    # show. By counts (Bun) the per-class sizes miss strings, closures and storage: only the slope.
    measured = measured_per_iteration or 0.0
    per_iteration = measured if by_counts and measured_per_iteration is not None else max(attributed, measured)
    evidence = (bool(leaking) and not internal_only) or bool(grown)
    verdict = "leak" if evidence and per_iteration > max_growth_per_iteration else "clean"
    return Decision(verdict, per_iteration if evidence else 0.0, leaking, tolerated, grown, internal_only, attributed)


def confirming_slope(samples: Sequence[MemorySample], after_iteration: int) -> tuple[float, float]:
    """Least-squares slope, bytes per call, of heap + external and of external alone over the samples
    taken after `after_iteration` (the confirming rounds)."""
    points = [s for s in samples if s.iteration > after_iteration]
    if len(points) < 3:
        return 0.0, 0.0
    xs = [float(s.iteration) for s in points]
    mean_x = sum(xs) / len(xs)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0, 0.0

    def slope(values: list[float]) -> float:
        mean_y = sum(values) / len(values)
        return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, values, strict=True)) / spread

    return slope([float(s.retained) for s in points]), slope([float(s.external) for s in points])


__all__ = [
    "RUNTIME_INTERNAL_CLASSES",
    "ClassGrowth",
    "Decision",
    "GrowthInPlace",
    "SampleTrend",
    "confirming_slope",
    "decide",
    "is_leaking_class",
    "is_runtime_internal",
    "is_user_class",
    "sample_trend",
]

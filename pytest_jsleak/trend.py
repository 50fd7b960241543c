"""What the memory samples say: the sampling round's trend (the fast path), the confirming rounds'
slopes, and where those rounds lie in the samples (`Rounds`).

Memory after a full GC, heap + external, sampled every few calls. The verdict (`verdict.py`) weighs
these beside the snapshots' evidence; the plan (`plan.py`) reads the trend to decide whether to take
snapshots at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from pytest_jsleak.model import MemorySample
from pytest_jsleak.options import Options
from pytest_jsleak.profiles import RuntimeProfile

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
    """Judge a round of samples: is the memory held (heap + external, less the JIT's machine code where
    the driver reads it) still rising over its second half?

    `jumps_inconclusive`: a first half that rose in a few jumps and stopped is inconclusive, not a
    cache filling (for runtimes whose snapshots cannot size a collection's storage: Bun).
    """
    values = [s.held for s in samples]
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


def second_sampling_trend(
    samples: Sequence[MemorySample], calls: int, *, profile: RuntimeProfile, options: Options
) -> SampleTrend:
    """The second sampling round, after a first one that rose by a jump: suspicious when it is, when it
    jumped again, or when it grew by more than the tolerance over its calls (a JIT settles; a
    collection that grows by a factor resizes again)."""
    again = sample_trend(samples, tolerated_per_iteration=options.max_growth_per_iteration,
                         jumps_inconclusive=profile.jumps_inconclusive)
    grew_again = samples[-1].held - samples[0].held
    # `max_growth_per_iteration` over the round's calls, not over its samples.
    tolerated = max(FLAT_TOLERANCE_BYTES, options.max_growth_per_iteration * calls)
    return replace(again, suspicious=again.suspicious or again.inconclusive or grew_again > tolerated)


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


# --- the confirming rounds ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rounds:
    """Where the confirming rounds lie in the samples: A and B of `round_calls` each from
    `confirm_from`, then the extra round of `extra_calls` (0: none)."""

    samples: tuple[MemorySample, ...]
    confirm_from: int
    round_calls: int
    extra_calls: int = 0
    tracked: bool = False
    """Allocation tracking ran through round A: its own memory raises round A's samples."""

    def split(self) -> list[list[MemorySample]]:
        """The samples of each confirming round (A, B, and the extra round if any).

        A round runs from the sample taken where it starts (the previous round's last, or the
        sampling round's last, before S1) to its own last: a jump that falls between a round's start
        and its first sample is that round's growth (a Buffer reallocated 1.5x larger there).
        """
        starts = [self.confirm_from + k * self.round_calls for k in range(3)]
        ends = [*starts[1:], math.inf]
        rounds: list[list[MemorySample]] = [[], [], []]
        for sample in self.samples:
            for position, (start, end) in enumerate(zip(starts, ends, strict=True)):
                if start <= sample.iteration <= end:
                    rounds[position].append(sample)
        return rounds

    def growth(self, part: str = "heap") -> list[int]:
        """Growth of the JS heap (or of `external`) within each confirming round, from its own samples."""
        return [getattr(r[-1], part) - getattr(r[0], part) for r in self.split() if len(r) >= 2]

    def rise_steadily(self, profile: RuntimeProfile) -> bool:
        """Whether the JS heap of every confirming round rose like a leak: at most sample steps, or in
        jumps that nothing takes back (an array's storage growing by half; Bun's wandering heap jumps
        up and down). From each round's first sample on: the step from its start goes across a
        snapshot, which Bun's heap comes back from a few KB lower."""
        for samples in (r[1:] for r in self.split() if len(r) >= 4):
            steps = [after.heap - before.heap for before, after in pairwise(samples)]
            if sum(step > 0 for step in steps) >= MIN_RISING_SHARE * len(steps):
                continue
            rises = sum(step for step in steps if step > 0)
            falls = -sum(step for step in steps if step < 0)
            if falls > profile.kept_jumps_fall_share * rises:
                return False
        return True


__all__ = [
    "FLAT_TOLERANCE_BYTES",
    "LARGE_GROWTH_BYTES",
    "MIN_RISING_SHARE",
    "Rounds",
    "SampleTrend",
    "confirming_slope",
    "sample_trend",
    "second_sampling_trend",
]

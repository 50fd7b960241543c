"""Active async resources per call: what the samples' handle counts say, and the rule that makes
resources piling up a leak.

Every sample of a module check on Node (and, partly, Deno) counts the resources that keep the event
loop alive, by kind (`process.getActiveResourcesInfo()`: `Timeout`, `TCPSocketWrap`, `FSEventWrap`,
…, unref'ed timers left out) and the listeners added to `process`. A timer never cleared or a
socket never destroyed holds a file descriptor or a slot of the event loop and native memory that
its small JS object does not show, so a count that grows with the calls is a leak whatever its
bytes. Resources that end by themselves (a timer that fires, a request that completes) come and go
at a constant level and never grow with the calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pytest_jsleak.model import HandleGrowth, MemorySample

#: A kind must gain at least this many resources in a round (the sampling round's, each confirming
#: round's) to count: one timer more between two samples is a timer in flight, two more in each of
#: two rounds, and in both halves of the sampling round, is a pile.
MIN_HANDLES_PER_ROUND = 2
#: Round B must gain at least this share of round A's pace, and A of B's: resources that end by
#: themselves later than a round (a 60 s timeout per call) rise in A and keep rising in B at the same
#: pace too, and are a leak for as long as the check can see; a pool that fills (a keep-alive agent's
#: sockets) rises in A and stops.
HANDLE_PACE_SHARE = 0.5


def _kinds(samples: Iterable[MemorySample]) -> set[str]:
    return {kind for sample in samples for kind in sample.handles}


def _gain(first: MemorySample, last: MemorySample, kind: str) -> int:
    return last.handles.get(kind, 0) - first.handles.get(kind, 0)


def rising_kinds(samples: Sequence[MemorySample], ignore: Iterable[str] = ()) -> tuple[str, ...]:
    """The kinds whose count rose in both halves of a sampling round, by `MIN_HANDLES_PER_ROUND` in
    all: worth the confirming rounds even when memory is flat."""
    if len(samples) < 3:
        return ()
    mid = len(samples) // 2
    first, middle, last = samples[0], samples[mid], samples[-1]
    skipped = set(ignore)
    return tuple(sorted(
        kind for kind in _kinds(samples) - skipped
        if _gain(first, last, kind) >= MIN_HANDLES_PER_ROUND
        and _gain(first, middle, kind) > 0 and _gain(middle, last, kind) > 0
    ))


def leaking_handles(
    rounds: Sequence[Sequence[MemorySample]], round_calls: int, ignore: Iterable[str] = ()
) -> tuple[HandleGrowth, ...]:
    """The kinds that gained at least `MIN_HANDLES_PER_ROUND` resources in each confirming round (A and
    B: the samples of each, from its start), at paces within `HANDLE_PACE_SHARE` of each other; most
    per call first (their creation sites come with the explanation)."""
    measured = [samples for samples in rounds[:2] if len(samples) >= 2]
    if len(measured) < 2 or round_calls <= 0:
        return ()
    skipped = set(ignore)
    grown = []
    for kind in sorted(_kinds(s for samples in measured for s in samples) - skipped):
        gains = tuple(_gain(samples[0], samples[-1], kind) for samples in measured)
        low, high = min(gains), max(gains)
        if low < MIN_HANDLES_PER_ROUND or low < HANDLE_PACE_SHARE * high:
            continue
        grown.append(HandleGrowth(kind, sum(gains) / (len(gains) * round_calls), gains,
                                  measured[-1][-1].handles.get(kind, 0)))
    return tuple(sorted(grown, key=lambda growth: -growth.per_iteration))


__all__ = [
    "HANDLE_PACE_SHARE",
    "MIN_HANDLES_PER_ROUND",
    "leaking_handles",
    "rising_kinds",
]

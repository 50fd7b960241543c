"""The plan: how a driver is run to measure one check (warm-up, rounds, samples, snapshots).

For `iterations` = N:

1. warm-up: `warmup` calls, then chunks of at least 50 calls (10 on a page, paced by what a click and
   a sample cost: `settle_chunk_calls`, `settle_sample_share`) until memory stops moving (the JIT and
   lazy caches settle), within a bound of calls and seconds (`warm_up`);
2. the sampling round: N calls with a sample (full GC, heap + external + RSS) every N/20 calls (the
   profile's `samples_per_round`: twelve on a page, whose sample costs three clicks);
   a heap flat over its second half, with no kind of active resource piling up, is clean with no
   snapshot at all (the fast path). A round that rose by a jump (the JIT, or a long-lived table
   resizing) gets a second sampling round;
3. otherwise the confirming rounds: snapshot S1, N calls (round A), S2, N calls (round B), S3,
   with allocation tracking through round A where the profile can (and the creation stacks of
   active resources when some piled up, read after round B);
4. when the verdict asks for it (something grew by a jump in one round only), one extra, longer
   round and snapshot S4 (`extra_round`).

Rounds grow where jumps recur (storage that grows by a factor grows again only after as many calls
again as made so far: `spanning_calls`) and where the profile asks for longer ones (Bun: at least
1,000 calls).
The plan records what it measured in a `Measurement`; it judges nothing itself but whether the
samples are worth snapshots (`trend.sample_trend`).
"""

from __future__ import annotations

import itertools
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from pytest_jsleak.drivers.base import Driver
from pytest_jsleak.handles import rising_kinds
from pytest_jsleak.model import HandleSite, MemorySample
from pytest_jsleak.options import Options
from pytest_jsleak.profiles import RuntimeProfile
from pytest_jsleak.trend import FLAT_TOLERANCE_BYTES, SampleTrend, sample_trend, second_sampling_trend

#: Settling after the warm-up (calls per chunk and samples during the warm-up are profile facts:
#: `settle_chunk_calls`, `warmup_samples`): samples per chunk, and the bounds (`SETTLE_ROUNDS` x
#: iterations calls, `SETTLE_SECONDS`): a leak never settles, and is measured all the same.
SETTLE_SAMPLES = 4
SETTLE_ROUNDS = 4
SETTLE_SECONDS = 1.5
SNAPSHOT_NAMES = ("s1-after-warmup.heapsnapshot", "s2-after-round-a.heapsnapshot", "s3-final.heapsnapshot")
#: The snapshot after the extra round that objects which grew in one round only get.
EXTRA_SNAPSHOT_NAME = "s4-extra-round.heapsnapshot"
#: The share of `timeout` the plan may spend driving the target: the rest is for the analysis (seconds
#: on a large heap), the report and stopping the process, so a slow check ends with a verdict.
PLAN_SHARE = 0.8
#: Allocation tracking slows a round down by up to this factor (V8 records a stack per allocation).
TRACKING_SLOWDOWN = 4.0
#: What one snapshot is taken to cost until the first one is timed.
SNAPSHOT_SECONDS = 1.0
#: A tracked round runs in this many chunks, so that tracking can stop when it is too slow for the clock.
TRACKED_CHUNKS = 4
#: Confirming rounds shortened to fit the clock keep at least this share of `iterations`: shorter ones
#: would not lift a leak of one small object per call above the heap's jitter.
MIN_ROUND_SHARE = 0.25


@dataclass(slots=True)
class Clock:
    """The time a check has left, and what calls and snapshots cost so far: rounds are sized by it."""

    deadline: float
    """`time.monotonic()` by which the plan must be done."""
    seconds_per_call: float = 0.0
    seconds_per_snapshot: float = SNAPSHOT_SECONDS

    @classmethod
    def for_timeout(cls, timeout: float, started: float | None = None) -> Clock:
        return cls((time.monotonic() if started is None else started) + PLAN_SHARE * timeout)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def cost(self, calls: int, *, snapshots: int = 0, slowdown: float = 1.0) -> float:
        return calls * self.seconds_per_call * slowdown + snapshots * self.seconds_per_snapshot

    def fits(self, calls: int, *, snapshots: int = 0, slowdown: float = 1.0) -> bool:
        return self.cost(calls, snapshots=snapshots, slowdown=slowdown) <= self.left()

    def timed(self, calls: int, seconds: float) -> None:
        """`calls` calls (with their samples) took `seconds`: the pace of the next rounds."""
        if calls > 0:
            self.seconds_per_call = seconds / calls


@dataclass(slots=True)
class Measurement:
    """What the plan measured: the plan's output, read by the analysis, the verdict and the report."""

    warmup_calls: int = 0
    """Calls before measuring: `warmup`, and more while memory was still settling."""
    samples: list[MemorySample] = field(default_factory=list)
    """Every sample from the end of the warm-up on (the first one is iteration 0)."""
    sampling_calls: int = 0
    """Calls per sampling round."""
    trend: SampleTrend | None = None
    """What the sampling round(s) said."""
    sampling_jump: int = 0
    """The sampling rounds' largest step when it holds most of their rise (a table resized): what
    an extra round may look for; 0 otherwise."""
    calls: int = 0
    """Measured calls so far (the iteration number of the last call)."""
    round_cap: int = 0
    """The most calls one round may take."""
    confirm_from: int = 0
    """The iteration after which the confirming rounds start (S1 is taken there)."""
    round_calls: int = 0
    """Calls per confirming round (0: no confirming rounds)."""
    snapshots: list[Path] = field(default_factory=list)
    """S1, S2, S3 (and S4 after an extra round), as written."""
    tracked: bool = False
    """Allocation tracking ran in round A (its own memory raises round A's samples)."""
    tracked_partly: bool = False
    """Tracking stopped before round A ended (too slow for the clock): S2 carries no stacks."""
    extra_calls: int = 0
    """Calls of the extra round (0: none)."""
    rising_handles: tuple[str, ...] = ()
    """Kinds of active resources the sampling rounds saw pile up (`handles.rising_kinds`)."""
    handle_sites: list[HandleSite] = field(default_factory=list)
    """Where the resources born in round A and still active after round B were created."""
    handles_tracked: bool = False
    """The driver recorded creation stacks through round A (`handle_sites` is its answer)."""
    cut_short: str | None = None
    """What the plan left out because the timeout was near (`confirming rounds`, `extra round`,
    `allocation tracking`), or None."""
    timings: dict[str, float] = field(default_factory=dict)
    written: Callable[[Path], None] | None = None
    """Told of S1 and S2 as soon as each is written (the analysis reads them while the next round runs)."""

    @property
    def confirmed(self) -> bool:
        """Whether the confirming rounds ran (there are snapshots to analyse)."""
        return self.round_calls > 0


def measure(
    driver: Driver, options: Options, artefact_dir: Path, m: Measurement | None = None, clock: Clock | None = None
) -> Measurement:
    """Warm-up, the sampling round(s), and the confirming rounds when the samples warrant them.

    Fills in `m` as it goes (a new one by default), so that what was measured before an error of
    the driven process (`JsLeakError`, which propagates) is still there; the snapshots written so
    far are in `artefact_dir` for the caller's retention policy.
    """
    profile = driver.profile
    m = Measurement() if m is None else m
    clock = Clock.for_timeout(options.timeout) if clock is None else clock
    mark = time.perf_counter()
    warm = warm_up(driver, options) if options.warmup else WarmUp(driver.sample(), 0)
    base, m.warmup_calls = warm.last, warm.calls
    m.timings["warmup"] = time.perf_counter() - mark
    clock.timed(m.warmup_calls, m.timings["warmup"])
    m.round_cap = round_cap(profile, options, m.timings["warmup"], m.warmup_calls)

    mark = time.perf_counter()
    m.sampling_calls = max(options.iterations, min(profile.min_round_calls, m.round_cap))
    step = sampling_step(profile, options, m.sampling_calls)
    # A leak already loud in the warm-up is judged on the first `loud_round_share` of the round; the
    # rest is run only if that part did not rise as a leak (the fast path's evidence stays whole).
    first = loud_round_calls(profile, options) if warm.loud else m.sampling_calls
    m.samples = [base, *driver.run(first, sample_every=step, start=0, phase="measured")]
    trend = sample_trend(m.samples, tolerated_per_iteration=options.max_growth_per_iteration,
                         jumps_inconclusive=profile.jumps_inconclusive)
    if first < m.sampling_calls and loud(trend, profile):
        m.sampling_calls = first
    elif first < m.sampling_calls:
        m.samples += driver.run(m.sampling_calls - first, sample_every=step, start=first, phase="measured")
        trend = sample_trend(m.samples, tolerated_per_iteration=options.max_growth_per_iteration,
                             jumps_inconclusive=profile.jumps_inconclusive)
    m.calls = m.sampling_calls
    clock.timed(m.sampling_calls, time.perf_counter() - mark)
    round_calls = m.sampling_calls
    if trend.suspicious and profile.rounds_span_calls_so_far and largest_jump(m.samples):
        # Most of the rise in one step (a table doubled late in the round): the confirming rounds
        # must span the calls so far to see it double again in both.
        round_calls = spanning_calls(m, profile, m.sampling_calls)
    second = spanning_calls(m, profile, m.sampling_calls) if profile.rounds_span_calls_so_far else m.sampling_calls
    if trend.inconclusive and not clock.fits(second):
        second = m.sampling_calls
    if trend.inconclusive and clock.fits(second):
        # A jump, not a steady rise: the JIT, or a long-lived array or table resizing. A second
        # sampling round tells them apart: the JIT settles, a growing collection resizes again
        # (within as many calls again as made so far: the round is that long where the profile
        # allows it).
        before = m.samples[-1]
        more = driver.run(second, sample_every=max(1, second // profile.samples_per_round), start=m.calls,
                          phase="measured")
        m.calls += second
        m.samples += more
        # From the first round's last sample: a resize in the round's first calls, before its first
        # sample, is growth of this round (an array of numbers went clean when it fell there).
        trend = second_sampling_trend([before, *more], second, profile=profile, options=options)
        if trend.suspicious:
            # Jumps that recur: the confirming rounds must be as long as all the calls so far to
            # see the storage grow again in both.
            round_calls = spanning_calls(m, profile, m.sampling_calls)
    m.trend = trend
    m.sampling_jump = largest_jump(m.samples)
    # Timers, sockets or watchers piling up are worth the confirming rounds whatever the bytes.
    m.rising_handles = rising_kinds(m.samples, ignore=options.ignore)
    m.timings["sampling"] = time.perf_counter() - mark
    if trend.suspicious or m.rising_handles or options.snapshots == "always":
        round_calls = max(round_calls, min(profile.min_round_calls, m.round_cap))
        if loud(trend, profile) and round_calls == m.sampling_calls:
            # Not after a jump: rounds that must see storage grow again keep their length.
            round_calls = min(round_calls, loud_round_calls(profile, options))
        track = options.allocation_sites == "on" and profile.can_track_allocations
        if track and not clock.fits(2 * round_calls, snapshots=3, slowdown=(1 + TRACKING_SLOWDOWN) / 2):
            # Where the allocations were made is worth less than a verdict within the timeout.
            track, m.cut_short = False, "allocation tracking"
        if not clock.fits(2 * round_calls, snapshots=3):
            fitting = int((clock.left() - clock.cost(0, snapshots=3)) / max(clock.seconds_per_call, 1e-9) / 2)
            if fitting < MIN_ROUND_SHARE * options.iterations:
                m.cut_short = "confirming rounds"
                return m
            round_calls = fitting
        confirming_rounds(driver, m, artefact_dir, round_calls, track=track, clock=clock)
    return m


def confirming_rounds(
    driver: Driver, m: Measurement, folder: Path, round_calls: int, *, track: bool, clock: Clock | None = None
) -> None:
    """S1, round A, S2, round B, S3; allocation stacks recorded through round A when `track`."""
    mark = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    snapshots = [folder / name for name in SNAPSHOT_NAMES]
    m.confirm_from = m.calls
    m.round_calls = round_calls
    # Allocation stacks of round A (S2 carries them). Tracking slows allocation many times over,
    # and only a scenario already suspicious gets here. It starts before S1, so that the tracker's
    # own objects are not among round A's survivors.
    m.tracked = track and driver.track_allocations(True)
    # Creation stacks of the resources born in round A, when the sampling rounds saw some pile up;
    # read after round B, so that those that ended meanwhile (a timer that fired) are left out.
    track_handles = m.handles_tracked = bool(m.rising_handles) and driver.track_handles(True)
    taken = time.perf_counter()
    driver.snapshot(snapshots[0])
    if clock is not None:
        clock.seconds_per_snapshot = time.perf_counter() - taken
    m.snapshots.append(snapshots[0])
    if m.written is not None:
        m.written(snapshots[0])
    step = max(1, round_calls // (driver.profile.confirm_samples_per_round or driver.profile.samples_per_round))
    for index in (1, 2):
        began = time.perf_counter()
        if index == 1 and m.tracked and clock is not None:
            _tracked_round(driver, m, round_calls, step, clock)
        else:
            m.samples += driver.run(round_calls, sample_every=step, start=m.calls, phase="measured")
        if clock is not None and index == 2:
            clock.timed(round_calls, time.perf_counter() - began)  # round B: untracked, after the warm-up
        if track_handles:
            if index == 1:
                driver.track_handles(False)
            else:
                m.handle_sites = driver.handle_sites()
        m.calls += round_calls
        # S2 ends the tracking of round A (a tracking cut short already ended): over CDP the stop's
        # answer is S2 itself.
        driver.snapshot(snapshots[index], stop_tracking=m.tracked and index == 1 and not m.tracked_partly)
        m.snapshots.append(snapshots[index])
        if index == 1 and m.written is not None:
            m.written(snapshots[index])
    m.timings["snapshots"] = time.perf_counter() - mark


def _tracked_round(driver: Driver, m: Measurement, round_calls: int, step: int, clock: Clock) -> None:
    """Round A with allocation tracking on, in chunks: tracking slows some code down tens of times
    (each allocation records its stack), so when the rest of the plan would no longer fit in the
    clock at the pace seen, tracking stops there (no allocation sites: the verdict comes first).

    Where the profile says so (`sparse_tracked_samples`: servers), one sample per chunk, at its end."""
    if driver.profile.sparse_tracked_samples:
        chunk = max(1, math.ceil(round_calls / TRACKED_CHUNKS))
    else:
        chunk = max(step, (round_calls // TRACKED_CHUNKS) // step * step)
    done = 0
    while done < round_calls:
        calls = min(chunk, round_calls - done)
        began = time.perf_counter()
        every = calls if driver.profile.sparse_tracked_samples else step
        m.samples += driver.run(calls, sample_every=every, start=m.calls + done, phase="measured")
        done += calls
        pace = (time.perf_counter() - began) / calls
        rest = (round_calls - done) * pace + clock.cost(round_calls, snapshots=2)
        if m.tracked and done < round_calls and rest > clock.left():
            driver.track_allocations(False)
            m.tracked_partly = True
            m.cut_short = "allocation tracking"


def loud(trend: SampleTrend, profile: RuntimeProfile) -> bool:
    """Whether the sampling round rose as a leak by at least the profile's `loud_growth_per_call`: its
    confirming rounds may be shorter (pages: half `iterations`)."""
    return bool(profile.loud_growth_per_call) and trend.suspicious and (
        trend.growth_per_iteration >= profile.loud_growth_per_call)


def loud_round_calls(profile: RuntimeProfile, options: Options) -> int:
    """Calls of a round that only has to show a loud leak again: `loud_round_share` x `iterations`."""
    return max(1, math.ceil(profile.loud_round_share * options.iterations))


def spanning_calls(m: Measurement, profile: RuntimeProfile, at_least: int) -> int:
    """Calls for a round that must see storage grown by a factor grow again: as many as made so far
    (warm-up included; a collection filled from empty has doubled again by then), at least
    `at_least`; within the round cap unless the profile's rounds span the calls so far (the clock
    bounds them then)."""
    calls = max(at_least, m.warmup_calls + m.calls)
    return calls if profile.rounds_span_calls_so_far else min(calls, m.round_cap)


def extra_round_calls(m: Measurement, profile: RuntimeProfile) -> int:
    """How long the extra round is: as long as all the calls so far, at least two confirming rounds
    (`spanning_calls`)."""
    return spanning_calls(m, profile, 2 * m.round_calls)


def pace_round_calls(m: Measurement) -> int:
    """How long the extra round is when it only has to show whether growth keeps its pace: twice a
    confirming round (a longer round, so a warm-up shows as slowing), within the round cap."""
    return min(2 * m.round_calls, max(m.round_cap, m.round_calls))


def fitting_calls(clock: Clock, calls: int, *, at_least: int) -> int:
    """`calls`, or as many as the clock still allows with one snapshot, or 0 when under `at_least`."""
    if clock.fits(calls, snapshots=1):
        return calls
    fit = int((clock.left() - clock.cost(0, snapshots=1)) / max(clock.seconds_per_call, 1e-9))
    return fit if fit >= at_least else 0


def extra_round(driver: Driver, m: Measurement, folder: Path, calls: int | None = None) -> Path:
    """One more, longer round after S3 (`extra_round_calls` by default), and S4 at its end."""
    mark = time.perf_counter()
    calls = extra_round_calls(m, driver.profile) if calls is None else calls
    step = max(1, calls // driver.profile.samples_per_round)
    m.samples += driver.run(calls, sample_every=step, start=m.calls, phase="measured")
    m.calls += calls
    m.extra_calls = calls
    path = folder / EXTRA_SNAPSHOT_NAME
    driver.snapshot(path)
    m.snapshots.append(path)
    m.timings["snapshots"] = m.timings.get("snapshots", 0.0) + time.perf_counter() - mark
    return path


def round_cap(profile: RuntimeProfile, options: Options, warmup_seconds: float, warmup_calls: int) -> int:
    """The most calls one round may take: the profile's `round_cap_factor` x `iterations`; where it widens
    rounds by time (Bun), as many as fit in `profile.round_seconds` at the warm-up's pace, up to
    `profile.max_round_calls`, when that is more. Storage that grows by half grows again only after
    half as many calls again as made so far: thousands, after a few thousand calls."""
    cap = profile.round_cap_factor * options.iterations
    if not profile.max_round_calls or warmup_calls <= 0 or warmup_seconds <= 0:
        return cap
    fit = int(profile.round_seconds * warmup_calls / warmup_seconds)
    return max(cap, min(profile.max_round_calls, fit))


class WarmUp(NamedTuple):
    """What the warm-up ended on."""

    last: MemorySample
    """Its last sample (iteration 0 of the sampling round)."""
    calls: int
    loud: bool = False
    """A settle chunk rose at every sample by the profile's `loud_growth_per_call` or more: a leak
    that no settling of the JIT will hide, so the warm-up ended there."""


def warm_up(driver: Driver, options: Options) -> WarmUp:
    """`warmup` calls, then more until memory stops moving, within a bound; the last sample and the calls made.

    The JIT tiers hot code up for a few hundred calls (V8) to a few thousand (JSC, and its cache of
    compiled `new Function` code), and lazy caches fill: each adds memory that is not a leak. Calls
    go on in chunks until a chunk leaves heap + external memory flat, or `SETTLE_ROUNDS x iterations`
    calls or `SETTLE_SECONDS` have gone by.
    """
    profile = driver.profile
    # Where a sample's GC flushes code, samples closer together than the sampling round's would leave
    # the round a step above the warm-up's last sample (`RuntimeProfile.gc_flushes_code`).
    sparsest = sampling_step(profile, options) if profile.gc_flushes_code else 1
    step = max(1, options.warmup // profile.warmup_samples, sparsest)
    warm = driver.run(options.warmup, sample_every=step, start=0, phase="warmup")
    last = warm[-1] if warm else driver.sample()
    done = options.warmup
    chunk = max(options.warmup, profile.settle_chunk_calls)
    budget = SETTLE_ROUNDS * options.iterations
    if profile.settle_sample_share and warm:
        chunk = min(budget, max(chunk, paced_chunk(driver.timings, options.warmup, len(warm),
                                                   profile.settle_sample_share)))
    started = time.perf_counter()
    while done - options.warmup < budget and time.perf_counter() - started < SETTLE_SECONDS:
        more = driver.run(chunk, sample_every=max(1, chunk // SETTLE_SAMPLES, sparsest), start=done, phase="warmup")
        done += chunk
        if not more:
            break
        chunk_samples = [last, *more]
        values = [sample.held for sample in chunk_samples]
        last = more[-1]
        if max(values) - min(values) <= FLAT_TOLERANCE_BYTES:
            break
        if loud_chunk(chunk_samples, profile):
            return WarmUp(replace(last, iteration=0), done, loud=True)
    return WarmUp(replace(last, iteration=0), done)


#: A settle chunk is loud only over this many sample steps at least (one or two steps are a JIT's).
LOUD_CHUNK_STEPS = 3


def loud_chunk(samples: list[MemorySample], profile: RuntimeProfile) -> bool:
    """Whether a settle chunk's samples (with the one before it) rose at every step, by the profile's
    `loud_growth_per_call` or more per call."""
    steps = [after.held - before.held for before, after in itertools.pairwise(samples)]
    calls = samples[-1].iteration - samples[0].iteration
    return (
        bool(profile.loud_growth_per_call)
        and len(steps) >= LOUD_CHUNK_STEPS
        and all(step > 0 for step in steps)
        and samples[-1].held - samples[0].held >= profile.loud_growth_per_call * calls
    )


def sampling_step(profile: RuntimeProfile, options: Options, calls: int = 0) -> int:
    """Calls between two samples of the sampling round (of `calls`, `iterations` by default)."""
    return max(1, (calls or options.iterations) // profile.samples_per_round)


def paced_chunk(timings: dict[str, float], calls: int, samples: int, share: float) -> int:
    """Calls per settle chunk such that its `SETTLE_SAMPLES` samples take `share` of its time, at the
    pace of the driver's timings so far (`run.call`, `run.sample` over `calls` calls and `samples`
    samples); 0 where the driver did not time them."""
    call_seconds = timings.get("run.call", 0.0) / max(1, calls)
    sample_seconds = timings.get("run.sample", 0.0) / max(1, samples)
    if call_seconds <= 0 or sample_seconds <= 0:
        return 0
    return math.ceil(SETTLE_SAMPLES * sample_seconds * (1 - share) / share / call_seconds)


def largest_jump(samples: list[MemorySample]) -> int:
    """The largest step between samples when it holds at least half of their rise (a resize, not a creep)."""
    steps = [after.held - before.held for before, after in itertools.pairwise(samples)]
    largest = max(steps, default=0)
    return largest if largest >= 0.5 * sum(step for step in steps if step > 0) else 0


def clear_folder(folder: Path) -> None:
    """Empty a check's artefact folder before it starts (snapshots of an earlier run are not this run's)."""
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)


__all__ = [
    "EXTRA_SNAPSHOT_NAME",
    "PLAN_SHARE",
    "SNAPSHOT_NAMES",
    "Clock",
    "Measurement",
    "WarmUp",
    "clear_folder",
    "confirming_rounds",
    "extra_round",
    "extra_round_calls",
    "fitting_calls",
    "largest_jump",
    "loud",
    "loud_chunk",
    "loud_round_calls",
    "measure",
    "pace_round_calls",
    "paced_chunk",
    "round_cap",
    "sampling_step",
    "spanning_calls",
    "warm_up",
]

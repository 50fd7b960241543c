"""Run one scenario: warm-up, a sampling round, and when the heap keeps rising, three snapshots.

The plan, for `iterations` = N:

1. start the runtime, load the target, `setup`, `warmup` calls;
2. the sampling round: N calls with a heap sample after a forced full GC every N/20 calls. A heap
   that is flat over the round's second half is clean, with no snapshot at all (the fast path);
3. otherwise the confirming rounds: snapshot S1, N calls (round A), S2, N calls (round B), S3;
4. the verdict from what survived (see `verdict.py`), retainer paths from S3.

Memory that rose by jumps (storage that grows by a factor, or the JIT) gets a second sampling round
and confirming rounds as long as all the calls so far; on Bun, whose calls cost microseconds and
whose snapshots size less, every round is at least 1,000 calls (`run_plan`, `_round_cap`).

`snapshots="always"` takes the confirming rounds even for a flat heap, so there is something to keep.
"""

from __future__ import annotations

import itertools
import math
import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_jsleak import verdict as verdict_mod
from pytest_jsleak.errors import (
    ActionError,
    InspectorError,
    JsLeakError,
    OptionError,
    RuntimeCrashError,
    RuntimeNotFoundError,
    ScenarioTimeoutError,
    SnapshotFormatError,
    TargetError,
)
from pytest_jsleak.model import AllocationSite, InPlaceGrowth, LeakResult, MemorySample, Suspect
from pytest_jsleak.options import Options, parse_layer, resolve
from pytest_jsleak.units import format_bytes

if TYPE_CHECKING:
    from pytest_jsleak.drive import Driver

SAMPLES_PER_ROUND = 20
WARMUP_SAMPLES = 25
#: Settling after the warm-up: calls per chunk (at least), samples per chunk, and the bounds.
SETTLE_CHUNK = 50
SETTLE_SAMPLES = 4
SETTLE_ROUNDS = 4
SETTLE_SECONDS = 1.5
TOP_SUSPECTS = 3
SNAPSHOT_NAMES = ("s1-after-warmup.heapsnapshot", "s2-after-round-a.heapsnapshot", "s3-final.heapsnapshot")
#: The snapshot after the extra round that objects which grew in one round only get.
EXTRA_SNAPSHOT_NAME = "s4-extra-round.heapsnapshot"
#: Rounds without object ids (Bun) are at least this many calls (within the round cap, `_round_cap`).
COUNTS_MIN_ROUND_CALLS = 1000
#: Without ids (Bun) a round may take up to this many calls, as many as fit in ROUND_SECONDS.
COUNTS_MAX_ROUND_CALLS = 8000
ROUND_SECONDS = 1.0
#: A jump of at least this many bytes in one round, or a creep in both, earns a longer round.
ONE_ROUND_BYTES = 1024
#: Growth per round that no snapshot object shows (Bun) must exceed this to count.
UNEXPLAINED_ROUND_BYTES = 8 * 1024
#: External memory per round that no snapshot object shows (Bun) must exceed this to count: its
#: account of extra memory creeps by tens of KB over thousands of calls of clean code.
UNEXPLAINED_EXTERNAL_BYTES = 64 * 1024
#: A jump of the sampling rounds (Bun) this large, with rounds A and B flat, earns a longer round.
SAMPLING_JUMP_BYTES = 16 * 1024
#: Growth by jumps counts (Bun) only while the heap gives back at most this share of what it rose by.
KEPT_JUMPS_FALL_SHARE = 0.1
#: The extra round is at most this many times `iterations` calls.
EXTRA_ROUND_MAX = 8


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """One leak check: which scenario of which file, with which option layers, keeping files where.

    Options resolve as DESIGN §3.3 orders them: `base_layers` (ini, command line), then the file's
    own `export const jsleak` (`file_layer`, read from the loaded target when None), then
    `override_layers` (marker, keyword arguments).
    """

    target: Path
    scenario: str
    artefact_dir: Path
    """The folder for this check's snapshots (emptied first; removed when nothing is kept)."""
    cwd: Path
    base_layers: tuple[Mapping[str, Any], ...] = ()
    override_layers: tuple[Mapping[str, Any], ...] = ()
    file_layer: Mapping[str, Any] | None = None
    label: str = ""

    def options(self, file_layer: Mapping[str, Any] | None = None) -> Options:
        layer = self.file_layer if file_layer is None else file_layer
        return resolve(*self.base_layers, layer or {}, *self.override_layers)


def file_options(raw: Any, target: Path) -> dict[str, Any]:
    """The validated `export const jsleak = {...}` of a target (camelCase keys accepted)."""
    if raw is None:
        return {}
    return parse_layer(raw, source=f"export const jsleak in {target}", camel_case=True)


def launch_key(options: Options) -> tuple[object, ...]:
    """The options that decide how the runtime is started: a change means another process."""
    return (options.runtime, options.runtime_path, options.runtime_args)


def artefact_folder_name(text: str) -> str:
    """A folder name for a node id: readable, one level, safe on every file system."""
    name = re.sub(r"[^\w.\-]+", "_", text.replace("::", "__")).strip("_.")
    return name[:150] or "check"


def run_check(request: CheckRequest) -> LeakResult:
    """Check one scenario in a fresh runtime process; errors of the target become an `error` result."""
    from pytest_jsleak.drive import HarnessDriver
    from pytest_jsleak.runtime import HarnessProcess, find_runtime

    options = request.options()
    result = LeakResult(
        target=str(request.target),
        scenario=request.scenario,
        runtime=options.runtime,
        verdict="clean",
    )
    started = time.perf_counter()
    folder = request.artefact_dir
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    try:
        for _attempt in range(2):
            launch = launch_key(options)
            runtime = find_runtime(options.runtime, options.runtime_path, cwd=request.cwd)
            result.runtime_version = runtime.version  # an error report names it too
            result.runtime_executable = runtime.executable
            mark = time.perf_counter()
            proc = HarnessProcess(
                runtime,
                request.target,
                timeout=options.timeout,
                cwd=request.cwd,
                runtime_args=options.runtime_args,
                writable=(folder,),
            )
            try:
                hello = proc.start()
                if request.file_layer is None:
                    options = request.options(file_options(hello.options, request.target))
            except BaseException:
                proc.close()
                raise
            if launch_key(options) == launch:
                break
            # The file's own export asks for another runtime: load it again there.
            proc.close()
        with proc:
            proc.check_scenario(request.scenario)  # before `setup`, which may be costly
            proc.setup()
            proc.warm_channel(request.scenario)
            result.timings["start"] = time.perf_counter() - mark
            run_plan(HarnessDriver(proc, request.scenario), options, folder, result, root=request.cwd)
    except JsLeakError as exc:
        _fail(result, exc, options, folder)
    result.duration = time.perf_counter() - started
    return result


def run_driver_check(
    driver: Driver, options: Options, artefact_dir: Path, result: LeakResult, *, root: Path | None = None
) -> LeakResult:
    """A check on a driver its caller started and keeps (a running service): the plan, with errors
    of the driven process turned into an `error` result like `run_check` does."""
    started = time.perf_counter()
    try:
        run_plan(driver, options, artefact_dir, result, root=root)
    except JsLeakError as exc:
        _fail(result, exc, options, artefact_dir)
    result.duration = time.perf_counter() - started
    return result


def run_plan(
    driver: Driver, options: Options, artefact_dir: Path, result: LeakResult, *, root: Path | None = None
) -> LeakResult:
    """The plan for any driver: warm-up, sampling round, confirming rounds, verdict, kept snapshots.

    `result` names the check (target, scenario); this fills in the rest. Errors of the driven process
    (`JsLeakError`) propagate after the snapshots taken so far are kept or dropped by the policy;
    the caller turns them into an `error` result (`error_result`) or a failed test. `root`: files in
    allocation stacks and closure locations are shown relative to it (the rootdir).
    """
    started = time.perf_counter()
    timings = result.timings
    folder = artefact_dir
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    result.runtime = driver.runtime
    result.runtime_version = driver.runtime_version
    result.iterations = options.iterations
    result.warmup = options.warmup
    result.max_growth_per_iteration = options.max_growth_per_iteration
    snapshots: list[Path] = []
    confirm_from = 0
    tracked = False
    try:
        mark = time.perf_counter()
        if options.warmup:
            base, result.warmup_calls = _warm_up(driver, options)
        else:
            base = driver.sample()
        timings["warmup"] = time.perf_counter() - mark

        round_cap = _round_cap(driver, options, timings.get("warmup", 0.0), result.warmup_calls)
        mark = time.perf_counter()
        sampling_calls = options.iterations
        if not driver.stable_ids:
            # Bun: storage that grows by a factor (an array by half, a Buffer reallocated larger)
            # stays flat for hundreds of calls at a time, and its snapshots cannot size it: a round
            # of 200 calls often sees no step of it. Bun's calls cost microseconds.
            sampling_calls = max(sampling_calls, min(COUNTS_MIN_ROUND_CALLS, round_cap))
        step = max(1, sampling_calls // SAMPLES_PER_ROUND)
        round_samples = driver.run(sampling_calls, sample_every=step, start=0, phase="measured")
        result.samples = [base, *round_samples]
        timings["sampling"] = time.perf_counter() - mark

        trend = verdict_mod.sample_trend(result.samples, tolerated_per_iteration=options.max_growth_per_iteration,
                                         jumps_inconclusive=not driver.stable_ids)
        offset = sampling_calls
        round_calls = sampling_calls
        if trend.inconclusive:
            # A jump, not a steady rise: the JIT, or a long-lived array or table resizing. A second
            # sampling round tells them apart: the JIT settles, a growing collection resizes again.
            mark = time.perf_counter()
            more = driver.run(sampling_calls, sample_every=step, start=offset, phase="measured")
            offset += sampling_calls
            again = verdict_mod.sample_trend(more, tolerated_per_iteration=options.max_growth_per_iteration,
                                             jumps_inconclusive=not driver.stable_ids)
            result.samples += more
            grew_again = more[-1].retained - more[0].retained
            # (`max_growth_per_iteration` over the round's calls, not over its samples.)
            tolerated = max(verdict_mod.FLAT_TOLERANCE_BYTES, options.max_growth_per_iteration * sampling_calls)
            trend = replace(again, suspicious=again.suspicious or again.inconclusive or grew_again > tolerated)
            timings["sampling"] += time.perf_counter() - mark
            if trend.suspicious:
                # Jumps that recur: storage that grows by a factor (an array by half, a hash table
                # doubling) grows again only after as many calls again as made so far, so the
                # confirming rounds must be that long to see it in both.
                calls_so_far = result.warmup_calls + offset
                round_calls = min(max(sampling_calls, calls_so_far), round_cap)
        # A heap that does not rise consistently grew by nothing; jitter is not growth.
        result.growth_per_iteration = max(0.0, trend.growth_per_iteration) if trend.rising else 0.0
        result.total_growth = trend.total_growth
        plateaued = trend.plateaued
        # The sampling rounds' largest step, when it holds most of their rise (a table resized,
        # not a creep): what an extra round may look for (`_Judgement.needs_round`).
        steps = [after.retained - before.retained for before, after in itertools.pairwise(result.samples)]
        largest = max(steps, default=0)
        sampling_jump = largest if largest >= 0.5 * sum(step for step in steps if step > 0) else 0
        if not trend.suspicious and options.snapshots != "always":
            result.method = "samples"
            driver.teardown()
        else:
            mark = time.perf_counter()
            folder.mkdir(parents=True, exist_ok=True)
            snapshots = [folder / name for name in SNAPSHOT_NAMES]
            confirm_from = offset
            # Allocation stacks of round A (S2 carries them). Tracking slows allocation many times
            # over, and only a scenario already suspicious gets here. It starts before S1, so that
            # the tracker's own objects are not among round A's survivors.
            tracked = options.allocation_sites == "on" and driver.track_allocations(True)
            driver.snapshot(snapshots[0])
            if not driver.stable_ids:
                # Without ids (Bun) the snapshots show less (no array storage) and the GC'd memory
                # wanders by a few KB: longer rounds lift a leak of a few bytes per call above that,
                # and let storage that grows by a factor grow again. Bun's calls cost microseconds.
                round_calls = max(round_calls, min(COUNTS_MIN_ROUND_CALLS, round_cap))
            result.round_iterations = round_calls
            round_step = max(1, round_calls // SAMPLES_PER_ROUND)
            for round_index in (1, 2):
                more = driver.run(round_calls, sample_every=round_step, start=offset, phase="measured")
                result.samples += more
                offset += round_calls
                driver.snapshot(snapshots[round_index])
                if tracked and round_index == 1:
                    driver.track_allocations(False)
            timings["snapshots"] = time.perf_counter() - mark
            mark = time.perf_counter()
            try:
                judgement = _Judgement(result, snapshots, options, stable_ids=driver.stable_ids,
                                       confirm_from=confirm_from, round_calls=round_calls, tracked=tracked,
                                       root=root, sampling_jump=sampling_jump)
                judgement.decide()
                if judgement.needs_round:
                    # Something grew by a jump in one round only: a Set or array whose storage
                    # doubles, or a cache that filled once. A longer round tells which: as long as
                    # all the calls so far, by which a collection filled from empty doubles again.
                    calls_so_far = result.warmup_calls + offset
                    calls = min(max(2 * round_calls, calls_so_far), round_cap)
                    extra = folder / EXTRA_SNAPSHOT_NAME
                    more = driver.run(calls, sample_every=max(1, calls // SAMPLES_PER_ROUND), start=offset,
                                      phase="measured")
                    result.samples += more
                    offset += calls
                    driver.snapshot(extra)
                    snapshots.append(extra)
                    judgement.add_round(extra, calls)
                if tracked and result.verdict == "leak":
                    # The tracker (an inspector session, recompiled code) raises every later sample.
                    result.notes.append(
                        "allocation tracking was on in round A (for the allocation sites): its own memory "
                        f"raises the samples from iteration {confirm_from} on"
                    )
            except SnapshotFormatError as exc:
                result.verdict = "error"
                result.error = str(exc)
                result.error_kind = "snapshot"
            timings["analysis"] = time.perf_counter() - mark
            driver.teardown()
    except JsLeakError:
        _keep_or_drop_snapshots(result, snapshots, folder, options, failed=True)
        raise

    if plateaued and result.verdict != "leak":
        # Only beside a clean verdict: a leak found by the rounds after it would contradict it.
        result.notes.insert(0, f"memory grew by {format_bytes(trend.early_growth)} early in the sampling round, "
                               "then stayed flat: not a leak (a cache filling up, lazy set-up)")
    _keep_or_drop_snapshots(result, snapshots, folder, options)
    timings["plan"] = time.perf_counter() - started
    return result


def _round_cap(driver: Driver, options: Options, warmup_seconds: float, warmup_calls: int) -> int:
    """The most calls one round may take: `EXTRA_ROUND_MAX` × `iterations`; without ids (Bun), as
    many as fit in `ROUND_SECONDS` at the warm-up's pace (samples included), up to
    `COUNTS_MAX_ROUND_CALLS`, when that is more. Storage that grows by half grows again only
    after half as many calls again as made so far: thousands, after a few thousand calls."""
    cap = EXTRA_ROUND_MAX * options.iterations
    if driver.stable_ids or warmup_calls <= 0 or warmup_seconds <= 0:
        return cap
    fit = int(ROUND_SECONDS * warmup_calls / warmup_seconds)
    return max(cap, min(COUNTS_MAX_ROUND_CALLS, fit))


def _warm_up(driver: Driver, options: Options) -> tuple[MemorySample, int]:
    """`warmup` calls, then more until memory stops moving, within a bound; the last sample and the calls made.

    The JIT tiers hot code up for a few hundred calls (V8) to a few thousand (JSC, and its cache of
    compiled `new Function` code), and lazy caches fill: each adds memory that is not a leak. Calls
    go on in chunks until a chunk leaves heap + external memory flat, or `SETTLE_ROUNDS x iterations`
    calls or `SETTLE_SECONDS` have gone by (a leak never settles: it is measured all the same).
    """
    # Sample during warm-up too: the harness's own GC-and-sample path settles only after some
    # twenty rounds, and would otherwise add kilobytes to the measured round.
    step = max(1, options.warmup // WARMUP_SAMPLES)
    warm = driver.run(options.warmup, sample_every=step, start=0, phase="warmup")
    last = warm[-1] if warm else driver.sample()
    done = options.warmup
    chunk = max(options.warmup, SETTLE_CHUNK)
    budget = SETTLE_ROUNDS * options.iterations
    started = time.perf_counter()
    while done - options.warmup < budget and time.perf_counter() - started < SETTLE_SECONDS:
        more = driver.run(chunk, sample_every=max(1, chunk // SETTLE_SAMPLES), start=done, phase="warmup")
        done += chunk
        if not more:
            break
        values = [last.retained, *(sample.retained for sample in more)]
        last = more[-1]
        if max(values) - min(values) <= verdict_mod.FLAT_TOLERANCE_BYTES:
            break
    return replace(last, iteration=0), done


def _fail(result: LeakResult, exc: JsLeakError, options: Options, folder: Path) -> None:
    """Turn an error of the driven process into the result's `error` verdict (snapshots already handled)."""
    result.verdict = "error"
    result.error = str(exc)
    result.error_kind = error_kind(exc)
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()


class _Judgement:
    """The verdict from S1, S2, S3 and the samples of the confirming rounds (DESIGN §5).

    Kept while the process lives, so that an object that grew in one round only can be looked at
    once more after another round (`add_round`).
    """

    def __init__(
        self,
        result: LeakResult,
        snapshots: list[Path],
        options: Options,
        *,
        stable_ids: bool,
        confirm_from: int,
        round_calls: int,
        tracked: bool = False,
        root: Path | None = None,
        sampling_jump: int = 0,
    ) -> None:
        from pytest_jsleak import heap
        from pytest_jsleak.heap.allocations import AllocationTraces
        from pytest_jsleak.heap.growth import MIN_ROUND_BYTES, dominated_ancestors, grown_in_place

        self.result = result
        self.options = options
        self.stable_ids = stable_ids
        self.confirm_from = confirm_from
        self.round_calls = round_calls
        #: The largest step of the sampling rounds, when they rose by jumps (0 otherwise).
        self.sampling_jump = sampling_jump
        graphs = [heap.HeapGraph(heap.read_snapshot(path)) for path in snapshots]
        self.final = graphs[2]
        # The snapshot the grown objects' node indices refer to (S4 after an extra round); the
        # survivors' examples always refer to S3, `self.final`.
        self.grown_graph = self.final
        net_b: dict[str, int] | None = None
        if stable_ids:
            result.method = "ids"
            diff = heap.three_snapshot_diff(graphs[0].snapshot.node_id, graphs[1].snapshot.node_id, self.final)
            if result.runtime == "deno":
                # Deno re-ids ~10k strings and numbers in every snapshot: by id they would all look
                # allocated in round B, and how many of them were re-ided varies. A class's count
                # does not change with ids: its net growth over round B stands for round B there.
                census2, census3 = heap.class_census(graphs[1].snapshot), heap.class_census(self.final.snapshot)
                net_b = {row.class_name: max(0, census3.count(row.class_name) - census2.count(row.class_name))
                         for row in diff}
        else:
            # Bun renumbers every object in every snapshot: per-class count growth in each round
            # stands in for survival by id (research/runtimes.md §4).
            result.method = "counts"
            result.notes.append(
                "bun renumbers objects in every snapshot: survivors are judged by per-class counts and "
                "sized by the GC'd heap, and bun's snapshots carry no closure source locations"
            )
            diff = heap.three_snapshot_counts(*(heap.class_census(g.snapshot) for g in graphs), self.final)
        self.root = root
        self.tracked = tracked
        # S2 was written while round A's allocations were tracked: its stacks say where the
        # survivors (round A's objects, found by id in S3) were made.
        self.traces = AllocationTraces.of_snapshot(graphs[1].snapshot) if tracked and stable_ids else None
        final = self.final.snapshot
        self.survivors = {row.class_name: (final.node_id[row.survivor_nodes], final.node_self_size[row.survivor_nodes])
                          for row in diff if row.survivor_nodes.size} if self.traces is not None else {}
        self.classes = [
            verdict_mod.ClassGrowth(
                class_name=row.class_name,
                round_a=row.survivors,
                round_b=row.fresh if net_b is None else min(row.fresh, net_b[row.class_name]),
                bytes_a=row.survivor_bytes,
                bytes_b=row.fresh_bytes,
                retained_bytes=row.retained_bytes,
                examples=tuple(row.example_nodes),
            )
            for row in diff
        ]
        iterations = round_calls
        leaking_rows = [
            row for row, growth in zip(diff, self.classes, strict=True)
            if verdict_mod.is_leaking_class(growth, iterations=iterations, by_counts=not stable_ids)
        ]
        # Objects that hold leaking survivors grow with them: that growth is the survivors', not theirs.
        held = [row.survivor_nodes for row in leaking_rows if row.survivor_nodes.size]
        explained = dominated_ancestors(self.final, np.concatenate(held)) if held else None
        # At least a byte per call in each round: a runtime's own queues and tables (Deno's timer
        # queue under a server that sets a timer per request) wander by a hundred bytes a round.
        findings = grown_in_place(
            graphs, stable_ids=stable_ids, explained=explained, min_round_bytes=max(MIN_ROUND_BYTES, iterations)
        )
        self.grown = [_growth(g, 2 * iterations) for g in findings.grown]
        self.one_round = findings.one_round
        self.calls = 2 * iterations
        # Bun's snapshots leave out some storage (an array's elements and what only they hold, some
        # hash tables): what grew there shows only in the samples. The runtime's own classes growing
        # with the calls (its JIT, its cache of compiled code) would explain such growth too, so it
        # counts only while they grow by no more than a handful per round.
        self.internal_quiet = not stable_ids and not any(
            verdict_mod.is_runtime_internal(g.class_name)
            and max(g.round_a, g.round_b) >= verdict_mod.MIN_COUNT_RATE * round_calls
            for g in self.classes
        )
        self.extra_rounds = 0
        self.extra_calls = 0
        self.base_notes = list(result.notes)

    def add_round(self, snapshot: Path, calls: int) -> None:
        """Another round of `calls` calls ended in `snapshot`: objects that grew again grow in place."""
        from pytest_jsleak import heap
        from pytest_jsleak.heap.growth import deepest, grew_again, large_objects

        after = heap.HeapGraph(heap.read_snapshot(snapshot))
        if not self.one_round and self.sampling_jump_unrepeated:
            # What could have made that jump: objects at least half its size. A table that grows
            # by a factor grows again by more than the jump did; a cache that filled once does not.
            candidates = large_objects(self.final, min_bytes=self.sampling_jump // 2, stable_ids=self.stable_ids)
            again = deepest(after, grew_again(self.final, after, candidates, stable_ids=self.stable_ids,
                                              min_bytes=self.sampling_jump))
        else:
            again = grew_again(self.final, after, self.one_round, stable_ids=self.stable_ids)
        self.calls += calls
        self.extra_rounds += 1
        self.extra_calls = calls
        self.grown_graph = after
        self.one_round = []
        if again:
            self.grown = [_growth(g, self.calls) for g in again]
            self.base_notes.append(
                f"{', '.join(g.class_name for g in again)} grew by jumps (storage that doubles): seen over "
                f"{self.calls} calls, one more round than usual"
            )
            self.result.suspects = []
        self.decide()

    def round_samples(self) -> list[list[MemorySample]]:
        """The samples of each confirming round (A, B, and the extra round if any).

        A round runs from the sample taken where it starts (the previous round's last, or the
        sampling round's last, before S1) to its own last: a jump that falls between a round's
        start and its first sample is that round's growth (smart-buffer's Buffer, reallocated 1.5x
        larger, was missed on Bun when it was not).
        """
        starts = [self.confirm_from + k * self.round_calls for k in range(3)]
        ends = [*starts[1:], math.inf]
        rounds: list[list[MemorySample]] = [[], [], []]
        for sample in self.result.samples:
            for position, (start, end) in enumerate(zip(starts, ends, strict=True)):
                if start <= sample.iteration <= end:
                    rounds[position].append(sample)
        return rounds

    def round_growth(self, part: str = "heap") -> list[int]:
        """Growth of the JS heap (or of `external`) within each confirming round, from its own samples.

        Apart: Bun's account of external memory creeps up by tens of KB over a few thousand calls of
        clean code (extra memory it releases lazily), so it is judged with a floor of its own.
        """
        return [getattr(r[-1], part) - getattr(r[0], part) for r in self.round_samples() if len(r) >= 2]

    def rounds_rise_steadily(self) -> bool:
        """Whether the JS heap of every confirming round rose like a leak: at most sample steps, or
        in jumps that nothing takes back (an array's storage growing by half; Bun's wandering
        heap jumps up and down). From each round's first sample on: the step from its start goes
        across a snapshot, which Bun's heap comes back from a few KB lower."""
        for samples in (r[1:] for r in self.round_samples() if len(r) >= 4):
            steps = [after.heap - before.heap for before, after in itertools.pairwise(samples)]
            if sum(step > 0 for step in steps) >= verdict_mod.MIN_RISING_SHARE * len(steps):
                continue
            rises = sum(step for step in steps if step > 0)
            falls = -sum(step for step in steps if step < 0)
            if falls > KEPT_JUMPS_FALL_SHARE * rises:
                return False
        return True

    @property
    def sampling_jump_unrepeated(self) -> bool:
        """Bun: the sampling rounds rose by a jump, rounds A and B by no more than the heap's jitter,
        and nothing grew in place. JSC's Set and Map tables grow by 4x: after a step at ~1,000 calls
        the next is ~3,000 calls away, so one long round looks for what makes it again."""
        return (
            not self.stable_ids
            and self.sampling_jump >= SAMPLING_JUMP_BYTES
            and not self.grown
            and all(g <= UNEXPLAINED_ROUND_BYTES for g in self.round_growth()[:2])
        )

    @property
    def needs_round(self) -> bool:
        """Whether one more, longer round would settle it (something grew by a jump in one round only)."""
        if self.result.verdict != "clean" or self.extra_rounds:
            return False
        if self.one_round:
            return True
        if self.sampling_jump_unrepeated:
            return True
        rounds = self.round_growth()
        grew = [g > UNEXPLAINED_ROUND_BYTES for g in rounds]
        # Or the heap rose in both rounds, by less than its jitter: a longer round shows a few bytes
        # per call (a list that grows by one slot per call) above it.
        creeping = len(rounds) == 2 and all(ONE_ROUND_BYTES < g <= UNEXPLAINED_ROUND_BYTES for g in rounds)
        # Or a backing store that grows by a factor (a Buffer reallocated 1.5x larger) jumped in one
        # round only: its next step may be just past the other round's end.
        external_grew = [g > UNEXPLAINED_EXTERNAL_BYTES for g in self.round_growth("external")]
        return self.internal_quiet and (sum(grew) == 1 or creeping or sum(external_grew) == 1)

    def decide(self) -> None:
        result, options = self.result, self.options
        result.notes = list(self.base_notes)
        by_counts = not self.stable_ids
        # Allocation tracking's own memory raises round A's samples: with it on, round B alone measures.
        slope_from = self.confirm_from + (self.round_calls if self.tracked else 0)
        measured, external = verdict_mod.confirming_slope(result.samples, slope_from)
        result.measured_growth_per_iteration = measured
        result.external_growth_per_iteration = external
        confirming = [s for s in result.samples if s.iteration > self.confirm_from]
        trend = verdict_mod.sample_trend(confirming, tolerated_per_iteration=options.max_growth_per_iteration)
        classes, grown = self.classes, self.grown
        if by_counts and not trend.rising and measured <= options.max_growth_per_iteration:
            # Counts alone are noisy on Bun: its conservative stack scan keeps a few dead objects
            # alive, now in one class, now in another. A leak also raises the GC'd memory.
            if any(verdict_mod.is_leaking_class(g, iterations=self.round_calls, by_counts=True) for g in classes):
                result.notes.append(
                    "per-class counts grew, but memory did not rise over the confirming rounds: not a leak"
                )
            classes, grown = [], []
        decision = verdict_mod.decide(
            classes,
            iterations=self.round_calls,
            max_growth_per_iteration=options.max_growth_per_iteration,
            ignore=options.ignore,
            grown=grown,
            # Without ids the snapshots cannot size what survived: the GC'd memory's slope does.
            measured_per_iteration=measured,
            by_counts=by_counts,
        )
        if decision.verdict == "clean" and not decision.leaking and not decision.grown and self.internal_quiet:
            rounds = self.round_growth()
            # Bun's GC'd memory wanders by a few KB (its own bookkeeping of external memory too):
            # growth that nothing in the snapshots shows must stand well above that.
            floor = max(UNEXPLAINED_ROUND_BYTES, options.max_growth_per_iteration * self.round_calls)
            heap_slope = min(rounds, default=0) / max(1, self.round_calls)
            if len(rounds) == 3 and self.extra_calls:
                # After the longer round: it must rise above the jitter, and rounds A and B together
                # must show at least a quarter of its rate (a leak keeps its pace).
                floor_c = max(UNEXPLAINED_ROUND_BYTES, options.max_growth_per_iteration * self.extra_calls)
                rate_c = rounds[2] / self.extra_calls
                rate_ab = (rounds[0] + rounds[1]) / (2 * self.round_calls)
                grew_all = rounds[2] > floor_c and rate_ab > 0.25 * rate_c
                heap_slope = rate_c
                external_rounds = self.round_growth("external")
                ext_floor_c = max(UNEXPLAINED_EXTERNAL_BYTES, options.max_growth_per_iteration * self.extra_calls)
                if not grew_all and len(external_rounds) == 3 and external_rounds[2] > ext_floor_c:
                    ext_rate_c = external_rounds[2] / self.extra_calls
                    ext_rate_ab = (external_rounds[0] + external_rounds[1]) / (2 * self.round_calls)
                    if ext_rate_ab > 0.25 * ext_rate_c:
                        grew_all, heap_slope = True, ext_rate_c
            else:
                grew_all = len(rounds) >= 2 and all(g > floor for g in rounds) and self.rounds_rise_steadily()
                # Backing stores that no snapshot object shows (a Buffer reallocated larger): well
                # above the creep of Bun's external account, in every round.
                external_rounds = self.round_growth("external")
                ext_floor = max(UNEXPLAINED_EXTERNAL_BYTES, options.max_growth_per_iteration * self.round_calls)
                if not grew_all and len(external_rounds) >= 2 and all(g > ext_floor for g in external_rounds):
                    grew_all = True
                    heap_slope = min(external_rounds) / max(1, self.round_calls)
            if grew_all and heap_slope > options.max_growth_per_iteration:
                decision.verdict = "leak"
                decision.growth_per_iteration = max(measured, heap_slope)
                result.notes.append(
                    f"memory rose by {format_bytes(measured)} per iteration in every confirming round while "
                    "the runtime's own classes stayed put, and no object in the snapshots accounts for it: "
                    "bun's snapshots leave out array storage and what only it holds, and some hash tables "
                    "(strings or numbers pushed into an array, ids added to a Set)"
                )
        result.verdict = "leak" if decision.verdict == "leak" else "clean"
        result.growth_per_iteration = decision.growth_per_iteration
        result.total_growth = int(decision.growth_per_iteration * self.calls)
        notes = result.notes
        if decision.tolerated:
            notes.append(f"ignored by the `ignore` option: {', '.join(g.class_name for g in decision.tolerated)}")
        if decision.internal_only:
            names = ", ".join(g.class_name for g in decision.leaking)
            notes.append(f"only the runtime's own {names} grew (compiled code, shapes: a JIT settling): not a leak")
        if decision.verdict == "clean" and (decision.grown or (decision.leaking and not decision.internal_only)):
            notes.append(
                f"{format_bytes(decision.growth_per_iteration)} per iteration kept, within "
                f"max_growth_per_iteration={format_bytes(options.max_growth_per_iteration)}"
            )
        if result.verdict == "leak" and external > max(64.0, 0.25 * decision.growth_per_iteration):
            notes.append(
                f"{format_bytes(external)} per iteration of it is outside the JS heap "
                "(ArrayBuffer/Buffer backing stores, WebAssembly.Memory, external strings)"
            )
        if decision.internal_only:
            return
        # The runtime's own classes stand beside a leak in the decision, but explain nothing.
        shown = [g for g in decision.leaking if not verdict_mod.is_runtime_internal(g.class_name)]
        result.suspects = [
            _suspect(self.final, growth, self.round_calls, with_path=rank < TOP_SUSPECTS, root=self.root,
                     sites=self.sites(growth.class_name) if rank < TOP_SUSPECTS else ())
            for rank, growth in enumerate(shown)
        ]
        result.grown_in_place = [_grown(self.grown_graph, g, self.root) for g in decision.grown[:TOP_SUSPECTS]]
        unreachable = [s.class_name for s in result.suspects[:TOP_SUSPECTS] if s.path is None]
        if unreachable:
            if by_counts:
                notes.append(
                    f"no path could be tied to the growth of {', '.join(unreachable)}: bun renumbers objects, so "
                    "only an instance piled in one holder that grew about as much can be shown, and bun's "
                    "snapshots carry no edges into the storage of Map and Set, among others"
                )
            else:
                notes.append(
                    f"no retainer path from the GC roots to {', '.join(unreachable)}: they are held only by edges "
                    "a retainer path does not follow (weak or internal)"
                )

    def sites(self, class_name: str) -> tuple[AllocationSite, ...]:
        """Where round A's surviving objects of a class were allocated (empty without tracking)."""
        if self.traces is None or class_name not in self.survivors:
            return ()
        from pytest_jsleak.heap.allocations import allocation_sites

        ids, sizes = self.survivors[class_name]
        return tuple(allocation_sites(self.traces, ids, sizes, root=self.root))


def _growth(grown: Any, calls: int) -> verdict_mod.GrowthInPlace:
    return verdict_mod.GrowthInPlace(
        class_name=grown.class_name,
        per_iteration=(grown.sizes[-1] - grown.sizes[0]) / max(1, calls),
        node=grown.node,
        node_id=grown.node_id,
        sizes=grown.sizes,
    )


def _grown(graph: Any, growth: verdict_mod.GrowthInPlace, root: Path | None = None) -> InPlaceGrowth:
    from pytest_jsleak import heap
    from pytest_jsleak.heap.holders import start_at_module, with_named_holder

    path = heap.retainer_path(graph, growth.node)
    if path is not None:
        path = start_at_module(graph, with_named_holder(graph, path), str(root) if root else None)
    return InPlaceGrowth(
        class_name=growth.class_name,
        node_id=growth.node_id,
        sizes=growth.sizes,
        per_iteration=growth.per_iteration,
        path=path,
    )


def _suspect(
    graph: Any, growth: verdict_mod.ClassGrowth, iterations: int, *, with_path: bool,
    root: Path | None = None, sites: tuple[AllocationSite, ...] = (),
) -> Suspect:
    from pytest_jsleak import heap

    path = None
    example = None
    if with_path and growth.examples:
        from pytest_jsleak.heap.holders import start_at_module, with_named_holder

        path, example = heap.representative_path(graph, growth.examples)
        if path is not None:
            path = start_at_module(graph, with_named_holder(graph, path), str(root) if root else None)
    return Suspect(
        class_name=growth.class_name,
        new_alive=growth.round_a,
        per_iteration=growth.round_a / max(1, iterations),
        self_bytes=growth.bytes_a,
        retained_bytes=growth.retained_bytes or growth.bytes_a,
        path=path,
        example_node_id=example,
        allocation_sites=sites,
    )


def _keep_or_drop_snapshots(
    result: LeakResult, snapshots: list[Path], folder: Path, options: Options, *, failed: bool = False
) -> None:
    failing = failed or result.verdict != "clean"
    keep = options.snapshots == "always" or (options.snapshots == "on-failure" and failing)
    written = [str(path) for path in snapshots if path.exists()]
    if keep and written:
        result.snapshot_paths = written
        result.snapshot_dir = str(folder)
    else:
        result.snapshot_paths = []
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
    if options.redact == "on":
        from pytest_jsleak.heap.redact import redact_result

        redact_result(result)  # the kept snapshots and the paths lose string contents (DESIGN §16)


def error_kind(exc: JsLeakError) -> str:
    """The `error_kind` of the JSON report: which party is at fault, most specific class first."""
    for kind, cls in (
        ("action", ActionError),
        ("inspector", InspectorError),
        ("timeout", ScenarioTimeoutError),
        ("crash", RuntimeCrashError),
        ("runtime-not-found", RuntimeNotFoundError),
        ("target", TargetError),
        ("options", OptionError),
    ):
        if isinstance(exc, cls):
            return kind
    return "internal"


__all__ = [
    "SNAPSHOT_NAMES",
    "CheckRequest",
    "artefact_folder_name",
    "error_kind",
    "run_check",
    "run_driver_check",
    "run_plan",
]

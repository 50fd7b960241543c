"""The plan, the verdict and the explanation on a fake driver: every stage runs for real, the target
is a script (`fake_driver.py`), and a check takes milliseconds."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from fake_driver import FakeDriver, Program, filling, flat, leak_per_call

from pytest_jsleak import plan
from pytest_jsleak.check import run_driver_check
from pytest_jsleak.errors import JsLeakError
from pytest_jsleak.model import LeakResult, MemorySample
from pytest_jsleak.options import resolve
from pytest_jsleak.profiles import (
    BUN,
    CHROMIUM,
    DENO,
    NODE,
    SERVICE_SETTLE_SAMPLE_SHARE,
    RuntimeProfile,
    service_profile,
)
from pytest_jsleak.trend import SampleTrend


def check(driver: FakeDriver, tmp_path: Path, **options: object) -> LeakResult:
    result = LeakResult(target="fake.mjs", scenario="scenario", runtime=driver.profile.name, verdict="clean")
    return run_driver_check(lambda: driver, resolve(options), tmp_path / "check", result)


def test_a_flat_heap_is_clean_on_the_fast_path_without_snapshots(tmp_path: Path) -> None:
    driver = FakeDriver(Program(kept=flat()))
    result = check(driver, tmp_path)
    assert (result.verdict, result.method) == ("clean", "samples")
    assert driver.snapshots == [] and driver.tracking == []
    assert not (tmp_path / "check").exists()
    # 50 warm-up calls, one settling chunk of 50 that left memory flat, one sampling round of 200.
    assert driver.phases == [("warmup", 50), ("warmup", 50), ("measured", 200)]
    assert result.warmup_calls == 100 and result.samples[0].iteration == 0
    assert [s.iteration for s in result.samples[1:]] == list(range(10, 201, 10))
    assert driver.torn_down and driver.closed and not driver.annotated


def test_one_object_per_call_is_a_leak_with_its_class_size_and_holder(tmp_path: Path) -> None:
    driver = FakeDriver(Program(kept=leak_per_call()))
    result = check(driver, tmp_path)
    assert (result.verdict, result.method) == ("leak", "ids")
    assert len(driver.snapshots) == 3
    assert driver.tracking == [True, False]  # round A only, started before S1
    top = result.suspects[0]
    assert (top.class_name, top.new_alive, top.per_iteration) == ("RequestRecord", 200, 1.0)
    assert result.growth_per_iteration == pytest.approx(48, rel=0.01)
    assert top.path is not None and "log" in [step.edge_name for step in top.path.steps]
    # Kept: the policy keeps a failing check's snapshots.
    assert [Path(p).name for p in result.snapshot_paths] == list(plan.SNAPSHOT_NAMES)
    assert driver.annotated  # the driver may add what only the live target knows
    assert any("allocation tracking was on in round A" in note for note in result.notes)


def test_one_object_every_fifty_calls_is_caught_once_it_rises_above_the_jitter(tmp_path: Path) -> None:
    # 400 B every 50 calls rises by jumps: the first sampling round is inconclusive, the second one
    # jumps again, and the confirming rounds (as long as the calls so far) find the survivors.
    result = check(FakeDriver(Program(kept=leak_per_call(every=50), object_size=400)), tmp_path)
    assert result.verdict == "leak"
    assert result.suspects[0].new_alive == result.round_iterations // 50
    assert result.round_iterations > 200
    # 200 B every 50 calls stays within the flat tolerance of a sampling round's half (512 B).
    small = check(FakeDriver(Program(kept=leak_per_call(every=50), object_size=200)), tmp_path)
    assert (small.verdict, small.method) == ("clean", "samples")


def test_a_tolerated_leak_passes_and_says_what_was_tolerated(tmp_path: Path) -> None:
    program = Program(kept=leak_per_call())
    assert check(FakeDriver(program), tmp_path, max_growth_per_iteration=47).verdict == "leak"
    tolerated = check(FakeDriver(program), tmp_path, max_growth_per_iteration=64)
    assert (tolerated.verdict, tolerated.method) == ("clean", "samples")  # the samples rise slower than allowed
    looked = check(FakeDriver(program), tmp_path, max_growth_per_iteration=64, snapshots="always")
    assert looked.verdict == "clean"
    assert any("within max_growth_per_iteration=64 B" in note for note in looked.notes), looked.notes


def test_ignore_drops_the_class(tmp_path: Path) -> None:
    result = check(FakeDriver(Program(kept=leak_per_call())), tmp_path, ignore=("RequestRecord",))
    assert result.verdict == "clean"
    assert any("ignored by the `ignore` option: RequestRecord" in note for note in result.notes)


def test_a_cache_that_fills_during_the_warm_up_is_clean(tmp_path: Path) -> None:
    result = check(FakeDriver(Program(kept=filling(80))), tmp_path)
    assert (result.verdict, result.method) == ("clean", "samples")


def test_a_cache_that_fills_early_in_the_sampling_round_plateaus(tmp_path: Path) -> None:
    # The warm-up's settling loop is bounded by calls: with iterations=100, 50 + 4 x 100 warm-up
    # calls, then the cache fills for the 50 calls of the sampling round's first half and stops.
    program = Program(kept=filling(500), object_size=400)
    result = check(FakeDriver(program), tmp_path, iterations=100)
    assert result.verdict == "clean"
    assert result.notes and result.notes[0].startswith("memory grew by"), result.notes


def test_snapshots_always_takes_the_confirming_rounds_of_a_flat_heap(tmp_path: Path) -> None:
    driver = FakeDriver(Program(kept=flat()))
    result = check(driver, tmp_path, snapshots="always")
    assert (result.verdict, result.method) == ("clean", "ids") and len(result.snapshot_paths) == 3


def test_snapshots_never_keeps_nothing_even_for_a_leak(tmp_path: Path) -> None:
    result = check(FakeDriver(Program(kept=leak_per_call())), tmp_path, snapshots="never")
    assert result.verdict == "leak" and result.snapshot_paths == []
    assert not (tmp_path / "check").exists()


def test_allocation_sites_off_tracks_nothing(tmp_path: Path) -> None:
    driver = FakeDriver(Program(kept=leak_per_call()))
    assert check(driver, tmp_path, allocation_sites="off").verdict == "leak"
    assert driver.tracking == []


def test_an_error_mid_check_is_an_error_result_that_keeps_its_snapshots(tmp_path: Path) -> None:
    # Warm-up (50 + 4 x 200 calls of a leak that never settles) and the sampling round are 1,050
    # calls; round A starts at 1,051.
    driver = FakeDriver(Program(kept=leak_per_call()), fail_at=1_100)
    result = check(driver, tmp_path)
    assert result.verdict == "error" and result.error_kind == "internal"
    assert "threw at call 1100" in (result.error or "")
    assert [Path(p).name for p in result.snapshot_paths] == [plan.SNAPSHOT_NAMES[0]]
    assert driver.closed


def test_a_driver_that_cannot_open_is_an_error_result(tmp_path: Path) -> None:
    def broken() -> FakeDriver:
        raise JsLeakError("no target here")

    result = LeakResult(target="x", scenario="y", runtime="node", verdict="clean")
    assert run_driver_check(broken, resolve(), tmp_path / "c", result).verdict == "error"
    assert result.error == "no target here"


# --- per profile --------------------------------------------------------------------------------------


def test_deno_counts_round_b_by_net_class_growth(tmp_path: Path) -> None:
    result = check(FakeDriver(Program(kept=leak_per_call()), profile=DENO), tmp_path)
    assert (result.verdict, result.runtime) == ("leak", "deno")
    assert result.suspects[0].class_name == "RequestRecord"


def test_bun_rounds_are_long_and_survivors_are_counted_by_class(tmp_path: Path) -> None:
    driver = FakeDriver(Program(kept=leak_per_call()), profile=BUN)
    result = check(driver, tmp_path)
    assert (result.verdict, result.method, result.runtime) == ("leak", "counts", "bun")
    sampling = [calls for phase, calls in driver.phases if phase == "measured"]
    assert sampling[0] >= BUN.min_round_calls and result.round_iterations >= BUN.min_round_calls
    assert driver.tracking == []  # Bun's inspector has no heap profiler: never asked
    assert any("bun renumbers objects" in note for note in result.notes)
    # Sized by the GC'd memory's slope, not by the per-class sizes.
    assert result.growth_per_iteration == pytest.approx(48, rel=0.05)


def test_bun_counts_without_a_rise_of_memory_are_not_a_leak(tmp_path: Path) -> None:
    # The class's count grows by one object every ten calls, but what it keeps weighs nothing the GC'd
    # memory shows (the conservative stack scan keeping dead objects alive, now here, now there).
    program = Program(kept=leak_per_call(every=10), object_size=0, scattered=True)
    driver = FakeDriver(program, profile=BUN)
    result = check(driver, tmp_path, snapshots="always")
    assert result.verdict == "clean"
    assert any("per-class counts grew, but memory did not rise" in note for note in result.notes), result.notes
    assert len(driver.snapshots) == 3  # no longer round: under an object per call, the gate decides


def test_bun_an_object_per_call_kept_while_the_runtime_frees_as_much_is_a_leak(tmp_path: Path) -> None:
    # ajv's compile cache on Bun under load: 60 B of objects kept per call, and JSC freeing as much of
    # its compiled code meanwhile, so the GC'd memory is flat over rounds A and B and the extra round
    # (the sampling round rose in the run seen; snapshots="always" stands for that here).
    program = Program(kept=leak_per_call(), object_size=60, scattered=True, unexplained=lambda calls: -60 * calls)
    driver = FakeDriver(program, profile=BUN)
    result = check(driver, tmp_path, snapshots="always")
    assert result.verdict == "leak" and result.growth_per_iteration == pytest.approx(60)
    assert len(driver.snapshots) == 4  # the longer round showed the count keeping its pace
    assert result.suspects[0].class_name == "RequestRecord"
    assert any("RequestRecord gained an object per iteration or more in every round" in note
               for note in result.notes), result.notes
    # Where the count stops at the end of round B (what a stack scan happened to keep twice), the counts
    # gate decides as before.
    end_b = sum(calls for _, calls in driver.phases[:-1])
    stops = Program(kept=lambda calls: min(calls, end_b), object_size=60, scattered=True,
                    unexplained=lambda calls: -60 * min(calls, end_b))
    assert check(FakeDriver(stops, profile=BUN), tmp_path, snapshots="always").verdict == "clean"


def test_bun_a_list_gaining_an_entry_per_call_is_a_leak_while_memory_is_flat(tmp_path: Path) -> None:
    # mitt's handler list: the same handler pushed once per call, so the list gains a slot per call and
    # no class an object; its storage (which Bun's snapshots do not size) had not stepped within the rounds.
    program = Program(kept=leak_per_call(), object_size=0, repeated=True)
    result = check(FakeDriver(program, profile=BUN), tmp_path, snapshots="always")
    assert result.verdict == "leak" and result.growth_per_iteration == pytest.approx(8.0)
    [listed] = result.grown_in_place
    assert listed.class_name == "Array" and listed.entries[1] - listed.entries[0] == result.round_iterations
    from pytest_jsleak.report.text import render

    text = render(result)
    assert "log (variable) → Array gained 1.00 entries/iteration, no new objects" in text
    assert "memory did not rise" not in text  # the counts gate said nothing about the list


def test_growth_no_object_shows_is_a_leak_only_where_snapshots_leave_storage_out(tmp_path: Path) -> None:
    # 24 B per call of array storage: Bun's snapshots cannot show it (rounds that keep the same
    # per-call slope are the evidence there); V8's would, so on Node the heap rose with nothing to
    # show for it, over a longer round too: not a leak the user can act on, and not clean either.
    program = Program(unexplained=lambda calls: 24 * calls)
    bun = check(FakeDriver(program, profile=BUN), tmp_path)
    assert bun.verdict == "leak" and bun.growth_per_iteration == pytest.approx(24, rel=0.1)
    assert any("no object in the snapshots accounts for it" in note for note in bun.notes)
    driver = FakeDriver(program, profile=NODE)
    node = check(driver, tmp_path)
    assert (node.verdict, node.method) == ("inconclusive", "ids")
    assert len(driver.snapshots) == 4  # one automatic re-measurement with a longer round first
    assert node.reason and "no object in the snapshots accounts for it" in node.reason
    assert node.advice and "warmup" in node.advice
    assert node.growth_per_iteration == 0 and node.measured_growth_per_iteration == pytest.approx(24, rel=0.1)


def test_a_rise_the_snapshots_put_in_compiled_code_is_the_jit_not_a_leak(tmp_path: Path) -> None:
    # A real library's clean twin on Node (axios's ejected interceptors): the GC'd heap rose by ~20 B a
    # call for 1,400 calls, and the snapshots grew by as much in `code` (bytecode, feedback, optimised
    # code). No longer round is needed: the snapshots already say whose the memory is.
    driver = FakeDriver(Program(compiled=lambda calls: 24 * calls))
    result = check(driver, tmp_path)
    assert result.verdict == "clean" and len(driver.snapshots) == 3, result.notes
    assert any("the engine's own storage" in note and "the JIT still compiling" in note for note in result.notes)


def test_a_rise_mostly_outside_the_snapshots_stays_unexplained_beside_some_compiled_code(tmp_path: Path) -> None:
    # The code grew too, but by a sixth of the rise: the rest is not the engine's storage.
    driver = FakeDriver(Program(compiled=lambda calls: 4 * calls, unexplained=lambda calls: 20 * calls))
    result = check(driver, tmp_path)
    assert result.verdict == "inconclusive" and len(driver.snapshots) == 4, result.notes
    assert not any("the engine's own storage" in note for note in result.notes)


def calls_before_the_extra_round(program: Program, tmp_path: Path, profile: RuntimeProfile = NODE) -> int:
    """Where the extra round starts for a program that never stops growing (the schedule is the plan's)."""
    driver = FakeDriver(program, profile=profile)
    check(driver, tmp_path)
    assert len(driver.snapshots) == 4, "the reference run took no extra round"
    return sum(calls for _, calls in driver.phases[:-1])


def test_a_rise_that_slows_over_the_longer_round_is_a_warm_up(tmp_path: Path) -> None:
    # The JIT and lazy state of a page or a framework: rising through rounds A and B, then done.
    start = calls_before_the_extra_round(Program(unexplained=lambda calls: 24 * calls), tmp_path)
    driver = FakeDriver(Program(unexplained=lambda calls: 24 * min(calls, start + 50)))
    result = check(driver, tmp_path)
    assert result.verdict == "clean" and len(driver.snapshots) == 4
    assert any("slowed over a longer round" in note for note in result.notes), result.notes


def test_growth_in_place_is_a_leak_once_it_keeps_pace_over_a_longer_round(tmp_path: Path) -> None:
    driver = FakeDriver(Program(in_place=lambda calls: 8 * calls))  # numbers pushed into an array
    result = check(driver, tmp_path)
    assert result.verdict == "leak" and len(driver.snapshots) == 4
    assert [g.class_name for g in result.grown_in_place] == ["Array"]
    assert result.growth_per_iteration == pytest.approx(8, rel=0.05)
    path = result.grown_in_place[0].path
    assert path is not None and "latencies" in [step.edge_name for step in path.steps]


def test_growth_in_place_that_stops_over_the_longer_round_is_set_aside(tmp_path: Path) -> None:
    start = calls_before_the_extra_round(Program(in_place=lambda calls: 8 * calls), tmp_path)
    result = check(FakeDriver(Program(in_place=lambda calls: 8 * min(calls, start + 50))), tmp_path)
    assert result.verdict == "clean", result.notes
    assert any("fell behind over a longer round" in note for note in result.notes), result.notes


def test_growth_only_the_engines_roots_hold_is_never_a_leak(tmp_path: Path) -> None:
    # `(GC roots) → (Global handles) → Array`: no variable or property of the program on the way.
    result = check(FakeDriver(Program(engine_held=lambda calls: 32 * calls)), tmp_path)
    assert result.verdict != "leak"
    assert any("only the runtime's own roots hold it" in note for note in result.notes), result.notes


def test_without_time_for_the_longer_round_growth_in_place_is_inconclusive(tmp_path: Path) -> None:
    driver = FakeDriver(Program(in_place=lambda calls: 8 * calls))
    clock = plan.Clock(deadline=float("inf"))
    result = LeakResult(target="fake.mjs", scenario="s", runtime="node", verdict="clean")
    options = resolve({})
    m = plan.Measurement(timings=result.timings)
    plan.measure(driver, options, tmp_path / "c", m, clock)
    clock.deadline = time.monotonic()  # the extra round no longer fits
    from pytest_jsleak.check import _judge

    _, decision = _judge(driver, m, options, tmp_path / "c", clock)
    assert (decision.verdict, decision.unsettled) == ("inconclusive", "in-place-unconfirmed")
    assert m.cut_short == "extra round" and len(driver.snapshots) == 3


class SlowClock(plan.Clock):
    """A clock on which every call takes 50 ms, whatever the fake driver's real pace."""

    def timed(self, calls: int, seconds: float) -> None:
        super().timed(calls, 0.05 * calls)


def test_a_check_near_its_timeout_is_inconclusive_with_what_it_saw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 50 ms a call and 8 s left: two confirming rounds of 200 calls (20 s) cannot fit, nor a quarter of them.
    from pytest_jsleak.check import run_pipeline

    driver = FakeDriver(Program(kept=leak_per_call()))
    result = LeakResult(target="fake.mjs", scenario="s", runtime="node", verdict="clean")
    monkeypatch.setattr(plan.Clock, "for_timeout", classmethod(lambda cls, timeout, started=None: SlowClock(
        deadline=time.monotonic() + 8)))
    run_pipeline(driver, resolve({"timeout": 10}), tmp_path / "c", result)
    assert result.verdict == "inconclusive" and driver.snapshots == []
    assert result.reason and "timeout left no time" in result.reason
    assert result.advice and "raise `timeout`" in result.advice
    assert len(result.samples) == 21  # what it saw


def test_a_slow_check_drops_allocation_tracking_before_its_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20 s left: the confirming rounds fit (2 x 200 calls, 3 snapshots), not with tracking's slowdown.
    from pytest_jsleak.check import run_pipeline

    driver = FakeDriver(Program(kept=leak_per_call()))
    result = LeakResult(target="fake.mjs", scenario="s", runtime="node", verdict="clean")
    monkeypatch.setattr(plan.Clock, "for_timeout", classmethod(lambda cls, timeout, started=None: SlowClock(
        deadline=time.monotonic() + 25)))
    run_pipeline(driver, resolve({"timeout": 60}), tmp_path / "c", result)
    assert result.verdict == "leak" and driver.tracking == []


def test_round_cap_widens_only_where_the_profile_says_by_time() -> None:
    options = resolve({"iterations": 200})
    assert plan.round_cap(NODE, options, warmup_seconds=0.1, warmup_calls=10_000) == 1_600
    assert plan.round_cap(BUN, options, warmup_seconds=0.1, warmup_calls=10_000) == BUN.max_round_calls
    slow = plan.round_cap(BUN, options, warmup_seconds=10.0, warmup_calls=1_000)
    assert slow == 1_600  # 100 calls fit in a second: the iterations-based cap stands


@pytest.mark.parametrize("profile", [NODE, DENO, BUN], ids=lambda p: p.name)
def test_every_profile_passes_a_flat_heap_and_catches_a_leak(profile: RuntimeProfile, tmp_path: Path) -> None:
    assert check(FakeDriver(Program(kept=flat()), profile=profile), tmp_path).verdict == "clean"
    assert check(FakeDriver(Program(kept=leak_per_call()), profile=profile), tmp_path).verdict == "leak"


def test_on_bun_memory_freed_late_is_no_leak_once_a_longer_round_sees_it_come_back(tmp_path: Path) -> None:
    # zlib's buffers on Bun: external memory rises for a few thousand calls, then is given back.
    start = calls_before_the_extra_round(Program(unexplained=lambda calls: 24 * calls), tmp_path, profile=BUN)
    program = Program(unexplained=lambda calls: 24 * calls if calls <= start + 100 else 24 * (start + 100) - 30_000)
    driver = FakeDriver(program, profile=BUN)
    result = check(driver, tmp_path)
    assert len(driver.snapshots) == 4 and result.verdict == "clean", result.notes


def _stepping_array_under_a_wandering_heap(calls: int) -> int:
    """Numbers pushed into one array on Bun (no snapshot object shows its storage): 8 B a slot, the
    capacity growing by half when full, under a heap that wanders by ±1.5 KB from sample to sample."""
    capacity = 16
    while capacity < calls:
        capacity = capacity * 3 // 2
    return 8 * capacity + (calls * 7919) % 3001 - 1500


def test_on_bun_an_array_stepping_under_a_wandering_heap_is_a_leak_after_a_longer_round(tmp_path: Path) -> None:
    # Both confirming rounds rose above Bun's jitter, but gave some back between the steps: the rise is
    # not steady, and only a longer round (as long as the calls so far: the array steps again) says
    # it keeps pace. The examples' `numbers-array` on Bun was called clean in CI here.
    driver = FakeDriver(Program(unexplained=_stepping_array_under_a_wandering_heap), profile=BUN)
    result = check(driver, tmp_path)
    assert (result.verdict, len(driver.snapshots)) == ("leak", 4), result.notes
    assert any("rounds of increasing length that kept the same per-call pace" in note for note in result.notes)


class SlowExtraRound(FakeDriver):
    """A target whose extra round (the calls after S3) takes half a second."""

    def run(self, iterations: int, *, sample_every: int, start: int, phase: str) -> list:
        if len(self.snapshots) == 3:
            time.sleep(0.5)
        return super().run(iterations, sample_every=sample_every, start=start, phase=phase)


def test_the_extra_rounds_calls_are_the_targets_time_not_the_analysiss(tmp_path: Path) -> None:
    # Margin: the analysis of these small generated snapshots takes milliseconds, ten times under the
    # half second the extra round sleeps.
    driver = SlowExtraRound(Program(unexplained=lambda calls: 24 * calls))
    result = check(driver, tmp_path)
    assert len(driver.snapshots) == 4
    assert result.timings["snapshots"] >= 0.5 > result.timings["analysis"], result.timings


def test_a_rise_that_is_the_jits_machine_code_ends_on_the_fast_path_where_the_driver_reads_it(tmp_path: Path) -> None:
    # A server's clean route on Node: V8 goes on compiling for thousands of requests (fastify: +75 KB of
    # machine code from request 500 to 2,000). The inspector reads V8's code statistics beside the heap,
    # and the sampling round judges the heap without them: flat, clean, no snapshot.
    driver = FakeDriver(Program(machine_code=lambda calls: 60 * calls), reads_code=True)
    result = check(driver, tmp_path)
    assert (result.verdict, result.method, len(driver.snapshots)) == ("clean", "samples", 0), result.notes


def test_without_code_statistics_the_same_rise_takes_the_snapshots(tmp_path: Path) -> None:
    # The module harness does not read them: the snapshots have to say whose the memory is.
    driver = FakeDriver(Program(machine_code=lambda calls: 60 * calls))
    result = check(driver, tmp_path)
    assert result.verdict == "clean" and len(driver.snapshots) >= 3, result.notes


def test_a_leak_beside_the_jits_machine_code_is_still_a_leak(tmp_path: Path) -> None:
    driver = FakeDriver(Program(kept=leak_per_call(), machine_code=lambda calls: 60 * calls), reads_code=True)
    result = check(driver, tmp_path)
    assert result.verdict == "leak" and result.suspects[0].class_name == "RequestRecord", result.notes
    assert result.growth_per_iteration == pytest.approx(48, rel=0.25)


def _settle_chunks(driver: FakeDriver) -> list[int]:
    return [calls for phase, calls in driver.phases[1:] if phase == "warmup"]


def test_a_servers_warm_up_lengthens_its_chunks_so_samples_take_a_quarter_of_its_time(tmp_path: Path) -> None:
    # A request costs 1.5 ms and a sample 20 ms: four samples per chunk are a quarter of its time at
    # 4 x 20 x 3 / 1.5 = 160 calls. A leak never settles, so the loop runs to its bound of 4 x 200 calls.
    server = replace(NODE, settle_sample_share=0.25)
    driver = FakeDriver(Program(kept=leak_per_call()), profile=server, call_seconds=0.0015, sample_seconds=0.02)
    check(driver, tmp_path)
    assert _settle_chunks(driver) == [160] * 5
    # A sample that costs less than a chunk of 50 calls' worth keeps the chunk at 50.
    cheap = FakeDriver(Program(kept=leak_per_call()), profile=server, call_seconds=0.0015, sample_seconds=0.005)
    check(cheap, tmp_path / "cheap")
    assert set(_settle_chunks(cheap)) == {50}
    # Never longer than the loop's budget.
    slow = FakeDriver(Program(kept=leak_per_call()), profile=server, call_seconds=0.0001, sample_seconds=0.05)
    check(slow, tmp_path / "slow")
    assert _settle_chunks(slow) == [800]


def test_a_modules_warm_up_keeps_chunks_of_fifty_whatever_a_sample_costs(tmp_path: Path) -> None:
    driver = FakeDriver(Program(kept=leak_per_call()), call_seconds=0.0015, sample_seconds=0.02)
    check(driver, tmp_path)
    assert set(_settle_chunks(driver)) == {50}


def test_the_service_profile_is_the_runtimes_with_a_paced_warm_up_and_capped_rounds() -> None:
    assert service_profile("node") == replace(NODE, settle_sample_share=SERVICE_SETTLE_SAMPLE_SHARE,
                                              rounds_span_calls_so_far=False, sparse_tracked_samples=True,
                                              reads_ahead=False)
    assert service_profile("deno").survivors == DENO.survivors and NODE.settle_sample_share == 0


def test_a_resize_before_the_second_rounds_first_sample_counts_as_that_rounds_growth(tmp_path: Path) -> None:
    # The warm-up ends at 100 calls; the sampling round (calls 100..300) jumps at 280, in its second
    # half: inconclusive. The storage grows again at call 305, before the second round's first sample
    # (315): measured from that sample the round is flat; from the first round's last one it grew.
    steps = (280, 305)
    driver = FakeDriver(Program(in_place=lambda calls: sum(4_000 for step in steps if calls >= step)))
    check(driver, tmp_path)
    # The second round is as long as the calls so far (100 + 200).
    assert driver.phases[:4] == [("warmup", 50), ("warmup", 50), ("measured", 200), ("measured", 300)]
    assert len(driver.snapshots) >= 3  # the second round's growth took the check to the snapshots


def hash_table(bytes_per_slot: int = 24) -> Callable[[int], int]:
    """A `Set` of ids: its table doubles when full (8, 16, ... slots), and is flat in between."""
    def storage(calls: int) -> int:
        return bytes_per_slot * max(8, 1 << max(0, calls - 1).bit_length())
    return storage


@pytest.mark.parametrize("profile", [NODE, DENO], ids=lambda p: p.name)
@pytest.mark.parametrize("jit_until", [0, 180, 300, 380])
def test_a_hash_table_that_doubles_is_a_leak_wherever_the_warm_up_ends(
    profile: RuntimeProfile, jit_until: int, tmp_path: Path
) -> None:
    # The JIT keeps the warm-up moving until `jit_until` calls: it ends at 200, 250, 350 or 400
    # calls, the sampling round sees the doubling at 256 or 512. Each later round spans the calls so
    # far, so it sees the next doubling (a 200-call second round after a warm-up of 350 stopped at
    # 750, short of 1,024: Deno's seen-ids example went clean).
    jit = lambda calls: 40 * min(calls, jit_until)  # noqa: E731
    driver = FakeDriver(Program(in_place=hash_table(), compiled=jit), profile=profile)
    result = check(driver, tmp_path)
    assert result.verdict == "leak", (driver.phases, result.notes)
    warmup = sum(calls for phase, calls in driver.phases if phase == "warmup")
    sampling, second = [calls for phase, calls in driver.phases if phase == "measured"][:2]
    assert sampling == 200 and second == warmup + sampling


def test_a_servers_rounds_after_a_jump_stay_within_the_round_cap(tmp_path: Path) -> None:
    # A server's warm-up runs thousands of requests: rounds as long again would double its check.
    driver = FakeDriver(Program(in_place=hash_table(), compiled=lambda calls: 40 * min(calls, 300)),
                        profile=service_profile("node"))
    check(driver, tmp_path)
    measured = [calls for phase, calls in driver.phases if phase == "measured"]
    assert measured[:2] == [200, 200] and max(measured) <= NODE.round_cap_factor * 200


def test_a_pages_warm_up_and_rounds_are_paced_by_what_a_click_and_a_sample_cost(tmp_path: Path) -> None:
    # A two-click action costs 70 ms and a page's sample (the memory-reducing GC) 100 ms: five samples
    # over the 10 warm-up calls, settle chunks of 4 x 0.1 x 3 / 0.07 = 18 calls (not 50), and twelve
    # samples per 40-call round (a sample every 3 calls, not every 2).
    from pytest_jsleak.drivers.page import page_options

    driver = FakeDriver(Program(kept=flat()), profile=CHROMIUM, call_seconds=0.07, sample_seconds=0.1)
    result = LeakResult(target="page", scenario="page-action", runtime="chromium", verdict="clean")
    run_driver_check(lambda: driver, page_options(), tmp_path / "check", result)
    assert result.verdict == "clean" and driver.snapshots == []
    assert driver.phases == [("warmup", 10), ("warmup", 18), ("measured", 40)]
    assert [s.iteration for s in result.samples] == [0, *range(3, 40, 3)]
    # A module keeps twenty samples per round and chunks of fifty.
    module = FakeDriver(Program(kept=flat()), call_seconds=0.07, sample_seconds=0.1)
    run_driver_check(lambda: module, resolve({"iterations": 40, "warmup": 10}), tmp_path / "module",
                     LeakResult(target="m", scenario="s", runtime="node", verdict="clean"))
    assert module.phases == [("warmup", 10), ("warmup", 50), ("measured", 40)]


def test_a_page_tolerates_less_than_one_slot_per_action() -> None:
    from pytest_jsleak.drivers.page import page_options

    assert page_options().max_growth_per_iteration == 8
    assert page_options({"max_growth_per_iteration": 0}).max_growth_per_iteration == 0
    assert resolve({}).max_growth_per_iteration == 0


def _page_check(program: Program, folder: Path) -> tuple[FakeDriver, LeakResult]:
    from pytest_jsleak.drivers.page import page_options

    driver = FakeDriver(program, profile=CHROMIUM, call_seconds=0.07, sample_seconds=0.1)
    result = LeakResult(target="page", scenario="page-action", runtime="chromium", verdict="clean")
    run_driver_check(lambda: driver, page_options(), folder, result)
    return driver, result


@pytest.mark.parametrize(("object_size", "round_calls"), [(2_048, 20), (1_024, 20), (768, 40), (256, 40)])
def test_a_page_leak_of_a_kilobyte_or_more_per_action_gets_rounds_of_half_iterations(
    object_size: int, round_calls: int, tmp_path: Path
) -> None:
    # One object per action of `object_size` bytes: from 1 KB per action (CHROMIUM.loud_growth_per_call)
    # a settle chunk that rose at every sample ends the warm-up, and the sampling round and the
    # confirming rounds take 20 actions (4 x a page's +-5 KB wobble, each object leaked 20 times over);
    # below it, the warm-up runs to its bound and every round takes `iterations`.
    driver, result = _page_check(Program(kept=leak_per_call(), object_size=object_size), tmp_path)
    assert result.verdict == "leak" and result.round_iterations == round_calls
    measured = [calls for phase, calls in driver.phases if phase == "measured"]
    assert measured[0] == round_calls and measured[-1] == round_calls  # the sampling round, round B
    warm = [calls for phase, calls in driver.phases if phase == "warmup"]
    assert warm == ([10, 18] if round_calls == 20 else [10] + [18] * 9)  # loud: one chunk; else 160 calls
    # Six samples per confirming round on a page (its samples cost as much as its clicks by then).
    round_b = round_calls * 2  # the sampling round, then round A
    assert len([s for s in result.samples if round_b < s.iteration <= round_b + round_calls]) == 6


def test_a_page_whose_warm_up_was_loud_completes_a_flat_sampling_round(tmp_path: Path) -> None:
    # A cache of 40 entries of 2 KB fills in the warm-up's first chunk (loud: the warm-up ends there),
    # then stays: the first 20 actions of the sampling round are flat, so the round goes on to 40
    # before the fast path passes it.
    driver, result = _page_check(Program(kept=filling(40), object_size=2_048), tmp_path)
    assert result.verdict == "clean" and driver.snapshots == []
    assert driver.phases == [("warmup", 10), ("warmup", 18), ("measured", 20), ("measured", 20)]
    assert result.samples[-1].iteration >= 38


def test_a_modules_loud_leak_keeps_rounds_of_iterations(tmp_path: Path) -> None:
    result = check(FakeDriver(Program(kept=leak_per_call(), object_size=64 * 1024)), tmp_path)
    assert result.verdict == "leak" and result.round_iterations == 200
    assert plan.loud(SampleTrend(True, True, 1e6, 0, False), NODE) is False


def test_a_pages_rounds_after_a_jump_stay_within_twice_its_iterations(tmp_path: Path) -> None:
    # A clean page whose JIT steps by 2 KB in each sampling round (the warm-up ends at 28 actions): the
    # second jump makes the confirming rounds span the calls so far (28 + 80 = 108), within a page's
    # round cap of 2 x 40 actions, not the 8 x 40 of a module.
    driver, result = _page_check(Program(compiled=lambda calls: 2_048 * (calls >= 58) + 2_048 * (calls >= 93)),
                                 tmp_path)
    measured = [calls for phase, calls in driver.phases if phase == "measured"]
    assert result.verdict == "clean" and measured[:2] == [40, 40]
    assert result.round_iterations == measured[-1] == 2 * 40
    options = resolve({"iterations": 40})
    assert plan.round_cap(CHROMIUM, options, warmup_seconds=3.0, warmup_calls=40) == 80
    assert plan.round_cap(NODE, options, warmup_seconds=3.0, warmup_calls=40) == 320


def test_a_pages_warm_up_never_samples_more_often_than_its_sampling_round(tmp_path: Path) -> None:
    # A page's sample GC flushes code not run since the previous sample: a warm-up sampled every 2
    # actions and a round every 3 left the round 4 KB above the warm-up (CHROMIUM.gc_flushes_code).
    driver, _ = _page_check(Program(kept=flat()), tmp_path)
    warm_calls = sum(calls for phase, calls in driver.phases if phase == "warmup")
    gaps = [b - a for a, b in itertools.pairwise(driver.sampled_at[1:]) if b <= warm_calls]
    assert gaps and min(gaps) >= 3
    module = FakeDriver(Program(kept=flat()))
    check(module, tmp_path / "module")
    assert module.sampled_at[1] - module.sampled_at[0] == 2  # 25 samples over the 50 warm-up calls


def test_a_loud_settle_chunk_rose_at_every_step_by_the_profiles_bytes_per_call() -> None:
    def chunk(*held: int) -> list[MemorySample]:
        return [MemorySample(iteration=10 + 4 * i, heap=value, external=0) for i, value in enumerate(held)]

    assert plan.loud_chunk(chunk(0, 4_096, 8_192, 12_288, 16_384), CHROMIUM)  # 1 KB per call
    assert not plan.loud_chunk(chunk(0, 4_000, 8_000, 12_000, 16_000), CHROMIUM)  # just under
    assert not plan.loud_chunk(chunk(0, 8_192, 8_192, 16_384, 20_480), CHROMIUM)  # one flat step: a JIT
    assert not plan.loud_chunk(chunk(0, 8_192, 16_384), CHROMIUM)  # two steps say too little
    assert not plan.loud_chunk(chunk(0, 40_960, 81_920, 122_880), NODE)  # modules keep their warm-up


def test_a_servers_tracked_round_samples_once_per_chunk_and_a_modules_as_any_round(tmp_path: Path) -> None:
    # While tracking, the inspector's 50 ms heap-stats timer runs a full GC whenever a server's loop
    # turns, and a sample's commands wait for it: a server's round A (tracked) samples at its four
    # chunk ends only, its round B twenty times. A module's harness does not turn its loop while it
    # calls: its round A keeps twenty samples (fewer GCs there changed what V8's code caches held).
    server = FakeDriver(Program(kept=leak_per_call()), profile=service_profile("node"))
    result = check(server, tmp_path)
    assert result.verdict == "leak" and server.tracking[:1] == [True]
    start, calls = 200, result.round_iterations  # the sampling round's 200 calls, then round A
    in_a = [s.iteration for s in result.samples if start < s.iteration <= start + calls]
    in_b = [s.iteration for s in result.samples if start + calls < s.iteration <= start + 2 * calls]
    assert in_a == [start + calls * k // plan.TRACKED_CHUNKS for k in range(1, plan.TRACKED_CHUNKS + 1)]
    assert len(in_b) == NODE.samples_per_round
    module = FakeDriver(Program(kept=leak_per_call()))
    result = check(module, tmp_path / "module")
    assert module.tracking[:1] == [True]
    assert len([s for s in result.samples if start < s.iteration <= start + calls]) == NODE.samples_per_round


def test_s1_and_s2_are_read_while_the_next_round_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # After S3 the analysis has one snapshot left to read: S1 and S2 were handed to the read-ahead
    # thread as soon as each was written (their dominators and growth-in-place sizes computed there),
    # and the evidence is what reading them afresh gives.
    import threading

    from pytest_jsleak import analysis

    prepared: list[tuple[str, str]] = []
    original = analysis.prepared_graph

    def recording(path: Path, profile: RuntimeProfile) -> object:
        prepared.append((path.name, threading.current_thread().name))
        return original(path, profile)

    monkeypatch.setattr(analysis, "prepared_graph", recording)
    driver = FakeDriver(Program(kept=leak_per_call()))
    result = check(driver, tmp_path, snapshots="always")
    assert [name for name, _ in prepared] == list(plan.SNAPSHOT_NAMES[:2])
    assert all(thread.startswith("jsleak-read-ahead") for _, thread in prepared), prepared
    afresh = analysis.analyse(driver.snapshots[:3], profile=NODE, round_calls=result.round_iterations, tracked=True)
    [kept] = [g for g in afresh.classes if g.class_name == "RequestRecord"]
    assert (kept.round_a, kept.bytes_a) == (result.suspects[0].new_alive, result.suspects[0].new_alive * 48)


@pytest.mark.parametrize("profile", [CHROMIUM, service_profile("node")], ids=["page", "service"])
def test_where_this_process_makes_each_call_the_snapshots_are_read_after_the_rounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: RuntimeProfile
) -> None:
    # A page's clicks and a server's requests are made from this process: a thread reading S1 meanwhile
    # would hold the interpreter between them.
    from pytest_jsleak import analysis

    prepared: list[Path] = []
    monkeypatch.setattr(analysis, "prepared_graph", lambda path, profile: prepared.append(path))
    result = check(FakeDriver(Program(kept=leak_per_call()), profile=profile), tmp_path, snapshots="always")
    assert result.verdict == "leak" and prepared == []


def test_a_damaged_s1_read_ahead_is_the_checks_snapshot_error(tmp_path: Path) -> None:
    # What reading S1 on the read-ahead thread raised is raised where the analysis asks for it.
    class DamagedFirst(FakeDriver):
        def snapshot(self, path: Path, *, stop_tracking: bool = False) -> Path:
            super().snapshot(path, stop_tracking=stop_tracking)
            if len(self.snapshots) == 1:
                path.write_text('{"snapshot": {"meta": ')
            return path

    result = check(DamagedFirst(Program(kept=leak_per_call())), tmp_path)
    assert (result.verdict, result.error_kind) == ("error", "snapshot"), result.error
    assert "s1-after-warmup.heapsnapshot" in (result.error or "")

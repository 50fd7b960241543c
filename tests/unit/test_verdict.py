"""The verdict rules on hand-made numbers: what keeps pace with the calls leaks, the rest does not."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_jsleak.model import MemorySample
from pytest_jsleak.profiles import BUN
from pytest_jsleak.verdict import ClassGrowth, GrowthInPlace, confirming_slope, decide, sample_trend


def growth(name, a, b, bytes_a=None):
    return ClassGrowth(name, a, b, bytes_a if bytes_a is not None else a * 40)


def test_per_call_leak_is_a_leak_with_bytes_per_iteration():
    decision = decide([growth("RequestRecord", 200, 200, 200 * 40)], iterations=200, max_growth_per_iteration=0)
    assert decision.verdict == "leak"
    assert decision.growth_per_iteration == 40
    assert [g.class_name for g in decision.leaking] == ["RequestRecord"]


def test_one_leak_every_fifty_calls_is_still_a_leak():
    assert decide([growth("Job", 4, 4)], iterations=200, max_growth_per_iteration=0).verdict == "leak"


def test_lazy_initialisation_survives_in_one_round_only():
    decision = decide([growth("Table", 5000, 0), growth("(string)", 3, 0)], iterations=200, max_growth_per_iteration=0)
    assert decision.verdict == "clean"


def test_a_filling_cache_does_not_keep_pace():
    # Round A's entries were mostly evicted during round B; round B's entries are all still there.
    assert decide([growth("Entry", 10, 200)], iterations=200, max_growth_per_iteration=0).verdict == "clean"


def test_one_or_two_survivors_are_noise():
    rows = [growth("Object", 1, 1), growth("Foo", 2, 1)]
    assert decide(rows, iterations=200, max_growth_per_iteration=0).verdict == "clean"


def test_max_growth_tolerates_small_leaks():
    rows = [growth("Small", 200, 200, 200 * 16)]
    assert decide(rows, iterations=200, max_growth_per_iteration=16).verdict == "clean"
    assert decide(rows, iterations=200, max_growth_per_iteration=15).verdict == "leak"


def test_ignore_drops_classes():
    rows = [growth("Known", 200, 200), growth("(string)", 200, 200)]
    decision = decide(rows, iterations=200, max_growth_per_iteration=0, ignore=["Known", "(string)"])
    assert decision.verdict == "clean"
    assert {g.class_name for g in decision.tolerated} == {"Known", "(string)"}


def test_leaking_classes_sorted_by_bytes():
    rows = [growth("Small", 200, 200, 800), growth("Big", 200, 200, 80000)]
    assert [g.class_name for g in decide(rows, iterations=200, max_growth_per_iteration=0).leaking] == ["Big", "Small"]


def heap_samples(values, every=10):
    """Samples of the JS heap alone, one every `every` calls."""
    return [MemorySample(i * every, value) for i, value in enumerate(values)]


def test_flat_heap_is_not_suspicious():
    samples = [4_000_000] * 21
    trend = sample_trend(heap_samples(samples), tolerated_per_iteration=0)
    assert not trend.suspicious and not trend.plateaued


def test_rising_heap_is_suspicious():
    samples = [4_000_000 + 750 * i for i in range(21)]  # 75 B per call
    trend = sample_trend(heap_samples(samples), tolerated_per_iteration=0)
    assert trend.suspicious
    assert 70 < trend.growth_per_iteration < 80


def test_plateau_is_not_suspicious():
    samples = [4_000_000 + min(i, 5) * 20_000 for i in range(21)]
    trend = sample_trend(heap_samples(samples), tolerated_per_iteration=0)
    assert not trend.suspicious and trend.plateaued


def test_rising_below_the_tolerance_is_not_suspicious():
    samples = [4_000_000 + 750 * i for i in range(21)]
    assert not sample_trend(heap_samples(samples), tolerated_per_iteration=100).suspicious


def test_a_few_bytes_of_jitter_are_flat():
    samples = [4_000_000 + (i % 3) * 100 for i in range(21)]
    assert not sample_trend(heap_samples(samples), tolerated_per_iteration=0).suspicious


def test_user_classes_lead_the_report():
    rows = [growth("Timeout", 200, 200, 200 * 120), growth("Poller", 200, 200, 200 * 40),
            growth("(closure)", 200, 200, 200 * 60)]
    names = [g.class_name for g in decide(rows, iterations=200, max_growth_per_iteration=0).leaking]
    assert names == ["Poller", "Timeout", "(closure)"]


def test_a_tiny_but_steady_rise_is_suspicious():
    samples = [4_000_000 + 32 * i for i in range(21)]  # one 32-byte object every ten calls
    assert sample_trend(heap_samples(samples), tolerated_per_iteration=0).suspicious


def test_occasional_small_steps_are_not_steady():
    samples = [4_000_000] * 11 + [4_000_168] * 4 + [4_000_336] * 6
    assert not sample_trend(heap_samples(samples), tolerated_per_iteration=0).suspicious


# --- Bun's noise, counted by class (issue 9), and growth in place (issue 8) ---------------------


def test_by_counts_a_constant_handful_per_round_is_not_a_leak():
    # The JIT tiering hot code up: a few code blocks and shapes per round, whatever the calls.
    rows = [growth("Object", 6, 5, 300), growth("(compiled code)", 8, 8, 9000)]
    decision = decide(rows, iterations=200, max_growth_per_iteration=0, measured_per_iteration=40.0, profile=BUN)
    assert decision.verdict == "clean" and decision.leaking == ()


def test_by_counts_a_rate_per_call_is_a_leak_sized_by_the_measured_heap():
    rows = [growth("Order", 200, 198, 200 * 24)]
    decision = decide(rows, iterations=200, max_growth_per_iteration=0, measured_per_iteration=2300.0, profile=BUN)
    assert decision.verdict == "leak"
    # Per-class shallow sizes miss strings, closures and storage: the GC'd heap's slope is the size.
    assert decision.growth_per_iteration == 2300.0


def test_runtime_internal_classes_never_decide_alone():
    rows = [growth("(compiled code)", 240, 240, 240 * 300), growth("(object shape)", 60, 61, 60 * 112)]
    decision = decide(rows, iterations=200, max_growth_per_iteration=0, measured_per_iteration=500.0, profile=BUN)
    assert decision.verdict == "clean" and decision.internal_only
    # Beside a class of the program they stand, and the leak is the program's.
    rows.append(growth("Subscription", 200, 200, 200 * 40))
    assert decide(rows, iterations=200, max_growth_per_iteration=0, profile=BUN).verdict == "leak"


def test_a_cache_that_fills_then_is_pruned_is_not_a_leak():
    # Round A fills the cache (+2000 entries), round B prunes it: not keeping pace with the calls.
    rows = [growth("(compiled code)", 2000, 0, 2000 * 400), growth("Function", 400, 0, 400 * 32)]
    assert decide(rows, iterations=200, max_growth_per_iteration=0, profile=BUN).verdict == "clean"


def test_growth_in_place_is_a_leak_counted_in_the_total():
    grown = [GrowthInPlace("Array", per_iteration=12.0, node=5, node_id=7, sizes=(2912, 4480, 6832))]
    decision = decide([], iterations=200, max_growth_per_iteration=0, grown=grown)
    assert decision.verdict == "leak" and decision.growth_per_iteration == 12.0
    # Survivors and growth in place add up, and that sum is what the threshold limits.
    rows = [growth("Record", 200, 200, 200 * 40)]
    both = decide(rows, iterations=200, max_growth_per_iteration=50, grown=grown)
    assert both.growth_per_iteration == 52.0 and both.verdict == "leak"
    assert decide(rows, iterations=200, max_growth_per_iteration=64, grown=grown).verdict == "clean"


def test_the_headline_is_what_the_evidence_accounts_for_never_the_slope():
    # A 64 KB Buffer per call: its wrapper and its backing store (V8's `system / JSArrayBufferData`
    # node, 64 KB) both survive by id, and that is what the headline says.
    rows = [growth("Buffer", 200, 200, 200 * 96), growth("system / JSArrayBufferData", 200, 200, 200 * 65_536)]
    decision = decide(rows, iterations=200, max_growth_per_iteration=1024, measured_per_iteration=70_000.0)
    assert decision.verdict == "leak" and decision.growth_per_iteration == 65_632.0
    # A slope well above what the objects account for (the runtime's own growth beside them) is not
    # claimed: it stays beside the headline (measured_per_iteration), and the threshold limits the evidence.
    small = decide([growth("Record", 200, 200, 200 * 40)], iterations=200, max_growth_per_iteration=0,
                   measured_per_iteration=5_600.0)
    assert small.verdict == "leak" and small.growth_per_iteration == 40.0
    assert decide([growth("Record", 200, 200, 200 * 40)], iterations=200, max_growth_per_iteration=40,
                  measured_per_iteration=5_600.0).verdict == "clean"
    # By counts (Bun) the per-class sizes miss strings and storage: there the slope sizes the leak.
    assert decide(rows, iterations=200, max_growth_per_iteration=0, measured_per_iteration=70_000.0,
                  profile=BUN).growth_per_iteration == 70_000.0


def test_one_jump_in_the_second_half_is_inconclusive_not_suspicious():
    # An array's storage reallocated once (or the JIT): flat, one step, flat.
    values = [4_000_000] * 15 + [4_002_400] * 6
    trend = sample_trend(heap_samples(values), tolerated_per_iteration=0)
    assert not trend.suspicious and trend.inconclusive


def test_a_resize_early_in_the_round_is_inconclusive_a_gradual_fill_is_a_plateau():
    resize = [4_000_000] * 3 + [4_008_000] * 18
    assert sample_trend(heap_samples(resize), tolerated_per_iteration=0).inconclusive
    filling = [4_000_000 + min(i, 8) * 1_000 for i in range(21)]
    trend = sample_trend(heap_samples(filling), tolerated_per_iteration=0)
    assert trend.plateaued and not trend.inconclusive and not trend.suspicious


def test_jumps_that_grow_are_inconclusive_where_snapshots_cannot_size_storage():
    # smart-buffer on Bun: its Buffer reallocated 1.5x larger three times in the first half, then
    # flat. Where the snapshots can size storage (V8) that is left to them; on Bun it is another round.
    jumps = [0] * 2 + [13_000] * 2 + [17_000] * 3 + [94_000] * 3 + [212_000] * 11
    values = [4_000_000 + v for v in jumps]
    assert sample_trend(heap_samples(values), tolerated_per_iteration=0).plateaued
    trend = sample_trend(heap_samples(values), tolerated_per_iteration=0, jumps_inconclusive=True)
    assert trend.inconclusive
    # A cache that fills call by call stays a plateau either way.
    filling = [4_000_000 + min(i, 8) * 1_000 for i in range(21)]
    assert sample_trend(heap_samples(filling), tolerated_per_iteration=0, jumps_inconclusive=True).plateaued


def test_external_memory_counts_in_the_trend():
    samples = [MemorySample(i * 10, 4_000_000, 1_000_000 + 655_360 * i) for i in range(21)]  # 64 KB per call
    trend = sample_trend(samples, tolerated_per_iteration=1024)
    assert trend.suspicious and trend.growth_per_iteration == pytest.approx(65_536)


def test_the_confirming_slope_reads_heap_and_external():
    samples = [MemorySample(i * 10, 4_000_000 + 80 * i, 500 * i) for i in range(60)]
    retained, external = confirming_slope(samples, after_iteration=200)
    assert retained == pytest.approx(58.0) and external == pytest.approx(50.0)


# --- a rise the snapshots put in the engine's own storage ---------------------------------------------


def _rise(storage, heap_rise=24_000, external_rise=0):
    """Evidence whose snapshots' bytes by node type are `storage` (S1, S2, S3), beside rounds whose JS heap
    rose by `heap_rise` in round B (and A) and whose external memory by `external_rise`."""
    from pytest_jsleak.evidence import Evidence
    from pytest_jsleak.verdict import Rounds, engine_rise

    samples = [MemorySample(0, 1_000_000, 100_000, 0), MemorySample(1000, 1_000_000 + heap_rise, 100_000, 0),
               MemorySample(2000, 1_000_000 + 2 * heap_rise, 100_000 + external_rise, 0)]
    evidence = Evidence(method="ids", classes=(), grown=(), one_round=(), calls=2000, final=None,
                        grown_graph=None, storage=tuple(storage))
    return engine_rise(evidence, Rounds(tuple(samples), confirm_from=0, round_calls=1000))


def test_compiled_code_that_grew_by_the_rise_is_the_engines():
    s1 = {"code": 100_000, "object": 50_000}
    assert _rise([s1, {"code": 124_000, "object": 50_000}, {"code": 148_000, "object": 50_100}]) == 24_000


def test_the_engines_share_of_what_the_snapshots_grew_by_is_held_to_three_quarters():
    s = {"code": 100_000, "object": 50_000, "object shape": 0}
    # From S2: code +18 KB, shapes +1 KB, objects +6 KB: 76% is the engine's...
    assert _rise([s, s, {"code": 118_000, "object shape": 1_000, "object": 56_000}]) == 19_000
    # ... +7 KB of objects: 73%, the rest is too much to be a warm-up's.
    assert _rise([s, s, {"code": 118_000, "object shape": 1_000, "object": 57_000}]) == 0


def test_the_engines_storage_must_cover_half_the_samples_rise():
    s = {"code": 100_000}
    assert _rise([s, s, {"code": 112_000}], heap_rise=24_000) == 12_000
    assert _rise([s, s, {"code": 111_000}], heap_rise=24_000) == 0


def test_external_memory_that_rose_is_never_the_engines_storage():
    s = {"code": 100_000}
    assert _rise([s, s, {"code": 124_000}], external_rise=512) == 24_000
    assert _rise([s, s, {"code": 124_000}], external_rise=13_000) == 0


def test_a_few_hundred_bytes_of_code_are_no_evidence():
    s = {"code": 100_000}
    assert _rise([s, s, {"code": 100_512}], heap_rise=400) == 0
    assert _rise([s, s, {"code": 100_600}], heap_rise=400) == 600


def test_a_table_that_doubled_once_in_round_b_is_not_held_against_the_extra_round():
    # A Vue page's fixed twin: 64 KB of `array` in round B (once), then compiled code only over the
    # longer round. The last round is judged: what goes on shows in every round.
    from pytest_jsleak.evidence import Evidence
    from pytest_jsleak.verdict import Rounds, engine_rise

    s = {"code": 100_000, "array": 50_000}
    storage = [s, {"code": 119_000, "array": 50_000}, {"code": 138_000, "array": 114_500},
               {"code": 231_000, "array": 114_500}]
    samples = tuple(MemorySample(i * 1000, 1_000_000 + heap, 100_000, 0)
                    for i, heap in enumerate([0, 19_000, 102_000, 195_000]))
    evidence = Evidence(method="ids", classes=(), grown=(), one_round=(), calls=3000, final=None,
                        grown_graph=None, storage=tuple(storage), extra_rounds=1)
    rounds = Rounds(samples, confirm_from=0, round_calls=1000, extra_calls=1000)
    assert engine_rise(evidence, rounds) == 93_000
    before_the_extra_round = Evidence(method="ids", classes=(), grown=(), one_round=(), calls=2000, final=None,
                                      grown_graph=None, storage=tuple(storage[:3]))
    assert engine_rise(before_the_extra_round, Rounds(samples[:3], confirm_from=0, round_calls=1000)) == 0


# --- Bun: a rise in both rounds that gave some back ---------------------------------------------------


def _bun_rounds(heaps):
    """Bun evidence with no survivors beside rounds A and B (1,000 calls each) whose JS heap after GC is
    `heaps`, sampled every 250 calls from S1 on."""
    from pytest_jsleak.evidence import Evidence
    from pytest_jsleak.verdict import Rounds

    samples = tuple(MemorySample(i * 250, 1_000_000 + heap, 100_000, 0) for i, heap in enumerate(heaps))
    evidence = Evidence(method="counts", classes=(), grown=(), one_round=(), calls=2000, final=None,
                        grown_graph=None)
    return evidence, Rounds(samples, confirm_from=0, round_calls=1000)


def _wants_longer_round(heaps):
    from pytest_jsleak.options import resolve
    from pytest_jsleak.verdict import judge, needs_extra_round

    evidence, rounds = _bun_rounds(heaps)
    decision = judge(evidence, rounds, profile=BUN, options=resolve({}))
    return decision.verdict, needs_extra_round(decision, evidence, rounds, sampling_jump=0, profile=BUN)


def test_a_rise_in_both_rounds_that_gave_some_back_gets_a_longer_round():
    # An array's storage stepping by 12 KB per round under a heap that wanders by 3 KB: above the
    # jitter in both rounds (8 KB on Bun) but not a steady rise. Calling it clean let a leak through.
    wandering = [0, 3_000, 0, 12_000, 10_000, 12_000, 10_000, 24_000, 22_000]
    assert _wants_longer_round(wandering) == ("clean", True)
    # Steady steps are a leak at once; a rise under the jitter in one round only gets a round anyway
    # (`sum(grew) == 1`), and a flat heap none.
    assert _wants_longer_round([0, 0, 0, 12_000, 12_000, 12_000, 12_000, 24_000, 24_000])[0] == "leak"
    assert _wants_longer_round([0, 200, 0, 300, 100, 200, 0, 300, 100]) == ("clean", False)


def test_the_engines_natives_add_to_a_leaks_size_never_make_one():
    leaking = [growth("Chart", 40, 40, bytes_a=40 * 400)]
    with_natives = decide(leaking, iterations=40, max_growth_per_iteration=0, held_per_iteration=1_000,
                          natives_per_iteration=2_000)
    assert (with_natives.verdict, with_natives.growth_per_iteration) == ("leak", 3_000)
    assert with_natives.natives_per_iteration == 2_000
    alone = decide([], iterations=40, max_growth_per_iteration=0, natives_per_iteration=2_000)
    assert (alone.verdict, alone.growth_per_iteration, alone.natives_per_iteration) == ("clean", 0.0, 0.0)
    # Beside the runtime's own classes only (a JIT settling) they are no evidence either.
    internal = decide([growth("(compiled code)", 40, 40)], iterations=40, max_growth_per_iteration=0,
                      natives_per_iteration=2_000)
    assert internal.verdict == "clean" and internal.natives_per_iteration == 0.0


# --- Bun: a list that gained an entry per call (heap.entries) ------------------------------------------


def _listed(per_call=1.0, calls=2000):
    """mitt's handler list on Bun: `per_call` entries per call over both rounds, 8 B each at least."""
    entries = (9_000, 9_000 + int(per_call * calls / 2), 9_000 + int(per_call * calls))
    return GrowthInPlace("Array", per_call * 8, node=7, node_id=32_561, sizes=tuple(8 * e for e in entries),
                         entries=entries)


def test_a_list_gaining_entries_is_evidence_sized_at_least_by_its_slots():
    # The GC'd memory steps with the list's storage: between two steps the slope reads nothing, and the
    # entries still say what the calls kept.
    between_steps = decide([], iterations=1000, max_growth_per_iteration=0, measured_per_iteration=0.0,
                           entries=[_listed()], profile=BUN)
    assert (between_steps.verdict, between_steps.growth_per_iteration) == ("leak", 8.0)
    over_a_step = decide([], iterations=1000, max_growth_per_iteration=0, measured_per_iteration=11.0,
                         entries=[_listed()], profile=BUN)
    assert (over_a_step.verdict, over_a_step.growth_per_iteration) == ("leak", 11.0)
    assert decide([], iterations=1000, max_growth_per_iteration=8, measured_per_iteration=0.0,
                  entries=[_listed()], profile=BUN).verdict == "clean"
    assert decide([], iterations=1000, max_growth_per_iteration=7, measured_per_iteration=0.0,
                  entries=[_listed()], profile=BUN).verdict == "leak"
    assert decide([], iterations=1000, max_growth_per_iteration=0, measured_per_iteration=0.0,
                  entries=[_listed()], ignore=["Array"], profile=BUN).verdict == "clean"


def test_a_list_of_leaking_objects_is_told_by_the_objects():
    # The list holds the survivors: they are the evidence, the list is not reported beside them.
    decision = decide([growth("RequestRecord", 1000, 1000)], iterations=1000, max_growth_per_iteration=0,
                      measured_per_iteration=50.0, entries=[_listed()], profile=BUN)
    assert decision.verdict == "leak" and decision.grown == ()
    # Nor when the user ignores the objects it holds: ignoring them ignores the list of them.
    ignored = decide([growth("RequestRecord", 1000, 1000)], iterations=1000, max_growth_per_iteration=0,
                     measured_per_iteration=50.0, entries=[_listed()], ignore=["RequestRecord"], profile=BUN)
    assert ignored.verdict == "clean" and ignored.grown == ()
    # Beside the runtime's own classes only, the list is the evidence.
    internal = decide([growth("(compiled code)", 1000, 1000)], iterations=1000, max_growth_per_iteration=0,
                      measured_per_iteration=0.0, entries=[_listed()], profile=BUN)
    assert internal.verdict == "leak" and [g.class_name for g in internal.grown] == ["Array"]


def test_a_listed_leak_needs_no_longer_round_and_survives_the_counts_gate():
    from pytest_jsleak.evidence import Evidence
    from pytest_jsleak.options import resolve
    from pytest_jsleak.verdict import Rounds, judge, needs_extra_round

    # A flat heap over both rounds (the list's storage did not step in them), a class count that grew
    # (set aside by the counts gate: Bun's stack scan), and the list.
    samples = tuple(MemorySample(i * 250, 1_000_000, 100_000, 0) for i in range(9))
    rounds = Rounds(samples, confirm_from=0, round_calls=1000)
    evidence = Evidence(method="counts", classes=(growth("Object", 60, 60),), grown=(), one_round=(),
                        calls=2000, final=None, grown_graph=None, entries=(_listed(),))
    decision = judge(evidence, rounds, profile=BUN, options=resolve({}))
    assert (decision.verdict, decision.counts_gated, decision.growth_per_iteration) == ("leak", True, 8.0)
    assert not needs_extra_round(decision, evidence, rounds, sampling_jump=0, profile=BUN)
    without = judge(replace(evidence, entries=()), rounds, profile=BUN, options=resolve({}))
    assert without.verdict == "clean"


def _compile_cache(counts_again=None, extra_calls=0, bytes_per_object=60, rate=14):
    """ajv's compile cache on Bun: `rate` Objects per call in rounds A and B (by counts), and the GC'd
    memory flat over them (JSC freed compiled code meanwhile). With `extra_calls`, an extra round whose
    class counts gained `counts_again`."""
    from pytest_jsleak.evidence import Evidence
    from pytest_jsleak.verdict import Rounds

    calls = 2000 + extra_calls
    samples = tuple(MemorySample(i * 250, 1_000_000, 100_000, 0) for i in range(calls // 250 + 1))
    rounds = Rounds(samples, confirm_from=0, round_calls=1000, extra_calls=extra_calls)
    per_round = round(rate * 1000)
    classes = (ClassGrowth("Object", per_round, per_round, per_round * bytes_per_object, per_round * bytes_per_object),
               growth("(compiled code)", 8000, 8000))
    evidence = Evidence(method="counts", classes=classes, grown=(), one_round=(), calls=calls, final=None,
                        grown_graph=None, extra_rounds=1 if extra_calls else 0, counts_again=counts_again or {})
    return evidence, rounds


def test_objects_gained_at_the_calls_pace_while_memory_stays_flat_earn_a_longer_round():
    from pytest_jsleak.options import resolve
    from pytest_jsleak.verdict import judge, needs_extra_round

    evidence, rounds = _compile_cache()
    decision = judge(evidence, rounds, profile=BUN, options=resolve({}))
    assert decision.wants_extra_round and needs_extra_round(decision, evidence, rounds, sampling_jump=0, profile=BUN)
    assert [g.class_name for g in decision.leaking] == ["Object"]  # the runtime's own classes are no evidence
    # Without the time for it, the evidence is unsettled, not clean.
    cut = judge(evidence, rounds, profile=BUN, options=resolve({}), can_extend=False)
    assert (cut.verdict, cut.unsettled) == ("inconclusive", "counts-unconfirmed")
    from pytest_jsleak.explain import _unsettled
    from pytest_jsleak.plan import Measurement

    reason, advice = _unsettled(cut, Measurement(round_calls=1000), resolve({}))
    assert reason is not None and advice is not None
    assert reason.startswith("Object gained 14 or more objects per iteration in rounds A and B while memory did not")
    assert "raise `timeout`" in advice


def test_objects_that_keep_their_pace_over_the_longer_round_leak_sized_by_their_own_bytes():
    from pytest_jsleak.options import resolve
    from pytest_jsleak.verdict import judge, needs_extra_round

    # 2,000 calls more: a quarter of the pace (3.5 Objects per call) or more keeps it.
    for gained, verdict in ((28_000, "leak"), (7_000, "leak"), (6_999, "clean"), (0, "clean")):
        evidence, rounds = _compile_cache({"Object": gained}, extra_calls=2000)
        decision = judge(evidence, rounds, profile=BUN, options=resolve({}))
        assert decision.verdict == verdict, gained
        assert not needs_extra_round(decision, evidence, rounds, sampling_jump=0, profile=BUN)
        if verdict == "leak":
            assert decision.counts_without_rise and decision.growth_per_iteration == 14 * 60
        else:
            assert decision.counts_gated and not decision.counts_without_rise
    # Within the user's tolerance, or ignored, it is clean.
    evidence, rounds = _compile_cache({"Object": 28_000}, extra_calls=2000)
    assert judge(evidence, rounds, profile=BUN, options=resolve({"max_growth_per_iteration": 840})).verdict == "clean"
    assert judge(evidence, rounds, profile=BUN, options=resolve({"max_growth_per_iteration": 839})).verdict == "leak"
    assert judge(evidence, rounds, profile=BUN, options=resolve({"ignore": ["Object"]})).verdict == "clean"


def test_fewer_than_an_object_per_call_is_left_to_the_counts_gate():
    # A stack scan keeps a handful; below one object per call in a round, flat memory still sets the
    # counts aside, with no longer round.
    from pytest_jsleak.options import resolve
    from pytest_jsleak.verdict import judge, needs_extra_round

    below, rounds = _compile_cache(rate=0.999)
    decision = judge(below, rounds, profile=BUN, options=resolve({}))
    assert (decision.verdict, decision.counts_gated) == ("clean", True)
    assert not needs_extra_round(decision, below, rounds, sampling_jump=0, profile=BUN)
    at, rounds = _compile_cache(rate=1)
    assert judge(at, rounds, profile=BUN, options=resolve({})).wants_extra_round


def test_objects_a_list_holds_tell_its_leak_when_they_keep_pace_over_the_longer_round():
    # The Orders a list holds pile up while memory stays flat: the list alone says a leak of 8 B a slot;
    # the Orders, kept at their pace over the longer round, say it better, slots included.
    from pytest_jsleak.options import resolve
    from pytest_jsleak.verdict import judge

    evidence, rounds = _compile_cache(rate=1, bytes_per_object=32)
    evidence = replace(evidence, entries=(_listed(),))
    first = judge(evidence, rounds, profile=BUN, options=resolve({}))
    assert first.wants_extra_round
    # Without the time for it, the list's leak stands.
    cut = judge(evidence, rounds, profile=BUN, options=resolve({}), can_extend=False)
    assert (cut.verdict, cut.growth_per_iteration, [g.class_name for g in cut.grown]) == ("leak", 8.0, ["Array"])
    after, rounds = _compile_cache({"Object": 2000}, extra_calls=2000, rate=1, bytes_per_object=32)
    decision = judge(replace(after, entries=(_listed(),)), rounds, profile=BUN, options=resolve({}))
    assert (decision.verdict, decision.growth_per_iteration, decision.counts_without_rise) == ("leak", 40.0, True)
    assert [g.class_name for g in decision.leaking] == ["Object"] and decision.grown == ()

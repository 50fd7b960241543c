"""The verdict rules on hand-made numbers: what keeps pace with the calls leaks, the rest does not."""

from __future__ import annotations

from pytest_jsleak.model import MemorySample
from pytest_jsleak.verdict import ClassGrowth, decide, sample_trend


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

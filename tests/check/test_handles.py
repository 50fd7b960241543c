"""Active resources per call: the handle rules on scripted samples, and the whole check on a fake
driver whose program leaves timers, sockets or listeners behind (issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_driver import FakeDriver, Program, filling, flat, leak_per_call
from test_check_pipeline import check

from pytest_jsleak.handles import HANDLE_PACE_SHARE, MIN_HANDLES_PER_ROUND, leaking_handles, rising_kinds
from pytest_jsleak.model import MemorySample
from pytest_jsleak.report.text import render


def samples(counts: list[int], kind: str = "Timeout", every: int = 10) -> list[MemorySample]:
    return [MemorySample(i * every, 5_000_000, handles={"PipeWrap": 1, kind: count} if count else {"PipeWrap": 1})
            for i, count in enumerate(counts)]


# --- the sampling round: worth the confirming rounds? --------------------------------------------

def test_resources_rising_in_both_halves_of_the_sampling_round_are_suspicious() -> None:
    assert rising_kinds(samples([0, 1, 2, 3, 4])) == ("Timeout",)
    # One per 100 calls over a 200-call round: +1 in each half, MIN_HANDLES_PER_ROUND in all.
    assert MIN_HANDLES_PER_ROUND == 2
    assert rising_kinds(samples([0, 0, 1, 1, 2])) == ("Timeout",)


def test_resources_that_rose_once_or_stay_level_are_not() -> None:
    assert rising_kinds(samples([0, 3, 3, 3, 3])) == ()  # a pool that filled early
    assert rising_kinds(samples([0, 0, 0, 0, 1])) == ()  # one more in flight
    assert rising_kinds(samples([2, 3, 2, 3, 2])) == ()  # timers that end by themselves
    assert rising_kinds(samples([0, 1, 2, 3, 4]), ignore=["Timeout"]) == ()


# --- the confirming rounds: a leak? ---------------------------------------------------------------

def test_a_kind_that_grew_in_both_rounds_at_one_pace_is_a_leak() -> None:
    (growth,) = leaking_handles([samples([0, 100, 200]), samples([200, 300, 400])], round_calls=200)
    assert (growth.kind, growth.per_iteration, growth.rounds, growth.active) == ("Timeout", 1.0, (200, 200), 400)


@pytest.mark.parametrize(
    ("round_a", "round_b", "leaks"),
    [
        ((0, 2), (2, 4), True),  # MIN_HANDLES_PER_ROUND in each round
        ((0, 1), (1, 3), False),  # one round under it
        ((0, 10), (10, 15), True),  # B at HANDLE_PACE_SHARE of A's pace
        ((0, 10), (10, 14), False),  # B under it: a pool filling up, slowing down
        ((0, 4), (4, 12), True),  # A at half of B's pace
        ((0, 10), (10, 10), False),  # stopped in B
    ],
)
def test_both_sides_of_the_round_thresholds(round_a: tuple[int, int], round_b: tuple[int, int], leaks: bool) -> None:
    assert HANDLE_PACE_SHARE == 0.5
    found = leaking_handles([samples(list(round_a)), samples(list(round_b))], round_calls=200)
    assert bool(found) is leaks


def test_ignore_names_resource_kinds_too() -> None:
    assert leaking_handles([samples([0, 200]), samples([200, 400])], round_calls=200, ignore=["Timeout"]) == ()


# --- the whole check ---------------------------------------------------------------------------------

def test_timers_piling_up_with_flat_memory_are_a_leak_with_their_creation_site(tmp_path: Path) -> None:
    # Memory stays flat (a tiny JS object per timer, under the jitter): the resources alone decide.
    driver = FakeDriver(Program(kept=flat(), handles={"Timeout": leak_per_call()}))
    result = check(driver, tmp_path)
    assert result.verdict == "leak"
    (growth,) = result.handles
    assert (growth.kind, growth.per_iteration, growth.rounds) == ("Timeout", 1.0, (200, 200))
    # Tracked through round A only, read after round B.
    assert driver.handle_tracking == [True, False]
    (site,) = growth.sites
    assert site.count == 200 and site.frames[1].function == "schedulePoll"
    text = render(result)
    assert "1.00 Timeout per iteration" in text.splitlines()[0]
    assert "Timeout: 1.00 more active per iteration (+200 in round A, +200 in round B" in text
    assert "created at schedulePoll (/work/src/poller.mjs:14:5) ← leaky (/work/poller.leak.mjs:6:3)" in text
    assert result.to_dict()["handles"][0]["sites"][0]["count"] == 200


def test_a_pool_that_fills_and_timers_that_end_by_themselves_are_clean(tmp_path: Path) -> None:
    pool = FakeDriver(Program(handles={"TCPSocketWrap": filling(8), "Timeout": lambda calls: calls % 3}))
    result = check(pool, tmp_path)
    assert (result.verdict, result.method, result.handles) == ("clean", "samples", [])
    assert pool.handle_tracking == []  # no creation stacks without a pile of resources


def test_a_leak_of_one_socket_per_hundred_calls_is_seen(tmp_path: Path) -> None:
    driver = FakeDriver(Program(handles={"TCPSocketWrap": leak_per_call(every=100)}))
    result = check(driver, tmp_path)
    assert result.verdict == "leak" and result.handles[0].rounds == (2, 2)


def test_a_memory_leak_keeps_its_verdict_and_adds_the_resources(tmp_path: Path) -> None:
    driver = FakeDriver(Program(kept=leak_per_call(), handles={"Timeout": leak_per_call()}))
    result = check(driver, tmp_path)
    assert result.verdict == "leak" and result.suspects[0].class_name == "RequestRecord"
    assert [growth.kind for growth in result.handles] == ["Timeout"]


def test_ignored_kinds_do_not_fail_the_check(tmp_path: Path) -> None:
    driver = FakeDriver(Program(handles={"Timeout": leak_per_call()}))
    result = check(driver, tmp_path, ignore=("Timeout",))
    assert result.verdict == "clean" and result.handles == []

"""What a leak into a growing collection costs: entries at what they retain, storage at its amortised rate.

Generated snapshots in V8's layout (Node 20's and Deno 2.9's alike): a Map's `internal 'table'`, a
dictionary-mode object's `internal 'properties'`, an array's `internal 'elements'`, each an `array` node
whose index-named edges are the entries (a Map's and a dictionary's key and value apiece, an array's
value), with `internal 'map'` to the table's own shape and holes as edges to an oddball.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from heap.snapshot_builder import SnapshotBuilder

from pytest_jsleak import analysis
from pytest_jsleak.profiles import NODE
from pytest_jsleak.verdict import decide

ROUND = 10
ENTRY = 100  # an `Entry` object of the leak
KEY = 24  # its key string (a Map's and a dictionary's)
HOLDERS = {  # kind: (class, store edge, store name, edges per entry)
    "map": ("Map", "table", "", 2),
    "dictionary": ("Object", "properties", "(object properties)", 2),
    "array": ("Array", "elements", "(object elements)", 1),
}


def heap_with(
    path: Path, kind: str, entries: int, store_bytes: int, *, store_id: int,
    beside: dict[str, tuple[int, int]] | None = None,
) -> Path:
    """Module scope → `Cache` (id 9, an object alive since S1) → `items` (id 11): a collection of `kind`
    holding `entries` leaked `Entry` objects in a store of `store_bytes`. `beside`: more collections of
    the cache, name → (store bytes, store id), holding numbers only (no edge)."""
    b = SnapshotBuilder()
    roots = b.add("synthetic", "(GC roots)", self_size=0, id=3)
    b.edge(0, roots, 1, "element")
    scope = b.add("object", "system / Context", self_size=40, id=5)
    b.edge(roots, scope, 1, "element")
    cache = b.add("object", "Cache", self_size=56, id=9)
    b.edge(scope, cache, "cache", "context")
    oddball = b.add("hidden", "system / Oddball", self_size=48, id=7)
    b.edge(roots, oddball, 2, "element")
    shape = b.add("hidden", "system / Map", self_size=72, id=13)
    b.edge(roots, shape, 3, "element")
    name, edge, store_name, per_entry = HOLDERS[kind]
    items = b.add("object", name, self_size=32, id=11)
    b.edge(cache, items, "items", "property")
    store = b.add("array", store_name, self_size=store_bytes, id=store_id)
    b.edge(items, store, edge, "internal")
    b.edge(store, shape, "map", "internal")
    b.edge(store, oddball, "1", "internal")  # a deleted entry, a hole: not an entry
    for k in range(entries):
        entry = b.add("object", "Entry", self_size=ENTRY, id=1001 + 2 * k)
        if per_entry == 2:
            b.edge(store, b.add("string", f"key{k}", self_size=KEY, id=100_001 + 2 * k), str(2 + 2 * k), "internal")
        b.edge(store, entry, str(3 + 2 * k), "internal")
    for number, (field, (size, sid)) in enumerate((beside or {}).items()):
        other = b.add("object", "Array", self_size=32, id=21 + 2 * number)
        b.edge(cache, other, field, "property")
        b.edge(other, b.add("array", "(object elements)", self_size=size, id=sid), "elements", "internal")
    return b.write(path)


def held(
    tmp_path: Path, kind: str, rounds: list[tuple[int, int]], beside: list[dict[str, tuple[int, int]]] | None = None
) -> int:
    """`holders_growth` over three snapshots of (entries, store bytes); a store replaced by a larger
    one gets a new id."""
    paths = []
    for n, (entries, size) in enumerate(rounds):
        sid = 50_001 + 2 * [s for _, s in rounds].index(size)
        paths.append(heap_with(tmp_path / f"s{n}.heapsnapshot", kind, entries, size, store_id=sid,
                               beside=beside[n] if beside else None))
    return analysis.analyse(paths, profile=NODE, round_calls=ROUND).holders_growth


def own(kind: str, calls: int) -> int:
    """What `calls` entries retain themselves."""
    return calls * (ENTRY + (KEY if HOLDERS[kind][3] == 2 else 0))


@pytest.mark.parametrize("kind", sorted(HOLDERS))
def test_a_table_that_doubled_inside_the_rounds_is_charged_its_amortised_rate(tmp_path: Path, kind: str) -> None:
    # 20 entries in a table of 32 slots (896 B), 30 still in it, 40 in one of 64 (1,792 B): the step
    # (896 B) was charged whole; the fullest the table was (S2: 896 B for 30 entries) is the rate.
    per = HOLDERS[kind][3]
    growth = held(tmp_path, kind, [(20, 896), (30, 896), (40, 1792)])
    rate = (896 + 32) / (30 * per)  # the store and the collection's own 32 B, per edge of an entry
    assert growth == own(kind, 20) + round(20 * per * rate)
    assert growth < own(kind, 20) + 896


@pytest.mark.parametrize("kind", sorted(HOLDERS))
def test_slack_filled_without_a_resize_is_charged_its_slots(tmp_path: Path, kind: str) -> None:
    # A table of 64 slots that the entries filled from 20 to 40 without a step: its retained size grew
    # by the entries alone, the slots they took were not charged.
    per = HOLDERS[kind][3]
    growth = held(tmp_path, kind, [(20, 1792), (30, 1792), (40, 1792)])
    assert growth == own(kind, 20) + round(20 * per * (1792 + 32) / (40 * per))


def test_a_holder_whose_entries_cannot_be_counted_keeps_its_retained_growth(tmp_path: Path) -> None:
    # The same leak in a table whose entries did not change in number (replaced in place): nothing to
    # amortise over, the holder's retained growth as before.
    growth = held(tmp_path, "map", [(20, 896), (20, 896), (20, 896)])
    assert growth == 0


def test_collections_of_numbers_beside_the_holder_are_charged_per_entry(tmp_path: Path) -> None:
    # An LRU cache: values in `items` (an array), its keys and links in arrays of numbers beside it (no
    # edge: small integers), one grown over the rounds, one the same size throughout (slack); a fixed
    # buffer and an empty list are not the entries'.
    rounds = [(20, 176), (30, 264), (40, 344)]  # elements: 16 B + 8 B per slot
    beside = [
        {"keys": (176, 60_001), "prev": (344, 60_011), "buffer": (65_536, 60_021), "free": (16, 60_031)},
        {"keys": (264, 60_003), "prev": (344, 60_011), "buffer": (65_536, 60_021), "free": (16, 60_031)},
        {"keys": (344, 60_005), "prev": (344, 60_011), "buffer": (65_536, 60_021), "free": (16, 60_031)},
    ]
    alone = held(tmp_path, "array", rounds)
    growth = held(tmp_path, "array", rounds, beside)
    keys = round(20 * min((176 + 32) / 20, (264 + 32) / 30, (344 + 32) / 40))
    prev = round(20 * (344 + 32) / 40)
    assert growth == alone + keys + prev


@pytest.mark.parametrize(("size", "charged"), [(288, True), (287, False), (1888, True), (1889, False)])
def test_a_collection_of_numbers_beside_the_holder_must_be_sized_like_its_entries(
    tmp_path: Path, size: int, charged: bool
) -> None:
    # With the Array's own 32 B: from 8 B per holder entry at S3 (40 entries: 320 B) to 96 B at S1
    # (20 entries: 1,920 B); never grown, so only its size says it is indexed like the holder.
    rounds = [(20, 176), (30, 264), (40, 344)]
    beside = [{"links": (size, 60_001)}] * 3
    extra = held(tmp_path, "array", rounds, beside) - held(tmp_path, "array", rounds)
    assert extra == (round(20 * (size + 32) / 40) if charged else 0)


def test_the_limit_reads_the_amortised_size_on_both_sides(tmp_path: Path) -> None:
    # The headline (`verdict.decide`) compares what the holders grew by per call with the user's limit:
    # the doubled table reads its amortised 154.9 B per call (the step made it 168.8).
    evidence = analysis.analyse(
        [heap_with(tmp_path / f"s{n}.heapsnapshot", "map", entries, size, store_id=sid)
         for n, (entries, size, sid) in enumerate([(20, 896, 51), (30, 896, 51), (40, 1792, 53)])],
        profile=NODE, round_calls=ROUND,
    )
    per_call = evidence.holders_growth / (2 * ROUND)
    assert per_call == pytest.approx(124 + 928 / 30, abs=0.05)
    for limit, verdict in ((int(per_call), "leak"), (int(per_call) + 1, "clean"), (168, "clean")):
        decision = decide(evidence.classes, iterations=ROUND, max_growth_per_iteration=limit,
                          held_per_iteration=per_call, profile=NODE)
        assert decision.verdict == verdict, limit

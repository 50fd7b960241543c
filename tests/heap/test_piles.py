"""Which instances a Bun path may show (heap.piles), on small generated Bun-like snapshots: every id
renumbered in each snapshot, holders found again by place or by head; both sides of each rule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from pytest_jsleak import heap
from pytest_jsleak.heap.entries import MIN_ENTRIES
from pytest_jsleak.heap.piles import MIN_PILE_GROWTH, PILE_SHARE, tied_instances

from .snapshot_builder import SnapshotBuilder

CLASS = "Record"


class BunHeap:
    """(GC roots) → module scope → `log` / `registry` Arrays of Records; Records held straight by the
    GC roots (JSC's conservative scan: no place); a list of Records no root reaches (a Map's storage);
    closure scopes held by the GC roots, each holding one Record as `query`. Every id is shifted by
    `renumber`, and `filler` nodes come first, so no id and no node index match across snapshots."""

    def __init__(self, *, renumber: int, filler: int = 0) -> None:
        self.b = SnapshotBuilder()
        self._next = renumber + 1
        for _ in range(filler):
            self.add("object", "Filler")
        self.roots = self.add("synthetic", "(GC roots)", self_size=0)
        self.b.edge(0, self.roots, 1, "element")
        self.module = self.add("object", "system / JSModuleEnvironment")
        self.b.edge(self.roots, self.module, 1, "element")
        self.lists: dict[str, int] = {}
        self.members: dict[str, list[int]] = {}

    def add(self, type: str, name: str, *, self_size: int = 32) -> int:
        self._next += 2
        return self.b.add(type, name, self_size=self_size, id=self._next)

    def record(self) -> int:
        return self.add("object", CLASS)

    def held_list(self, name: str, count: int, *, orphan: bool = False) -> None:
        """An Array of `count` Records, held by the module as `name` (none: `orphan`)."""
        array = self.add("object", "Array", self_size=16)
        if not orphan:
            self.b.edge(self.module, array, name, "context")
        self.lists[name] = array
        self.members[name] = []
        for index in range(count):
            node = self.record()
            self.b.edge(array, node, index, "element")
            self.members[name].append(node)

    def loose(self, count: int) -> None:
        """Records the GC roots hold, by unnamed slots (no place: not a pile)."""
        for index in range(count):
            self.b.edge(self.roots, self.record(), 100 + index, "element")

    def scopes(self, count: int) -> None:
        """Closure scopes the GC roots hold (handles), each holding one Record as `query`."""
        self.members["query"] = []
        for index in range(count):
            scope = self.add("object", "system / JSLexicalEnvironment")
            self.b.edge(self.roots, scope, 10_000 + index, "element")
            node = self.record()
            self.b.edge(scope, node, "query", "context")
            self.members["query"].append(node)

    def write(self, path: Path) -> heap.HeapGraph:
        self.b.write(path)
        return heap.HeapGraph(heap.read_snapshot(path))


def layout_heap(tmp_path: Path, layout: dict, position: int) -> tuple[heap.HeapGraph, BunHeap]:
    """A snapshot from a layout: {"log": n, "registry": n, "orphan": n, "loose": n, "scopes": n}."""
    h = BunHeap(renumber=1_000_000 * (position + 1), filler=7 * position)
    for name in ("log", "registry"):
        if layout.get(name):
            h.held_list(name, layout[name])
    if layout.get("orphan"):
        h.held_list("orphan", layout["orphan"], orphan=True)
    h.loose(layout.get("loose", 0))
    if layout.get("scopes"):
        h.scopes(layout["scopes"])
    return h.write(tmp_path / f"s{position}.heapsnapshot"), h


def pair(tmp_path: Path, before: dict, after: dict) -> tuple[heap.HeapGraph, heap.HeapGraph, BunHeap]:
    """S2 and S3 from two layouts, and S3's builder (which nodes are what)."""
    s2, _ = layout_heap(tmp_path, before, 2)
    s3, h = layout_heap(tmp_path, after, 3)
    return s2, s3, h


def records(layout: dict) -> int:
    return sum(layout.get(name, 0) for name in ("log", "registry", "orphan", "loose", "scopes"))


def tied(before: heap.HeapGraph, after: heap.HeapGraph, expected: int, **kwargs) -> set[int]:
    return set(tied_instances(before, after, CLASS, expected=expected, limit=10_000, **kwargs))


def test_a_pile_that_grew_since_s2_is_shown_through_its_holder(tmp_path):
    before = {"log": 10, "registry": 30}
    after = {"log": 20, "registry": 30}
    s2, s3, h = pair(tmp_path, before, after)
    assert s2.snapshot.node_id[0] != s3.snapshot.node_id[0] or s2.node_count != s3.node_count
    assert tied(s2, s3, expected=10) == set(h.members["log"])
    # Through the census, as a check reads Bun's snapshots: the path names the pile.
    s1, _ = layout_heap(tmp_path, {"registry": 30}, 1)
    diff = heap.three_snapshot_counts(*(heap.class_census(g) for g in (s1, s2, s3)), s3, graph2=s2)
    row = diff[CLASS]
    assert set(row.example_nodes) <= set(h.members["log"])
    path, _ = heap.representative_path(s3, row.example_nodes)
    assert path is not None and [step.edge_name for step in path.steps][-2] == "log"


def test_a_stable_holder_of_many_instances_is_never_shown(tmp_path):
    # The registry holds 30 Records in S2 and in S3, more than half the class's growth: a pile, but
    # one that did not grow. The growth is loose (held by the GC roots): nothing ties it.
    s2, s3, _ = pair(tmp_path, {"log": 5, "registry": 30}, {"log": 5, "registry": 30, "loose": 20})
    assert tied(s2, s3, expected=20) == set()
    s2, s3, h = pair(tmp_path, {"log": 5, "registry": 30}, {"log": 25, "registry": 30})
    assert tied(s2, s3, expected=20) == set(h.members["log"])


@pytest.mark.parametrize("expected", [10, 15, 41])
def test_a_pile_must_grow_by_the_share_of_the_class_growth(tmp_path, expected):
    need = max(MIN_PILE_GROWTH, math.ceil(PILE_SHARE * expected))
    for grew, shown in ((need, True), (need - 1, False)):
        before = {"log": 8, "registry": 40}
        after = {"log": 8 + grew, "registry": 40, "loose": expected - grew}
        assert records(after) - records(before) == expected
        s2, s3, h = pair(tmp_path, before, after)
        assert tied(s2, s3, expected=expected) == (set(h.members["log"]) if shown else set()), (grew, shown)


def test_a_pile_must_grow_by_at_least_two(tmp_path):
    s2, s3, h = pair(tmp_path, {"log": 8, "registry": 40}, {"log": 9 + 1, "registry": 40})
    assert tied(s2, s3, expected=2) == set(h.members["log"])
    s2, s3, _ = pair(tmp_path, {"log": 8, "registry": 40}, {"log": 9, "registry": 40, "loose": 1})
    assert tied(s2, s3, expected=2) == set()


def test_a_list_no_root_reaches_is_found_again_by_its_head(tmp_path):
    # Bun gives no edges into a Map's storage: the list has no place, its head identifies it.
    before = {"orphan": MIN_ENTRIES + 10, "registry": 30}
    after = {"orphan": MIN_ENTRIES + 30, "registry": 30}
    s2, s3, h = pair(tmp_path, before, after)
    assert tied(s2, s3, expected=20) == set(h.members["orphan"])
    # A list too short to have a head cannot be found again: nothing ties its Records.
    s2, s3, _ = pair(tmp_path, {"orphan": MIN_ENTRIES - 30, "registry": 30}, {"orphan": MIN_ENTRIES - 10,
                                                                                "registry": 30})
    assert tied(s2, s3, expected=20) == set()


def test_holders_are_matched_by_place_whatever_their_ids_and_indices(tmp_path):
    s2, s3, h = pair(tmp_path, {"log": 10, "registry": 30}, {"log": 20, "registry": 30})
    log = h.lists["log"]
    # Neither the id nor the node index of the log in S3 means anything in S2.
    assert s3.snapshot.node_id[log] not in set(s2.snapshot.node_id.tolist())
    assert s2.node(log).name != "Array" or s2.snapshot.node_id[log] != s3.snapshot.node_id[log]
    assert tied(s2, s3, expected=10) == set(h.members["log"])


def test_objects_of_another_growing_class_holding_it_one_way_that_grew(tmp_path):
    # Each call's closure scope holds its own Record as `query`, the scopes held by the GC roots.
    growing = frozenset({"system / JSLexicalEnvironment"})
    s2, s3, h = pair(tmp_path, {"scopes": 10, "registry": 30}, {"scopes": 20, "registry": 30})
    # The ten scopes S2 had (found again by place, holding as many then) are stable: only the new.
    assert tied(s2, s3, expected=10, growing=growing) == set(h.members["query"][10:])
    # Not when the scopes' class is not growing, nor when the way grew by less than the share.
    assert tied(s2, s3, expected=10) == set()
    s2, s3, _ = pair(tmp_path, {"scopes": 10, "registry": 30}, {"scopes": 14, "registry": 30, "loose": 6})
    assert tied(s2, s3, expected=10, growing=growing) == set()

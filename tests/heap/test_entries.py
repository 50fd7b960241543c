"""Collections that gained entries, on small generated Bun-like snapshots (ids renumbered in each, no
storage sizes, the list reachable from no root): found again by their heads, both sides of each rule."""

from __future__ import annotations

import pytest

from pytest_jsleak import heap
from pytest_jsleak.heap.entries import HEAD_ENTRIES, MIN_ENTRIES, MIN_ROUND_SHARE, entry_heads, grown_by_entries

from .snapshot_builder import SnapshotBuilder


def bun_like(tmp_path, name: str, lists: dict[str, int], *, renumber: int, heads: dict[str, str] | None = None,
             shift: dict[str, int] | None = None) -> heap.HeapGraph:
    """Arrays of `lists[label]` element edges each, to one handler closure (mitt's `on()` pushing the
    same function), held by nothing the snapshot shows (Bun leaves a Map's storage out). Every id is
    shifted by `renumber`. `heads[label]` names the closure its slots point at (default: the label's
    own handler); `shift[label]` starts its slots at that index (a queue whose head moved on)."""
    b = SnapshotBuilder()
    roots = b.add("synthetic", "(GC roots)", self_size=0, id=3 + renumber)
    b.edge(0, roots, 1, "element")
    handlers: dict[str, int] = {}
    for position, (label, count) in enumerate(sorted(lists.items())):
        target = (heads or {}).get(label, f"on{label}")
        if target not in handlers:
            handlers[target] = b.add("closure", target, self_size=32, id=101 + 2 * len(handlers) + renumber)
            b.edge(roots, handlers[target], len(handlers), "element")
        array = b.add("object", "Array", self_size=16, id=1001 + 2 * position + renumber)
        first = (shift or {}).get(label, 0)
        for index in range(first, first + count):
            b.edge(array, handlers[target], index, "element")
    path = tmp_path / f"{name}.heapsnapshot"
    b.write(path)
    return heap.HeapGraph(heap.read_snapshot(path))


def three(tmp_path, counts: list[dict[str, int]], **kwargs) -> list[heap.HeapGraph]:
    return [bun_like(tmp_path, f"s{i}", lists, renumber=100_000 * i, **kwargs) for i, lists in enumerate(counts)]


def test_a_list_gaining_an_entry_per_call_is_found_again_by_its_head(tmp_path):
    graphs = three(tmp_path, [{"theme": 900, "bounded": 100}, {"theme": 1100, "bounded": 100},
                              {"theme": 1300, "bounded": 100}])
    found = grown_by_entries(graphs, min_round_entries=10)
    assert [(g.class_name, g.entries) for g in found] == [("Array", (900, 1100, 1300))]
    assert found[0].gained == 400
    assert graphs[2].snapshot.node_id[found[0].node] == found[0].node_id


@pytest.mark.parametrize(("gained_in_b", "found"), [(10, True), (9, False)])
def test_each_round_must_gain_at_least_the_pace(tmp_path, gained_in_b, found):
    # min_round_entries = 10 (a class's count pace on Bun: 0.05 per call over 200 calls).
    graphs = three(tmp_path, [{"theme": 200}, {"theme": 210}, {"theme": 210 + gained_in_b}])
    assert bool(grown_by_entries(graphs, min_round_entries=10)) is found


def test_rounds_must_gain_comparable_amounts(tmp_path):
    # A list filled mostly in one round (a cache warming up) is not appended to at the calls' pace.
    share = int(1000 * MIN_ROUND_SHARE)
    assert grown_by_entries(three(tmp_path, [{"a": 100}, {"a": 1100}, {"a": 1100 + share}]), min_round_entries=10)
    assert not grown_by_entries(three(tmp_path, [{"a": 100}, {"a": 1100}, {"a": 1099 + share}]),
                                min_round_entries=10)


def test_small_lists_are_not_followed(tmp_path):
    graphs = three(tmp_path, [{"a": MIN_ENTRIES - 40}, {"a": MIN_ENTRIES - 20}, {"a": MIN_ENTRIES}])
    assert not grown_by_entries(graphs, min_round_entries=10)
    graphs = three(tmp_path, [{"a": MIN_ENTRIES}, {"a": MIN_ENTRIES + 20}, {"a": MIN_ENTRIES + 40}])
    assert grown_by_entries(graphs, min_round_entries=10)


def test_a_head_two_lists_share_identifies_neither(tmp_path):
    shared = {"a": "onShared", "b": "onShared"}
    graphs = three(tmp_path, [{"a": 100, "b": 500}, {"a": 300, "b": 500}, {"a": 500, "b": 500}], heads=shared)
    assert entry_heads(graphs[0])[0].size == 0
    assert not grown_by_entries(graphs, min_round_entries=10)


def test_a_list_whose_head_moved_on_is_not_matched(tmp_path):
    # A queue that drops its oldest entries: its first slots are other slots in every snapshot.
    graphs = [bun_like(tmp_path, f"s{i}", {"q": 100 + 200 * i}, renumber=100_000 * i, shift={"q": HEAD_ENTRIES * i})
              for i in range(3)]
    assert grown_by_entries(graphs, min_round_entries=10) == []
    assert grown_by_entries(three(tmp_path, [{"q": 100}, {"q": 300}, {"q": 500}]), min_round_entries=10)


def test_three_snapshots_are_needed(tmp_path):
    with pytest.raises(ValueError, match="three snapshots"):
        grown_by_entries(three(tmp_path, [{"a": 100}, {"a": 300}, {"a": 500}])[:2], min_round_entries=10)

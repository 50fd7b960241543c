"""2- and 3-snapshot diffs on real runtime snapshots, checked against hand counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_jsleak import heap

from .conftest import LEAKS


def _hand_count(path, type_name, name):
    with open(path, encoding="utf-8") as handle:
        doc = json.load(handle)
    meta = doc["snapshot"]["meta"]
    width = len(meta["node_fields"])
    type_code = meta["node_types"][0].index(type_name)
    nodes = doc["nodes"]
    ids = [nodes[i + 2] for i in range(0, len(nodes), width)
           if nodes[i] == type_code and doc["strings"][nodes[i + 1]] == name]
    return set(ids)


def test_three_snapshot_diff_finds_the_leak(node_snapshots):
    s1, s2, s3 = node_snapshots
    final = heap.read_snapshot(s3)
    graph = heap.HeapGraph(final)
    diff = heap.three_snapshot_diff(heap.read_node_ids(s1), heap.read_node_ids(s2), graph)
    records = diff["RequestRecord"]
    assert records.survivors == LEAKS
    assert records.fresh == LEAKS
    assert records.survivor_bytes == int(final.node_self_size[records.survivor_nodes].sum())
    assert records.retained_bytes >= records.survivor_bytes
    closures = diff["onRequest()"]
    assert (closures.survivors, closures.fresh) == (LEAKS, LEAKS)
    # Exactly the ids a hand count finds: in S2, not in S1, still in S3.
    by_hand = (_hand_count(s2, "object", "RequestRecord") - _hand_count(s1, "object", "RequestRecord")) & _hand_count(
        s3, "object", "RequestRecord"
    )
    assert set(final.node_id[records.survivor_nodes].tolist()) == by_hand
    # The garbage objects ({i}) never survive; compiled code is not a candidate.
    assert "(compiled code)" not in [row.class_name for row in diff]
    path, node_id = heap.representative_path(graph, records.example_nodes)
    assert node_id in by_hand
    assert any(step.edge_name == "requestLog" for step in path.steps)


def test_ignore_classes(node_snapshots):
    s1, s2, s3 = node_snapshots
    diff = heap.three_snapshot_diff(heap.read_node_ids(s1), heap.read_node_ids(s2), heap.read_snapshot(s3),
                                    ignore_classes=["RequestRecord"])
    assert diff.get("RequestRecord") is None
    assert diff.get("onRequest()") is not None


def test_two_snapshot_comparison_matches_hand_count(node_snapshots):
    s1, s2, _ = node_snapshots
    rows = {row.class_name: row for row in heap.compare(heap.class_census(heap.read_snapshot(s1)),
                                                         heap.class_census(heap.read_snapshot(s2)))}
    before = _hand_count(s1, "object", "RequestRecord")
    after = _hand_count(s2, "object", "RequestRecord")
    row = rows["RequestRecord"]
    assert (row.count_before, row.count_after) == (len(before), len(after))
    assert row.new == len(after - before) == LEAKS
    assert row.deleted == len(before - after) == 0
    assert row.count_delta == LEAKS


def test_census_counts_and_sizes(node_final):
    census = heap.class_census(node_final)
    assert census.count("RequestRecord") == 3 * LEAKS
    assert census.count("no such class") == 0
    assert int(census.counts.sum()) == node_final.node_count
    assert int(census.sizes.sum()) == int(node_final.node_self_size.sum(dtype=np.int64))


@pytest.mark.bun
def test_bun_falls_back_to_per_class_counts(bun_snapshots):
    graphs = [heap.HeapGraph(heap.read_snapshot(path)) for path in bun_snapshots]
    census = [heap.class_census(g) for g in graphs]
    graph = graphs[2]
    diff = heap.three_snapshot_counts(*census, graph, graph2=graphs[1])
    assert diff.method == "counts" and "bun" in diff.notes[0]
    row = diff["RequestRecord"]
    assert (row.survivors, row.fresh) == (LEAKS, LEAKS)
    path, _ = heap.representative_path(graph, row.example_nodes)
    assert path is not None and any(step.edge_name == "requestLog" for step in path.steps)


def test_bytes_by_type_counts_the_engines_natives_apart_from_the_dom(tmp_path):
    from .snapshot_builder import SnapshotBuilder

    b = SnapshotBuilder()
    root = b.add("synthetic", "(GC roots)", self_size=0, id=1)
    for name, type_, size in [("HTMLDivElement", "native", 100), ("blink::ShapeResult", "native", 40),
                              ("system / SharedFunctionInfoWrapper", "native", 8), ("(compiled code)", "code", 300),
                              ("Object", "object", 24), ("Object", "object", 24)]:
        b.edge(root, b.add(type_, name, self_size=size), name)
    totals = heap.bytes_by_type(heap.read_snapshot(b.write(tmp_path / "s.heapsnapshot")))
    assert totals == {"native": 100, heap.NATIVE_INTERNALS: 48, "code": 300, "object": 48}

"""The streaming parser against json.load on real snapshots, and its layouts per runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_jsleak import heap
from pytest_jsleak.heap import scan
from pytest_jsleak.heap.classes import class_name

from .snapshot_builder import SnapshotBuilder


def _check_against_json(path) -> heap.HeapSnapshot:
    snap = heap.read_snapshot(path)
    with open(path, encoding="utf-8") as handle:
        doc = json.load(handle)
    meta = doc["snapshot"]["meta"]
    width = len(meta["node_fields"])
    nodes = np.asarray(doc["nodes"], dtype=np.int64).reshape(-1, width)
    for column, name in enumerate(meta["node_fields"]):
        assert np.array_equal(snap.node_columns[name], nodes[:, column]), name
    edges = np.asarray(doc["edges"], dtype=np.int64).reshape(-1, len(meta["edge_fields"]))
    assert np.array_equal(snap.edge_type, edges[:, 0])
    assert np.array_equal(snap.edge_name, edges[:, 1])
    assert np.array_equal(snap.edge_to, edges[:, 2] // width)
    assert len(snap.strings) == len(doc["strings"])
    assert [snap.strings[i] for i in range(len(doc["strings"]))] == doc["strings"]
    assert np.array_equal(heap.read_node_ids(path), np.sort(nodes[:, meta["node_fields"].index("id")]))
    locations = np.asarray(doc["locations"], dtype=np.int64).reshape(-1, len(meta["location_fields"]))
    if locations.size:
        expected = locations.copy()
        expected[:, 0] //= width
        assert np.array_equal(snap.locations, expected)
    return snap


def test_node_snapshot_matches_json(node_snapshots):
    snap = _check_against_json(node_snapshots[2])
    assert snap.runtime_guess == "v8" and snap.ids_comparable
    assert snap.meta.node_fields[5] == "trace_node_id"
    assert snap.locations.shape[0] > 1000


@pytest.mark.bun
def test_bun_snapshot_matches_json(bun_snapshots):
    snap = _check_against_json(bun_snapshots[2])
    # Bun renumbers objects in every snapshot and leaves `locations` empty.
    assert snap.runtime_guess == "bun" and not snap.ids_comparable
    assert snap.locations.size == 0


def test_small_chunks_give_the_same_arrays(node_snapshots, monkeypatch):
    whole = heap.read_snapshot(node_snapshots[0])
    monkeypatch.setattr(scan, "CHUNK_BYTES", 997)  # odd size: numbers and lines cut everywhere
    chunked = heap.read_snapshot(node_snapshots[0])
    for name in whole.meta.node_fields:
        assert np.array_equal(whole.node_columns[name], chunked.node_columns[name])
    assert np.array_equal(whole.edge_to, chunked.edge_to)


def test_parallel_edges_give_the_same_arrays(node_snapshots, monkeypatch):
    serial = heap.read_snapshot(node_snapshots[1], parallel=False)
    monkeypatch.setattr("pytest_jsleak.heap.snapshot.PARALLEL_BYTES", 0)
    monkeypatch.setattr(scan, "CHUNK_BYTES", 4099)
    threaded = heap.read_snapshot(node_snapshots[1])
    for name in serial.meta.node_fields:
        assert np.array_equal(serial.node_columns[name], threaded.node_columns[name])
    for name in serial.meta.edge_fields:
        assert np.array_equal(serial.edge_columns[name], threaded.edge_columns[name])


def test_deno_layout_without_trace_node_id(tmp_path):
    # Deno: no trace_node_id, and locations carry a script_object_index (research/runtimes.md §3).
    builder = SnapshotBuilder()
    obj = builder.add("object", "Thing", self_size=24)
    closure = builder.add("closure", "work", self_size=32)
    builder.edge(0, obj, "thing")
    builder.edge(obj, closure, "fn")
    doc = builder.document()
    meta = doc["snapshot"]["meta"]
    meta["node_fields"] = ["type", "name", "id", "self_size", "edge_count", "detachedness"]
    meta["node_types"] = [meta["node_types"][0], "string", "number", "number", "number", "number"]
    meta["location_fields"] = ["object_index", "script_id", "script_object_index", "line", "column"]
    nodes = np.asarray(doc["nodes"]).reshape(-1, 7)
    doc["nodes"] = np.delete(nodes, 5, axis=1).ravel().tolist()
    doc["edges"] = [value // 7 * 6 if position % 3 == 2 else value for position, value in enumerate(doc["edges"])]
    doc["locations"] = [closure * 6, 3, 0, 9, 4]
    path = tmp_path / "deno.heapsnapshot"
    path.write_text(json.dumps(doc))
    snap = heap.read_snapshot(path)
    assert "trace_node_id" not in snap.node_columns
    assert heap.HeapGraph(snap).node(closure).name == "work"
    assert snap.edge_to.tolist() == [obj, closure]
    assert snap.locations.tolist() == [[closure, 3, 0, 9, 4]]


def test_escaped_strings_and_big_numbers(tmp_path):
    builder = SnapshotBuilder()
    odd = builder.add("string", 'say "hi" \\ [not a bracket] ünïcødé \n', self_size=3_000_000_000)
    builder.edge(0, odd, "text")
    snap = heap.read_snapshot(builder.write(tmp_path / "s.heapsnapshot"))
    assert heap.HeapGraph(snap).node(odd).name == 'say "hi" \\ [not a bracket] ünïcødé \n'
    assert heap.HeapGraph(snap).node(odd).self_size == 3_000_000_000
    assert snap.node_self_size.dtype == np.int64  # widened on overflow, never wrapped


def test_compact_json_without_newlines(tmp_path):
    builder = SnapshotBuilder()
    a = builder.add("object", "A")
    builder.edge(0, a, "a")
    path = tmp_path / "compact.heapsnapshot"
    path.write_text(json.dumps(builder.document(), separators=(",", ":")))
    snap = heap.read_snapshot(path)
    assert class_name(heap.HeapGraph(snap), a) == "A"
    assert heap.read_node_ids(path).tolist() == [1, 3]

"""The processed-snapshot cache (`heap/index.py`, `heap/indexed.py`): a second `jsleak diff` of the same
files starts from the index and says the same; a stale, broken or foreign index is never trusted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from heap.snapshot_builder import SnapshotBuilder, module_array  # tests/ is on sys.path (rootdir-relative)
from pytest_jsleak import heap
from pytest_jsleak.cli import main
from pytest_jsleak.heap import index as index_module
from pytest_jsleak.heap import indexed
from pytest_jsleak.heap.dominators import dominator_tree, dominators
from pytest_jsleak.heap.growth import data_retained, keyed_sizes
from pytest_jsleak.heap.index import SnapshotIndex, index_path
from pytest_jsleak.heap.paths import shortest_paths


def step(records: int, grown: int) -> SnapshotBuilder:
    """A module scope holding `requestLog` (records that survive) and `latencies`, an array whose
    storage grows in place by `grown` bytes per step; ids stay the same across steps, as in V8."""
    builder, context, backing = module_array("requestLog", records)
    latencies = builder.add("object", "Array", self_size=32, id=11)
    storage = builder.add("array", "", self_size=grown, id=13 + 2 * grown)  # a new store each step
    builder.edge(context, latencies, "latencies", type="context")
    builder.edge(latencies, storage, "elements", type="internal")
    for n in range(records):
        record = builder.add("object", "RequestRecord", self_size=40, id=101 + 4 * n)
        text = builder.add("string", f"/api/orders/{n}", self_size=32, id=103 + 4 * n)
        builder.edge(backing, record, n, type="element")
        builder.edge(record, text, "url")
    return builder


@pytest.fixture
def snapshots(tmp_path: Path) -> list[Path]:
    return [step(n, grown).write(tmp_path / f"s{i}.heapsnapshot")
            for i, (n, grown) in enumerate(((2, 1000), (5, 2000), (8, 3000)), start=1)]


def diff(paths: list[Path], capsys: pytest.CaptureFixture[str], *more: str) -> dict:
    assert main(["diff", *map(str, paths), "--json", *more]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_second_diff_reads_the_index_and_says_the_same(snapshots, capsys, monkeypatch):
    first = diff(snapshots, capsys)
    assert all(os.path.exists(index_path(path)) for path in snapshots)
    assert first["grown_in_place"] and first["classes"]
    # The second run must not parse a snapshot: the index holds all it reads.
    def no_parse(*args, **kwargs):
        raise AssertionError("a snapshot was parsed although its index was valid")
    monkeypatch.setattr(indexed, "read_snapshot", no_parse)
    monkeypatch.setattr(indexed, "read_node_ids", no_parse)
    assert diff(snapshots, capsys) == first


def test_no_cache_neither_reads_nor_writes_an_index(snapshots, capsys):
    plain = diff(snapshots, capsys, "--no-cache")
    assert not any(os.path.exists(index_path(path)) for path in snapshots)
    assert diff(snapshots, capsys) == plain  # and the cached run agrees with it


def test_two_snapshots_from_the_index(snapshots, capsys, monkeypatch):
    first = diff(snapshots[:2], capsys)
    monkeypatch.setattr(indexed, "read_snapshot", lambda *a, **k: pytest.fail("parsed"))
    assert diff(snapshots[:2], capsys) == first


def test_a_snapshot_written_again_is_read_again(snapshots, capsys, tmp_path):
    diff(snapshots, capsys)
    # S3 replaced by another heap (more survivors), same name: its index is stale.
    replaced = step(11, 4000).write(tmp_path / "other.heapsnapshot")
    os.replace(replaced, snapshots[2])
    fresh = diff(snapshots, capsys, "--no-cache")
    assert diff(snapshots, capsys) == fresh
    rows = {row["class_name"]: row for row in fresh["classes"]}
    assert rows["RequestRecord"]["fresh"] == 6


def test_an_index_of_other_rules_or_another_file_state_is_not_trusted(snapshots, capsys, monkeypatch):
    diff(snapshots, capsys)
    path = snapshots[2]
    assert SnapshotIndex.load(path).has("dominators/idom")
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not SnapshotIndex.load(path).arrays  # touched: stale
    diff(snapshots, capsys)
    assert SnapshotIndex.load(path).has("dominators/idom")  # and written anew
    monkeypatch.setattr(index_module, "code_digest", lambda: "another heap core")
    assert not SnapshotIndex.load(path).arrays


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "foreign-json"])
def test_a_broken_index_is_ignored_and_replaced(snapshots, capsys, damage):
    first = diff(snapshots, capsys)
    target = Path(index_path(snapshots[2]))
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        target.write_bytes(b"JSLEAKIX" + os.urandom(64))
    elif damage == "empty":
        target.write_bytes(b"")
    else:
        target.write_text('{"not": "an index"}')
    assert diff(snapshots, capsys) == first
    assert SnapshotIndex.load(snapshots[2]).has("dominators/idom")


def test_a_folder_that_cannot_take_an_index_still_gets_its_diff(snapshots, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(index_module.tempfile, "mkstemp", refuse)
    first = diff(snapshots, capsys)
    assert not any(os.path.exists(index_path(path)) for path in snapshots)
    assert first["classes"]
    assert not [name for name in os.listdir(snapshots[0].parent) if name.startswith(".jsleak-index-")]


def test_the_indexed_graph_holds_the_same_analyses_as_a_fresh_one(snapshots):
    path = snapshots[2]
    fresh = heap.HeapGraph(heap.read_snapshot(path))
    for analysis in (shortest_paths, dominators, data_retained):
        analysis(fresh)
    keyed_sizes(fresh, True)
    assert indexed.save_graph(fresh)
    again = indexed.read_graph(path)
    assert again.snapshot.node_count == fresh.snapshot.node_count
    for name in ("id", "self_size", "edge_count", "name", "type"):
        np.testing.assert_array_equal(again.snapshot.node_columns[name], fresh.snapshot.node_columns[name])
    np.testing.assert_array_equal(again.snapshot.edge_to, fresh.snapshot.edge_to)
    assert [again.snapshot.strings[i] for i in range(len(again.snapshot.strings))] == [
        fresh.snapshot.strings[i] for i in range(len(fresh.snapshot.strings))]
    np.testing.assert_array_equal(dominators(again).idom, dominators(fresh).idom)
    np.testing.assert_array_equal(dominators(again).retained, dominators(fresh).retained)
    np.testing.assert_array_equal(shortest_paths(again).order, shortest_paths(fresh).order)
    np.testing.assert_array_equal(data_retained(again), data_retained(fresh))
    for part_again, part_fresh in zip(keyed_sizes(again, True), keyed_sizes(fresh, True), strict=True):
        np.testing.assert_array_equal(part_again, part_fresh)
    # What was loaded is what the memo serves, and the loaded arrays may be written (copy-on-write).
    assert again.memoized(dominator_tree) is not None
    dominators(again).retained[0] += 1
    assert SnapshotIndex.load(path).arrays["dominators/retained"][0] == dominators(fresh).retained[0]

"""The analysis on small generated snapshots: what counts as a new object of the program."""

from __future__ import annotations

from pathlib import Path

from heap.snapshot_builder import SnapshotBuilder

from pytest_jsleak import analysis, heap
from pytest_jsleak.profiles import NODE
from pytest_jsleak.verdict import is_leaking_class

# Four long-lived Maps (ids 101-107): the tables of two are replaced in round A, of the other two in
# round B (a rehash: the new table replaces the old one, which dies). And a module array `log` that a
# leak pushes two small arrays per round onto (each a new `Array` with its own elements).
MAPS = (101, 103, 105, 107)


def write(path: Path, tables: dict[int, int], leaked: list[int], log_storage: int) -> Path:
    b = SnapshotBuilder()
    roots = b.add("synthetic", "(GC roots)", self_size=0, id=3)
    b.edge(0, roots, 1, "element")
    scope = b.add("object", "system / Context", self_size=40, id=5)
    b.edge(roots, scope, 1, "element")
    for number, map_id in enumerate(MAPS):
        holder = b.add("object", "Map", self_size=32, id=map_id)
        b.edge(scope, holder, f"cache{number}", "context")
        b.edge(holder, b.add("array", "", self_size=1000, id=tables[map_id]), "table", "internal")
    log = b.add("object", "Array", self_size=32, id=51)
    b.edge(scope, log, "log", "context")
    storage = b.add("array", "(object elements)", self_size=16 + 8 * len(leaked), id=log_storage)
    b.edge(log, storage, "elements", "internal")
    for k, leak_id in enumerate(leaked):
        item = b.add("object", "Array", self_size=32, id=leak_id)
        b.edge(storage, item, k, "element")
        b.edge(item, b.add("array", "(object elements)", self_size=24, id=leak_id + 1000), "elements", "internal")
    return b.write(path)


def test_a_long_lived_objects_replaced_storage_is_not_a_new_object(tmp_path: Path) -> None:
    first = {101: 201, 103: 203, 105: 205, 107: 207}
    round_a = {**first, 101: 301, 103: 303}
    round_b = {**round_a, 105: 401, 107: 403}
    snapshots = [
        write(tmp_path / "s1.heapsnapshot", first, [], log_storage=61),
        write(tmp_path / "s2.heapsnapshot", round_a, [601, 603], log_storage=63),
        write(tmp_path / "s3.heapsnapshot", round_b, [601, 603, 701, 703], log_storage=65),
    ]
    graphs = [heap.HeapGraph(heap.read_snapshot(p)) for p in snapshots]
    raw = heap.three_snapshot_diff(graphs[0].snapshot.node_id, graphs[1].snapshot.node_id, graphs[2])
    # By ids alone the replaced tables look like two new (array)s a round that stay alive (beside the
    # leaked arrays' elements, and, in round B, log's own storage).
    assert (raw["(array)"].survivors, raw["(array)"].fresh) == (2 + 2, 2 + 2 + 1)
    evidence = analysis.analyse(snapshots, profile=NODE, round_calls=100)
    leaking = {g.class_name: (g.round_a, g.round_b) for g in evidence.classes
               if is_leaking_class(g, iterations=100, profile=NODE)}
    # The leaked arrays, with their own elements, still count; the tables and log's storage do not.
    assert leaking == {"Array": (2, 2), "(array)": (2, 2)}, leaking

"""Snapshots read through their processed-snapshot cache (`heap/index.py`): `jsleak diff`'s readers.

Each reader returns what a plain read and analysis would, from the snapshot's index when it holds
it, else from the file, adding what it computed to the index (`use_index=False`: the file, and no
index written). The final snapshot of a three-snapshot diff is stored whole, with the analyses that
took time (the BFS trees, the dominator tree, the class keys, the program's retained sizes:
`save_graph` after the diff); the first two are stored as what the diff reads of them (their sorted
ids, the keyed sizes of growth in place).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_jsleak.heap.classes import _all_class_keys
from pytest_jsleak.heap.dominators import DominatorTree, dominator_tree
from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.growth import KeyedSizes, _data_retained, keyed_by_ids, keyed_by_place
from pytest_jsleak.heap.index import SnapshotIndex
from pytest_jsleak.heap.meta import parse_meta
from pytest_jsleak.heap.parse import StringTable
from pytest_jsleak.heap.paths import ShortestPathTree, shortest_path_tree
from pytest_jsleak.heap.retainers import _path_tree
from pytest_jsleak.heap.snapshot import HeapSnapshot, read_node_ids, read_snapshot

Path = str | os.PathLike[str]
_TREE_FIELDS = ("parent", "order", "level_starts", "rank")
_OPTIONAL_TABLES = ("locations", "trace_function_infos", "samples")


def _open(path: Path, use_index: bool) -> SnapshotIndex | None:
    if not use_index:
        return None
    try:
        return SnapshotIndex.load(path)
    except OSError:
        return None  # a missing or unreadable snapshot: the plain reader says so, naming it


def read_ids(path: Path, *, use_index: bool = True) -> np.ndarray:
    """The snapshot's node ids, sorted, as uint32 (`snapshot.read_node_ids`)."""
    index = _open(path, use_index)
    if index is not None and index.has("ids"):
        return index.arrays["ids"]
    ids = read_node_ids(path, dtype=np.uint32)
    if index is not None:
        index.put({"ids": ids})
        index.save()
    return ids


def read_keyed_sizes(path: Path, stable_ids: bool, *, use_index: bool = True) -> KeyedSizes:
    """`growth.keyed_sizes` of the snapshot (a whole read and analysis when the index lacks them).

    Only they (and the ids) are added to the index, not the snapshot: the diff reads no more of S1
    and S2."""
    name = "keyed-by-ids" if stable_ids else "keyed-by-place"
    compute, parts, build = _ANALYSES[name]
    index = _open(path, use_index)
    if index is not None:
        found = build(*_entries(index, name), None)
        if found is not None:
            return found
    graph = _graph_of(index, path)
    keyed: KeyedSizes = graph.memo(compute)
    if index is not None:
        arrays, values = parts(keyed)
        index.put(_named(name, arrays), _named(name, values))
        if "ids" not in index.arrays:
            index.put({"ids": np.sort(graph.snapshot.node_id)})
        index.save()
    return keyed


def read_graph(path: Path, *, use_index: bool = True) -> HeapGraph:
    """The snapshot as a graph, its costly analyses already in its memo when the index holds them."""
    return _graph_of(_open(path, use_index), path)


def _graph_of(index: SnapshotIndex | None, path: Path) -> HeapGraph:
    """The graph from the index already opened (`index`), else from the file."""
    graph = _graph_from(index) if index is not None else None
    return graph if graph is not None else HeapGraph(read_snapshot(path))


def save_graph(graph: HeapGraph, *, use_index: bool = True) -> bool:
    """Add the snapshot and the analyses built on `graph` so far to its index; False if not written."""
    if not use_index:
        return False
    index = _open(graph.snapshot.path, use_index)
    if index is None:
        return False
    arrays, values = _snapshot_entries(graph.snapshot)
    paths = graph.memoized(shortest_path_tree)
    for name, (compute, parts, _) in _ANALYSES.items():
        built = graph.memoized(compute)
        if built is None:
            continue
        if compute is _path_tree and built is paths:
            values[f"{name}/same-as-paths"] = True  # no harness in the snapshot: one tree, stored once
            continue
        more_arrays, more_values = parts(built)
        arrays.update(_named(name, more_arrays))
        values.update(_named(name, more_values))
    if "ids" not in index.arrays:
        arrays["ids"] = np.sort(graph.snapshot.node_id)
    index.put(arrays, values)
    return index.save()


# --- the snapshot --------------------------------------------------------------------------------


def _snapshot_entries(snap: HeapSnapshot) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays = {f"node/{name}": column for name, column in snap.node_columns.items()}
    arrays.update({f"edge/{name}": column for name, column in snap.edge_columns.items()})
    strings = snap.strings
    arrays["strings/blob"] = np.frombuffer(strings.blob, np.uint8)
    arrays["strings/starts"] = strings.starts
    arrays["strings/ends"] = strings.ends
    for name in _OPTIONAL_TABLES:
        table = getattr(snap, name)
        if table is not None:
            arrays[f"table/{name}"] = table
    values: dict[str, Any] = {"meta": snap.meta.raw, "trace_tree": snap.trace_tree}
    return arrays, values


def _snapshot_from(index: SnapshotIndex) -> HeapSnapshot | None:
    if not index.has("meta", "strings/blob", "strings/starts", "strings/ends"):
        return None
    meta = parse_meta(index.values["meta"], index.snapshot)
    arrays = index.arrays
    try:
        nodes = {name: arrays[f"node/{name}"] for name in meta.node_fields}
        edges = {name: arrays[f"edge/{name}"] for name in meta.edge_fields}
    except KeyError:
        return None
    if any(column.shape != (meta.node_count,) for column in nodes.values()) or any(
        column.shape != (meta.edge_count,) for column in edges.values()
    ):
        return None
    strings = StringTable(arrays["strings/blob"].tobytes(), arrays["strings/starts"], arrays["strings/ends"],
                          index.snapshot)
    tables = {name: arrays.get(f"table/{name}") for name in _OPTIONAL_TABLES}
    return HeapSnapshot(index.snapshot, meta, nodes, edges, strings, locations=tables["locations"],
                        trace_function_infos=tables["trace_function_infos"], trace_tree=index.values.get("trace_tree"),
                        samples=tables["samples"])


def _graph_from(index: SnapshotIndex) -> HeapGraph | None:
    snap = _snapshot_from(index)
    if snap is None:
        return None
    graph = HeapGraph(snap)
    for name, (compute, _, build) in _ANALYSES.items():
        arrays, values = _entries(index, name)
        if values.get("same-as-paths"):
            paths = graph.memoized(shortest_path_tree)
            if paths is not None:
                graph.prime(compute, paths)
        elif arrays or values:
            built = build(arrays, values, graph)
            if built is not None:
                graph.prime(compute, built)
    return graph


def _entries(index: SnapshotIndex, name: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and values of one analysis in the index, by their own names."""
    prefix = name + "/"
    arrays = {key[len(prefix):]: value for key, value in index.arrays.items() if key.startswith(prefix)}
    values = {key[len(prefix):]: value for key, value in index.values.items() if key.startswith(prefix)}
    return arrays, values


def _named(name: str, entries: dict[str, Any]) -> dict[str, Any]:
    return {f"{name}/{key}": value for key, value in entries.items()}


# --- the analyses kept: (what builds it, its parts, what rebuilds it from them) ----------------------


def _tree_parts(tree: ShortestPathTree) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return {field: getattr(tree, field) for field in _TREE_FIELDS}, {}


def _tree_of(arrays: dict[str, np.ndarray], values: dict[str, Any], graph: HeapGraph) -> ShortestPathTree | None:
    if not all(field in arrays for field in _TREE_FIELDS):
        return None
    if arrays["parent"].shape != (graph.node_count,) or arrays["rank"].shape != (graph.node_count,):
        return None
    return ShortestPathTree(**{field: arrays[field] for field in _TREE_FIELDS})


def _dominator_parts(tree: DominatorTree) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return {"idom": tree.idom, "retained": tree.retained}, {"rounds": tree.rounds}


def _dominators_of(arrays: dict[str, np.ndarray], values: dict[str, Any], graph: HeapGraph) -> DominatorTree | None:
    if "idom" not in arrays or "retained" not in arrays or arrays["idom"].shape != (graph.node_count,):
        return None
    return DominatorTree(idom=arrays["idom"], retained=arrays["retained"], rounds=int(values.get("rounds", 0)))


def _class_parts(built: tuple[np.ndarray, tuple[str, ...]]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return {"codes": built[0]}, {"names": list(built[1])}


def _classes_of(arrays: dict[str, np.ndarray], values: dict[str, Any],
                graph: HeapGraph) -> tuple[np.ndarray, tuple[str, ...]] | None:
    if "codes" not in arrays or "names" not in values or arrays["codes"].shape != (graph.node_count,):
        return None
    return arrays["codes"], tuple(values["names"])


def _keyed_parts(keyed: KeyedSizes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return {"keys": keyed[0], "nodes": keyed[1], "retained": keyed[2]}, {}


def _keyed_of(arrays: dict[str, np.ndarray], values: dict[str, Any], graph: HeapGraph | None) -> KeyedSizes | None:
    if not all(part in arrays for part in ("keys", "nodes", "retained")):
        return None
    keys, nodes, retained = arrays["keys"], arrays["nodes"], arrays["retained"]
    if keys.shape != nodes.shape or (graph is not None and retained.shape != (graph.node_count,)):
        return None
    if nodes.size and (int(nodes.max()) >= retained.size or int(nodes.min()) < 0):
        return None
    return keys, nodes, retained


def _sizes_parts(sizes: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    return {"sizes": sizes}, {}


def _sizes_of(arrays: dict[str, np.ndarray], values: dict[str, Any], graph: HeapGraph) -> np.ndarray | None:
    sizes = arrays.get("sizes")
    return sizes if sizes is not None and sizes.shape == (graph.node_count,) else None


#: The analyses an index keeps, by entry name. The private builders are the ones `HeapGraph.memo` is
#: keyed by: priming the memo with them makes `shortest_paths(graph)` and the others find the stored value.
_ANALYSES: dict[str, tuple[Callable[[HeapGraph], Any], Callable[[Any], tuple[dict[str, np.ndarray], dict[str, Any]]],
                           Callable[[dict[str, np.ndarray], dict[str, Any], Any], Any]]] = {
    "paths": (shortest_path_tree, _tree_parts, _tree_of),
    "retainer-paths": (_path_tree, _tree_parts, _tree_of),
    "dominators": (dominator_tree, _dominator_parts, _dominators_of),
    "classes": (_all_class_keys, _class_parts, _classes_of),
    "data-retained": (_data_retained, _sizes_parts, _sizes_of),
    "keyed-by-ids": (keyed_by_ids, _keyed_parts, _keyed_of),
    "keyed-by-place": (keyed_by_place, _keyed_parts, _keyed_of),
}


__all__ = ["read_graph", "read_ids", "read_keyed_sizes", "save_graph"]

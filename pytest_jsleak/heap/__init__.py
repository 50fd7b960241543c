"""The embedded heap-snapshot core: parse, graph, diff, retainer paths, dominators (numpy, no pytest).

    snap = read_snapshot(path)                  # HeapSnapshot: flat arrays, strings, meta, locations
    ids = read_node_ids(path)                   # sorted int64 ids only (baseline/target of a diff)
    graph = HeapGraph(snap)                     # CSR, node(i)/edge(i) views, retainers, the analyses' memo
    census = class_census(snap)                 # per DevTools class key: count, self size (or of a graph)
    rows = compare(census_a, census_b)          # 2-snapshot Comparison rows
    diff = three_snapshot_diff(ids1, ids2, graph)   # leak candidates per class
    path = retainer_path(graph, node_index)     # model.RetainerPath from the GC roots, or None
    sizes = retained_sizes(graph)               # int64 retained size per node
    stats = redact_snapshot(path, out)          # a copy without the text of string values (DESIGN §16)

The analyses behind them are functions of the graph, each built once per graph (`HeapGraph.memo`):
`paths.shortest_paths(graph)`, `dominators.dominators(graph)`, `classes.class_keys(graph)`,
`retainers.path_tree(graph)`; what is not the program's is in `exclusions`.
"""

from __future__ import annotations

from pytest_jsleak.heap.classes import instances_of, key_for
from pytest_jsleak.heap.diff import (
    Candidates,
    ClassCensus,
    ClassComparison,
    LeakCandidates,
    ThreeSnapshotDiff,
    class_census,
    compare,
    group_candidates,
    leak_candidates,
    three_snapshot_counts,
    three_snapshot_diff,
)
from pytest_jsleak.heap.dominators import DominatorTree, retained_sizes
from pytest_jsleak.heap.exclusions import NOISE_NODE_TYPES
from pytest_jsleak.heap.graph import EdgeView, HeapGraph, NodeView
from pytest_jsleak.heap.meta import SnapshotMeta
from pytest_jsleak.heap.paths import ShortestPathTree
from pytest_jsleak.heap.redact import RedactionStats, redact_snapshot
from pytest_jsleak.heap.retainers import representative_path, retainer_path
from pytest_jsleak.heap.snapshot import HeapSnapshot, read_node_ids, read_snapshot
from pytest_jsleak.heap.storage import NATIVE_INTERNALS, bytes_by_type, engine_natives

__all__ = [
    "NATIVE_INTERNALS",
    "NOISE_NODE_TYPES",
    "Candidates",
    "ClassCensus",
    "ClassComparison",
    "DominatorTree",
    "EdgeView",
    "HeapGraph",
    "HeapSnapshot",
    "LeakCandidates",
    "NodeView",
    "RedactionStats",
    "ShortestPathTree",
    "SnapshotMeta",
    "ThreeSnapshotDiff",
    "bytes_by_type",
    "class_census",
    "compare",
    "engine_natives",
    "group_candidates",
    "instances_of",
    "key_for",
    "leak_candidates",
    "read_node_ids",
    "read_snapshot",
    "redact_snapshot",
    "representative_path",
    "retained_sizes",
    "retainer_path",
    "three_snapshot_counts",
    "three_snapshot_diff",
]

"""The embedded heap-snapshot core: parse, graph, diff, retainer paths, dominators (numpy, no pytest)."""

from __future__ import annotations

from pytest_jsleak.heap.dominators import DominatorTree, retained_sizes
from pytest_jsleak.heap.graph import EdgeView, HeapGraph, NodeView
from pytest_jsleak.heap.meta import SnapshotMeta
from pytest_jsleak.heap.paths import retainer_path
from pytest_jsleak.heap.snapshot import HeapSnapshot, read_node_ids, read_snapshot

__all__ = [
    "DominatorTree",
    "EdgeView",
    "HeapGraph",
    "HeapSnapshot",
    "NodeView",
    "SnapshotMeta",
    "read_node_ids",
    "read_snapshot",
    "retained_sizes",
    "retainer_path",
]

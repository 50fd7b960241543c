"""The snapshot as a graph: CSR edge index, node/edge views, retainers, and the memo of its analyses.

`HeapGraph` is data, as memlab's `heap-data/` is: it imports no algorithm. The analyses built over
it (the BFS trees in paths.py and retainers.py, the dominators, the class keys in classes.py, the
masks in exclusions.py) keep their results in `HeapGraph.memo`, so each is built once per graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TypeVar, cast

import numpy as np

from pytest_jsleak.heap.snapshot import HeapSnapshot

T = TypeVar("T")


class HeapGraph:
    """CSR view of a snapshot: node i's edges are edge rows first_edge[i] .. first_edge[i+1]."""

    def __init__(self, snapshot: HeapSnapshot) -> None:
        self.snapshot = snapshot
        counts = snapshot.node_edge_count
        index_type = np.int32 if snapshot.edge_count < (1 << 31) else np.int64
        first = np.zeros(snapshot.node_count + 1, index_type)
        np.cumsum(counts, out=first[1:], dtype=index_type)
        self.first_edge = first
        self.node_count = snapshot.node_count
        self.edge_count = snapshot.edge_count
        self._memo: dict[Callable[[HeapGraph], object], object] = {}

    def memo(self, compute: Callable[[HeapGraph], T]) -> T:
        """`compute(self)`, built on first use and kept with the graph.

        The one cache of the analyses over this graph, keyed by the function that builds each, so
        every cached analysis is a call that names it: `graph.memo(dominator_tree)`.
        """
        if compute not in self._memo:
            self._memo[compute] = compute(self)
        return cast(T, self._memo[compute])

    def memoized(self, compute: Callable[[HeapGraph], T]) -> T | None:
        """What `memo(compute)` holds, or None when it has not been built."""
        return cast("T | None", self._memo.get(compute))

    def prime(self, compute: Callable[[HeapGraph], T], value: T) -> None:
        """Give `memo(compute)` a value built before, from the same snapshot (heap/index.py)."""
        self._memo.setdefault(compute, value)

    # --- views ---------------------------------------------------------------------------------

    def node(self, index: int) -> NodeView:
        index = int(index)
        if not 0 <= index < self.node_count:
            raise IndexError(f"node index {index} out of range")
        return NodeView(self, index)

    def edge(self, index: int) -> EdgeView:
        return EdgeView(self, int(index))

    def __len__(self) -> int:
        return self.node_count

    def find_by_id(self, node_id: int) -> int | None:
        """The node index of snapshot id `node_id`, or None."""
        found = np.flatnonzero(self.snapshot.node_id == node_id)
        return int(found[0]) if found.size else None

    # --- reverse edges -------------------------------------------------------------------------

    @cached_property
    def edge_from(self) -> np.ndarray:
        """The source node index of every edge (int32)."""
        index_type = np.int32 if self.node_count < (1 << 31) else np.int64
        return np.repeat(np.arange(self.node_count, dtype=index_type), self.snapshot.node_edge_count)

    def edge_blocks(self, nodes_per_block: int = 1 << 18) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (first edge index, source node of each edge) for consecutive runs of edges."""
        counts = self.snapshot.node_edge_count
        index_type = np.int32 if self.node_count < (1 << 31) else np.int64
        for start in range(0, self.node_count, nodes_per_block):
            end = min(start + nodes_per_block, self.node_count)
            sources = np.repeat(np.arange(start, end, dtype=index_type), counts[start:end])
            yield int(self.first_edge[start]), sources

    @cached_property
    def _retainer_index(self) -> tuple[np.ndarray, np.ndarray]:
        to = self.snapshot.edge_to
        order = np.argsort(to, kind="stable").astype(self.first_edge.dtype, copy=False)
        first = np.zeros(self.node_count + 1, self.first_edge.dtype)
        np.cumsum(np.bincount(to, minlength=self.node_count), out=first[1:])
        return first, order

    def retainer_edges(self, index: int) -> np.ndarray:
        """Edge indices that point at node `index` (built on first use: one argsort of all edges)."""
        first, order = self._retainer_index
        return order[first[index] : first[index + 1]]


class NodeView:
    """One node, read from the arrays on demand."""

    __slots__ = ("graph", "index")

    def __init__(self, graph: HeapGraph, index: int) -> None:
        self.graph = graph
        self.index = index

    @property
    def _snap(self) -> HeapSnapshot:
        return self.graph.snapshot

    @property
    def type(self) -> str:
        return self._snap.type_name(self._snap.node_type[self.index])

    @property
    def name(self) -> str:
        return self._snap.strings[self._snap.node_name[self.index]]

    @property
    def id(self) -> int:
        return int(self._snap.node_id[self.index])

    @property
    def self_size(self) -> int:
        return int(self._snap.node_self_size[self.index])

    @property
    def edge_count(self) -> int:
        return int(self._snap.node_edge_count[self.index])

    @property
    def edges(self) -> list[EdgeView]:
        first = self.graph.first_edge
        return [EdgeView(self.graph, e) for e in range(int(first[self.index]), int(first[self.index + 1]))]

    @property
    def retainers(self) -> list[EdgeView]:
        """Edges pointing at this node (their `.source` is the retaining node)."""
        return [EdgeView(self.graph, int(e)) for e in self.graph.retainer_edges(self.index)]

    def __iter__(self) -> Iterator[EdgeView]:
        return iter(self.edges)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NodeView) and other.graph is self.graph and other.index == self.index

    def __hash__(self) -> int:
        return hash((id(self.graph), self.index))

    def __repr__(self) -> str:
        return f"<node {self.index} {self.type} {self.name[:40]!r} @{self.id}>"


class EdgeView:
    """One edge, read from the arrays on demand."""

    __slots__ = ("graph", "index")

    def __init__(self, graph: HeapGraph, index: int) -> None:
        self.graph = graph
        self.index = index

    @property
    def type(self) -> str:
        snap = self.graph.snapshot
        return snap.edge_type_name(snap.edge_type[self.index])

    @property
    def name(self) -> str | int:
        """The property/variable name, or the element index (int) for element/hidden edges."""
        snap = self.graph.snapshot
        raw = int(snap.edge_name[self.index])
        if self.type in ("element", "hidden"):
            return raw
        return snap.strings[raw]

    @property
    def target_index(self) -> int:
        return int(self.graph.snapshot.edge_to[self.index])

    @property
    def target(self) -> NodeView:
        return NodeView(self.graph, self.target_index)

    @property
    def source_index(self) -> int:
        # The index in `first_edge`'s own dtype: a Python int made numpy cast the whole int32 array to
        # int64 on every call (320 us on a 700k-node page, 1.3 us so), and a path step can have 150k
        # retainers to look through (a Chart.js page's analysis took 58 s instead of 8).
        first = self.graph.first_edge
        return int(np.searchsorted(first, first.dtype.type(self.index), side="right")) - 1

    @property
    def source(self) -> NodeView:
        return NodeView(self.graph, self.source_index)

    def __repr__(self) -> str:
        return f"<edge {self.type} {self.name!r} -> {self.target_index}>"

"""The snapshot as a graph: CSR edge index, node/edge views, retainers, DevTools class keys."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pytest_jsleak.heap.dominators import DominatorTree
    from pytest_jsleak.heap.paths import ShortestPathTree
    from pytest_jsleak.heap.snapshot import HeapSnapshot

# Node types whose class key is a fixed bracketed name, as in DevTools' Summary view
# (HeapSnapshot.ts, JSHeapSnapshotNode.className: `(type)` for everything but objects and
# natives; `code` is shown as `(compiled code)`). The string types are merged into `(string)`.
_TYPE_KEYS = {
    "array": "(array)",
    "string": "(string)",
    "concatenated string": "(string)",
    "sliced string": "(string)",
    "code": "(compiled code)",
    "number": "(number)",
    "regexp": "(regexp)",
    "symbol": "(symbol)",
    "bigint": "(bigint)",
    "object shape": "(object shape)",
}
# Types keyed by their name: objects by constructor name, natives (`Node / ...`), synthetic roots.
_NAMED_TYPES = ("object", "native", "synthetic", "wasm object")


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

    @cached_property
    def shortest_paths(self) -> ShortestPathTree:
        """The BFS from the GC roots (built on first use; see paths.py)."""
        from pytest_jsleak.heap.paths import shortest_path_tree

        return shortest_path_tree(self)

    @cached_property
    def path_tree(self) -> ShortestPathTree:
        """The BFS that retainer paths follow: `shortest_paths`, but never through the harness.

        The harness's scopes (its table of the target's exports, its running frames) are reached
        but not gone through, so a path to the target's objects starts at the target's module
        (research: V8 otherwise reaches the module scope first through the harness's Map).
        """
        from pytest_jsleak.heap.paths import harness_scopes, shortest_path_tree

        closed = harness_scopes(self)
        if not closed.size:
            return self.shortest_paths
        return shortest_path_tree(self, closed)

    @cached_property
    def dominators(self) -> DominatorTree:
        """Immediate dominators and retained sizes (built on first use; see dominators.py)."""
        from pytest_jsleak.heap.dominators import dominator_tree

        return dominator_tree(self)

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

    # --- class keys ----------------------------------------------------------------------------

    def class_keys(self, nodes: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
        """Class key per node as DevTools groups them: (codes into names, names).

        Objects and natives by name (constructor name, `Node / ...`, `system / Context`),
        closures by function name with `()` (anonymous: `(closure)`), hidden nodes by their
        `system / ...` name (else `(system)`), and bracketed names per type (`(string)`,
        `(array)`, `(compiled code)` ...). `nodes` limits the work to some node indices.
        """
        snap = self.snapshot
        if nodes is not None and self._dom_labels[0].size:
            # DOM labels are computed for the whole snapshot at once (the state spreads along edges).
            keys, names = self.class_keys()
            return keys[nodes], names
        if nodes is None:
            cached = self.__dict__.get("_all_class_keys")
            if cached is not None:
                return cached[0], list(cached[1])
            types = snap.node_type
            names = snap.node_name
        else:
            types = snap.node_type[nodes]
            names = snap.node_name[nodes]
        meta = snap.meta
        type_count = len(meta.node_types)
        string_count = len(snap.strings)
        # One integer per key candidate: per-type keys are [0, type_count); named keys are
        # type_count + type * string_count + name, so equal names of different types stay apart
        # until their text is decoded below.
        named = np.zeros(type_count, np.bool_)
        for position, type_name in enumerate(meta.node_types):
            if type_name in _NAMED_TYPES or type_name in ("closure", "hidden"):
                named[position] = True
        is_named = named[types]
        codes = types.astype(np.int64)
        codes[is_named] = type_count + codes[is_named] * string_count + names[is_named]
        unique, inverse = np.unique(codes, return_inverse=True)
        labels = [self._key_label(int(code), type_count, string_count) for code in unique]
        # Merge labels that decode to the same text (e.g. `(string)` for three string types).
        merged: dict[str, int] = {}
        remap = np.empty(len(labels), np.int32)
        for position, label in enumerate(labels):
            remap[position] = merged.setdefault(label, len(merged))
        keys = remap[inverse.reshape(-1)]
        dom_nodes, dom_codes, dom_names = self._dom_labels
        if nodes is None and dom_nodes.size:
            dom_remap = np.array([merged.setdefault(label, len(merged)) for label in dom_names], np.int32)
            keys = keys.astype(np.int32, copy=True)
            keys[dom_nodes] = dom_remap[dom_codes]
        if nodes is None:
            # Kept: the census, `instances_of` and the Bun path all ask for every node's key.
            self.__dict__["_all_class_keys"] = (keys, tuple(merged))
        return keys, list(merged)

    def _key_label(self, code: int, type_count: int, string_count: int) -> str:
        node_types = self.snapshot.meta.node_types
        if code < type_count:
            type_name = node_types[code]
            return _TYPE_KEYS.get(type_name, f"({type_name})")
        type_code, name = divmod(code - type_count, string_count)
        return key_for(node_types[type_code], self.snapshot.strings[name])

    @cached_property
    def _dom_labels(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """DOM element and `Detached ...` class keys of Chromium snapshots (see heap/dom.py)."""
        from pytest_jsleak.heap.dom import dom_class_labels

        return dom_class_labels(self)

    def class_name(self, index: int) -> str:
        snap = self.snapshot
        dom_nodes = self._dom_labels[0]
        if dom_nodes.size:
            position = int(np.searchsorted(dom_nodes, index))
            if position < dom_nodes.size and dom_nodes[position] == index:
                return self._dom_labels[2][int(self._dom_labels[1][position])]
        return key_for(snap.type_name(snap.node_type[index]), snap.strings[snap.node_name[index]])


def key_for(type_name: str, name: str) -> str:
    """The DevTools-style class key of one node from its type and name."""
    if type_name in _NAMED_TYPES:
        return name or f"({type_name})"
    if type_name == "closure":
        return f"{name}()" if name else "(closure)"
    if type_name == "hidden":
        return name if name.startswith("system / ") else "(system)"
    return _TYPE_KEYS.get(type_name, f"({type_name})")


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
    def class_name(self) -> str:
        return self.graph.class_name(self.index)

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
        first = self.graph.first_edge
        return int(np.searchsorted(first, self.index, side="right")) - 1

    @property
    def source(self) -> NodeView:
        return NodeView(self.graph, self.source_index)

    def __repr__(self) -> str:
        return f"<edge {self.type} {self.name!r} -> {self.target_index}>"

"""Shortest retainer paths from the GC roots: one breadth-first search, then parent walks.

The search is level-synchronous and vectorised (each level's edges are gathered with one
`np.repeat`), so it costs a few numpy passes per BFS level, not a Python step per node. The same
search gives the BFS order and levels that `dominators.py` relies on.

Edges the search does not follow, because they do not keep their target alive or make paths
that explain nothing:

- `weak` edges (DevTools and memlab skip them for distances and retainer paths);
- `shortcut` edges except from the snapshot's root (DevTools' `isEssentialEdge`: from the root
  they lead to the global objects, which gives the short `global → requestLog → ...` paths);
- memlab's blocklist (research/peers.md §3): `feedback_cell` edges, edges into
  `system / PropertyCell` nodes, and the ephemeron edges (`part of key ... -> value ...`) that
  V8 emits for WeakMap entries, which hold the value only while the key lives;
- the edges out of the string tables' roots (`(Internalized strings)`, `(External strings)`):
  V8 clears dead entries from them at every GC, so they never keep a string alive, but it writes
  them as `internal`, and a string that a program's object holds would read
  `(GC roots) → (Internalized strings) → "…"`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from pytest_jsleak.heap.graph import HeapGraph

ROOT = 0
"""V8 writes the synthetic root as node 0."""
WEAK_TABLE_ROOTS = ("(Internalized strings)", "(External strings)")
"""Synthetic roots whose edges are weak in fact (the string tables), though typed `internal`."""
BFS_BLOCK = 1 << 21
"""Edges handled per step of the breadth-first search."""


@dataclass(frozen=True, slots=True)
class ShortestPathTree:
    """The BFS from the root over the followed edges."""

    parent: np.ndarray
    """Parent node index on a shortest path (-1 for the root and unreachable nodes)."""
    order: np.ndarray
    """Reachable node indices in BFS order (root first)."""
    level_starts: np.ndarray
    """order[level_starts[d]:level_starts[d+1]] are the nodes at distance d."""
    rank: np.ndarray
    """Position of each node in `order` (-1 when unreachable)."""

    @property
    def levels(self) -> int:
        return int(self.level_starts.size - 1)

    def reachable(self, node: int) -> bool:
        return bool(self.rank[node] >= 0)


def blocked_edge_names(graph: HeapGraph) -> np.ndarray:
    """String indices of edge names the search skips (see the module docstring)."""
    strings = graph.snapshot.strings
    blocked = list(strings.indices_of("feedback_cell"))
    blob = strings.blob
    at = blob.find(b'"part of key ')
    while at >= 0:
        index = int(np.searchsorted(strings.starts, at + 1))
        if index < len(strings) and strings.starts[index] == at + 1:
            blocked.append(index)
        at = blob.find(b'"part of key ', at + 1)
    return np.unique(np.asarray(blocked, dtype=np.int64))


class EdgeFilter:
    """`follow(edges, sources, targets=None) -> mask` of the edges to follow (see
    `followed_edge_filter`), and `follow.one(edge, target)` for one edge not from the root."""

    def __init__(self, graph: HeapGraph) -> None:
        snap = graph.snapshot
        meta = snap.meta
        self.edge_type = snap.edge_type
        self.edge_name = snap.edge_name
        self.edge_to = snap.edge_to
        self.node_name = snap.node_name
        self.weak = meta.edge_type_code("weak")
        self.shortcut = meta.edge_type_code("shortcut")
        self.internal = meta.edge_type_code("internal")
        self.blocked = blocked_edge_names(graph)
        self.property_cells = np.asarray(snap.strings.indices_of("system / PropertyCell"), dtype=np.int64)
        # The string tables' edges as ranges of edge indices (a node's edges are contiguous).
        synthetic = meta.node_type_code("synthetic")
        self.weak_tables = [
            (int(graph.first_edge[node]), int(graph.first_edge[node + 1]))
            for name in WEAK_TABLE_ROOTS for index in snap.strings.indices_of(name)
            for node in np.flatnonzero((self.node_name == index) & (snap.node_type == synthetic)).tolist()
        ]
        self._blocked_set = frozenset(self.blocked.tolist()) if self.internal >= 0 else frozenset()
        self._cells_set = frozenset(self.property_cells.tolist())

    def __call__(self, edges: np.ndarray, sources: np.ndarray | bool, targets: np.ndarray | None = None) -> np.ndarray:
        """`sources`: the source node per edge, or a bool for all of them: "is the root";
        `targets`: edge_to[edges] when the caller has it already."""
        types = self.edge_type[edges]
        keep = types != self.weak
        for start, stop in self.weak_tables:
            keep &= (edges < start) | (edges >= stop)
        shortcut = self.shortcut
        if shortcut >= 0:
            if sources is True:
                pass
            elif sources is False:
                keep &= types != shortcut
            else:
                keep &= (types != shortcut) | (sources == ROOT)
        blocked = self.blocked
        if blocked.size and self.internal >= 0:
            is_internal = types == self.internal
            if is_internal.any():
                names = self.edge_name[edges]
                if blocked.size <= 4:
                    for name in blocked.tolist():
                        keep &= ~(is_internal & (names == name))
                else:
                    keep &= ~(is_internal & np.isin(names, blocked))
        if self.property_cells.size:
            target_names = self.node_name[self.edge_to[edges] if targets is None else targets]
            for name in self.property_cells.tolist():
                keep &= target_names != name
        return keep

    def one(self, edge: int, target: int) -> bool:
        """The same test for one edge whose source is not the root (the BFS's thin levels)."""
        kind = int(self.edge_type[edge])
        if kind == self.weak or kind == self.shortcut:
            return False
        for start, stop in self.weak_tables:
            if start <= edge < stop:
                return False
        if self._blocked_set and kind == self.internal and int(self.edge_name[edge]) in self._blocked_set:
            return False
        return not (self._cells_set and int(self.node_name[target]) in self._cells_set)


def followed_edge_filter(graph: HeapGraph) -> EdgeFilter:
    """A function (edge indices, their source nodes) -> bool mask of the edges to follow.

    Made once per graph (finding the blocked names scans the strings).
    """
    return graph.memo(EdgeFilter)


def shortest_paths(graph: HeapGraph) -> ShortestPathTree:
    """The BFS from the GC roots over the followed edges (built once per graph)."""
    return graph.memo(shortest_path_tree)


def shortest_path_tree(graph: HeapGraph, closed: np.ndarray | None = None) -> ShortestPathTree:
    """BFS from the root (node 0) over the followed edges; the first edge found wins, as in DevTools.

    `closed`: node indices that are reached but not gone through (the harness's scopes, for paths
    that read like the user's code).
    """
    snap = graph.snapshot
    count = graph.node_count
    index_type = np.int32 if count < (1 << 31) else np.int64
    parent = np.full(count, -1, index_type)
    rank = np.full(count, -1, index_type)
    if count == 0:
        empty = np.zeros(0, index_type)
        return ShortestPathTree(parent, empty, np.zeros(1, np.int64), rank)
    follow = followed_edge_filter(graph)
    first = graph.first_edge
    edge_counts = snap.node_edge_count
    edge_to = snap.edge_to
    seen = np.zeros(count, np.bool_)
    seen[ROOT] = True
    frontier = np.array([ROOT], index_type)
    levels = [frontier]
    from_root = True
    edge_type = first.dtype  # int32 while there are fewer than 2**31 edges: half the traffic
    stop = None
    if closed is not None and closed.size:
        stop = np.zeros(count, np.bool_)
        stop[closed] = True
    while frontier.size:
        if not from_root and frontier.size < THIN_FRONTIER:
            frontier = _thin_levels(frontier, first, edge_to, seen, parent, stop, follow, levels)
            if not frontier.size:
                break
        counts = edge_counts[frontier]
        if stop is not None:
            counts = np.where(stop[frontier], 0, counts)
        ends = np.cumsum(counts, dtype=np.int64)
        total = int(ends[-1])
        if total == 0:
            break
        # A wide level is taken in blocks of about BFS_BLOCK edges, in order, so that the
        # temporaries stay small; nodes a block discovers are `seen` by the next one, which
        # keeps "the first edge found wins".
        cuts = [0, *np.searchsorted(ends, np.arange(BFS_BLOCK, total, BFS_BLOCK), side="right").tolist(),
                frontier.size]
        found = []
        for low, high in itertools.pairwise(cuts):
            if high <= low:
                continue
            new = _bfs_block(frontier[low:high], counts[low:high], first, edge_to, edge_type, seen,
                             parent, rank, follow, from_root)
            if new.size:
                seen[new] = True
                found.append(new)
        if not found:
            break
        frontier = np.concatenate(found).astype(index_type, copy=False)
        levels.append(frontier)
        from_root = False
    order = np.concatenate(levels)
    rank[order] = np.arange(order.size, dtype=index_type)
    level_starts = np.zeros(len(levels) + 1, np.int64)
    np.cumsum([level.size for level in levels], out=level_starts[1:])
    return ShortestPathTree(parent, order, level_starts, rank)


THIN_FRONTIER = 24
"""Levels with fewer nodes than this (the links of a chain) are searched node by node in Python:
a dozen numpy calls on a handful of edges cost more than the loop (`treewalk.THIN_LEVEL`)."""
THIN_EDGES = 256
"""...unless their nodes have this many edges or more together (an array of 10,000 elements)."""


def _thin_levels(frontier, first, edge_to, seen, parent, stop, follow: EdgeFilter, levels: list) -> np.ndarray:
    """The levels after `frontier` while they stay thin, searched node by node, each appended to
    `levels`; returns the next frontier still to search (empty at the end of the search).

    The same search as `_bfs_block`'s: the frontier's nodes in order, each one's edges in order,
    and the first followed edge to an unseen node wins (a FIFO search finds the levels of the
    level-synchronous one, in the same order).
    """
    index_type = frontier.dtype
    current = frontier.tolist()
    while len(current) < THIN_FRONTIER:
        bounds = [(int(first[node]), int(first[node + 1])) for node in current]
        if sum(high - low for low, high in bounds) >= THIN_EDGES:
            break
        found = []
        for node, (low, high) in zip(current, bounds, strict=True):
            if stop is not None and stop[node]:
                continue
            for edge, target in enumerate(edge_to[low:high].tolist(), low):
                if seen[target] or not follow.one(edge, target):
                    continue
                seen[target] = True
                parent[target] = node
                found.append(target)
        if not found:
            return frontier[:0]
        levels.append(np.array(found, index_type))
        current = found
    return np.array(current, index_type)


def _bfs_block(nodes, counts, first, edge_to, edge_type, seen, parent, scratch, follow,
               from_root: bool) -> np.ndarray:
    """One block of a BFS level: the nodes it discovers (their parents are set).

    `scratch` is a node-indexed int array free for use (the future `rank`, still unset here).
    """
    ends = np.cumsum(counts, dtype=np.int64)
    total = int(ends[-1])
    if total == 0:
        return nodes[:0]
    # All edge indices of these nodes, in order: first[node] + 0 .. count-1 per node.
    edges = np.repeat((first[nodes] - (ends - counts)).astype(edge_type, copy=False), counts)
    edges += np.arange(total, dtype=edge_type)
    targets = edge_to[edges]
    # Most edges lead to nodes already seen: drop those before the (costlier) edge filter.
    kept = np.flatnonzero(~seen[targets])
    edges = edges[kept]
    targets = targets[kept]
    followed = np.flatnonzero(follow(edges, from_root, targets))
    kept, edges, targets = kept[followed], edges[followed], targets[followed]
    if not kept.size:
        return nodes[:0]
    # Several edges may reach the same new node: the first one wins (assign in reverse).
    position = np.arange(targets.size, dtype=scratch.dtype)
    scratch[targets[::-1]] = position[::-1]
    winners = np.flatnonzero(scratch[targets] == position)
    new = targets[winners]
    # The source of the k-th edge: the nodes repeated by their edge counts.
    parent[new] = np.repeat(nodes, counts)[kept[winners]]
    return new


def tree_edge(graph: HeapGraph, parent: int, child: int) -> int:
    """The edge the BFS took from `parent` to `child`: its first followed edge to `child`.

    Not stored per node (that would be one more int per node); a path needs only a few.
    """
    first = int(graph.first_edge[parent])
    last = int(graph.first_edge[parent + 1])
    edge_to = graph.snapshot.edge_to
    candidates = first + np.flatnonzero(edge_to[first:last] == child)
    followed = candidates[followed_edge_filter(graph)(candidates, parent == ROOT)]
    return int(followed[0] if followed.size else candidates[0])


class ClosureLocations:
    """`file:line:column` (1-based) of closures, from the snapshot's `locations` section.

    V8's locations are 0-based and point at the function's start (research/runtimes.md §5). The
    script id is resolved to a file by walking closure → `shared` → `script_or_debug_info`
    (Deno: `script`) → the Script node, whose `name` edge (or own name) is its URL.
    """

    def __init__(self, graph: HeapGraph) -> None:
        self.graph = graph
        snap = graph.snapshot
        fields = snap.meta.location_fields
        self.rows = snap.locations
        self.usable = bool(self.rows is not None and self.rows.size and "object_index" in fields)
        if self.usable:
            self.object_column = fields.index("object_index")
            self.line_column = fields.index("line") if "line" in fields else -1
            self.column_column = fields.index("column") if "column" in fields else -1
            self.script_column = fields.index("script_id") if "script_id" in fields else -1
            objects = self.rows[:, self.object_column]
            if objects.size < 2 or bool((objects[1:] >= objects[:-1]).all()):
                # V8 writes locations in node order: no sort needed.
                self.sorter = np.arange(objects.size)
                self.sorted_objects = objects
            else:
                self.sorter = np.argsort(objects, kind="stable")
                self.sorted_objects = objects[self.sorter]

    @classmethod
    def of_graph(cls, graph: HeapGraph) -> ClosureLocations:
        """One per graph: built on first use."""
        return graph.memo(cls)

    def of(self, node: int) -> str | None:
        if not self.usable or self.line_column < 0:
            return None
        at = int(np.searchsorted(self.sorted_objects, node))
        if at >= self.sorted_objects.size or self.sorted_objects[at] != node:
            return None
        row = self.rows[self.sorter[at]]
        line = int(row[self.line_column]) + 1
        column = int(row[self.column_column]) + 1 if self.column_column >= 0 else 1
        script = self.script_name(node)
        if script is None and self.script_column >= 0:
            script = f"script#{int(row[self.script_column])}"
        return f"{script}:{line}:{column}"

    def script_name(self, closure: int) -> str | None:
        graph = self.graph
        shared = follow_named(graph, closure, ("shared",))
        if shared is None:
            return None
        script = follow_named(graph, shared, ("script_or_debug_info", "script"))
        if script is None:
            return None
        url = None
        name_target = follow_named(graph, script, ("name",))
        if name_target is not None:
            target = graph.node(name_target)
            if target.type in ("string", "concatenated string", "sliced string"):
                url = target.name
        if not url:
            url = graph.node(script).name
            for prefix in ("system / Script / ", "system / Script"):
                if url.startswith(prefix):
                    url = url[len(prefix) :].strip()
                    break
        if not url:
            return None
        return url[len("file://") :] if url.startswith("file://") else url


def follow_named(graph: HeapGraph, node: int, names: tuple[str, ...]) -> int | None:
    """The target of the first non-element edge of `node` named one of `names`."""
    snap = graph.snapshot
    first = int(graph.first_edge[node])
    last = int(graph.first_edge[node + 1])
    by_index = {snap.meta.edge_type_code("element"), snap.meta.edge_type_code("hidden")}
    for edge in range(first, last):
        if int(snap.edge_type[edge]) in by_index:
            continue
        if snap.strings[int(snap.edge_name[edge])] in names:
            return int(snap.edge_to[edge])
    return None


def nearest_to_roots(nodes: np.ndarray, rank: np.ndarray, limit: int) -> tuple[int, ...]:
    """Up to `limit` of `nodes`, reachable ones nearest to the roots (lowest BFS `rank`) first."""
    if not nodes.size:
        return ()
    ranks = rank[nodes].astype(np.int64)
    ranks[ranks < 0] = np.iinfo(np.int64).max
    order = np.argsort(ranks, kind="stable")[:limit]
    return tuple(int(n) for n in nodes[order])

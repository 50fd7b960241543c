"""Which instances of a class the evidence ties to its growth where ids cannot (Bun): holders that grew.

Bun renumbers every object in every snapshot, so nothing says which instances of a growing class are
the new ones, and a retainer path to an old one shows a holder that has nothing to do with the leak
(`GlobalObject → Array → Symbol.unscopables`, `process.nextTick … tickInitHooks`), a different one
from run to run. Two things tie an instance to the growth:

- a pile that grew with the class: the same holder, found in S2 and in S3, holds more instances of
  it in S3, by a good share of what the class grew by over round B (the leak's array, its listener
  list);
- else, objects of another growing class that hold the class the same way (one edge name: each new
  closure scope's `query`, each new order's `items`) and hold, all together and where a path reaches
  them, more of it in S3 than in S2 by that share: those not known to be stable (the same holder,
  found in S2, holding as many then) tie theirs. An old instance held that way can be shown, but
  through the way of holding that grew, never through an unrelated one.

The path shown must go through the tying holder (the instance's shortest path has it as the last
step), unless the holder has no path at all. An instance nothing ties gets no path.

A holder is found again by its place (`growth.place_keys`: the edge names and classes along its
shortest path from the GC roots) or, for a list that has none, by its head (`entries.entry_heads`:
its first entries). Bun's snapshots give no edges into a Map's or a Set's storage, so a list held in
a Map is reachable from no root: its place is unknown, its head is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pytest_jsleak.heap.classes import class_keys
from pytest_jsleak.heap.entries import entry_heads
from pytest_jsleak.heap.exclusions import harness_owned
from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.growth import place_keys
from pytest_jsleak.heap.paths import followed_edge_filter
from pytest_jsleak.heap.retainers import path_tree

#: A pile (or the instances a growing class holds by one edge name) must have grown over round B by
#: at least this share of the class's growth over round B (c3 - c2): a leak's one holder takes all of
#: it; half leaves room for a leak that fills two holders at once, or puts half where Bun's snapshots
#: show no edges (a Map's storage), while a stable holder's pile moves by a handful.
PILE_SHARE = 0.5
#: And by at least this many instances: any holder may gain one between two snapshots.
MIN_PILE_GROWTH = 2
#: Edge types whose name is a slot's index, not a name: all slots of a list are one way of holding.
INDEXED_EDGE_TYPES = ("element", "hidden")

#: How a holder holds an instance: (the holder's class key, the edge's type, its name; "" for a slot).
Way = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Held:
    """Who holds the instances of one class in one snapshot, and how: one row per (holder, instance,
    way), `ways[way[row]]` the way."""

    holders: np.ndarray
    instances: np.ndarray
    way: np.ndarray
    ways: tuple[Way, ...]

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct holders, sorted; how many distinct instances each holds). The rows are sorted by
        holder, then instance (`held`): run lengths, no hashing."""
        if not self.holders.size:
            return self.holders, self.holders
        pair = np.ones(self.holders.size, np.bool_)
        pair[1:] = (np.diff(self.holders) != 0) | (np.diff(self.instances) != 0)
        holders = self.holders[pair]
        starts = np.flatnonzero(np.r_[True, holders[1:] != holders[:-1]])
        return holders[starts], np.diff(np.r_[starts, holders.size])

    def by_way(self) -> dict[Way, int]:
        """Instances held each way (an instance held two ways counts in both)."""
        counted = np.bincount(self.way, minlength=len(self.ways))
        return {way: int(count) for way, count in zip(self.ways, counted.tolist(), strict=True)}


def held(graph: HeapGraph, class_name: str) -> Held:
    """Who holds a class's instances, by the edges retainer paths follow; the harness's own instances
    left out (its command stream's buffers, its handlers)."""
    codes, names = class_keys(graph)
    none = np.zeros(0, np.int64)
    if class_name not in names:
        return Held(none, none, none, ())
    snap = graph.snapshot
    edges = np.flatnonzero(followed_target_classes(graph) == names.index(class_name))
    edges = edges[~harness_owned(graph)[snap.edge_to[edges]]]
    if not edges.size:
        return Held(none, none, none, ())
    holders = graph.edge_from[edges].astype(np.int64)
    instances = snap.edge_to[edges].astype(np.int64)
    types = snap.edge_type[edges].astype(np.int64)
    indexed = np.isin(types, [snap.meta.edge_type_code(name) for name in INDEXED_EDGE_TYPES])
    labels = np.where(indexed, -1, snap.edge_name[edges].astype(np.int64))
    # The way as one integer (class code, edge type, name: 24 + 8 + 32 bits at most), then its index.
    raw, way = np.unique((codes[holders].astype(np.int64) << 40) | (types << 32) | (labels & 0xFFFFFFFF),
                         return_inverse=True)
    way = way.reshape(-1)
    # One row per holder, instance and way, however many edges join them (two slots of one list).
    order = np.lexsort((way, instances, holders))
    holders, instances, way = holders[order], instances[order], way[order]
    first = np.ones(order.size, np.bool_)
    first[1:] = (np.diff(holders) != 0) | (np.diff(instances) != 0) | (np.diff(way) != 0)
    ways = tuple(
        (names[code >> 40], snap.meta.edge_types[(code >> 32) & 0xFF],
         "" if (code & 0xFFFFFFFF) == 0xFFFFFFFF else str(snap.strings[code & 0xFFFFFFFF]))
        for code in raw.tolist()
    )
    return Held(holders[first], instances[first], way[first], ways)


def followed_target_classes(graph: HeapGraph) -> np.ndarray:
    """Per edge, its target's class code where retainer paths follow it, else -1. Built once per graph:
    gathering and filtering every edge again for each growing class cost a Bun check of a template
    library (19 growing classes, 70,000 scopes) most of its half second of holder search."""
    return graph.memo(_followed_target_classes)


def _followed_target_classes(graph: HeapGraph) -> np.ndarray:
    codes, _ = class_keys(graph)
    snap = graph.snapshot
    edges = np.arange(snap.edge_count, dtype=np.int64)
    target = codes[snap.edge_to].astype(np.int32)
    target[~followed_edge_filter(graph)(edges, graph.edge_from, snap.edge_to)] = -1
    return target


def head_keys(graph: HeapGraph) -> np.ndarray:
    """Per node, the key of its head (`entries.entry_heads`); 0 = none."""
    keys, nodes, _ = entry_heads(graph)
    per_node = np.zeros(graph.node_count, np.uint64)
    per_node[nodes] = keys
    return per_node


def same_holders(before: HeapGraph, after: HeapGraph, holders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For holders of `after` (node indices): (their node in `before`, -1 where not found; whether
    `after` can identify them at all). By place where both snapshots know it, else by head."""
    found = np.full(holders.size, -1, np.int64)
    place_after = place_keys(after)[holders]
    head_after = head_keys(after)[holders]
    known = (place_after != 0) | (head_after != 0)
    for after_keys, (keys, nodes) in ((place_after, _sorted_places(before)), (head_after, entry_heads(before)[:2])):
        wanted = np.flatnonzero((found < 0) & (after_keys != 0))
        if not (wanted.size and keys.size):
            continue
        at = np.minimum(np.searchsorted(keys, after_keys[wanted]), keys.size - 1)
        hit = keys[at] == after_keys[wanted]
        found[wanted[hit]] = nodes[at[hit]]
    return found, known


def _sorted_places(graph: HeapGraph) -> tuple[np.ndarray, np.ndarray]:
    keys = place_keys(graph)
    nodes = np.flatnonzero(keys != 0)
    order = np.argsort(keys[nodes], kind="stable")
    return keys[nodes][order], nodes[order]


def tied_instances(
    before: HeapGraph,
    after: HeapGraph,
    class_name: str,
    *,
    expected: int,
    growing: frozenset[str] = frozenset(),
    limit: int = 20,
) -> list[int]:
    """Instances of a class in `after` (S3) that a holder ties to its growth since `before` (S2), for a
    retainer path; [] when nothing does (see the module docstring). `expected`: the class's count
    growth between the two; `growing`: the other classes that grew in both rounds. The pile that grew
    most first.
    """
    now = held(after, class_name)
    if not now.holders.size:
        return []
    then = held(before, class_name)
    holders, count_now = now.counts()
    match, _ = same_holders(before, after, holders)
    count_then = np.zeros(holders.size, np.int64)
    then_holders, then_counts = then.counts()
    matched = np.flatnonzero(match >= 0)
    if matched.size and then_holders.size:
        at = np.minimum(np.searchsorted(then_holders, match[matched]), then_holders.size - 1)
        hit = then_holders[at] == match[matched]
        count_then[matched[hit]] = then_counts[at[hit]]
    gained = count_now - count_then
    need = max(MIN_PILE_GROWTH, math.ceil(PILE_SHARE * expected))
    slot = np.searchsorted(holders, now.holders)
    row_tied = ((match >= 0) & (gained >= need))[slot]
    chosen = _through(after, now, row_tied, gained[slot], limit)
    if chosen or not growing:
        return chosen
    # No pile grew: objects of another growing class holding the class one way, that way grown by the
    # share where a path can show it (a growth held only through a Map's storage is no reason to show
    # a path to an old instance held the same way), each holder not known to be stable tying its own.
    grown_then = _reachable(before, then).by_way()
    grown_ways = np.array([way[0] in growing and count - grown_then.get(way, 0) >= need
                           for way, count in _reachable(after, now).by_way().items()], np.bool_)
    if not grown_ways.any():
        return []
    stable = ((match >= 0) & (gained <= 0))[slot]
    return _through(after, now, grown_ways[now.way] & ~stable, gained[slot], limit)


def _reachable(graph: HeapGraph, found: Held) -> Held:
    """The rows of `found` whose holder a retainer path reaches (same ways, so that counts compare)."""
    keep = path_tree(graph).rank[found.holders] >= 0
    return Held(found.holders[keep], found.instances[keep], found.way[keep], found.ways)


def _through(after: HeapGraph, now: Held, tied: np.ndarray, rank: np.ndarray, limit: int) -> list[int]:
    """Up to `limit` instances of the `tied` rows of `now`, highest `rank` (their holder's gain) first,
    each only where its shortest path ends with that holder (so the path names it) or the holder has
    no path at all (a list in a Map's storage)."""
    tree = path_tree(after)
    rows = np.flatnonzero(tied)
    if not rows.size:
        return []
    holders, instances = now.holders[rows], now.instances[rows]
    shown = (tree.parent[instances] == holders) | (tree.rank[holders] < 0)
    rows, instances = rows[shown], instances[shown]
    order = np.argsort(-rank[rows], kind="stable")
    return list(dict.fromkeys(instances[order].tolist()))[:limit]


__all__ = ["MIN_PILE_GROWTH", "PILE_SHARE", "Held", "held", "same_holders", "tied_instances"]

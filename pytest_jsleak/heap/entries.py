"""Collections that gained entries: growth in place where the snapshots do not size storage (Bun).

The same module-level handler pushed onto an array once per call (mitt's `on()` never undone) adds
no object: only the array's storage grows. V8's snapshots size that storage, and the growth-in-place
rule (`heap.growth`) sees the array's retained size rise. JSC's, as Bun writes them, give an array a
fixed 16 bytes whatever its length, so its retained size never moves; but they do list one `element`
edge per slot: mitt's handler list read 9,001 → 10,001 → 11,001 edges over two rounds of 1,000 calls.
The GC'd memory alone saw it as steps of a few KB that a round of 1,000 calls may or may not hold (a
10 B/call leak judged clean after a long warm-up, and once under load).

Bun renumbers every object in every snapshot, and such an array is often reachable only through a
Map's storage, which Bun's snapshots leave out: neither an id nor a place in the heap finds it again.
Its head does: the first entries of an array that is appended to stay where they are. An object is
known across snapshots by its class and what its first `HEAD_ENTRIES` entries point at (their class,
name and size); a head that two objects share in one snapshot identifies neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pytest_jsleak.heap.classes import class_keys
from pytest_jsleak.heap.exclusions import harness_owned
from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.growth import text_hash

#: Edges that are a collection's entries: array slots. (Property edges are the object's fields;
#: Bun's snapshots give Maps and Sets no edges into their storage at all.)
ENTRY_EDGE_TYPES = ("element",)
#: Objects with fewer entries are not followed: small arrays are many, and they share heads.
MIN_ENTRIES = 64
#: How many of the lowest-indexed entries identify an object.
HEAD_ENTRIES = 4
#: The smaller round's gain must be at least this share of the larger one's: a leak appends at the
#: calls' pace in both rounds, a list filled once (a cache warming up) mostly in one.
MIN_ROUND_SHARE = 0.25
#: Bytes an entry costs at least: one JSValue slot of JSC's array storage (capacity slack, which
#: comes in steps, is on top). What the report charges per entry gained.
ENTRY_BYTES = 8


@dataclass(frozen=True, slots=True)
class EntriesGrowth:
    """A long-lived object whose entries grew in both rounds."""

    node: int
    """Its node index in the last snapshot."""
    node_id: int
    class_name: str
    entries: tuple[int, ...]
    """Its entry count in S1, S2, S3."""

    @property
    def gained(self) -> int:
        return self.entries[-1] - self.entries[0]


def entry_heads(graph: HeapGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sorted head keys, their node indices, their entry counts) of one snapshot's objects with at
    least `MIN_ENTRIES` entries whose head no other such object shares. Built once per graph."""
    return graph.memo(_entry_heads)


def _entry_heads(graph: HeapGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    snap = graph.snapshot
    meta = snap.meta
    entry_types = [code for code in (meta.edge_type_code(name) for name in ENTRY_EDGE_TYPES) if code >= 0]
    empty = (np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    if not entry_types:
        return empty
    is_entry = np.isin(snap.edge_type, entry_types)
    counts = np.bincount(graph.edge_from[is_entry], minlength=graph.node_count)
    candidates = np.flatnonzero(counts >= MIN_ENTRIES)
    if candidates.size:
        candidates = candidates[snap.node_type[candidates] == meta.node_type_code("object")]
        candidates = candidates[~harness_owned(graph)[candidates]]
    if not candidates.size:
        return empty
    codes, names = class_keys(graph)
    first = graph.first_edge
    keys = np.empty(candidates.size, np.uint64)
    for at, node in enumerate(candidates.tolist()):
        edges = np.arange(int(first[node]), int(first[node + 1]))
        edges = edges[is_entry[edges]]
        head = edges[np.argsort(snap.edge_name[edges], kind="stable")[:HEAD_ENTRIES]]
        targets = snap.edge_to[head]
        text = "\x00".join(
            [names[codes[node]],
             *(f"{int(snap.edge_name[e])}:{names[codes[t]]}:{snap.strings[int(snap.node_name[t])]}:"
               f"{int(snap.node_self_size[t])}" for e, t in zip(head.tolist(), targets.tolist(), strict=True))]
        )
        keys[at] = text_hash(text)
    unique, first_at, seen = np.unique(keys, return_index=True, return_counts=True)
    alone = seen == 1
    nodes = candidates[first_at[alone]]
    return unique[alone], nodes.astype(np.int64), counts[nodes].astype(np.int64)


def grown_by_entries(graphs: Sequence[HeapGraph], *, min_round_entries: int) -> list[EntriesGrowth]:
    """Objects of S1, S2 and S3 (`graphs`, found again by their heads) whose entries grew by at least
    `min_round_entries` in each round, by comparable amounts; most entries gained first."""
    if len(graphs) != 3:
        raise ValueError("grown_by_entries needs the three snapshots S1, S2, S3")
    (k1, _, c1), (k2, _, c2), (k3, n3, c3) = (entry_heads(graph) for graph in graphs)
    common = np.intersect1d(np.intersect1d(k1, k2, assume_unique=True), k3, assume_unique=True)
    if not common.size:
        return []
    e1 = c1[np.searchsorted(k1, common)]
    e2 = c2[np.searchsorted(k2, common)]
    at3 = np.searchsorted(k3, common)
    e3 = c3[at3]
    grow_a, grow_b = e2 - e1, e3 - e2
    small, large = np.minimum(grow_a, grow_b), np.maximum(grow_a, grow_b)
    kept = np.flatnonzero((small >= max(1, min_round_entries)) & (small >= MIN_ROUND_SHARE * large))
    kept = kept[np.argsort(-(grow_a[kept] + grow_b[kept]), kind="stable")]
    final = graphs[2]
    codes, names = class_keys(final)
    found = []
    for p in kept.tolist():
        node = int(n3[at3[p]])
        found.append(EntriesGrowth(node, int(final.snapshot.node_id[node]), names[codes[node]],
                                   (int(e1[p]), int(e2[p]), int(e3[p]))))
    return found


__all__ = ["ENTRY_BYTES", "EntriesGrowth", "entry_heads", "grown_by_entries"]

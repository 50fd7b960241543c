"""Collections' storage at its amortised rate: what a leak into a growing collection costs per call.

A collection's backing store (an array's elements, a dictionary's properties, a Map's or a Set's
hash table) grows in steps. `storage_charge` replaces the step a check's rounds happened to see (or
miss) by the entries gained × the store's bytes per entry at its fullest; `analysis.held_growth`
adds its corrections to the holders' retained growth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pytest_jsleak.heap.dominators import dominators
from pytest_jsleak.heap.graph import HeapGraph

#: The internal edges from a collection to its backing store in a V8 snapshot (Node 20's V8 11, Deno
#: 2.9's V8 14 alike): an array's or an object's `elements`, a dictionary-mode object's `properties`
#: (its name dictionary), a Map's or a Set's `table` (an ordered hash table). Each goes to an `array`
#: node whose own edges are the entries: index-named (`internal '19'`, or `element`/`hidden` with a
#: number), a Map's key and value apiece, a dictionary's name and value, an array's or a Set's value;
#: holes and small integers have no edge; a hash table has one more, `internal 'map'`, its own shape.
STORE_EDGE_NAMES = ("elements", "properties", "table")


@dataclass(frozen=True, slots=True)
class Store:
    """A collection's storage in one snapshot: its own self size and its backing stores' (`bytes`), and
    the edges from those stores to entries (`entries`: holes, oddballs and the table's shape left out;
    0 where the entries are small integers or doubles, which have no node)."""

    bytes: int
    entries: int


def store_of(graph: HeapGraph, node: int) -> Store | None:
    """`node`'s storage (`Store`), or None when it has no backing store of its own (one that it
    dominates, reached by a `STORE_EDGE_NAMES` edge)."""
    codes = graph.memo(_store_codes)
    snap = graph.snapshot
    idom = dominators(graph).idom
    lo, hi = int(graph.first_edge[node]), int(graph.first_edge[node + 1])
    to = snap.edge_to[lo:hi]
    stores = to[(snap.edge_type[lo:hi] == codes.internal) & np.isin(snap.edge_name[lo:hi], codes.store_names)]
    stores = stores[np.isin(snap.node_type[stores], codes.store_types) & (idom[stores] == node)]
    if not stores.size:
        return None
    entries = 0
    for store in stores.tolist():
        lo, hi = int(graph.first_edge[store]), int(graph.first_edge[store + 1])
        named_map = (snap.edge_type[lo:hi] == codes.internal) & np.isin(snap.edge_name[lo:hi], codes.map_names)
        oddball = np.isin(snap.node_name[snap.edge_to[lo:hi]], codes.oddball_names)
        entries += int(np.count_nonzero(~(named_map | oddball)))
    return Store(int(snap.node_self_size[node]) + int(snap.node_self_size[stores].sum()), entries)


@dataclass(frozen=True, slots=True)
class _StoreCodes:
    internal: int
    store_names: np.ndarray
    store_types: np.ndarray
    map_names: np.ndarray
    oddball_names: np.ndarray


def _store_codes(graph: HeapGraph) -> _StoreCodes:
    snap = graph.snapshot
    strings = snap.strings

    def names(*texts: str) -> np.ndarray:
        return np.asarray([i for text in texts for i in strings.indices_of(text)], np.int64)

    types = [snap.meta.node_type_code(name) for name in ("array", "hidden")]
    return _StoreCodes(
        internal=snap.meta.edge_type_code("internal"),
        store_names=names(*STORE_EDGE_NAMES),
        store_types=np.asarray([t for t in types if t >= 0], np.int64),
        map_names=names("map"),
        oddball_names=names("system / Oddball", "hole"),
    )


def storage_charge(graphs: Sequence[HeapGraph], holders: np.ndarray, outermost: Sequence[int]) -> dict[int, int]:
    """What to add to each outermost holder's retained growth (`held_growth`) so that the collections'
    storage in it is charged at its amortised rate, bytes (negative where a step was charged whole).

    A collection's storage grows in steps (V8 doubles a Map's, a Set's and a dictionary's hash table
    when it is two thirds full, and grows an array's elements by half when full): a step inside the
    rounds charged in full read up to twice a plain loop's slope (lodash's memoize: 1.91x), and slack
    that the entries filled without a step was not charged at all. A long run pays about a slot per
    entry. So a holder whose entries can be counted (`store_of`: edges from its backing stores) is
    charged, for its storage, the entries it gained × its fewest bytes per entry in S1, S2 and S3 (the
    fullest its table was: the amortised rate, give or take the table's load) in place of what its
    storage grew by; what its entries retain themselves is charged as before.

    The collections beside an outermost holder in the object that owns it (an LRU cache's key list,
    its links and its key Map beside its value list: indexed by the same slots, holding numbers with no
    node) grow with its entries without holding a survivor: a sibling whose storage grew over the
    rounds, or is as large as the holder's (the same capacity), is charged the holder's entries gained
    × its fewest bytes per holder entry (lru-cache without max read 0.69x of its plain loop without
    them). Where entries cannot be counted, the holder keeps its retained growth as it is.
    """
    first, middle, final = graphs
    snap = final.snapshot
    idom = dominators(final).idom
    # A backing store alive since S1 (no step: the same table) holds the entries itself: its
    # collection is what has a store to count.
    collections = np.asarray([_collection_of(final, node) for node in holders.tolist()], np.int64)
    ids = snap.node_id[collections].astype(np.int64)
    at1, at2 = indices_of(first, ids), indices_of(middle, ids)
    keep = set(outermost)
    marked = set(holders.tolist()) | set(collections.tolist())
    corrections = dict.fromkeys(outermost, 0)
    gained: dict[int, tuple[int, list[Store | None]]] = {}
    for node, collection, one, two in zip(holders.tolist(), collections.tolist(), at1.tolist(), at2.tolist(),
                                          strict=True):
        stores = [_store_at(first, one), _store_at(middle, two), store_of(final, collection)]
        s1, s3 = stores[0], stores[2]
        if s1 is None or s3 is None or not s1.entries or s3.entries <= s1.entries:
            continue  # no entries to count, or none gained: its retained growth as it is
        added = s3.entries - s1.entries
        rate = min(s.bytes / s.entries for s in stores if s is not None and s.entries)
        outer = node
        while outer > 0 and outer not in keep:  # the outermost holder whose retained growth counts this one's
            outer = int(idom[outer])
        if outer <= 0:
            continue
        corrections[outer] += round(added * rate) - (s3.bytes - s1.bytes)
        if node in keep:
            gained[node] = (added, stores)
    charged: set[int] = set()
    object_type = snap.meta.node_type_code("object")
    for node, (added, stores) in gained.items():
        owner = int(idom[_collection_of(final, node)])
        if owner <= 0 or snap.node_type[owner] != object_type or indices_of(first, snap.node_id[[owner]])[0] < 0:
            continue  # parallel collections are an object's fields, not a scope's variables
        lo, hi = int(final.first_edge[owner]), int(final.first_edge[owner + 1])
        for sibling in np.unique(snap.edge_to[lo:hi]).tolist():
            if sibling in marked or sibling in charged or int(idom[sibling]) != owner:
                continue
            sid = snap.node_id[[sibling]].astype(np.int64)
            beside = [_store_at(first, int(indices_of(first, sid)[0])),
                      _store_at(middle, int(indices_of(middle, sid)[0])), store_of(final, sibling)]
            if not _parallel(beside, stores):
                continue
            rate = min(b.bytes / h.entries for b, h in zip(beside, stores, strict=True)
                       if b is not None and h is not None and h.entries)
            corrections[node] += round(added * rate)
            charged.add(sibling)
    return corrections


#: Bytes per entry of the holder that a collection of numbers beside it must have in S1 and S3 to be
#: counted as indexed like it: from one 8-byte slot per entry (an array of the same length) to a hash
#: table just after it doubled (a Map's 28 B per entry twice over; a dictionary's 24 B at a third of
#: its capacity, 72 B). A table of numbers the size of the holder's entries grows with them; an empty
#: one, or a buffer many times their size, is not the entries'.
PARALLEL_BYTES_PER_ENTRY = (8, 96)


def _parallel(beside: Sequence[Store | None], stores: Sequence[Store | None]) -> bool:
    """Whether a collection beside a holder (`beside`, in S1, S2, S3; the holder's `stores`) grows with
    its entries: its storage grew over the rounds, or it holds no node (numbers only, which cannot be
    counted) and is sized like the holder's entries (`PARALLEL_BYTES_PER_ENTRY`) in S1 and S3."""
    b1, b3, h1, h3 = beside[0], beside[2], stores[0], stores[2]
    if b1 is None or b3 is None or h1 is None or h3 is None:
        return False
    if b3.bytes > b1.bytes:
        return True
    low, high = PARALLEL_BYTES_PER_ENTRY
    return not (b1.entries or b3.entries) and all(
        low * held.entries <= own.bytes <= high * held.entries for own, held in ((b1, h1), (b3, h3))
    )


def _collection_of(graph: HeapGraph, node: int) -> int:
    """The collection whose backing store `node` is (its immediate dominator, reaching it by a
    `STORE_EDGE_NAMES` edge), else `node` itself."""
    up = int(dominators(graph).idom[node])
    if up <= 0:
        return node
    codes = graph.memo(_store_codes)
    snap = graph.snapshot
    lo, hi = int(graph.first_edge[up]), int(graph.first_edge[up + 1])
    store = (snap.edge_to[lo:hi] == node) & (snap.edge_type[lo:hi] == codes.internal)
    return up if bool(np.isin(snap.edge_name[lo:hi][store], codes.store_names).any()) else node


def _store_at(graph: HeapGraph, node: int) -> Store | None:
    return store_of(graph, node) if node >= 0 else None


def indices_of(graph: HeapGraph, ids: np.ndarray) -> np.ndarray:
    """The node index of each id in `graph`, -1 where it has none."""
    order, sorted_ids = graph.memo(_id_order)
    ids = np.asarray(ids, np.int64)
    if not order.size:
        return np.full(ids.size, -1, np.int64)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), order.size - 1)
    return np.where(sorted_ids[pos] == ids, order[pos], -1)


def _id_order(graph: HeapGraph) -> tuple[np.ndarray, np.ndarray]:
    ids = graph.snapshot.node_id.astype(np.int64)
    order = np.argsort(ids, kind="stable")
    return order, ids[order]

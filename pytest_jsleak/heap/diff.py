"""Snapshot comparisons: per-class census, the 2-snapshot Comparison and 3-snapshot leak candidates."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from pytest_jsleak.heap.classes import class_keys
from pytest_jsleak.heap.dominators import dominators
from pytest_jsleak.heap.exclusions import (
    NOISE_NODE_TYPES,
    automation_owned,
    dom_wrappers,
    noise_nodes,
    owned_by_noise,
)
from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.paths import nearest_to_roots, shortest_paths
from pytest_jsleak.heap.piles import tied_instances
from pytest_jsleak.heap.snapshot import HeapSnapshot
from pytest_jsleak.heap.treewalk import inherit_down

EXAMPLES_PER_CLASS = 20


# --- census ------------------------------------------------------------------------------------


@dataclass
class ClassCensus:
    """Per class key: how many nodes and how many self bytes, plus the per-node arrays behind it."""

    path: str
    names: list[str]
    counts: np.ndarray
    sizes: np.ndarray
    node_class: np.ndarray
    """Class code (index into `names`) per node."""
    node_ids: np.ndarray
    node_sizes: np.ndarray
    ids_comparable: bool
    runtime: str
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {name: position for position, name in enumerate(self.names)}

    def class_names(self) -> list[str]:
        return list(self.names)

    def count(self, name: str) -> int:
        position = self._index.get(name)
        return 0 if position is None else int(self.counts[position])

    def size(self, name: str) -> int:
        position = self._index.get(name)
        return 0 if position is None else int(self.sizes[position])

    def __len__(self) -> int:
        return len(self.names)


def class_census(snapshot: HeapSnapshot | HeapGraph) -> ClassCensus:
    """Count nodes and sum self sizes per DevTools class key (vectorised: one bincount each)."""
    graph = snapshot if isinstance(snapshot, HeapGraph) else HeapGraph(snapshot)
    snapshot = graph.snapshot
    codes, names = class_keys(graph)
    counts = np.bincount(codes, minlength=len(names)).astype(np.int64)
    sizes = np.bincount(codes, weights=snapshot.node_self_size, minlength=len(names)).astype(np.int64)
    return ClassCensus(
        path=snapshot.path,
        names=names,
        counts=counts,
        sizes=sizes,
        node_class=codes,
        node_ids=snapshot.node_id,
        node_sizes=snapshot.node_self_size,
        ids_comparable=snapshot.ids_comparable,
        runtime=snapshot.runtime_guess,
    )


@dataclass(frozen=True, slots=True)
class ClassComparison:
    """One row of the 2-snapshot comparison (DevTools' Comparison view; sizes are shallow)."""

    class_name: str
    count_before: int
    count_after: int
    new: int | None
    """Objects in the later snapshot whose id the earlier one lacks (None: ids not comparable)."""
    deleted: int | None
    count_delta: int
    size_before: int
    size_after: int
    alloc_size: int | None
    freed_size: int | None
    size_delta: int


def compare(before: ClassCensus, after: ClassCensus, *, by_id: bool | None = None) -> list[ClassComparison]:
    """Per-class comparison of two snapshots, biggest size change first.

    New and deleted objects are matched by id (as DevTools does) when both snapshots come from a
    runtime with stable ids; otherwise only the count and size deltas are given.
    """
    if by_id is None:
        by_id = before.ids_comparable and after.ids_comparable
    names = sorted(set(before.names) | set(after.names))
    index = {name: position for position, name in enumerate(names)}
    before_map = np.array([index[name] for name in before.names], np.int64)
    after_map = np.array([index[name] for name in after.names], np.int64)
    width = len(names)
    count_b = np.zeros(width, np.int64)
    count_a = np.zeros(width, np.int64)
    size_b = np.zeros(width, np.int64)
    size_a = np.zeros(width, np.int64)
    np.add.at(count_b, before_map, before.counts)
    np.add.at(count_a, after_map, after.counts)
    np.add.at(size_b, before_map, before.sizes)
    np.add.at(size_a, after_map, after.sizes)
    new = deleted = alloc = freed = None
    if by_id:
        before_sorted = np.sort(before.node_ids.astype(np.int64))
        after_sorted = np.sort(after.node_ids.astype(np.int64))
        is_new = ~contains(before_sorted, after.node_ids)
        is_deleted = ~contains(after_sorted, before.node_ids)
        new_class = after_map[after.node_class[is_new]]
        deleted_class = before_map[before.node_class[is_deleted]]
        new = np.bincount(new_class, minlength=width)
        deleted = np.bincount(deleted_class, minlength=width)
        alloc = np.bincount(new_class, weights=after.node_sizes[is_new], minlength=width).astype(np.int64)
        freed = np.bincount(deleted_class, weights=before.node_sizes[is_deleted], minlength=width).astype(
            np.int64
        )
    rows = []
    for position, name in enumerate(names):
        row = ClassComparison(
            class_name=name,
            count_before=int(count_b[position]),
            count_after=int(count_a[position]),
            new=None if new is None else int(new[position]),
            deleted=None if deleted is None else int(deleted[position]),
            count_delta=int(count_a[position] - count_b[position]),
            size_before=int(size_b[position]),
            size_after=int(size_a[position]),
            alloc_size=None if alloc is None else int(alloc[position]),
            freed_size=None if freed is None else int(freed[position]),
            size_delta=int(size_a[position] - size_b[position]),
        )
        if row.count_delta or row.size_delta or row.new or row.deleted:
            rows.append(row)
    rows.sort(key=lambda r: (-abs(r.size_delta), -abs(r.count_delta), r.class_name))
    return rows


def contains(sorted_ids: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Bool mask: which of `query` are in `sorted_ids` (sorted int64)."""
    if not sorted_ids.size:
        return np.zeros(query.shape, np.bool_)
    if query.dtype.kind not in "iu":
        query = query.astype(np.int64)
    high = int(sorted_ids[-1])
    low = int(sorted_ids[0])
    span = high - low + 1
    if low >= 0 and span <= 16 * (sorted_ids.size + query.size) + (1 << 24):
        # A bitmap over the id range: O(n), and V8's ids are dense enough for it.
        table = np.zeros(span, np.bool_)
        table[sorted_ids - sorted_ids.dtype.type(low)] = True
        inside = (query >= low) & (query <= high)
        found = np.zeros(query.shape, np.bool_)
        picked = query[inside]
        picked -= picked.dtype.type(low)
        found[inside] = table[picked]
        return found
    at = np.searchsorted(sorted_ids, query)
    np.minimum(at, sorted_ids.size - 1, out=at)
    return sorted_ids[at] == query


# --- three snapshots ---------------------------------------------------------------------------


@dataclass
class LeakCandidates:
    """One class in the 3-snapshot diff."""

    class_name: str
    survivors: int
    """Objects allocated between S1 and S2 (id in S2, not in S1) still alive in S3."""
    survivor_bytes: int
    retained_bytes: int
    """Retained size of the survivors, counted once (a survivor dominated by another survivor
    of the same class is inside that one's retained size)."""
    fresh: int
    """Objects allocated between S2 and S3 (id not in S2) alive in S3."""
    fresh_bytes: int
    survivor_nodes: np.ndarray
    fresh_nodes: np.ndarray
    example_nodes: tuple[int, ...]
    """Up to 20 survivors (or fresh objects, when none survived), nearest to the roots first."""


@dataclass
class ThreeSnapshotDiff:
    """Leak candidates per class, most retained bytes first."""

    rows: list[LeakCandidates]
    method: str = "ids"
    notes: list[str] = field(default_factory=list)
    skipped_types: tuple[str, ...] = NOISE_NODE_TYPES

    def __iter__(self) -> Iterator[LeakCandidates]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> LeakCandidates:
        for row in self.rows:
            if row.class_name == name:
                return row
        raise KeyError(name)

    def get(self, name: str) -> LeakCandidates | None:
        return next((row for row in self.rows if row.class_name == name), None)


@dataclass
class Candidates:
    """Node indices of S3 found by id: allocated S1→S2 and alive ("survivors"), allocated S2→S3."""

    survivors: np.ndarray
    fresh: np.ndarray


def leak_candidates(ids1: np.ndarray, ids2: np.ndarray, graph3: HeapGraph | HeapSnapshot) -> Candidates:
    """The first half of `three_snapshot_diff`: which nodes of S3 are new since S1 / since S2.

    Separate so that a caller can drop the id arrays before the dominators are computed.
    """
    graph = HeapGraph(graph3) if isinstance(graph3, HeapSnapshot) else graph3
    snap = graph.snapshot
    ids3 = snap.node_id
    candidate = (ids3 & 1) == 1
    candidate &= ~noise_nodes(snap)
    candidate &= ~dom_wrappers(graph)  # a DOM node's wrapper counts with its node
    candidate &= ~automation_owned(graph)  # Playwright's injected scripts' own objects
    in2 = contains(_odd_sorted(ids2), ids3)
    survivor_mask = candidate & in2
    survivor_mask &= ~contains(_odd_sorted(ids1), ids3)
    fresh_mask = candidate & ~in2
    del in2, candidate
    return Candidates(np.flatnonzero(survivor_mask), np.flatnonzero(fresh_mask))


def three_snapshot_diff(
    ids1: np.ndarray,
    ids2: np.ndarray,
    graph3: HeapGraph | HeapSnapshot,
    ignore_classes: Iterable[str] = (),
    *,
    with_retained: bool = True,
) -> ThreeSnapshotDiff:
    """Objects allocated between S1 and S2 still alive in S3 ("survivors"), and those allocated
    between S2 and S3 ("fresh"), grouped by class, from the sorted ids of S1 and S2 and S3's graph.

    Only odd ids are compared: Node's ~100 embedder nodes get even, pointer-derived ids that
    change in every snapshot (research/runtimes.md §3). Nodes of the types in
    NOISE_NODE_TYPES are skipped (see there). Ids mean nothing across Bun's snapshots: check
    `snapshot.ids_comparable` and use `three_snapshot_counts` there instead.
    """
    graph = HeapGraph(graph3) if isinstance(graph3, HeapSnapshot) else graph3
    found = leak_candidates(ids1, ids2, graph)
    return group_candidates(found, graph, ignore_classes, with_retained=with_retained)


def group_candidates(
    found: Candidates,
    graph: HeapGraph,
    ignore_classes: Iterable[str] = (),
    *,
    with_retained: bool = True,
) -> ThreeSnapshotDiff:
    """The second half of `three_snapshot_diff`: per class counts, sizes, retained sizes, examples."""
    snap = graph.snapshot
    survivors = found.survivors
    fresh = found.fresh
    if with_retained:  # the dominators are built for the retained sizes anyway
        owned = owned_by_noise(graph)
        survivors = survivors[~owned[survivors]]
        fresh = fresh[~owned[fresh]]
        del owned
    both = np.concatenate([survivors, fresh])
    codes, names = class_keys(graph, both)
    survivor_codes = codes[: survivors.size]
    fresh_codes = codes[survivors.size :]
    sizes = snap.node_self_size
    width = len(names)
    survivor_count = np.bincount(survivor_codes, minlength=width)
    survivor_bytes = np.bincount(survivor_codes, weights=sizes[survivors], minlength=width)
    fresh_count = np.bincount(fresh_codes, minlength=width)
    fresh_bytes = np.bincount(fresh_codes, weights=sizes[fresh], minlength=width)
    retained_once = np.zeros(width, np.int64)
    if with_retained and survivors.size:
        retained_once = _retained_once(graph, survivors, survivor_codes, width)
    ignored = set(ignore_classes)
    rank = shortest_paths(graph).rank
    rows = []
    for code, name in enumerate(names):
        if name in ignored or (not survivor_count[code] and not fresh_count[code]):
            continue
        members = survivors[survivor_codes == code]
        later = fresh[fresh_codes == code]
        rows.append(
            LeakCandidates(
                class_name=name,
                survivors=int(survivor_count[code]),
                survivor_bytes=int(survivor_bytes[code]),
                retained_bytes=int(retained_once[code]),
                fresh=int(fresh_count[code]),
                fresh_bytes=int(fresh_bytes[code]),
                survivor_nodes=members,
                fresh_nodes=later,
                example_nodes=nearest_to_roots(members if members.size else later, rank, EXAMPLES_PER_CLASS),
            )
        )
    rows.sort(key=lambda r: (-r.retained_bytes, -r.survivors, -r.fresh, r.class_name))
    return ThreeSnapshotDiff(rows)


def _odd_sorted(ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        ids = ids.astype(np.int64)
    odd = ids[(ids & 1) == 1]
    if odd.size > 1 and (odd[1:] < odd[:-1]).any():
        odd = np.sort(odd)
    return odd


def _retained_once(graph: HeapGraph, survivors: np.ndarray, codes: np.ndarray, width: int) -> np.ndarray:
    """Per class, the retained sizes of its survivors that no other survivor of it dominates."""
    tree = shortest_paths(graph)
    dom = dominators(graph)
    idom = dom.idom
    node_class = np.full(graph.node_count, -1, np.int16 if width < (1 << 15) else np.int32)
    node_class[survivors] = codes
    # nearest[v]: the nearest strict dominator of v that is a survivor (-1: none). Top-down over
    # the BFS levels, since a node's immediate dominator is always on an earlier level.
    nearest = np.full(graph.node_count, -1, tree.parent.dtype)
    held = np.flatnonzero(idom >= 0)
    survivor_idom = held[node_class[idom[held]] >= 0]
    nearest[survivor_idom] = idom[survivor_idom]
    keep = np.zeros(graph.node_count, np.bool_)
    keep[survivor_idom] = True
    inherit_down(tree, idom, nearest, keep)
    # Follow the chain of survivor dominators until one of the same class (nested) or none.
    walk = nearest[survivors]
    nested = np.zeros(survivors.size, np.bool_)
    active = np.flatnonzero(walk >= 0)
    while active.size:
        same = node_class[walk[active]] == codes[active]
        nested[active[same]] = True
        active = active[~same]
        walk[active] = nearest[walk[active]]
        active = active[walk[active] >= 0]
    counted = ~nested
    return np.bincount(codes[counted], weights=dom.retained[survivors[counted]], minlength=width).astype(np.int64)


def three_snapshot_counts(
    census1: ClassCensus,
    census2: ClassCensus,
    census3: ClassCensus,
    graph3: HeapGraph,
    ignore_classes: Iterable[str] = (),
    *,
    graph2: HeapGraph,
) -> ThreeSnapshotDiff:
    """The 3-snapshot diff where ids are not comparable (Bun): per-class count growth per round.

    `survivors` is the count growth S1→S2 and `fresh` the growth S2→S3 (sizes likewise); no
    retained sizes, since which objects are the new ones is unknown. Classes that grew in a round
    are listed; examples for paths, for classes that grew in both rounds, are the instances that a
    holder which grew with the class since S2 (`graph2`) ties to the growth (`piles.tied_instances`):
    none when nothing does.
    """
    ignored = set(ignore_classes)
    growing = frozenset(
        name for name in census3.class_names()
        if min(census2.count(name) - census1.count(name), census3.count(name) - census2.count(name)) >= 2
    )
    rows = []
    for name in census3.class_names():
        if name in ignored:
            continue
        c1, c2, c3 = census1.count(name), census2.count(name), census3.count(name)
        if c2 <= c1 and c3 <= c2:
            continue
        s1, s2, s3 = census1.size(name), census2.size(name), census3.size(name)
        rows.append(
            LeakCandidates(
                class_name=name,
                survivors=max(0, c2 - c1),
                survivor_bytes=max(0, s2 - s1),
                retained_bytes=0,
                fresh=max(0, c3 - c2),
                fresh_bytes=max(0, s3 - s2),
                survivor_nodes=np.zeros(0, np.int64),
                fresh_nodes=np.zeros(0, np.int64),
                example_nodes=tuple(
                    tied_instances(graph2, graph3, name, expected=c3 - c2, growing=growing - {name},
                                   limit=EXAMPLES_PER_CLASS)
                )
                if name in growing
                else (),
            )
        )
    rows.sort(key=lambda r: (-min(r.survivors, r.fresh), -r.survivors, r.class_name))
    note = (
        "ids are not comparable across these snapshots (bun renumbers every object in every "
        "snapshot): the columns are per-class count growth per round, not objects tracked by id"
    )
    return ThreeSnapshotDiff(rows, method="counts", notes=[note])

"""Long-lived objects that grow in place: the leaks that leave no new survivor behind.

Numbers pushed into one array, small integers added to a `Set`, a string or typed array replaced by
an ever-larger one, a `WebAssembly.Memory` grown page by page: the object keeps its identity while
its storage (a new, larger backing store each time) grows. A 3-snapshot diff of new objects sees
nothing; the retained size of the long-lived object sees all of it.

An object counts when it is present in all three snapshots and its retained size grew in both
rounds, by comparable amounts. Identity comes from the snapshot ids where they are stable (V8); on
Bun, which renumbers every object in every snapshot, from its place in the heap: the chain of
edge names and class keys along its shortest path from the GC roots (`structural_keys`).

Of a chain of growing objects (the array, the module scope holding it, the roots), only the
deepest is reported: an ancestor whose growth one of its dominated candidates explains is dropped.
Objects that dominate survivors of a leaking class are skipped too: their growth is those
survivors, already reported as such.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pytest_jsleak.heap.classes import class_keys, class_name
from pytest_jsleak.heap.dominators import dominators, retained_sizes_from
from pytest_jsleak.heap.exclusions import NOISE_CLASS_NAMES, automation_owned, harness_owned
from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.paths import ShortestPathTree, followed_edge_filter, shortest_path_tree, shortest_paths
from pytest_jsleak.heap.treewalk import level_runs

#: Node types that can be "the object that grows": JS objects the user's code can name.
#: Internal arrays, strings, code, shapes and hidden/system nodes are storage or the runtime's own.
GROWING_TYPES = ("object", "closure", "regexp")
#: Node types whose size is the runtime's, not the program's data (see `data_retained`).
WEIGHTLESS_TYPES = ("code", "hidden", "object shape")
#: Likewise by class key: JSC's compiled code and structures, and V8's internal system objects.
WEIGHTLESS_CLASSES = frozenset({"(compiled code)", "(object shape)", "(system)", "system / SharedFunctionInfo",
                                "system / FeedbackVector", "system / FeedbackCell", "system / ScopeInfo",
                                "system / BytecodeArray", "system / Code", *NOISE_CLASS_NAMES})
#: A round must add at least this many bytes to the object's retained size.
MIN_ROUND_BYTES = 64
#: The smaller round's growth must be at least this share of the larger one's. Growth in place
#: comes in jumps (an array's capacity grows by half, a hash table doubles), so the two rounds
#: rarely match closely; a one-off (a cache filling once) grows in one round only.
MIN_ROUND_SHARE = 0.25
#: A jump of at least this many bytes in one round makes an object worth another round.
ONE_ROUND_BYTES = 1024
#: A candidate explains an ancestor when it accounts for at least this share of its growth.
EXPLAINS_SHARE = 0.5
#: At most this many candidates are ranked (largest growth first): bounded work on huge heaps.
MAX_CANDIDATES = 2000

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, slots=True)
class GrownObject:
    """A long-lived object whose retained size grew from snapshot to snapshot."""

    node: int
    """Its node index in the last snapshot."""
    node_id: int
    """Its id in the last snapshot (`@id` in DevTools)."""
    class_name: str
    sizes: tuple[int, ...]
    """Retained size in each snapshot compared (S1, S2, S3, and S4 when a round was added), bytes."""
    key: int = 0
    """What identifies it across snapshots (`identity_keys`)."""

    @property
    def round_a(self) -> int:
        return self.sizes[1] - self.sizes[0]

    @property
    def round_b(self) -> int:
        return self.sizes[2] - self.sizes[1]


@dataclass(frozen=True, slots=True)
class InPlaceFindings:
    """What `grown_in_place` found: objects that grew in both rounds, and those that grew in one."""

    grown: list[GrownObject]
    one_round: list[GrownObject]
    """Grew by a jump in one round only: a collection whose storage doubles (a `Set` of ids) looks
    like this as much as a cache that filled once. Another, longer round tells them apart
    (`grew_again`)."""


#: Node types whose outgoing edges come and go with the JIT: compiled code embeds the objects it
#: was specialised on and structures point at prototypes, so a shortest path through them changes
#: between snapshots as functions tier up (Bun: `(GC roots) → (compiled code) → leaky() → scope →
#: arena` in S1, `(GC roots) → (compiled code) → WebAssembly.Memory` in S2).
UNSTABLE_ROUTE_TYPES = ("code", "object shape")
GC_ROOTS_NAME = "(GC roots)"


def structural_keys(graph: HeapGraph) -> np.ndarray:
    """A 64-bit key per node from its place in the heap: edge names (or element indices) and class
    keys along a shortest path from the GC roots.

    The same object in two snapshots of the same program gets the same key while it stays at the
    same place (`(GC roots) → … → latencies → Array`), whatever its id. The path avoids going
    through compiled code, structures (`UNSTABLE_ROUTE_TYPES`) and the GC roots' own edges where
    another one exists; nodes reachable only through them are keyed by the plain shortest path.
    Unreachable nodes get 0.
    Callers must treat keys that occur more than once in a snapshot as unknown.
    """
    snap = graph.snapshot
    unstable = snap.meta.node_type_mask(UNSTABLE_ROUTE_TYPES)[snap.node_type]
    # And the GC roots' own edges: JSC's conservative scan roots whatever the stack held at the
    # snapshot (the `seen` Set one time, `Set.prototype` the next), all by unnamed edges.
    unstable |= np.isin(snap.node_name, snap.strings.indices_of(GC_ROOTS_NAME))
    unstable = np.flatnonzero(unstable)
    plain = _keys_along(graph, shortest_paths(graph))
    if not unstable.size:
        return plain
    stable = _keys_along(graph, shortest_path_tree(graph, unstable))
    return np.where(stable != 0, stable, plain)


def _keys_along(graph: HeapGraph, tree: ShortestPathTree) -> np.ndarray:
    """`structural_keys` along the paths of one BFS tree (0 for the nodes it does not reach)."""
    snap = graph.snapshot
    count = graph.node_count
    keys = np.zeros(count, np.uint64)
    if count == 0:
        return keys
    codes, names = class_keys(graph)
    class_hash = np.array([text_hash("c:" + name) for name in names], np.uint64)
    # The edge the BFS took into each node: among the edges from its tree parent to it, the first
    # followed one (as `paths.tree_edge` picks it for one node).
    edge_from = graph.edge_from
    edge_to = snap.edge_to
    parent = tree.parent
    is_tree = parent[edge_to] == edge_from
    is_tree &= parent[edge_to] >= 0
    candidates = np.flatnonzero(is_tree)
    if candidates.size:
        from_root = edge_from[candidates] == 0
        follow = followed_edge_filter(graph)
        followed = np.zeros(candidates.size, np.bool_)
        if from_root.any():
            followed[from_root] = follow(candidates[from_root], True, edge_to[candidates[from_root]])
        if (~from_root).any():
            followed[~from_root] = follow(candidates[~from_root], False, edge_to[candidates[~from_root]])
        # Prefer followed edges; np.unique keeps the first occurrence of each target in order.
        ordered = np.concatenate([candidates[followed], candidates[~followed]])
        _, first = np.unique(edge_to[ordered], return_index=True)
        chosen = ordered[first]
    else:
        chosen = candidates
    label = _edge_labels(graph, chosen)
    edge_label = np.zeros(count, np.uint64)
    edge_label[edge_to[chosen]] = label
    keys[0] = text_hash("root")
    with np.errstate(over="ignore"):
        for begin, end, thin in level_runs(tree):
            nodes = tree.order[begin:end]
            if thin:
                # A node's parent may be in the same run (a chain): the same mix, node by node.
                keys[nodes] = _chain_keys(nodes, parent, tree.rank, begin, keys, edge_label, class_hash[codes[nodes]])
                continue
            mixed = (keys[parent[nodes]] * _MULTIPLIER) ^ edge_label[nodes]
            mixed = (mixed * _MULTIPLIER) ^ class_hash[codes[nodes]]
            keys[nodes] = mixed | np.uint64(1)  # never 0 for a reachable node
    keys[tree.rank < 0] = 0
    return keys


def _chain_keys(nodes: np.ndarray, parent: np.ndarray, rank: np.ndarray, begin: int, keys: np.ndarray,
                edge_label: np.ndarray, class_hashes: np.ndarray) -> np.ndarray:
    """`_keys_along`'s keys of a run of thin levels (`nodes`, from position `begin` of the BFS order),
    in Python integers: parents before the run have their keys in `keys`."""
    ups = parent[nodes]
    inside = (rank[ups].astype(np.int64) - begin).tolist()  # the parent's position in the run, < 0: before it
    before = keys[ups].tolist()
    labels = edge_label[nodes].tolist()
    hashes = class_hashes.tolist()
    multiplier, mask = int(_MULTIPLIER), int(_MASK)
    found: list[int] = []
    for position, up_key, label, hashed in zip(inside, before, labels, hashes, strict=True):
        mixed = ((((found[position] if position >= 0 else up_key) * multiplier) & mask) ^ label) * multiplier
        found.append(((mixed & mask) ^ hashed) | 1)
    return np.array(found, np.uint64)


def _edge_labels(graph: HeapGraph, edges: np.ndarray) -> np.ndarray:
    """A hash per edge of its type and name (element and hidden edges: their index)."""
    snap = graph.snapshot
    types = snap.edge_type[edges]
    names = snap.edge_name[edges].astype(np.int64)
    meta = snap.meta
    indexed = np.zeros(len(meta.edge_types), np.bool_)
    for position, type_name in enumerate(meta.edge_types):
        if type_name in ("element", "hidden"):
            indexed[position] = True
    by_index = indexed[types]
    labels = np.zeros(edges.size, np.uint64)
    # Element indices: mixed numerically. Names: one hash per distinct string.
    with np.errstate(over="ignore"):
        labels[by_index] = (names[by_index].astype(np.uint64) + np.uint64(0x51ED)) * _MULTIPLIER
    named = np.flatnonzero(~by_index)
    if named.size:
        distinct, inverse = np.unique(names[named], return_inverse=True)
        hashes = np.array(
            [text_hash(f"n:{snap.strings[int(i)]}") for i in distinct], np.uint64
        )
        labels[named] = hashes[inverse.reshape(-1)]
    with np.errstate(over="ignore"):
        labels ^= types.astype(np.uint64) * np.uint64(0x2545F4914F6CDD1D)
    return labels


def text_hash(text: str) -> int:
    """A stable 64-bit hash of a text (the same in every process: keys compare across snapshots)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def identity_keys(graph: HeapGraph, *, stable_ids: bool) -> np.ndarray:
    """Per node, what identifies it across snapshots: its id (V8), else its structural key; 0 = none.

    Only nodes of `GROWING_TYPES` that the BFS reaches get a key; on V8 only odd ids (the JS heap's:
    Node's embedder nodes get even, per-snapshot ids).
    """
    if stable_ids:
        snap = graph.snapshot
        eligible = snap.meta.node_type_mask(GROWING_TYPES)[snap.node_type] & (shortest_paths(graph).rank >= 0)
        ids = snap.node_id.astype(np.uint64)
        eligible &= (snap.node_id & 1) == 1
        return np.where(eligible, ids, np.uint64(0))
    return place_keys(graph).copy()


def place_keys(graph: HeapGraph) -> np.ndarray:
    """`identity_keys(graph, stable_ids=False)`, built once per graph and shared (do not write to it):
    growth in place and the holders of a Bun path (`heap.piles`) both ask for them."""
    return graph.memo(_place_keys)


def _place_keys(graph: HeapGraph) -> np.ndarray:
    snap = graph.snapshot
    eligible = snap.meta.node_type_mask(GROWING_TYPES)[snap.node_type] & (shortest_paths(graph).rank >= 0)
    keys = structural_keys(graph)
    keys[~eligible] = 0
    # A key that occurs twice cannot tell its objects apart: unknown.
    nonzero = keys[keys != 0]
    distinct, counts = np.unique(nonzero, return_counts=True)
    duplicated = distinct[counts > 1]
    if duplicated.size:
        keys[np.isin(keys, duplicated)] = 0
    return keys


def dominated_ancestors(graph: HeapGraph, nodes: np.ndarray) -> np.ndarray:
    """Bool mask: the nodes that dominate (strictly or not) any of `nodes`."""
    idom = dominators(graph).idom
    marked = np.zeros(graph.node_count, np.bool_)
    frontier = np.unique(np.asarray(nodes, dtype=np.int64))
    frontier = frontier[(frontier >= 0) & (frontier < graph.node_count)]
    while frontier.size:
        frontier = frontier[~marked[frontier]]
        marked[frontier] = True
        frontier = idom[frontier].astype(np.int64)
        frontier = np.unique(frontier[frontier >= 0])
    return marked


def grown_in_place(
    graphs: Sequence[HeapGraph],
    *,
    stable_ids: bool,
    explained: np.ndarray | None = None,
    min_round_bytes: int = MIN_ROUND_BYTES,
) -> InPlaceFindings:
    """Long-lived objects of S1, S2 and S3 (`graphs`) whose retained size grew in both rounds, and
    those that grew by a jump of `ONE_ROUND_BYTES` or more in one round only.

    `explained`: a bool mask over the last snapshot's nodes whose growth is already accounted for
    (the holders of leaking survivors: `dominated_ancestors`). Largest growth first.
    """
    if len(graphs) != 3:
        raise ValueError("grown_in_place needs the three snapshots S1, S2, S3")
    return grown_in_place_from(
        keyed_sizes(graphs[0], stable_ids), keyed_sizes(graphs[1], stable_ids), graphs[2],
        stable_ids=stable_ids, explained=explained, min_round_bytes=min_round_bytes,
    )


def grown_in_place_from(
    first: tuple[np.ndarray, np.ndarray, np.ndarray],
    second: tuple[np.ndarray, np.ndarray, np.ndarray],
    final: HeapGraph,
    *,
    stable_ids: bool,
    explained: np.ndarray | None = None,
    min_round_bytes: int = MIN_ROUND_BYTES,
) -> InPlaceFindings:
    """`grown_in_place` from the `keyed_sizes` of S1 and S2 (their graphs may be gone) and S3's graph."""
    keyed = [first, second, keyed_sizes(final, stable_ids)]
    (k1, n1, r1), (k2, n2, r2), (k3, n3, r3) = keyed
    common = np.intersect1d(np.intersect1d(k1, k2, assume_unique=True), k3, assume_unique=True)
    if not common.size:
        return InPlaceFindings([], [])
    at1 = n1[np.searchsorted(k1, common)]
    at2 = n2[np.searchsorted(k2, common)]
    at3 = n3[np.searchsorted(k3, common)]
    s1, s2, s3 = r1[at1], r2[at2], r3[at3]
    grow_a, grow_b = s2 - s1, s3 - s2
    small = np.minimum(grow_a, grow_b)
    large = np.maximum(grow_a, grow_b)
    usable = np.ones(common.size, np.bool_)
    if explained is not None:
        usable &= ~explained[at3]
    # The harness's own objects (its command stream, its handlers being compiled) are not the target's.
    usable &= ~harness_owned(final)[at3]
    # Likewise Playwright's scripts injected into a page, and their caches (exclusions.automation_owned).
    usable &= ~automation_owned(final)[at3]
    both = usable & (small >= min_round_bytes) & (small >= MIN_ROUND_SHARE * large)
    once = usable & ~both & (large >= ONE_ROUND_BYTES) & (small >= 0) & (small < min_round_bytes)

    def objects(mask: np.ndarray) -> list[GrownObject]:
        picked = np.flatnonzero(mask)
        picked = picked[np.argsort(-(grow_a[picked] + grow_b[picked]), kind="stable")][:MAX_CANDIDATES]
        found = [
            GrownObject(int(at3[p]), int(final.snapshot.node_id[at3[p]]), class_name(final, int(at3[p])),
                        (int(s1[p]), int(s2[p]), int(s3[p])), int(common[p]))
            for p in picked
        ]
        return deepest(final, found)

    return InPlaceFindings(objects(both), objects(once))


def data_retained(graph: HeapGraph) -> np.ndarray:
    """Retained sizes that count the program's data only: compiled code, shapes and hidden system
    objects weigh nothing.

    A function's or a scope's plain retained size grows as the JIT compiles what it holds
    (bytecode, feedback, optimised code, new shapes) for thousands of calls: growth, but not the
    program's, and not a leak. Backing stores (native nodes) and the `(system)` storage that one
    of the program's objects alone holds (JSC's Map and Set tables) do count.
    """
    return graph.memo(_data_retained)


def _data_retained(graph: HeapGraph) -> np.ndarray:
    snap = graph.snapshot
    meta = snap.meta
    sizes = snap.node_self_size.astype(np.int64)
    codes, names = class_keys(graph)
    internal = np.array([name in WEIGHTLESS_CLASSES for name in names], np.bool_)
    weightless = internal[codes] | meta.node_type_mask(WEIGHTLESS_TYPES)[snap.node_type]
    idom = dominators(graph).idom
    if "(system)" in names:
        # Except the storage of the program's own collections: JSC keeps a Map's or Set's table in
        # a `(system)` cell that only the collection holds (Bun's seen-ids example: 0.5 → 2.6 MB).
        storage = np.flatnonzero(codes == names.index("(system)"))
        owner = idom[storage].astype(np.int64)
        ok = owner >= 0
        owner_safe = np.maximum(owner, 0)
        ok &= snap.node_type[owner_safe] == meta.node_type_code("object")
        ok &= ~weightless[owner_safe]
        weightless[storage[ok]] = False
    weightless |= weak_tables(graph)
    sizes[weightless] = 0
    return retained_sizes_from(idom, sizes, shortest_paths(graph))


#: Collections that hold their keys weakly: the engine clears the entries of dead keys in the GC and
#: keeps the table's capacity for later, so the table grows with the most keys ever alive at once
#: between two collections (Vue's reactive `targetMap` doubled twice on a clean page), not with what
#: it keeps. What a weak collection keeps alive, it keeps through keys something else holds, and those
#: keys and their values are survivors of their own classes.
WEAK_COLLECTIONS = ("WeakMap", "WeakSet")


def weak_tables(graph: HeapGraph) -> np.ndarray:
    """Mask of the hash tables of weak collections (the node a `WeakMap` or `WeakSet` holds through its
    internal `table` edge, in V8's snapshots): their own size is not the program's data. The values
    they hold keep theirs."""
    snap = graph.snapshot
    mask = np.zeros(snap.node_count, np.bool_)
    codes, names = class_keys(graph)
    wanted = [names.index(name) for name in WEAK_COLLECTIONS if name in names]
    table_names = snap.strings.indices_of("table")
    internal = snap.meta.edge_type_code("internal")
    if not wanted or not table_names or internal < 0:
        return mask
    owners = np.isin(codes, wanted) & (snap.node_type == snap.meta.node_type_code("object"))
    edges = np.flatnonzero((snap.edge_type == internal) & np.isin(snap.edge_name, table_names))
    edges = edges[owners[graph.edge_from[edges]]]
    mask[snap.edge_to[edges]] = True
    return mask


KeyedSizes = tuple[np.ndarray, np.ndarray, np.ndarray]


def keyed_sizes(graph: HeapGraph, stable_ids: bool) -> KeyedSizes:
    """(sorted identity keys, their node indices, data retained size per node) of one snapshot:
    all that `grown_in_place_from` needs of S1 and S2. Built once per graph."""
    return graph.memo(keyed_by_ids if stable_ids else keyed_by_place)


def keyed_by_ids(graph: HeapGraph) -> KeyedSizes:
    """`keyed_sizes` where ids identify objects across snapshots (V8), built afresh."""
    return _keyed_sizes(graph, True)


def keyed_by_place(graph: HeapGraph) -> KeyedSizes:
    """`keyed_sizes` where only an object's place in the heap does (Bun), built afresh."""
    return _keyed_sizes(graph, False)


def _keyed_sizes(graph: HeapGraph, stable_ids: bool) -> KeyedSizes:
    keys = identity_keys(graph, stable_ids=stable_ids)
    nodes = np.flatnonzero(keys != 0)
    order = np.argsort(keys[nodes], kind="stable")
    return keys[nodes][order], nodes[order], data_retained(graph)


def deepest(graph: HeapGraph, found: list[GrownObject]) -> list[GrownObject]:
    """Drop the objects whose growth a dominated one explains (the module scope of a growing array)."""
    growth = {g.node: g.sizes[-1] - g.sizes[0] for g in found}
    idom = dominators(graph).idom
    dropped: set[int] = set()
    # Largest growth first, and a walk up the dominator tree stops at a node an earlier walk went
    # through: every test above it was made with at least this growth (one walk per chain, not
    # one per object: 2,000 objects along a closure chain 10,000 deep).
    walked: set[int] = set()
    for node, amount in sorted(growth.items(), key=lambda item: -item[1]):
        up = int(idom[node])
        while up >= 0 and up not in walked:
            walked.add(up)
            above = growth.get(up)
            if above is not None and amount >= EXPLAINS_SHARE * above:
                dropped.add(up)
            up = int(idom[up])
    return [g for g in found if g.node not in dropped]


def large_objects(graph: HeapGraph, *, min_bytes: int, stable_ids: bool) -> list[GrownObject]:
    """The program's identifiable objects whose data retained size is at least `min_bytes`, as
    `GrownObject`s with one size (for `grew_again`, then `deepest`), largest first."""
    keys, nodes, retained = keyed_sizes(graph, stable_ids)
    sizes = retained[nodes]
    keep = sizes >= min_bytes
    keep &= ~harness_owned(graph)[nodes] & ~automation_owned(graph)[nodes]
    picked = np.flatnonzero(keep)
    picked = picked[np.argsort(-sizes[picked], kind="stable")][:MAX_CANDIDATES]
    found = [GrownObject(int(nodes[p]), int(graph.snapshot.node_id[nodes[p]]), class_name(graph, int(nodes[p])),
                         (int(sizes[p]),), int(keys[p])) for p in picked]
    return found


def grew_again(
    before: HeapGraph, after: HeapGraph, objects: Sequence[GrownObject], *, stable_ids: bool,
    min_bytes: int = MIN_ROUND_BYTES,
) -> list[GrownObject]:
    """Of `objects` (found in `before`), those whose retained size grew again by `after`.

    Their `sizes` gain the size in `after`; `node` and `node_id` are those of `after`.
    """
    keys, nodes, retained = keyed_sizes(after, stable_ids)
    found = []
    for obj in objects:
        at = int(np.searchsorted(keys, obj.key))
        if at >= keys.size or keys[at] != obj.key:
            continue
        node = int(nodes[at])
        size = int(retained[node])
        if size - obj.sizes[-1] >= min_bytes:
            found.append(GrownObject(node, int(after.snapshot.node_id[node]), obj.class_name, (*obj.sizes, size),
                                     obj.key))
    return found


__all__ = [
    "GrownObject",
    "InPlaceFindings",
    "deepest",
    "dominated_ancestors",
    "grew_again",
    "grown_in_place",
    "grown_in_place_from",
    "identity_keys",
    "keyed_by_ids",
    "keyed_by_place",
    "keyed_sizes",
    "large_objects",
    "place_keys",
    "structural_keys",
    "text_hash",
]

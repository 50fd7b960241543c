"""The analysis: the confirming rounds' snapshots → `Evidence` (what survived, what grew in place).

S1, S2, S3 are read once. Survivors are found as the profile says (`profiles.SurvivorMethod`):
by ids (objects new in S2 still alive in S3), by ids with round B's net count per class (Deno), or
by per-class count growth in each round (Bun). Long-lived objects that grew in place are found
apart from what the leaking survivors explain. After an extra round, `add_round` looks again at
the objects that grew in one round only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from pytest_jsleak import heap
from pytest_jsleak.evidence import ClassGrowth, Evidence, GrowthInPlace
from pytest_jsleak.heap.allocations import AllocationTraces
from pytest_jsleak.heap.classes import class_name
from pytest_jsleak.heap.diff import contains
from pytest_jsleak.heap.dominators import dominators
from pytest_jsleak.heap.entries import ENTRY_BYTES, grown_by_entries
from pytest_jsleak.heap.growth import (
    MIN_ROUND_BYTES,
    GrownObject,
    data_retained,
    deepest,
    dominated_ancestors,
    grew_again,
    grown_in_place,
    keyed_sizes,
    large_objects,
)
from pytest_jsleak.heap.holders import module_variable, with_named_holder
from pytest_jsleak.heap.paths import shortest_paths
from pytest_jsleak.heap.stores import indices_of, storage_charge
from pytest_jsleak.heap.treewalk import inherit_down
from pytest_jsleak.model import RetainerPath
from pytest_jsleak.profiles import RuntimeProfile
from pytest_jsleak.report.text import HARNESS_PREFIX
from pytest_jsleak.verdict import KEPT_PACE_SHARE, is_leaking_class

#: Edges that name what holds an object in the program's own terms: a variable, a property, an import.
PROGRAM_EDGE_TYPES = frozenset({"context", "property", "variable", "import", "shortcut"})


def held_by_program(path: RetainerPath) -> bool:
    """Whether a variable or a property of the program is on the path: something a user can act on.

    A path of the engine's own edges only (`(GC roots) → (Global handles) → Array`: element and internal
    edges out of synthetic roots) is the runtime's business: its handles, its tables, its caches.
    """
    for before, step in pairwise(path.steps):
        if (
            step.edge_type in PROGRAM_EDGE_TYPES
            and before.node_type != "synthetic"
            and step.edge_name
            and not step.edge_name.startswith(HARNESS_PREFIX)
        ):
            return True
    return False


def read_graph(path: Path) -> heap.HeapGraph:
    """A snapshot's graph, read afresh."""
    return heap.HeapGraph(heap.read_snapshot(path))


def prepared_graph(path: Path, profile: RuntimeProfile) -> heap.HeapGraph:
    """S1's or S2's graph with what `analyse` needs of it computed (memoised on the graph): its
    dominators and the sizes that growth in place compares, most of the work a snapshot costs."""
    graph = read_graph(path)
    keyed_sizes(graph, profile.matches_by_id)
    return graph


class ReadAhead:
    """S1 and S2 read and prepared (`prepared_graph`) on a thread of their own while the next round runs,
    so that after S3 the analysis has one snapshot left to read: a module's calls run in the harness's
    loop, in the runtime's process, and this one waits for them meanwhile (`RuntimeProfile.reads_ahead`:
    not where this process makes each call, a page's clicks or a server's requests).

    `graph(path)` is the prepared graph (waiting for it, raising what reading it raised), or reads the
    snapshot afresh when it was not handed over. One thread, in the order the snapshots were written.
    """

    def __init__(self, profile: RuntimeProfile) -> None:
        self._profile = profile
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[Path, Future[heap.HeapGraph]] = {}

    def written(self, path: Path) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jsleak-read-ahead")
        self._pending[path] = self._pool.submit(prepared_graph, path, self._profile)

    def graph(self, path: Path) -> heap.HeapGraph:
        pending = self._pending.pop(path, None)
        return pending.result() if pending is not None else read_graph(path)

    def close(self) -> None:
        """Drop what was not asked for; a snapshot being read is finished on the thread, and dropped."""
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def analyse(
    snapshots: Sequence[Path], *, profile: RuntimeProfile, round_calls: int, tracked: bool = False,
    read: Callable[[Path], heap.HeapGraph] = read_graph,
) -> Evidence:
    """Evidence from S1, S2, S3 of two confirming rounds of `round_calls` calls each. `read`: how a
    snapshot becomes a graph (`ReadAhead.graph` hands over those read while the rounds ran)."""
    graphs = [read(path) for path in snapshots[:3]]
    final = graphs[2]
    net_b: dict[str, int] | None = None
    if profile.survivors == "counts":
        method = "counts"
        census = [heap.class_census(g) for g in graphs]
        diff = heap.three_snapshot_counts(census[0], census[1], census[2], final, graph2=graphs[1])
    else:
        method = "ids"
        diff = heap.three_snapshot_diff(graphs[0].snapshot.node_id, graphs[1].snapshot.node_id, final)
        if profile.survivors == "ids+net-counts":
            # Strings and numbers re-ided in every snapshot would all look allocated in round B, and how
            # many are re-ided varies: a class's count does not change with ids, so its net growth over
            # round B stands for round B.
            census2, census3 = heap.class_census(graphs[1]), heap.class_census(final)
            net_b = {row.class_name: max(0, census3.count(row.class_name) - census2.count(row.class_name))
                     for row in diff}
    if profile.matches_by_id:
        diff = _without_replaced_storage(diff, graphs[0], final)
    # S2 was written while round A's allocations were tracked: its stacks say where the survivors
    # (round A's objects, found by id in S3) were made.
    traces = AllocationTraces.of_snapshot(graphs[1].snapshot) if tracked and profile.matches_by_id else None
    snap = final.snapshot
    survivors = {row.class_name: (snap.node_id[row.survivor_nodes], snap.node_self_size[row.survivor_nodes])
                 for row in diff if row.survivor_nodes.size} if traces is not None else {}
    classes = tuple(
        ClassGrowth(
            class_name=row.class_name,
            round_a=row.survivors,
            round_b=row.fresh if net_b is None else min(row.fresh, net_b[row.class_name]),
            bytes_a=row.survivor_bytes,
            bytes_b=row.fresh_bytes,
            retained_bytes=row.retained_bytes,
            examples=tuple(row.example_nodes),
        )
        for row in diff
    )
    # Objects that hold leaking survivors grow with them: that growth is the survivors', not theirs.
    leaking_rows = [
        row for row, growth in zip(diff, classes, strict=True)
        if row.survivor_nodes.size and is_leaking_class(growth, iterations=round_calls, profile=profile)
    ]
    leaking_nodes = [row.survivor_nodes for row in leaking_rows]
    leaking_survivors = np.concatenate(leaking_nodes) if leaking_nodes else np.zeros(0, np.int64)
    explained = dominated_ancestors(final, leaking_survivors) if leaking_nodes else None
    # What the leak cost over both rounds: round A's survivors and round B's new objects of the same
    # classes (a survivor that only the engine's roots hold is sized by itself, and round B's count).
    leaking_new = np.concatenate([leaking_survivors, *(row.fresh_nodes for row in leaking_rows)])
    holders_growth = natives_growth = 0
    if profile.matches_by_id and leaking_nodes:
        holders_growth, counted = held_growth(graphs, leaking_new)
        natives_growth = natives_kept_pace(graphs, round_calls, counted=counted)
    # At least a byte per call in each round: a runtime's own queues and tables (Deno's timer queue
    # under a server that sets a timer per request) wander by a hundred bytes a round.
    findings = grown_in_place(
        graphs, stable_ids=profile.matches_by_id, explained=explained,
        min_round_bytes=max(MIN_ROUND_BYTES, round_calls),
    )
    calls = 2 * round_calls
    held, unheld = _program_held(final, findings.grown)
    entries: tuple[GrowthInPlace, ...] = ()
    if not profile.snapshots_show_storage:
        # Storage the snapshots do not size: the entries it holds, at the pace a class's count must keep.
        entries = tuple(
            GrowthInPlace(g.class_name, g.gained * ENTRY_BYTES / calls, g.node, g.node_id,
                          tuple(count * ENTRY_BYTES for count in g.entries), g.entries)
            for g in grown_by_entries(graphs, min_round_entries=math.ceil(profile.min_count_rate * round_calls))
        )
    return Evidence(
        method=method,
        classes=classes,
        grown=tuple(_in_place(g, calls) for g in held),
        grown_objects=tuple(held),
        unheld=tuple(g.class_name for g in unheld),
        holders_growth=holders_growth,
        natives_growth=natives_growth,
        one_round=tuple(findings.one_round),
        calls=calls,
        final=final,
        grown_graph=final,
        traces=traces,
        survivors=survivors,
        entries=entries,
        storage=tuple(heap.bytes_by_type(g) for g in graphs),
    )


def replaced_storage(first: heap.HeapGraph, final: heap.HeapGraph) -> np.ndarray:
    """Mask over S3's nodes: the backing stores (`array`, `hidden`: elements, property arrays, a Map's
    hash table) whose immediate dominator was alive in S1.

    A long-lived object's storage is reallocated as it grows or rehashes: a new store replaces the old
    one, which dies. The object grew in place, or not at all (Node's `timerListMap` elements and an LRU
    Map's table, replaced once a round on a clean route: two "new" `(array)`s per round, the class's
    count flat): never a new object of the program. What the object grew by is the growth-in-place
    rule's to judge.
    """
    snap = final.snapshot
    types = snap.meta.node_types
    storage_codes = [types.index(name) for name in ("array", "hidden") if name in types]
    idom = dominators(final).idom
    old = np.sort(first.snapshot.node_id.astype(np.int64))
    held = idom >= 0
    mask = np.isin(snap.node_type, storage_codes) & held
    mask[mask] = contains(old, snap.node_id[idom[mask]].astype(np.int64))
    return mask


def _without_replaced_storage(
    diff: heap.ThreeSnapshotDiff, first: heap.HeapGraph, final: heap.HeapGraph
) -> heap.ThreeSnapshotDiff:
    """The diff with every class's survivors and fresh objects less the replaced storage (`replaced_storage`)."""
    storage = replaced_storage(first, final)
    if not storage.any():
        return diff
    sizes = final.snapshot.node_self_size
    retained = dominators(final).retained
    rows = []
    for row in diff.rows:
        kept, fresh = row.survivor_nodes[~storage[row.survivor_nodes]], row.fresh_nodes[~storage[row.fresh_nodes]]
        if kept.size == row.survivor_nodes.size and fresh.size == row.fresh_nodes.size:
            rows.append(row)
            continue
        if not (kept.size or fresh.size):
            continue  # the class gained no object
        dropped = row.survivor_nodes[storage[row.survivor_nodes]]
        rows.append(replace(
            row, survivors=int(kept.size), survivor_bytes=int(sizes[kept].sum()), survivor_nodes=kept,
            retained_bytes=max(0, row.retained_bytes - int(retained[dropped].sum())),
            fresh=int(fresh.size), fresh_bytes=int(sizes[fresh].sum()), fresh_nodes=fresh,
            example_nodes=tuple(node for node in row.example_nodes if not storage[node]),
        ))
    return replace(diff, rows=rows)


#: The engines' natives of a name must come at half an object per call or more in each round to be
#: the leak's: a leaked chart brings Blink 60 text nodes and a context state each, Blink's own caches
#: warming add a handful a round.
NATIVE_PACE = 0.5


def natives_kept_pace(graphs: Sequence[heap.HeapGraph], round_calls: int, *, counted: np.ndarray | None = None) -> int:
    """What the engines' own natives (Blink's objects in a page) grew by from S1 to S3, bytes, over the
    names whose count grew by `NATIVE_PACE` per call or more in both rounds.

    The program's classes leave them out (they are the engine's), and Blink keeps many of them through
    its own roots, not under the leaked objects that own them: a page's leaked canvases hold their
    contexts' font caches so, and their bytes were missing from the leak's size (the Chart.js page's
    leak read 0.48x its plain loop's V8 + Blink heap slope; with them, 1.01x). `counted`: the nodes of
    S3 whose retained sizes `held_growth` already counts; a name with a node under them is left out
    (never twice).
    """
    census = [heap.engine_natives(g) for g in graphs[:3]]
    floor = NATIVE_PACE * round_calls
    kept = {
        name: max(0, bytes3 - census[0].get(name, (0, 0))[1])
        for name, (count3, bytes3) in census[2].items()
        if census[1].get(name, (0, 0))[0] - census[0].get(name, (0, 0))[0] >= floor
        and count3 - census[1].get(name, (0, 0))[0] >= floor
    }
    if kept and counted is not None:  # the subtree walk only where a name kept pace (most leaks: none)
        snap = graphs[2].snapshot
        under = dominated_by(graphs[2], counted) & (snap.node_type == snap.meta.node_type_code("native"))
        for code in np.unique(snap.node_name[under]).tolist():
            kept.pop(snap.strings[int(code)], None)
    return sum(kept.values())


def held_growth(graphs: Sequence[heap.HeapGraph], survivors: np.ndarray) -> tuple[int, np.ndarray]:
    """How much the long-lived objects that hold the leaking classes' new objects (`survivors`: round
    A's survivors and round B's new objects, all alive in S3) grew from S1 to S3, bytes.

    A survivor's own size misses what keeping it costs its holder: the slot in an array, the entry
    of a Map's table, reallocated (a new object, never a survivor) each time it grows. The holder,
    alive since before S1, grows by all of it. Holders are the nearest dominators of the survivors
    that S1 already had (the survivors counted once where a holder holds another), sized by their
    whole retained size: the code of a function the program compiled and keeps (a template cache)
    is the leak's too. A new object held only through the engine's synthetic roots counts its own
    retained size instead (round B's too: with round A's alone, a page's detached charts, held by
    Blink's roots, read half their size). Returns the bytes, and the nodes whose retained sizes they
    count (the outermost holders and the self-held new objects).
    """
    first, _, final = graphs
    snap = final.snapshot
    idom = dominators(final).idom
    synthetic = snap.meta.node_type_code("synthetic")
    old = np.sort(first.snapshot.node_id.astype(np.int64))
    is_survivor = np.zeros(final.node_count, np.bool_)
    is_survivor[survivors] = True
    holder = idom[survivors].astype(np.int64)
    nested = np.zeros(holder.size, np.bool_)
    settled = np.zeros(holder.size, np.bool_)
    while True:
        active = np.flatnonzero(~settled & (holder > 0))
        if not active.size:
            break
        at = holder[active]
        # Held by another survivor: that one's holder holds both (a chain is walked once, not per link).
        inner = is_survivor[at]
        nested[active[inner]] = True
        found = inner | contains(old, snap.node_id[at].astype(np.int64)) | (snap.node_type[at] == synthetic)
        settled[active[found]] = True
        rest = active[~found]
        holder[rest] = idom[holder[rest]]
    holder, top = holder[~nested], survivors[~nested]
    by_self = (holder <= 0) | (snap.node_type[np.maximum(holder, 0)] == synthetic)
    sizes3 = dominators(final).retained
    total = int(sizes3[top[by_self]].sum()) if by_self.any() else 0
    holders = np.unique(holder[~by_self])
    keep: list[int] = []
    if holders.size:
        # Holders held by other holders: the outermost one's growth includes theirs.
        mark = np.zeros(final.node_count, np.bool_)
        mark[holders] = True
        for node in holders.tolist():
            up = int(idom[node])
            while up > 0 and not mark[up]:
                up = int(idom[up])
            if up <= 0:
                keep.append(node)
        at = indices_of(first, snap.node_id[keep])
        sizes1 = dominators(first).retained
        growth = {node: int(sizes3[node] - sizes1[old_at]) for node, old_at in zip(keep, at.tolist(), strict=True)}
        # Collections' storage at its amortised rate, not the step the rounds saw (`storage_charge`).
        for outer, correction in storage_charge(graphs, holders, keep).items():
            growth[outer] += correction
        total += sum(max(0, grown) for grown in growth.values())
    return total, np.concatenate([top[by_self], np.asarray(keep, np.int64)]).astype(np.int64)


def dominated_by(graph: heap.HeapGraph, tops: np.ndarray) -> np.ndarray:
    """Mask of the nodes in the dominator subtrees of `tops` (themselves included): what their retained
    sizes count. Top-down over the BFS levels, since a node's immediate dominator is on an earlier one."""
    tree = shortest_paths(graph)
    idom = dominators(graph).idom
    mask = np.zeros(graph.node_count, np.bool_)
    mask[tops] = True
    inherit_down(tree, idom, mask, mask.copy())
    return mask


def add_round(
    evidence: Evidence, snapshot: Path, calls: int, *, profile: RuntimeProfile, look_for_jump: int = 0
) -> Evidence:
    """Another round of `calls` calls ended in `snapshot`: objects that grew again grew in place.

    `look_for_jump`: the sampling rounds' unrepeated jump, when that (and not an object that grew in
    one round) earned the round: then every object of at least half its size is a candidate, and one
    that grows again by at least the jump is the table that made it (a cache that filled once does not).
    """
    after = heap.HeapGraph(heap.read_snapshot(snapshot))
    if not evidence.one_round and look_for_jump:
        candidates = large_objects(evidence.final, min_bytes=look_for_jump // 2, stable_ids=profile.matches_by_id)
        again = deepest(after, grew_again(evidence.final, after, candidates, stable_ids=profile.matches_by_id,
                                          min_bytes=look_for_jump))
    else:
        again = grew_again(evidence.final, after, list(evidence.one_round), stable_ids=profile.matches_by_id)
    kept, slowed = _kept_pace(evidence, after, calls, profile)
    counts_again: dict[str, int] = {}
    if profile.survivors == "counts" and evidence.classes:
        before, later = heap.class_census(evidence.final), heap.class_census(after)
        counts_again = {g.class_name: later.count(g.class_name) - before.count(g.class_name) for g in evidence.classes}
    total = evidence.calls + calls
    grown = [_as_module_variable(after, g) for g in (*kept, *(g for g in again if g.key not in {k.key for k in kept}))]
    return replace(
        evidence, calls=total, extra_rounds=evidence.extra_rounds + 1, grown_graph=after, one_round=(),
        grown=tuple(_in_place(g, total) for g in grown), grown_objects=tuple(grown),
        regrown=tuple(g.class_name for g in again), slowed=tuple(slowed), counts_again=counts_again,
        storage=(*evidence.storage, heap.bytes_by_type(after)),
    )


def _kept_pace(
    evidence: Evidence, after: heap.HeapGraph, calls: int, profile: RuntimeProfile
) -> tuple[list[GrownObject], list[str]]:
    """Of the objects that grew in place in rounds A and B, those that grew on over the extra round at
    `KEPT_PACE_SHARE` of their pace or more (their sizes gain S4's), and the classes of the others."""
    objects = list(evidence.grown_objects)
    if not objects:
        return [], []
    measured = {g.key: g for g in grew_again(evidence.final, after, objects, stable_ids=profile.matches_by_id,
                                             min_bytes=0)}
    kept: list[GrownObject] = []
    slowed: list[str] = []
    for obj in objects:
        later = measured.get(obj.key)
        pace = (obj.sizes[-1] - obj.sizes[0]) / max(1, evidence.calls)
        if later is not None and (later.sizes[-1] - obj.sizes[-1]) / max(1, calls) >= KEPT_PACE_SHARE * pace:
            kept.append(later)
        else:
            slowed.append(obj.class_name)
    return kept, slowed


def _program_held(graph: heap.HeapGraph, objects: Sequence[GrownObject]) -> tuple[list[GrownObject], list[GrownObject]]:
    """Split grown objects into those a program's variable or property holds and those only the engine
    does (an object with no retainer path at all stays: nothing says it is the engine's)."""
    held: list[GrownObject] = []
    unheld: list[GrownObject] = []
    for obj in objects:
        obj = _as_module_variable(graph, obj)
        path = heap.retainer_path(graph, obj.node)
        if path is not None:
            # The variable behind the path where the shortest one goes through the engine (JSC roots a
            # module's values through compiled code and its own cells).
            path = with_named_holder(graph, path)
        (held if path is None or held_by_program(path) else unheld).append(obj)
    return held, unheld


def _as_module_variable(graph: heap.HeapGraph, obj: GrownObject) -> GrownObject:
    """A module scope that grew stands for the variable in it that holds the most (`buf`, replaced by
    a larger copy per call: a new object in every snapshot, which only its scope outlives). Sizes and
    key stay the scope's: they are what grew, and what finds it in the next snapshot."""
    if class_name(graph, obj.node) != "system / Context":
        return obj
    held = module_variable(graph, obj.node, data_retained(graph))
    if held is None:
        return obj
    return replace(obj, node=held, node_id=int(graph.snapshot.node_id[held]), class_name=class_name(graph, held))


def _in_place(grown: GrownObject, calls: int) -> GrowthInPlace:
    return GrowthInPlace(
        class_name=grown.class_name,
        per_iteration=(grown.sizes[-1] - grown.sizes[0]) / max(1, calls),
        node=grown.node,
        node_id=grown.node_id,
        sizes=grown.sizes,
    )


__all__ = ["PROGRAM_EDGE_TYPES", "add_round", "analyse", "held_by_program"]

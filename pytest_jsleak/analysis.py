"""The analysis: the confirming rounds' snapshots → `Evidence` (what survived, what grew in place).

S1, S2, S3 are read once. Survivors are found as the profile says (`profiles.SurvivorMethod`):
by ids (objects new in S2 still alive in S3), by ids with round B's net count per class (Deno), or
by per-class count growth in each round (Bun). Long-lived objects that grew in place are found
apart from what the leaking survivors explain. After an extra round, `add_round` looks again at
the objects that grew in one round only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from pytest_jsleak import heap
from pytest_jsleak.evidence import ClassGrowth, Evidence, GrowthInPlace
from pytest_jsleak.heap.allocations import AllocationTraces
from pytest_jsleak.heap.growth import (
    MIN_ROUND_BYTES,
    GrownObject,
    deepest,
    dominated_ancestors,
    grew_again,
    grown_in_place,
    large_objects,
)
from pytest_jsleak.profiles import RuntimeProfile
from pytest_jsleak.verdict import is_leaking_class


def analyse(
    snapshots: Sequence[Path], *, profile: RuntimeProfile, round_calls: int, tracked: bool = False
) -> Evidence:
    """Evidence from S1, S2, S3 of two confirming rounds of `round_calls` calls each."""
    graphs = [heap.HeapGraph(heap.read_snapshot(path)) for path in snapshots[:3]]
    final = graphs[2]
    net_b: dict[str, int] | None = None
    if profile.survivors == "counts":
        method = "counts"
        diff = heap.three_snapshot_counts(*(heap.class_census(g.snapshot) for g in graphs), final)
    else:
        method = "ids"
        diff = heap.three_snapshot_diff(graphs[0].snapshot.node_id, graphs[1].snapshot.node_id, final)
        if profile.survivors == "ids+net-counts":
            # Strings and numbers re-ided in every snapshot would all look allocated in round B, and how
            # many are re-ided varies: a class's count does not change with ids, so its net growth over
            # round B stands for round B.
            census2, census3 = heap.class_census(graphs[1].snapshot), heap.class_census(final.snapshot)
            net_b = {row.class_name: max(0, census3.count(row.class_name) - census2.count(row.class_name))
                     for row in diff}
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
    held = [
        row.survivor_nodes for row, growth in zip(diff, classes, strict=True)
        if row.survivor_nodes.size and is_leaking_class(growth, iterations=round_calls, profile=profile)
    ]
    explained = dominated_ancestors(final, np.concatenate(held)) if held else None
    # At least a byte per call in each round: a runtime's own queues and tables (Deno's timer queue
    # under a server that sets a timer per request) wander by a hundred bytes a round.
    findings = grown_in_place(
        graphs, stable_ids=profile.matches_by_id, explained=explained,
        min_round_bytes=max(MIN_ROUND_BYTES, round_calls),
    )
    calls = 2 * round_calls
    return Evidence(
        method=method,
        classes=classes,
        grown=tuple(_in_place(g, calls) for g in findings.grown),
        one_round=tuple(findings.one_round),
        calls=calls,
        final=final,
        grown_graph=final,
        traces=traces,
        survivors=survivors,
    )


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
    total = evidence.calls + calls
    evidence = replace(evidence, calls=total, extra_rounds=evidence.extra_rounds + 1, grown_graph=after, one_round=())
    if again:
        evidence = replace(evidence, grown=tuple(_in_place(g, total) for g in again),
                           regrown=tuple(g.class_name for g in again))
    return evidence


def _in_place(grown: GrownObject, calls: int) -> GrowthInPlace:
    return GrowthInPlace(
        class_name=grown.class_name,
        per_iteration=(grown.sizes[-1] - grown.sizes[0]) / max(1, calls),
        node=grown.node,
        node_id=grown.node_id,
        sizes=grown.sizes,
    )


__all__ = ["add_round", "analyse"]

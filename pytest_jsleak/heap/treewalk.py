"""Passes over a tree of the heap in BFS order: runs of thin levels, values carried down, common ancestors.

The BFS tree of `paths.shortest_paths` puts every node after its parent, and so does a dominator
tree over it (a node's dominator is on an earlier level). These passes use that order: `level_runs`
groups consecutive levels (thin ones merged, where a plain loop beats a few numpy calls per level),
`inherit_down` carries a value down a tree by pointer jumping over runs of thin levels, and `nca`
finds nearest common ancestors in lock-step, jumping whole sections of levels in deep trees. The
dominators (`dominators.py`), growth in place and the exclusions all walk trees this way.
"""

from __future__ import annotations

import math

import numpy as np

from pytest_jsleak.heap.paths import ShortestPathTree

_SCALAR_CLIMB = 64
"""Below this many unfinished walks, climb in plain Python: cheaper than a numpy round trip."""


THIN_LEVEL = 24
"""BFS levels narrower than this are walked node by node in Python (cheaper than numpy calls)."""


def level_runs(tree: ShortestPathTree, first_level: int = 1) -> list[tuple[int, int, bool]]:
    """(start, end, thin) slices of `tree.order`, top-down: each wide level on its own, and runs
    of consecutive thin levels merged (long chains: linked lists, closure chains), where a plain
    loop in BFS order (or `inherit_down`'s pointer jumping) beats a few numpy calls per level. Every
    top-down or bottom-up pass over the dominator tree can use them, since a node's idom always has
    a smaller BFS rank. Found in one vectorised pass over the level widths (a closure chain has
    thousands of levels)."""
    starts = tree.level_starts
    widths = np.diff(starts)[first_level:]
    if not widths.size:
        return []
    thin = widths < THIN_LEVEL
    # A run starts at every wide level and at every thin level after a wide one (or the first).
    begins = ~thin
    begins[0] = True
    begins[1:] |= thin[1:] & ~thin[:-1]
    at = np.flatnonzero(begins)
    ends = np.append(at[1:], widths.size)
    return list(zip(starts[at + first_level].tolist(), starts[ends + first_level].tolist(), thin[at].tolist(),
                    strict=True))


def inherit_down(tree: ShortestPathTree, up: np.ndarray, value: np.ndarray, keep: np.ndarray,
                 first_level: int = 1) -> None:
    """Top-down over `tree`'s levels, in place: every reachable node `v` not in `keep` (a bool mask)
    with `up[v] >= 0` takes `value[up[v]]`, once that one is final. `up` is any tree whose parents
    have smaller BFS ranks than their children (the BFS tree, the dominator tree).

    A wide level is one numpy step. A run of thin levels (a chain thousands deep) is one pointer
    jumping pass: each node waiting for a value inside the run links to its link's link until that
    one is final, so the pass takes log2(run length) numpy steps, never one per level.
    """
    order = tree.order
    rank = tree.rank
    for begin, end, thin in level_runs(tree, first_level):
        nodes = order[begin:end]
        ups = up[nodes]
        take = np.flatnonzero(~keep[nodes] & (ups >= 0))
        if not take.size:
            continue
        if not thin:
            value[nodes[take]] = value[ups[take]]
            continue
        source = ups[take]
        link = rank[source].astype(np.int64) - begin  # position in the run, < 0: before it (final)
        values = value[nodes]
        outside = link < 0
        values[take[outside]] = value[source[outside]]
        waiting = take[~outside]
        done = np.ones(nodes.size, np.bool_)
        done[waiting] = False
        links = np.zeros(nodes.size, np.int64)
        links[waiting] = link[~outside]
        while waiting.size:
            target = links[waiting]
            ready = done[target]
            settled = waiting[ready]
            values[settled] = values[target[ready]]
            done[settled] = True
            waiting = waiting[~ready]
            links[waiting] = links[target[~ready]]  # the right side is read first: all jump at once
        value[nodes] = values


def nca(left: np.ndarray, right: np.ndarray, up: np.ndarray, tree: ShortestPathTree,
         sections: list[np.ndarray] | None = None) -> np.ndarray:
    """Nearest common ancestors of pairs in the tree `up`, in which a parent has a smaller rank.

    Lock-step: every unfinished pair moves its finger of larger rank one step up per pass. In a
    deep tree (a chain of closures or list cells thousands of levels deep) the walks that are still
    climbing after a section's worth of passes go on by sections (`_section_exits`): a finger jumps
    to the first ancestor on an earlier section of BFS levels, so a walk costs sections plus
    section length passes (twice the square root of the depth), not one pass per level.
    `sections`, a list shared by calls on the same `up`, keeps the exits once computed.
    """
    rank = tree.rank
    result = left.copy()
    active = np.flatnonzero(left != right)
    a = left[active]
    b = right[active]
    rank_a = rank[a]
    rank_b = rank[b]
    span = _section_span(tree)
    exits = sections[0] if sections else None
    passes = 0
    jumped = False
    while active.size > _SCALAR_CLIMB:
        if not jumped and span and passes >= span:
            jumped = True
            if exits is None:
                exits = _section_exits(tree, up, span)
                if sections is not None:
                    sections.append(exits)
            while active.size:
                # Jump the finger of larger rank to its section's exit while the exits differ: the
                # nearest common ancestor lies at or above that exit then (see `_section_exits`).
                exit_a = exits[a]
                exit_b = exits[b]
                moving = exit_a != exit_b
                if not moving.any():
                    break
                climb_a = rank_a >= rank_b
                jump = np.flatnonzero(moving & climb_a)
                a[jump] = exit_a[jump]
                rank_a[jump] = rank[a[jump]]
                jump = np.flatnonzero(moving & ~climb_a)
                b[jump] = exit_b[jump]
                rank_b[jump] = rank[b[jump]]
                active, a, b, rank_a, rank_b = _settle(result, active, a, b, rank_a, rank_b)
            continue
        climb_a = rank_a > rank_b
        moving = np.flatnonzero(climb_a)
        a[moving] = up[a[moving]]
        rank_a[moving] = rank[a[moving]]
        moving = np.flatnonzero(~climb_a)
        b[moving] = up[b[moving]]
        rank_b[moving] = rank[b[moving]]
        active, a, b, rank_a, rank_b = _settle(result, active, a, b, rank_a, rank_b)
        passes += 1
    for position, x, y in zip(active.tolist(), a.tolist(), b.tolist(), strict=True):
        steps = 0
        while x != y:
            if span and steps >= span:
                if exits is None:
                    exits = _section_exits(tree, up, span)
                    if sections is not None:
                        sections.append(exits)
                exit_x, exit_y = int(exits[x]), int(exits[y])
                if exit_x != exit_y:
                    if rank[x] >= rank[y]:
                        x = exit_x
                    else:
                        y = exit_y
                    continue
            steps += 1
            if rank[x] > rank[y]:
                x = int(up[x])
            else:
                y = int(up[y])
        result[position] = x
    return result


def _settle(result: np.ndarray, active: np.ndarray, a: np.ndarray, b: np.ndarray, rank_a: np.ndarray,
            rank_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Record the pairs whose fingers met and drop them."""
    done = a == b
    if not done.any():
        return active, a, b, rank_a, rank_b
    result[active[done]] = a[done]
    keep = ~done
    return active[keep], a[keep], b[keep], rank_a[keep], rank_b[keep]


SECTION_MIN_LEVELS = 32
"""Shallower sections than this save too few passes to pay for `_section_exits` (a pass over the
tree); real heaps are 10-100 levels deep and never use them."""


def _section_span(tree: ShortestPathTree) -> int:
    """Levels per section for `_nca`'s jumps: the square root of the depth (fewest passes), or 0
    where the tree is too shallow for sections to pay."""
    span = max(SECTION_MIN_LEVELS, math.isqrt(tree.levels))
    return span if tree.levels > 2 * span else 0


def _section_exits(tree: ShortestPathTree, up: np.ndarray, span: int) -> np.ndarray:
    """Per node, its first ancestor in `up` on an earlier section of `span` BFS levels (-1: none,
    on the first section).

    Why a jump to it is safe while two fingers' exits differ, for the finger of larger rank `a`:
    were their nearest common ancestor `c` below exit(a), `c` would be on a's section, so would
    `b` (a descendant of `c`, of no larger rank than `a`) and everything between them, and
    exit(b) = exit(c) = exit(a).
    """
    level = np.zeros(up.size, np.int64)
    level[tree.order] = np.repeat(np.arange(tree.levels, dtype=np.int64), np.diff(tree.level_starts))
    section = level // span
    exits = up.copy()
    has_up = up >= 0
    keep = ~has_up
    keep[has_up] = section[up[has_up]] < section[has_up]
    inherit_down(tree, up, exits, keep)
    return exits

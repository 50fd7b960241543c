"""Immediate dominators and retained sizes, vectorised over the BFS levels of the heap graph.

The algorithm is the iterative data-flow one of Cooper, Harvey and Kennedy ("A Simple, Fast
Dominance Algorithm", 2001) with the intersections done in bulk by numpy instead of one node
at a time, and started from an over-approximation instead of from nothing:

1. Every dominator of v lies on *every* path from the root to v, so on a shortest one: it is at
   a smaller BFS distance, and has a smaller BFS rank, than v. The BFS tree (paths.py) is
   therefore a dominator-tree over-approximation whose parents all precede their children, and
   "walk up from the one with the larger rank" finds nearest common ancestors, exactly as CHK
   does with post-order numbers.
2. A node with a single distinct predecessor is dominated by it; that is most of a heap
   (strings, numbers, an object's own arrays). Only "join" nodes, with two or more distinct
   predecessors, need intersections.
3. Each round sets idom(v) = NCA(preds of v) for all join nodes at once: NCA(a, p) is computed
   for every predecessor p with a = v's BFS parent, in lock-step (the deeper finger climbs),
   and since all those results are ancestors of a, their NCA is the one with the smallest rank
   (a scatter-min, no sort). Rounds repeat until nothing changes; each round only moves idoms
   towards the root, so it terminates, and the fixed point of the dominance equations reached
   from above is the dominator tree. tests/heap/test_dominators.py checks it against
   networkx.immediate_dominators on random graphs.
4. Round 1, on the BFS tree itself, needs one walk per join node, not per predecessor: numbered
   in DFS preorder, the NCA of a set is the NCA of its smallest and largest numbers
   (`_first_round`). Later rounds recompute only the pairs that a change can reach: those with a
   changed node on their walk below the current answer (`_deepest_changed`).

5. Like every fix-point (CHK included), the rounds alone would be many where join nodes form a
   chain: a doubly linked ring (Node's timer list) settles one node per round from each end, a JSC
   structure chain one per round from its start (725 and 98 rounds). So once a round's changes
   creep (at least half as many as the round before's, from round 3), they are carried along
   such chains by pointer jumping (`_chain_jumps`): every join node links to a predecessor (its
   deepest, its shallowest below its BFS parent, its BFS parent: one pass each), and the NCA of the
   current values along a chain is a safe value for all of it, in log2(length) steps. Those heaps
   settle in 7-14 cheap rounds instead of ending in Lengauer–Tarjan.

The rounds stay capped (`MAX_ROUNDS`); past the cap the same edges go to an iterative
Lengauer–Tarjan in plain Python (`lengauer_tarjan`), which is O(E log V) and never hangs, only
slower per edge. An unbounded fix-point is what made memlab hang on 1 GB snapshots
(research/peers.md §3, memlab#77). There is no recursion anywhere. Retained sizes then sum self
sizes bottom-up over the BFS levels (a node's dominator is always on an earlier level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.lengauer_tarjan import lengauer_tarjan
from pytest_jsleak.heap.paths import ROOT, ShortestPathTree, followed_edge_filter, shortest_paths
from pytest_jsleak.heap.treewalk import inherit_down, level_runs, nca

MAX_ROUNDS = 24
"""Vectorised rounds before falling back to Lengauer–Tarjan (real heaps, lists included, settle in
6-14 with the chain jumps; a graph that needs more is one the jumps do not reach)."""
_PAIR_BLOCK = 1 << 21


@dataclass(frozen=True, slots=True)
class DominatorTree:
    idom: np.ndarray
    """Immediate dominator per node index (-1 for the root and for unreachable nodes)."""
    retained: np.ndarray
    """Retained size per node (int64): its self size plus that of every node it dominates.
    Unreachable nodes retain only themselves."""
    rounds: int
    """Intersection rounds until the fixed point (for the benchmark)."""


def immediate_dominators(
    targets: np.ndarray,
    preds: np.ndarray,
    tree: ShortestPathTree,
    max_rounds: int | None = None,
) -> tuple[np.ndarray, int]:
    """Immediate dominators from the BFS tree and the extra predecessor edges (preds → targets).

    `tree` is the BFS from node 0 over the followed edges; (preds[k] → targets[k]) are the
    followed edges between reachable nodes that are not a BFS tree edge, a self-loop, or an edge
    into the root. Returns (idom, rounds); idom is -1 for the root and unreachable nodes.

    After the first round only the pairs whose walk can change are recomputed: those whose
    anchor or predecessor lies below a node whose idom just changed ("dirty").
    """
    if max_rounds is None:
        max_rounds = MAX_ROUNDS
    parent = tree.parent
    rank = tree.rank
    idom = parent.copy()
    if not targets.size:
        return idom, 0
    # best[v]: the smallest rank among v's BFS parent and the meets of its pairs so far. Meets
    # only ever move towards the root (every round shrinks the dominator sets), so a round
    # needs only the recomputed pairs' meets to lower `best`, never a pass over all pairs.
    best = rank[parent]
    rounds = 0
    pending = None  # pair positions to (re)compute; None: all of them
    # Chain jumps' pairs (target, value), apart from the graph's: few, and the graph's are not copied.
    jump_targets = np.zeros(0, targets.dtype)
    jump_values = np.zeros(0, preds.dtype)
    jumps_pending = np.zeros(0, np.int64)
    joins = np.zeros(0, np.int64)
    links = None
    position = joins
    moved_count = 0  # nodes this round's meets moved, and the round's before
    while True:
        rounds += 1
        if rounds > max_rounds:
            return lengauer_tarjan(parent.size, np.concatenate([parent_sources(tree), preds]),
                                   np.concatenate([parent_targets(tree), targets]), tree), rounds
        if pending is None:
            touched = joins = _first_round(targets, preds, tree, idom, best)
        else:
            touched = np.concatenate([targets[pending], jump_targets[jumps_pending]])
            meet = nca(parent[touched], np.concatenate([preds[pending], jump_values[jumps_pending]]), idom, tree)
            np.minimum.at(best, touched, rank[meet])
        jumped = None
        moved = touched[tree.order[best[touched]] != idom[touched]] if rounds >= CHAIN_JUMPS_FROM - 1 else None
        if moved is not None:
            previous_moved, moved_count = moved_count, moved.size
            # Only where the changes creep: a front that moves along a list changes as many nodes
            # every round, while a flat heap's changes die out (569, 26, 2 per round on the medium
            # bench set), and there a jump costs more than the round it saves.
            if rounds >= CHAIN_JUMPS_FROM and moved.size and 2 * moved.size >= previous_moved:
                if links is None:
                    links = _links(joins, targets, preds, tree)
                    position = np.full(rank.size, -1, np.int64)  # of each join node in `joins`
                    position[joins] = np.arange(joins.size)
                jumped = np.zeros(0, np.int64)
                for link in links:
                    jumped = np.union1d(jumped, _chain_jumps(joins, position, link, np.union1d(moved, jumped), idom,
                                                             best, tree))
                jumped = jumped.astype(targets.dtype)
                touched = np.concatenate([touched, jumped])
        stale = tree.order[best[touched]] != idom[touched]
        changed = np.unique(touched[stale])
        del stale, touched
        if not changed.size:
            return idom, rounds
        # A pair's meet can only move if a node that changed lies on its walk strictly below
        # the meet, and the meet is at or below best[target]: so a pair is due again only if
        # the deepest changed node above its anchor or predecessor (in the tree the meets were
        # computed in) is deeper than best[target].
        deepest = _deepest_changed(changed, idom, tree)
        idom[changed] = tree.order[best[changed]]
        pending = _due(targets, preds, deepest, best, parent)
        jumps_pending = _due(jump_targets, jump_values, deepest, best, parent)
        if jumped is not None and jumped.size:
            # A jump's value becomes a pair of its own (target, value): its meet is the value now and
            # moves up with the tree like any other, so `best` stays the nearest common ancestor of
            # meets on the anchor's path (see `_chain_jumps`).
            jumps_pending = np.concatenate([jumps_pending, np.arange(jump_targets.size,
                                                                     jump_targets.size + jumped.size)])
            jump_targets = np.concatenate([jump_targets, jumped])
            jump_values = np.concatenate([jump_values, tree.order[best[jumped]].astype(preds.dtype)])
        del deepest


def _due(targets: np.ndarray, preds: np.ndarray, deepest: np.ndarray, best: np.ndarray, parent: np.ndarray
         ) -> np.ndarray:
    """Positions of the pairs due again: the deepest changed ancestor of the anchor or of the
    predecessor is deeper than best[target]."""
    due_parts = [np.zeros(0, np.int64)]
    for start in range(0, targets.size, _PAIR_BLOCK):  # in blocks: small temporaries
        block_targets = targets[start : start + _PAIR_BLOCK]
        limit = best[block_targets]
        due = deepest[parent[block_targets]] > limit
        due |= deepest[preds[start : start + _PAIR_BLOCK]] > limit
        due_parts.append(np.flatnonzero(due) + start)
    return np.concatenate(due_parts)


CHAIN_JUMPS_FROM = 3
"""The first round that may jump (when its changes creep, see `immediate_dominators`): rounds 1 and
2 move thousands of nodes on every heap, and a flat one settles in 6-7 rounds without jumps (from
round 2 they cost flat Node snapshots ~10 % more, from 3 nothing measurable)."""


def _links(joins: np.ndarray, targets: np.ndarray, preds: np.ndarray, tree: ShortestPathTree
           ) -> tuple[np.ndarray, ...]:
    """Per join node, the ranks of three predecessors to follow, one `_chain_jumps` pass each
    (-1: none): the deepest one of its pairs, the shallowest one of its pairs that is deeper than
    its BFS parent, and the BFS parent. A change travels along whichever a list's shape makes it:
    the deepest along a ring (the only pair of each cell) or a structure chain; the shallower
    neighbour where a hub holds every cell of a doubly linked list (the cells on one level); the
    BFS parent where the search ran down the list and the change comes from its start."""
    rank = tree.rank
    deepest = np.full(rank.size, -1, rank.dtype)
    shallowest = np.full(rank.size, rank.size, rank.dtype)
    for start in range(0, targets.size, _PAIR_BLOCK):  # in blocks: small temporaries
        block_targets = targets[start : start + _PAIR_BLOCK]
        pred_rank = rank[preds[start : start + _PAIR_BLOCK]]
        np.maximum.at(deepest, block_targets, pred_rank)
        deeper = pred_rank > rank[tree.parent[block_targets]]
        np.minimum.at(shallowest, block_targets[deeper], pred_rank[deeper])
    shallowest[shallowest == rank.size] = -1
    return deepest[joins], shallowest[joins], rank[tree.parent[joins]]


def _chain_jumps(joins: np.ndarray, position: np.ndarray, link: np.ndarray, moved: np.ndarray, idom: np.ndarray,
                 best: np.ndarray, tree: ShortestPathTree) -> np.ndarray:
    """Carry this round's changes (`moved`) along chains of join nodes in log2(length) steps
    instead of one link per round; lowers `best` and returns the join nodes it moved.

    A fix-point settles a list one link per round: a doubly linked ring (Node's timer list) from
    the middle outwards, a JSC structure chain (each structure held by one executable and by the
    previous structure) from its start. Each join node t links to one of its predecessors l
    (`_links` has three kinds of link, one pass each), if that is deeper than t's current value
    v(t) = order[best[t]]. Then l is not idom(t) (a true
    dominator of t is an ancestor of v(t) in the current tree, so of no larger rank), and since
    idom(t) = NCA(preds(t)) in the dominator tree, idom(t) dominates idom(l); following links, it
    dominates every node's true idom along the chain, so it is an ancestor, in the current tree, of
    their values v(·) (each an over-approximation, from above). The nearest common ancestor of
    v(t), v(l), v(l's link), ... in the current tree is therefore still an over-approximation of
    idom(t), on the path from t's BFS parent (v(t) is), and can be much higher than v(t): the whole
    ring's values meet at the list head at once. Pointer jumping computes it for every node whose
    chain holds a moved node, whatever the chain's length (cycles included: an NCA taken twice is
    the same). The caller makes each jump's value a pair of its own, so that later rounds keep
    `best` the NCA of meets on the anchor's path as before.
    """
    rank = tree.rank
    order = tree.order
    own = np.arange(joins.size)
    eligible = link > best[joins]
    nxt = own.copy()
    nxt[eligible] = position[order[link[eligible]]]
    nxt[nxt < 0] = own[nxt < 0]  # a predecessor that is no join node: its idom never moves
    del link, eligible
    chained = np.flatnonzero(nxt != own)
    if not chained.size:
        return np.zeros(0, joins.dtype)
    # Which chains hold a moved node: by pointer jumping over the linked nodes only.
    flag = np.zeros(joins.size, np.bool_)
    flag[position[moved]] = True
    jump = nxt.copy()
    walking = chained
    for _ in range(int(chained.size).bit_length() + 1):  # 2**steps links exceed every chain and cycle
        ahead = jump[walking]
        flag[walking] |= flag[ahead]
        jump[walking] = jump[ahead]
        walking = walking[(jump[walking] != ahead) & (jump[walking] != walking)]  # reached an end, or itself
        if not walking.size:
            break
    active = chained[flag[chained]]
    if not active.size:
        return np.zeros(0, joins.dtype)
    value = order[best[joins]]
    jump = nxt
    sections: list[np.ndarray] = []  # every walk is in the same tree: its section exits once
    for _ in range(int(active.size).bit_length() + 1):  # a chain's moved part is at most all of them
        ahead = jump[active]
        value[active] = nca(value[active], value[ahead], idom, tree, sections)
        jump[active] = jump[ahead]
        active = active[(jump[active] != ahead) & (jump[active] != active)]  # reached an end, or itself
        if not active.size:
            break
    lower = np.flatnonzero(rank[value] < best[joins])
    best[joins[lower]] = rank[value[lower]]
    return joins[lower]


def _first_round(targets: np.ndarray, preds: np.ndarray, tree: ShortestPathTree, idom: np.ndarray,
                 best: np.ndarray) -> np.ndarray:
    """Round 1, while idom is still the BFS tree: one walk per join node instead of per pair.

    In a tree numbered in depth-first preorder, the nearest common ancestor of a set of nodes is
    that of its two nodes with the smallest and the largest number. The BFS tree's preorder comes
    from subtree sizes, level by level (`_bfs_preorder`). Returns the join nodes.
    """
    pre = _bfs_preorder(tree)
    count = tree.parent.size
    low = np.full(count, np.iinfo(pre.dtype).max, pre.dtype)
    high = np.full(count, -1, pre.dtype)
    for start in range(0, targets.size, _PAIR_BLOCK):  # in blocks: small temporaries
        block_targets = targets[start : start + _PAIR_BLOCK]
        pred_pre = pre[preds[start : start + _PAIR_BLOCK]]
        np.minimum.at(low, block_targets, pred_pre)
        np.maximum.at(high, block_targets, pred_pre)
    del pred_pre
    joins = np.flatnonzero(high >= 0)
    anchor_pre = pre[tree.parent[joins]]
    low = np.minimum(low[joins], anchor_pre)
    high = np.maximum(high[joins], anchor_pre)
    del anchor_pre
    node_at = np.empty(count, tree.order.dtype)
    node_at[pre[tree.order]] = tree.order
    del pre
    meet = nca(node_at[low], node_at[high], idom, tree)
    best[joins] = np.minimum(best[joins], tree.rank[meet])
    return joins


def _bfs_preorder(tree: ShortestPathTree) -> np.ndarray:
    """A depth-first preorder numbering of the BFS tree (-1 for unreachable nodes).

    The BFS appends each node's children together and in the order of their parents, so on every
    level the children of one parent are contiguous: a child's number is its parent's plus one
    plus the subtree sizes of its earlier siblings.
    """
    parent = tree.parent
    order = tree.order
    size = np.zeros(parent.size, parent.dtype)
    size[order] = 1
    runs = level_runs(tree)
    for begin, end, thin in reversed(runs):
        nodes = order[begin:end]
        if thin:
            for node in reversed(nodes.tolist()):
                size[parent[node]] += size[node]
        else:
            np.add.at(size, parent[nodes], size[nodes])
    pre = np.full(parent.size, -1, parent.dtype)
    pre[order[0]] = 0
    for begin, end, thin in runs:
        nodes = order[begin:end]
        if thin:
            # Children of one parent are contiguous: hand out numbers parent by parent.
            previous = -1
            slot = 0
            for node in nodes.tolist():
                up = int(parent[node])
                if up != previous:
                    previous = up
                    slot = int(pre[up]) + 1
                pre[node] = slot
                slot += int(size[node])
            continue
        parents = parent[nodes]
        # In place and in int32: the widest level holds millions of nodes.
        before: np.ndarray = np.cumsum(size[nodes], dtype=size.dtype)
        before -= size[nodes]
        first = np.empty(nodes.size, np.bool_)
        first[0] = True
        np.not_equal(parents[1:], parents[:-1], out=first[1:])
        group: np.ndarray = np.cumsum(first, dtype=size.dtype)
        group -= 1
        before -= before[first][group]
        del group, first
        before += 1
        before += pre[parents]
        pre[nodes] = before
        del before, parents
    del size
    return pre


def _deepest_changed(changed: np.ndarray, idom: np.ndarray, tree: ShortestPathTree) -> np.ndarray:
    """Per node, the rank of its deepest ancestor-or-self among `changed` in `idom` (-1: none).

    Top-down by BFS level (a node's idom is always on an earlier level), from the shallowest
    level that holds a changed node.
    """
    rank = tree.rank
    deepest = np.full(idom.size, -1, rank.dtype)
    deepest[changed] = rank[changed]
    starts = tree.level_starts
    first_level = int(np.searchsorted(starts, int(rank[changed].min()), side="right")) - 1
    inherit_down(tree, idom, deepest, deepest >= 0, max(1, first_level + 1))
    return deepest


def parent_sources(tree: ShortestPathTree) -> np.ndarray:
    return tree.parent[tree.order[1:]]


def parent_targets(tree: ShortestPathTree) -> np.ndarray:
    return tree.order[1:]


def retained_sizes_from(idom: np.ndarray, self_size: np.ndarray, tree: ShortestPathTree) -> np.ndarray:
    """Sum self sizes up the dominator tree, deepest BFS level first."""
    retained = self_size.astype(np.int64)
    for begin, end, thin in reversed(level_runs(tree)):
        nodes = tree.order[begin:end]
        if thin:
            for node in reversed(nodes.tolist()):
                retained[idom[node]] += retained[node]
        else:
            np.add.at(retained, idom[nodes], retained[nodes])
    return retained


def dominators(graph: HeapGraph) -> DominatorTree:
    """The graph's `dominator_tree`, built once per graph."""
    return graph.memo(dominator_tree)


def dominator_tree(graph: HeapGraph) -> DominatorTree:
    """Immediate dominators and retained sizes of a snapshot's graph (root: node 0), built afresh."""
    snap = graph.snapshot
    tree = shortest_paths(graph)
    follow = followed_edge_filter(graph)
    parent = tree.parent
    rank = tree.rank
    edge_to = snap.edge_to
    target_parts = []
    pred_parts = []
    # Walk the edges in blocks of nodes so that no temporary spans all edges at once.
    for first, sources in graph.edge_blocks():
        targets = edge_to[first : first + sources.size]
        usable = rank[sources] >= 0
        usable &= sources != targets
        usable &= targets != ROOT
        usable &= sources != parent[targets]
        kept = np.flatnonzero(usable)
        usable[kept] = follow(kept.astype(graph.first_edge.dtype, copy=False) + first, sources[kept])
        target_parts.append(targets[usable].astype(parent.dtype, copy=False))
        pred_parts.append(sources[usable])
    # One at a time, so that only one array exists twice (as parts and joined) at any moment.
    targets = np.concatenate(target_parts) if target_parts else np.zeros(0, parent.dtype)
    del target_parts
    preds = np.concatenate(pred_parts) if pred_parts else np.zeros(0, parent.dtype)
    del pred_parts
    idom, rounds = immediate_dominators(targets, preds, tree)
    idom[ROOT] = -1
    retained = retained_sizes_from(idom, snap.node_self_size, tree)
    return DominatorTree(idom=idom, retained=retained, rounds=rounds)


def retained_sizes(graph: HeapGraph) -> np.ndarray:
    """Retained size of every node (int64), from the dominator tree."""
    return dominators(graph).retained

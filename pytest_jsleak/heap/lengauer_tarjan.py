"""Lengauer–Tarjan's dominators, iterative, in plain Python: the safety net of `dominators.py`.

O(E log V) with no recursion: past the fix-point's round cap the same edges come here, so a heap
whose dominators would not settle in the rounds is slower per edge but never hangs.
"""

from __future__ import annotations

import numpy as np

from pytest_jsleak.heap.paths import ShortestPathTree


def lengauer_tarjan(node_count: int, preds: np.ndarray, targets: np.ndarray, tree: ShortestPathTree
                    ) -> np.ndarray:
    """Immediate dominators by Lengauer–Tarjan (simple version, path compression), iteratively.

    The graph is the BFS tree edges plus (preds → targets); the root is node 0. Only reachable
    nodes take part (the caller's edges are all between reachable nodes).
    """
    idom = np.full(node_count, -1, tree.parent.dtype)
    if not targets.size:
        return idom
    # Successor and predecessor lists (CSR) over the reachable nodes.
    order = np.argsort(preds, kind="stable")
    succ_first = np.zeros(node_count + 1, np.int64)
    np.cumsum(np.bincount(preds, minlength=node_count), out=succ_first[1:])
    succ = targets[order].tolist()
    order = np.argsort(targets, kind="stable")
    pred_first = np.zeros(node_count + 1, np.int64)
    np.cumsum(np.bincount(targets, minlength=node_count), out=pred_first[1:])
    pred = preds[order].tolist()
    del order
    succ_first_list = succ_first.tolist()
    pred_first_list = pred_first.tolist()
    # Depth-first numbering from the root (iterative), 1-based; 0 means "not visited".
    number = [0] * node_count
    vertex = [0]
    dfs_parent = [0]
    stack = [(0, succ_first_list[0], -1)]
    while stack:
        node, next_edge, parent_number = stack.pop()
        if next_edge == succ_first_list[node]:
            if number[node]:
                continue
            vertex.append(node)
            number[node] = len(vertex) - 1
            dfs_parent.append(parent_number)
        end = succ_first_list[node + 1]
        while next_edge < end:
            target = succ[next_edge]
            next_edge += 1
            if not number[target]:
                stack.append((node, next_edge, parent_number))
                stack.append((target, succ_first_list[target], number[node]))
                break
    count = len(vertex) - 1
    semi = list(range(count + 1))
    label = list(range(count + 1))
    ancestor = [0] * (count + 1)
    dom = [0] * (count + 1)
    bucket: list[list[int]] = [[] for _ in range(count + 1)]

    def evaluate(v: int) -> int:
        if not ancestor[v]:
            return v
        path = []
        u = v
        while ancestor[ancestor[u]]:
            path.append(u)
            u = ancestor[u]
        for u in reversed(path):
            a = ancestor[u]
            if semi[label[a]] < semi[label[u]]:
                label[u] = label[a]
            ancestor[u] = ancestor[a]
        return label[v]

    for w in range(count, 1, -1):
        node = vertex[w]
        for k in range(pred_first_list[node], pred_first_list[node + 1]):
            v = number[pred[k]]
            if not v:
                continue
            u = evaluate(v)
            if semi[u] < semi[w]:
                semi[w] = semi[u]
        bucket[semi[w]].append(w)
        p = dfs_parent[w]
        ancestor[w] = p
        for v in bucket[p]:
            u = evaluate(v)
            dom[v] = u if semi[u] < semi[v] else p
        bucket[p] = []
    for w in range(2, count + 1):
        if dom[w] != semi[w]:
            dom[w] = dom[dom[w]]
    for w in range(2, count + 1):
        idom[vertex[w]] = vertex[dom[w]]
    return idom

"""Retainer paths as the reports show them: the shortest path from the GC roots that reads like the user's code.

The breadth-first search behind it is paths.py's; this one does not go through the harness's scopes
(`exclusions.harness_scopes`), so a path to the target's objects starts at the target's module
(research: V8 otherwise reaches the module scope first through the harness's Map).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from pytest_jsleak.heap.classes import class_name
from pytest_jsleak.heap.exclusions import harness_scopes
from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.paths import ClosureLocations, ShortestPathTree, shortest_path_tree, shortest_paths, tree_edge
from pytest_jsleak.model import PathStep, RetainerPath


def path_tree(graph: HeapGraph) -> ShortestPathTree:
    """The BFS that retainer paths follow: `shortest_paths`, but never through the harness (built once per graph).

    The harness's scopes (its table of the target's exports, its running frames) are reached but
    not gone through.
    """
    return graph.memo(_path_tree)


def _path_tree(graph: HeapGraph) -> ShortestPathTree:
    closed = harness_scopes(graph)
    if not closed.size:
        return shortest_paths(graph)
    return shortest_path_tree(graph, closed)


def retainer_path(graph: HeapGraph, node: int) -> RetainerPath | None:
    """The shortest path from the root to `node` (root first), or None if it is unreachable.

    Not through the harness's scopes (`path_tree`) unless there is no other way.
    """
    node = int(node)
    if not 0 <= node < graph.node_count:
        return None
    tree = path_tree(graph)
    if tree.rank[node] < 0:
        tree = shortest_paths(graph)
        if tree.rank[node] < 0:
            return None
    chain = [node]
    while tree.parent[chain[-1]] >= 0:
        chain.append(int(tree.parent[chain[-1]]))
    chain.reverse()
    locations = ClosureLocations.of_graph(graph)
    steps = []
    for position, index in enumerate(chain):
        edge_type: str | None = None
        edge_name: str | None = None
        if position:
            edge = graph.edge(tree_edge(graph, chain[position - 1], index))
            edge_type = edge.type
            edge_name = str(edge.name)
        view = graph.node(index)
        steps.append(
            PathStep(
                edge_type=edge_type,
                edge_name=edge_name,
                node_type=view.type,
                node_name=view.name,
                class_name=class_name(graph, index),
                node_id=view.id,
                self_size=view.self_size,
                location=locations.of(index) if view.type == "closure" else None,
            )
        )
    return RetainerPath(tuple(steps))


def representative_path(
    graph: HeapGraph, examples: Iterable[int], prefer: Callable[[RetainerPath], bool] | None = None
) -> tuple[RetainerPath | None, int | None]:
    """The shortest retainer path among some objects of a class, and that object's id; with `prefer`,
    the shortest of the paths it accepts, if any does (the shortest of all can be an odd one out: on
    Bun the object a conservative stack scan holds, straight from the roots)."""
    nodes = [int(node) for node in examples]
    tree = path_tree(graph)
    reachable = [node for node in nodes if tree.rank[node] >= 0]
    if not reachable:
        tree = shortest_paths(graph)
        reachable = [node for node in nodes if tree.rank[node] >= 0]
    if not reachable:
        return None, None
    rank = tree.rank
    ordered = sorted(reachable, key=lambda node: (_depth(tree, node), rank[node]))
    if prefer is not None:
        for node in ordered:
            path = retainer_path(graph, node)
            if path is not None and prefer(path):
                return path, int(graph.snapshot.node_id[node])
    best = ordered[0]
    return retainer_path(graph, best), int(graph.snapshot.node_id[best])


def _depth(tree: ShortestPathTree, node: int) -> int:
    return int(np.searchsorted(tree.level_starts, tree.rank[node], side="right")) - 1


__all__ = ["path_tree", "representative_path", "retainer_path"]

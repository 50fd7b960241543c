"""Dominators and retained sizes against networkx on random graphs, and on a real snapshot."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import numpy as np
import pytest

from pytest_jsleak import heap
from pytest_jsleak.heap.dominators import dominators

from .snapshot_builder import SnapshotBuilder


def random_snapshot(tmp_path, seed: int, nodes: int, edges: int, *, weak: int = 0):
    """A random graph as a snapshot; returns (snapshot, networkx DiGraph of the followed edges)."""
    rng = random.Random(seed)
    builder = SnapshotBuilder()
    for i in range(1, nodes):
        builder.add("object", f"C{i % 5}", self_size=rng.randint(1, 100))
    digraph = nx.DiGraph()
    digraph.add_nodes_from(range(nodes))
    for _ in range(edges):
        source = rng.randrange(nodes)
        target = rng.randrange(1, nodes)
        builder.edge(source, target, f"p{rng.randrange(4)}")
        digraph.add_edge(source, target)
    for _ in range(weak):
        source, target = rng.randrange(nodes), rng.randrange(1, nodes)
        builder.edge(source, target, "w", type="weak")
    return heap.read_snapshot(builder.write(tmp_path / f"g{seed}.heapsnapshot")), digraph


def expected_retained(digraph: nx.DiGraph, idoms: dict[int, int], sizes: np.ndarray) -> dict[int, int]:
    tree = nx.DiGraph((d, v) for v, d in idoms.items() if v != d)
    return {v: int(sizes[[v, *nx.descendants(tree, v)]].sum()) if v in tree else int(sizes[v]) for v in idoms}


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("fallback", [False, True], ids=["vectorised", "lengauer-tarjan"])
def test_immediate_dominators_match_networkx(tmp_path, monkeypatch, seed, fallback):
    if fallback:
        monkeypatch.setattr("pytest_jsleak.heap.dominators.MAX_ROUNDS", 0)
    size = 5 + seed * 3
    snap, digraph = random_snapshot(tmp_path, seed, size, int(size * (1.2 + (seed % 4) * 0.6)), weak=seed % 3)
    tree = dominators(heap.HeapGraph(snap))
    expected = nx.immediate_dominators(digraph, 0)
    for node in range(size):
        if node == 0:
            assert tree.idom[0] == -1
        elif node in expected:
            assert tree.idom[node] == expected[node], f"seed {seed}: idom of {node}"
        else:
            assert tree.idom[node] == -1, f"seed {seed}: {node} is unreachable"
    sizes = snap.node_self_size.astype(np.int64)
    for node, retained in expected_retained(digraph, expected, sizes).items():
        assert tree.retained[node] == retained, f"seed {seed}: retained size of {node}"


@pytest.mark.parametrize("jumps", [True, False], ids=["chain-jumps", "lengauer-tarjan"])
def test_deep_chain_with_back_edges(tmp_path, monkeypatch, jumps):
    # A doubly linked list held at both ends: long walks, one link per round without chain jumps.
    if not jumps:
        monkeypatch.setattr("pytest_jsleak.heap.dominators.CHAIN_JUMPS_FROM", 10**9)
    builder = SnapshotBuilder()
    items = [builder.add("object", "Item", self_size=10) for _ in range(400)]
    holder = builder.add("object", "Holder", self_size=5)
    builder.edge(0, holder, "holder")
    builder.edge(holder, items[0], "head")
    builder.edge(holder, items[-1], "tail")
    for a, b in itertools.pairwise(items):
        builder.edge(a, b, "next")
        builder.edge(b, a, "prev")
    snap = heap.read_snapshot(builder.write(tmp_path / "list.heapsnapshot"))
    graph = heap.HeapGraph(snap)
    if jumps:
        assert dominators(graph).rounds <= 4  # the jumps carried each end's change along the list
    else:
        assert dominators(graph).rounds > 20  # the fix-point gave up and Lengauer–Tarjan finished
    digraph = nx.DiGraph()
    for source in range(snap.node_count):
        for edge in graph.node(source).edges:
            digraph.add_edge(source, edge.target_index)
    expected = nx.immediate_dominators(digraph, 0)
    idom = dominators(graph).idom
    assert all(idom[v] == d for v, d in expected.items() if v != 0)
    assert heap.retained_sizes(graph)[holder] == 5 + 400 * 10


def test_weak_edges_do_not_retain(tmp_path):
    builder = SnapshotBuilder()
    a = builder.add("object", "A", self_size=10)
    b = builder.add("object", "B", self_size=20)
    builder.edge(0, a, "a")
    builder.edge(a, b, "cache", type="weak")
    graph = heap.HeapGraph(heap.read_snapshot(builder.write(tmp_path / "weak.heapsnapshot")))
    sizes = heap.retained_sizes(graph)
    assert sizes[a] == 10
    assert heap.retainer_path(graph, b) is None


def test_fix_point_equals_lengauer_tarjan_on_a_real_heap(node_final, monkeypatch):
    """On a real node heap (cycles, maps shared by thousands of objects) both algorithms agree."""
    from pytest_jsleak.heap.dominators import dominator_tree

    vectorised = dominator_tree(heap.HeapGraph(node_final))
    monkeypatch.setattr("pytest_jsleak.heap.dominators.MAX_ROUNDS", 0)
    reference = dominator_tree(heap.HeapGraph(node_final))
    assert vectorised.rounds > 1
    assert np.array_equal(vectorised.idom, reference.idom)
    assert np.array_equal(vectorised.retained, reference.retained)

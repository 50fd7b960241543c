"""Deep chains (issue 21): the shortcuts for thin BFS levels and deep trees give the plain algorithms' results.

Each fast path is compared with the plain one on the same graph (its threshold set so that it never
applies) or with networkx: closure chains thousands of levels deep with nodes shared by every link
(shapes, code), a circular doubly linked list (a timer list), trees, random graphs, and frontiers on
both sides of the thin-level thresholds.
"""

from __future__ import annotations

import itertools
import random

import networkx as nx
import numpy as np
import pytest

from pytest_jsleak import heap
from pytest_jsleak.heap import dominators as dominators_module
from pytest_jsleak.heap import paths as paths_module
from pytest_jsleak.heap import treewalk as treewalk_module
from pytest_jsleak.heap.dominators import dominator_tree
from pytest_jsleak.heap.exclusions import dominated_by
from pytest_jsleak.heap.growth import GrownObject, deepest, structural_keys
from pytest_jsleak.heap.paths import shortest_path_tree
from pytest_jsleak.heap.treewalk import level_runs

from .snapshot_builder import SnapshotBuilder

WIDTH = paths_module.THIN_FRONTIER
"""As shipped (the tests set the thresholds to 0 for the plain algorithms)."""


def closure_chain(builder: SnapshotBuilder, links: int, *, holder: int = 0) -> list[int]:
    """Bun's `replaceThing` leak: BigThing → keepAlive → Function → scope → previous → BigThing …,
    every function pointing at one shape and one compiled code, every scope back at the module."""
    module = builder.add("object", "system / JSModuleEnvironment")
    shape = builder.add("object shape", "(object shape)")
    code = builder.add("code", "(compiled code)")
    builder.edge(holder, code, "code", type="internal")
    builder.edge(code, module, "module", type="internal")
    things = []
    previous = module
    for link in range(links):
        thing = builder.add("object", "BigThing", self_size=32)
        function = builder.add("closure", "Function", self_size=32)
        scope = builder.add("object", "system / JSLexicalEnvironment", self_size=48)
        payload = builder.add("array", "Array", self_size=16 + link % 7)
        builder.edge(previous, thing, "current" if previous == module else "previous",
                     type="property" if previous == module else "context")
        builder.edge(thing, payload, "payload")
        builder.edge(thing, function, "keepAlive")
        builder.edge(thing, shape, "map", type="internal")
        builder.edge(function, shape, "map", type="internal")
        builder.edge(function, code, "code", type="internal")
        builder.edge(function, scope, "scope", type="internal")
        builder.edge(scope, module, "module", type="internal")
        if link % 5 == 0:  # edges the search must not follow, deep in the chain
            builder.edge(function, payload, "feedback_cell", type="internal")
            builder.edge(scope, thing, "cache", type="weak")
            builder.edge(thing, function, "shortcut", type="shortcut")
        things.append(thing)
        previous = scope
    return things


def timer_list(builder: SnapshotBuilder, length: int, *, holder: int = 0) -> list[int]:
    """Node's timer list: a circular doubly linked list from its head."""
    head = builder.add("object", "TimersList")
    builder.edge(holder, head, "list")
    items = [builder.add("object", "Timeout", self_size=40 + i % 3) for i in range(length)]
    for a, b in itertools.pairwise([head, *items, head]):
        builder.edge(a, b, "_idleNext")
        builder.edge(b, a, "_idlePrev")
    return items


def random_part(builder: SnapshotBuilder, rng: random.Random, nodes: int, edges: int, *, holder: int = 0) -> None:
    """A wide, tangled heap beside the chains (some wide levels, many join nodes)."""
    first = len(builder.nodes)
    for i in range(nodes):
        builder.add("object", f"C{i % 4}", self_size=rng.randint(1, 90))
    last = len(builder.nodes)
    for i in range(first, first + max(1, nodes // 10)):
        builder.edge(holder, i, f"g{i}")
    for _ in range(edges):
        builder.edge(rng.randrange(first, last), rng.randrange(1, last), f"p{rng.randrange(5)}")


def fan(builder: SnapshotBuilder, width: int, depth: int, *, holder: int = 0) -> None:
    """`depth` levels of exactly `width` nodes each: a ladder, each node to the next rung's same node."""
    rung = [holder]
    for _ in range(depth):
        nodes = [builder.add("object", "Rung") for _ in range(width)]
        for position, node in enumerate(nodes):
            builder.edge(rung[position % len(rung)], node, "next")
        rung = nodes


def graph_of(tmp_path, builder: SnapshotBuilder, name: str) -> heap.HeapGraph:
    return heap.HeapGraph(heap.read_snapshot(builder.write(tmp_path / f"{name}.heapsnapshot")))


def followed_digraph(graph: heap.HeapGraph) -> nx.DiGraph:
    """The edges the search follows, as networkx sees them."""
    follow = paths_module.followed_edge_filter(graph)
    digraph = nx.DiGraph()
    digraph.add_nodes_from(range(graph.node_count))
    sources = graph.edge_from
    edges = np.arange(graph.edge_count)
    kept = follow(edges, sources)
    digraph.add_edges_from(zip(sources[kept].tolist(), graph.snapshot.edge_to[kept].tolist(), strict=True))
    return digraph


def plain_tree(graph: heap.HeapGraph, monkeypatch, closed=None):
    """The BFS without its thin-level loop (one vectorised step per level, as before issue 21)."""
    with monkeypatch.context() as patch:
        patch.setattr(paths_module, "THIN_FRONTIER", 0)
        return shortest_path_tree(graph, closed)


def assert_same_tree(fast, plain) -> None:
    for field in ("parent", "order", "level_starts", "rank"):
        assert np.array_equal(getattr(fast, field), getattr(plain, field)), field


def mixed(tmp_path, seed: int, links: int = 700, timers: int = 300) -> heap.HeapGraph:
    rng = random.Random(seed)
    builder = SnapshotBuilder()
    closure_chain(builder, links)
    timer_list(builder, timers)
    random_part(builder, rng, 300 + 40 * seed, 900 + 80 * seed)
    fan(builder, WIDTH + seed % 3 - 1, 30)  # 23, 24 or 25 nodes per level: both sides of the thresholds
    return graph_of(tmp_path, builder, f"mixed{seed}")


def test_a_closure_chain_is_deeper_than_every_threshold(tmp_path):
    builder = SnapshotBuilder()
    closure_chain(builder, 1200)
    graph = graph_of(tmp_path, builder, "chain")
    tree = paths_module.shortest_paths(graph)
    assert tree.levels > 3000
    span = treewalk_module._section_span(tree)
    assert span and tree.levels > 20 * span  # the NCA walks go by sections
    assert any(thin for _, _, thin in level_runs(tree))


@pytest.mark.parametrize("seed", range(6))
def test_thin_levels_search_as_the_vectorised_bfs(tmp_path, monkeypatch, seed):
    graph = mixed(tmp_path, seed)
    assert_same_tree(shortest_path_tree(graph), plain_tree(graph, monkeypatch))
    # And with nodes reached but not gone through (the retainer paths' search, the stable keys').
    rng = np.random.default_rng(seed)
    closed = rng.choice(graph.node_count, size=graph.node_count // 20, replace=False)
    assert_same_tree(shortest_path_tree(graph, closed), plain_tree(graph, monkeypatch, closed))


@pytest.mark.parametrize("width", [paths_module.THIN_FRONTIER - 1, paths_module.THIN_FRONTIER,
                                   paths_module.THIN_FRONTIER + 1])
def test_both_sides_of_the_thin_frontier(tmp_path, monkeypatch, width):
    builder = SnapshotBuilder()
    fan(builder, width, 40)
    # A thin level whose node has more edges than THIN_EDGES: searched by the vectorised step.
    hub = builder.add("object", "Hub")
    builder.edge(0, hub, "hub")
    for i in range(paths_module.THIN_EDGES + 5):
        leaf = builder.add("object", "Leaf")
        builder.edge(hub, leaf, i, type="element")
        builder.edge(hub, leaf, i + 1, type="element")  # a second edge to the same node: the first wins
    graph = graph_of(tmp_path, builder, f"fan{width}")
    assert_same_tree(shortest_path_tree(graph), plain_tree(graph, monkeypatch))


@pytest.mark.parametrize("rounds", ["capped", "fix-point"])
@pytest.mark.parametrize("seed", range(4))
def test_dominators_of_deep_chains_match_networkx(tmp_path, monkeypatch, seed, rounds):
    """As shipped (past MAX_ROUNDS Lengauer–Tarjan finishes), and with the fix-point run to its end
    (section jumps in every round that climbs the chain)."""
    if rounds == "fix-point":
        monkeypatch.setattr(dominators_module, "MAX_ROUNDS", 10**6)
    graph = mixed(tmp_path, seed, links=500 + 100 * seed, timers=150 + 50 * seed)
    expected = nx.immediate_dominators(followed_digraph(graph), 0)
    tree = dominator_tree(graph)
    idom = tree.idom
    for node in range(graph.node_count):
        want = -1 if node == 0 or node not in expected else expected[node]
        assert idom[node] == want, f"seed {seed}: idom of {node}"


@pytest.mark.parametrize("scalar", [False, True], ids=["vectorised-walks", "scalar-walks"])
@pytest.mark.parametrize("seed", range(3))
def test_section_jumps_on_small_sections_match_networkx(tmp_path, monkeypatch, seed, scalar):
    """Sections of 2 levels on every graph deeper than 4, walks in numpy or in Python."""
    monkeypatch.setattr(treewalk_module, "SECTION_MIN_LEVELS", 2)
    monkeypatch.setattr(treewalk_module, "_SCALAR_CLIMB", 10**9 if scalar else 0)
    rng = random.Random(seed)
    builder = SnapshotBuilder()
    closure_chain(builder, 60 + 30 * seed)
    timer_list(builder, 40)
    random_part(builder, rng, 80, 240)
    graph = graph_of(tmp_path, builder, f"sections{seed}")
    expected = nx.immediate_dominators(followed_digraph(graph), 0)
    idom = dominator_tree(graph).idom
    assert all(idom[v] == d for v, d in expected.items() if v != 0)


@pytest.mark.parametrize("seed", range(3))
def test_passes_over_thin_runs_match_the_level_by_level_ones(tmp_path, monkeypatch, seed):
    """Dominators, retained sizes, dominated sets and structural keys with THIN_LEVEL 0 (every level
    a numpy step of its own, the plain algorithm) and as shipped."""
    def results():
        graph = mixed(tmp_path, seed, links=400, timers=200)
        tree = dominator_tree(graph)
        owners = np.flatnonzero(graph.snapshot.node_name == graph.snapshot.strings.indices_of("BigThing")[0])[::50]
        return tree.idom, tree.retained, dominated_by(graph, owners), structural_keys(graph)

    fast = results()
    with monkeypatch.context() as patch:
        patch.setattr(treewalk_module, "THIN_LEVEL", 0)
        patch.setattr(paths_module, "THIN_FRONTIER", 0)
        patch.setattr(treewalk_module, "SECTION_MIN_LEVELS", 10**9)
        plain = results()
    for got, want in zip(fast, plain, strict=True):
        assert np.array_equal(got, want)


def test_deepest_walks_each_chain_once_with_the_same_result(tmp_path):
    builder = SnapshotBuilder()
    things = closure_chain(builder, 600)
    graph = graph_of(tmp_path, builder, "deepest")
    idom = dominator_tree(graph).idom
    rng = random.Random(3)
    found = [GrownObject(node, 0, "BigThing", (0, rng.choice([10, 100, 1000, 5000]))) for node in things[::3]]

    def naive(objects):
        growth = {g.node: g.sizes[-1] - g.sizes[0] for g in objects}
        dropped = set()
        for node, amount in growth.items():
            up = int(idom[node])
            while up >= 0:
                if up in growth and amount >= 0.5 * growth[up]:
                    dropped.add(up)
                up = int(idom[up])
        return [g for g in objects if g.node not in dropped]

    assert deepest(graph, found) == naive(found)
    assert 0 < len(deepest(graph, found)) < len(found)

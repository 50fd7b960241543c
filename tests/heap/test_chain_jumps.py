"""Chain jumps (issue 21): the fix-point carries a change along a list in log2(length) steps.

Lists that settle one link per round (a doubly linked ring held at its head, Node's timer list; a
ladder; JSC's structure chains, each structure held by one executable and by the previous one)
must now settle in a few rounds with the same dominators as networkx, as the fix-point without
jumps, and as Lengauer–Tarjan (what the old path ran past its cap). Random graphs check the jumps
on tangled heaps, from every first round on both sides of CHAIN_JUMPS_FROM.
"""

from __future__ import annotations

import itertools
import random

import networkx as nx
import numpy as np
import pytest

from pytest_jsleak import heap
from pytest_jsleak.heap import dominators as dominators_module
from pytest_jsleak.heap.dominators import dominator_tree

from .snapshot_builder import SnapshotBuilder
from .test_deep_chains import closure_chain, followed_digraph, graph_of, random_part, timer_list

NEVER = 10**9
MAX_ROUNDS = dominators_module.MAX_ROUNDS


def ring(builder: SnapshotBuilder, length: int, *, holder: int = 0, tail: bool = False) -> list[int]:
    """A circular doubly linked list from its head (Node's timer list), each item holding a payload;
    `tail`: the holder also points at the last item."""
    items = timer_list(builder, length, holder=holder)
    for item in items[::7]:
        payload = builder.add("object", "Payload", self_size=64)
        builder.edge(item, payload, "callback")
    if tail:
        builder.edge(holder, items[-1], "tail")
    return items


def ladder(builder: SnapshotBuilder, length: int, *, holder: int = 0) -> None:
    """Two lists side by side with a rung both ways between every pair of cells, one entered at
    its start and the other at its end."""
    left = [builder.add("object", "Left") for _ in range(length)]
    right = [builder.add("object", "Right") for _ in range(length)]
    builder.edge(holder, left[0], "left")
    builder.edge(holder, right[-1], "right")
    for chain in (left, right):
        for a, b in itertools.pairwise(chain):
            builder.edge(a, b, "next")
    for a, b in zip(left, right, strict=True):
        builder.edge(a, b, "rung")
        builder.edge(b, a, "rung")


def structure_chain(builder: SnapshotBuilder, length: int, *, holder: int = 0) -> list[int]:
    """Bun's shape: one executable points at every structure of a transition chain (so all are on
    one BFS level), each structure at the next, the first reached another way too, every one at
    the shared prototype and the global object."""
    executable = builder.add("code", "FunctionExecutable")
    entry = builder.add("object", "Entry")
    prototype = builder.add("object", "Object")
    global_object = builder.add("object", "GlobalObject")
    builder.edge(holder, executable, "executable", type="internal")
    builder.edge(holder, global_object, "global")
    structures = [builder.add("object shape", "Structure") for _ in range(length)]
    for structure in structures:
        builder.edge(executable, structure, "structure", type="internal")
        builder.edge(structure, prototype, "prototype", type="internal")
        builder.edge(structure, global_object, "global", type="internal")
    for a, b in itertools.pairwise(structures):
        builder.edge(a, b, "transition", type="internal")
    # The chain's start is reached a level deeper than the executable's structures, another way.
    builder.edge(holder, entry, "entry")
    builder.edge(entry, structures[0], "structure", type="internal")
    return structures


def assert_networkx(graph: heap.HeapGraph, idom: np.ndarray) -> None:
    # networkx's own fix-point is quadratic on rings (34 s for 4,000 cells): larger graphs are
    # compared with Lengauer–Tarjan, itself checked against networkx in test_dominators.py.
    assert graph.node_count <= 2500
    expected = nx.immediate_dominators(followed_digraph(graph), 0)
    want = np.full(graph.node_count, -1, idom.dtype)
    for node, dominator in expected.items():
        if node != 0:
            want[node] = dominator
    assert np.array_equal(idom, want)


def without_jumps(graph: heap.HeapGraph, monkeypatch, max_rounds: int | None = None):
    with monkeypatch.context() as patch:
        patch.setattr(dominators_module, "CHAIN_JUMPS_FROM", NEVER)
        if max_rounds is not None:
            patch.setattr(dominators_module, "MAX_ROUNDS", max_rounds)
        return dominator_tree(graph)


def assert_same(got, want) -> None:
    assert np.array_equal(got.idom, want.idom)
    assert np.array_equal(got.retained, want.retained)


@pytest.mark.parametrize("length", [3, 1000, 4001])
@pytest.mark.parametrize("tail", [False, True], ids=["head", "head-and-tail"])
def test_a_ring_settles_in_a_few_rounds(tmp_path, monkeypatch, length, tail):
    builder = SnapshotBuilder()
    holder = builder.add("object", "TimersList holder")
    builder.edge(0, holder, "timers")
    items = ring(builder, length, holder=holder, tail=tail)
    graph = graph_of(tmp_path, builder, f"ring{length}{tail}")
    tree = dominator_tree(graph)
    assert tree.rounds <= 6
    if length <= 1000:
        assert_networkx(graph, tree.idom)
    assert_same(tree, without_jumps(graph, monkeypatch))  # the old path: fix-point, then Lengauer–Tarjan
    head = int(tree.idom[items[0]])
    assert all(int(tree.idom[item]) == head for item in items[1:-1])
    if length > 100:
        assert without_jumps(graph, monkeypatch).rounds > dominators_module.MAX_ROUNDS  # it used to give up


@pytest.mark.parametrize("length", [2, 500, 3000])
def test_a_ladder(tmp_path, monkeypatch, length):
    builder = SnapshotBuilder()
    ladder(builder, length)
    graph = graph_of(tmp_path, builder, f"ladder{length}")
    tree = dominator_tree(graph)
    assert tree.rounds <= 8
    if length <= 1000:
        assert_networkx(graph, tree.idom)
    assert_same(tree, without_jumps(graph, monkeypatch))


@pytest.mark.parametrize("length", [5, 100, 2000])
def test_a_structure_chain_on_one_level(tmp_path, monkeypatch, length):
    builder = SnapshotBuilder()
    structures = structure_chain(builder, length)
    graph = graph_of(tmp_path, builder, f"structures{length}")
    tree = dominator_tree(graph)
    assert tree.rounds <= 6
    if length <= 1000:
        assert_networkx(graph, tree.idom)
    assert_same(tree, without_jumps(graph, monkeypatch))
    assert set(tree.idom[structures[1:]].tolist()) == {0}


@pytest.mark.parametrize("first", [1, dominators_module.CHAIN_JUMPS_FROM, dominators_module.CHAIN_JUMPS_FROM + 1,
                                   NEVER], ids=["round-1", "as-shipped", "one-later", "never"])
@pytest.mark.parametrize("seed", range(5))
def test_everything_at_once_on_both_sides_of_the_first_jump_round(tmp_path, monkeypatch, seed, first):
    """Rings, ladders, structure chains, a closure chain and a random tangle, partly reachable
    from each other, with the jumps from round 1, as shipped, a round later and never (uncapped)."""
    rng = random.Random(seed)
    builder = SnapshotBuilder()
    items = ring(builder, 300 + 50 * seed, tail=seed % 2 == 1)
    ladder(builder, 100 + 20 * seed)
    structures = structure_chain(builder, 150 + 10 * seed)
    things = closure_chain(builder, 100 + 30 * seed)
    random_part(builder, rng, 200 + 30 * seed, 600 + 60 * seed)
    last = len(builder.nodes)
    for _ in range(20 + 5 * seed):  # edges between the parts, into the middle of the chains too
        source = rng.choice([rng.choice(items), rng.choice(structures), rng.choice(things), rng.randrange(1, last)])
        builder.edge(source, rng.randrange(1, last), f"x{rng.randrange(3)}")
    graph = graph_of(tmp_path, builder, f"all{seed}")
    monkeypatch.setattr(dominators_module, "CHAIN_JUMPS_FROM", first)
    monkeypatch.setattr(dominators_module, "MAX_ROUNDS", 10**6)
    tree = dominator_tree(graph)
    assert_networkx(graph, tree.idom)
    monkeypatch.setattr(dominators_module, "MAX_ROUNDS", 0)
    assert_same(tree, dominator_tree(graph))  # Lengauer–Tarjan
    if first != NEVER:
        assert tree.rounds <= MAX_ROUNDS  # the fix-point no longer gives up


@pytest.mark.parametrize("first", [1, 2, 3])
@pytest.mark.parametrize("seed", range(30))
def test_random_graphs_match_networkx(tmp_path, monkeypatch, seed, first):
    """Dense and sparse random graphs, cycles everywhere: jumps whenever a round moves a node."""
    from .test_dominators import random_snapshot

    monkeypatch.setattr(dominators_module, "CHAIN_JUMPS_FROM", first)
    size = 20 + seed * 7
    snap, _ = random_snapshot(tmp_path, 1000 + seed, size, int(size * (1.1 + (seed % 5) * 0.4)), weak=seed % 3)
    graph = heap.HeapGraph(snap)
    tree = dominator_tree(graph)
    assert_networkx(graph, tree.idom)
    assert_same(tree, without_jumps(graph, monkeypatch, max_rounds=0))


def test_rounds_of_a_deep_heap_match_those_of_a_flat_one(tmp_path):
    """Issue 21: a heap of lists thousands deep takes no more rounds than a flat one of its size."""
    deep = SnapshotBuilder()
    ring(deep, 3000)
    structure_chain(deep, 2000)
    ladder(deep, 1500)
    flat = SnapshotBuilder()
    random_part(flat, random.Random(5), len(deep.nodes), 2 * len(deep.nodes))
    deep_tree = dominator_tree(graph_of(tmp_path, deep, "deep"))
    flat_tree = dominator_tree(graph_of(tmp_path, flat, "flat"))
    assert deep_tree.rounds <= max(flat_tree.rounds, 6)


def random_lists(builder: SnapshotBuilder, rng: random.Random) -> None:
    """Lists of every kind entered at random cells: singly or doubly linked, open or closed, some
    with a hub holding every cell (one BFS level), and random edges across everything."""
    nodes = [0]
    for _ in range(rng.randint(1, 6)):
        cells = [builder.add("object", "Cell") for _ in range(rng.randint(2, 300))]
        two_way = rng.random() < 0.7
        for a, b in itertools.pairwise(cells + ([cells[0]] if rng.random() < 0.4 else [])):
            builder.edge(a, b, "next")
            if two_way:
                builder.edge(b, a, "prev")
        for _ in range(rng.randint(1, 3)):
            builder.edge(rng.choice(nodes), rng.choice(cells), "entry")
        if rng.random() < 0.5:
            hub = builder.add("object", "Hub")
            builder.edge(rng.choice(nodes), hub, "hub")
            for cell in cells:
                builder.edge(hub, cell, "cell")
            nodes.append(hub)
        nodes.extend(cells)
    total = len(builder.nodes)
    for _ in range(rng.randint(0, total // 3)):
        builder.edge(rng.randrange(total), rng.randrange(1, total), "across")


@pytest.mark.parametrize("seed", range(40))
def test_random_lists_settle_before_the_cap(tmp_path, monkeypatch, seed):
    """The three links matter here: with the deepest predecessor alone seeds 10, 11, 12, 21, 27 and
    38 took 26-128 rounds (past the cap: Lengauer–Tarjan), with the shallower one too 11, 12, 21
    and 38 did; with the BFS parent as well none does."""
    builder = SnapshotBuilder()
    random_lists(builder, random.Random(seed))
    graph = graph_of(tmp_path, builder, f"lists{seed}")
    tree = dominator_tree(graph)
    assert tree.rounds <= MAX_ROUNDS
    assert_same(tree, without_jumps(graph, monkeypatch, max_rounds=0))
    if graph.node_count <= 600:
        assert_networkx(graph, tree.idom)

"""Objects that grow in place, on small generated snapshots: matching by id and by place, the deepest
growing object, the harness's own objects, code that grows with the JIT, and growth in one round."""

from __future__ import annotations

import json

import pytest

from pytest_jsleak import heap
from pytest_jsleak.heap.exclusions import harness_owned
from pytest_jsleak.heap.growth import (
    deepest,
    dominated_ancestors,
    grew_again,
    grown_in_place,
    identity_keys,
    large_objects,
    structural_keys,
)

from .snapshot_builder import SnapshotBuilder


def program(
    elements: int,
    *,
    code: int = 100,
    bounded: int = 800,
    renumber: int = 0,
    harness_buffer: int = 64,
    table: int = 0,
    jit_shortcut: bool = False,
    table_type: str = "array",
    table_class: str = "Set",
    runtime_cell: int = 0,
    global_route: bool = False,
    stack_roots: bool = False,
) -> SnapshotBuilder:
    """A module scope holding `latencies` (an Array whose elements store is `elements` bytes, a new
    node each time as V8 reallocates it), `window` (an Array of fixed storage), a function whose
    compiled code is `code` bytes, and the harness's scope with its command stream.

    `renumber` shifts every id (Bun renumbers objects in every snapshot); `table` adds a Set whose
    table grows by that many bytes; `jit_shortcut` adds compiled code, right under the root, that
    embeds `latencies` (as JSC's optimised code does once `handle` tiers up). `table_type="hidden"`
    stores the Set's table as JSC does, in a `(system)` cell; `table_class` makes it another
    collection; `runtime_cell` hangs a `(system)` cell of that many bytes off `handle` (the runtime's,
    never the program's data). `global_route`: the module scope is also reached from a global object
    under the root (as JSC's module registry);
    `stack_roots`: the GC roots hold `latencies` and `window` directly (JSC's conservative scan).
    """
    b = SnapshotBuilder()

    def add(type: str, name: str, size: int, fixed_id: int) -> int:
        return b.add(type, name, self_size=size, id=fixed_id + renumber)

    roots = add("synthetic", "(GC roots)", 0, 3)
    b.edge(0, roots, 1, "element")
    scope = add("object", "system / Context", 40, 5)
    b.edge(roots, scope, 1, "element")
    latencies = add("object", "Array", 32, 7)
    b.edge(scope, latencies, "latencies", "context")
    # A reallocated store: a fresh id in every snapshot.
    store = add("array", "", elements, 1001 + elements * 2)
    b.edge(latencies, store, "elements", "internal")
    window = add("object", "Array", 32, 9)
    b.edge(scope, window, "window", "context")
    bounded_store = add("array", "", bounded, 11)
    b.edge(window, bounded_store, "elements", "internal")
    handler = add("closure", "handle", 32, 13)
    b.edge(scope, handler, "handle", "context")
    compiled = add("code", "(code)", code, 3001 + code * 2)
    b.edge(handler, compiled, "code", "internal")
    if global_route:
        global_object = add("object", "GlobalObject", 64, 23)
        b.edge(0, global_object, 3, "element")
        b.edge(global_object, scope, "module", "internal")
    if stack_roots:
        b.edge(roots, latencies, 3, "element")
        b.edge(roots, window, 4, "element")
    if runtime_cell:
        cell = add("hidden", "", runtime_cell, 6001 + runtime_cell * 2)
        b.edge(handler, cell, "cell", "internal")
    if jit_shortcut:
        optimised = add("code", "(compiled code)", 64, 9001)
        b.edge(0, optimised, 2, "element")
        b.edge(optimised, latencies, "constant", "internal")
    if table:
        seen = add("object", table_class, 32, 15)
        b.edge(scope, seen, "seen", "context")
        storage = add(table_type, "", table, 5001 + table * 2)
        b.edge(seen, storage, "table", "internal")
    harness = add("object", "system / Context", 40, 17)
    b.edge(roots, harness, 2, "element")
    stream = add("object", "ReadStream", 48, 19)
    b.edge(harness, stream, "__jsleakCommandStream", "context")
    buffered = add("array", "", harness_buffer, 7001 + harness_buffer * 2)
    b.edge(stream, buffered, "pending", "internal")
    exports = add("object", "Map", 32, 21)
    b.edge(harness, exports, "__jsleakExports", "context")
    b.edge(exports, handler, "handle", "internal")
    return b


def new_folder(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    return folder


def graphs(tmp_path, builders):
    return [heap.HeapGraph(heap.read_snapshot(b.write(tmp_path / f"s{i}.heapsnapshot")))
            for i, b in enumerate(builders, 1)]


@pytest.mark.parametrize("stable_ids", [True, False])
def test_an_array_that_grows_is_found_and_nothing_else(tmp_path, stable_ids) -> None:
    renumber = (lambda i: 0) if stable_ids else (lambda i: 10_000 * i)
    snaps = graphs(tmp_path, [
        # latencies grows in both rounds; the compiled code of `handle` grows too (the JIT), and the
        # harness's command stream buffers more: neither is the program's data.
        program(800 + 1600 * i, code=100 + 500 * i, renumber=renumber(i), harness_buffer=64 + 4096 * i)
        for i in range(3)
    ])
    found = grown_in_place(snaps, stable_ids=stable_ids)
    assert [(g.class_name, g.sizes) for g in found.grown] == [("Array", (832, 2432, 4032))]
    assert found.one_round == []
    # The deepest growing object, not the scope or the roots above it.
    grown = found.grown[0]
    path = heap.retainer_path(snaps[2], grown.node)
    assert [step.edge_name for step in path.steps][-1] == "latencies"


def test_structural_keys_match_renumbered_objects(tmp_path) -> None:
    first, second = graphs(tmp_path, [program(800, renumber=0), program(800, renumber=50_000)])
    keys_a, keys_b = structural_keys(first), structural_keys(second)
    assert (keys_a != 0).all() and (keys_a == keys_b).all()
    # Ids tell nothing here; places do.
    assert (identity_keys(first, stable_ids=True) != identity_keys(second, stable_ids=True)).any()


def test_structural_keys_do_not_follow_the_jit_shortcuts(tmp_path) -> None:
    # Bun, wasm-memory example: S1 reaches the arena through its module scope, S2 and S3 through the
    # optimised code that embeds it. Keyed by the shortest path, the arena was three objects.
    snaps = graphs(tmp_path, [
        program(800 + 1600 * i, renumber=10_000 * i, jit_shortcut=i > 0, global_route=True)
        for i in range(3)
    ])
    shortest = heap.retainer_path(snaps[1], snaps[1].find_by_id(10_007))
    assert [step.class_name for step in shortest.steps][-2] == "(compiled code)"  # the trap is set
    found = grown_in_place(snaps, stable_ids=False)
    assert [(g.class_name, g.sizes) for g in found.grown] == [("Array", (832, 2432, 4032))]


def test_structural_keys_do_not_follow_the_conservative_stack_roots(tmp_path) -> None:
    # Bun, seen-ids example: the GC roots held the `seen` Set in one snapshot, by an unnamed edge,
    # beside another object of its class: both got the same key, so neither had one.
    snaps = graphs(tmp_path, [
        program(800 + 1600 * i, renumber=10_000 * i, global_route=True, stack_roots=i == 2) for i in range(3)
    ])
    found = grown_in_place(snaps, stable_ids=False)
    assert [(g.class_name, g.sizes) for g in found.grown] == [("Array", (832, 2432, 4032))]


def test_the_harness_owns_its_scope_but_not_the_targets_exports(tmp_path) -> None:
    (graph,) = graphs(tmp_path, [program(800)])
    owned = harness_owned(graph)
    names = {graph.node(i).name: bool(owned[i]) for i in range(graph.node_count)}
    assert names["ReadStream"] is True
    assert names["handle"] is False  # the target's function, reached through __jsleakExports too
    assert names["Array"] is False


def test_a_table_that_doubles_once_needs_another_round(tmp_path) -> None:
    snaps = graphs(tmp_path, [program(800, table=t) for t in (4096, 8192, 8192)])
    found = grown_in_place(snaps, stable_ids=True)
    assert found.grown == []
    assert [g.class_name for g in found.one_round] == ["Set"]
    (after,) = graphs(new_folder(tmp_path, "s4"), [program(800, table=16384)])
    again = grew_again(snaps[2], after, found.one_round, stable_ids=True)
    assert [(g.class_name, g.sizes) for g in again] == [("Set", (4128, 8224, 8224, 16416))]
    # A cache that filled once stays the same size: no growth again.
    (still,) = graphs(new_folder(tmp_path, "s5"), [program(800, table=8192)])
    assert grew_again(snaps[2], still, found.one_round, stable_ids=True) == []


def test_a_weak_collections_table_is_not_the_programs_data(tmp_path) -> None:
    # The same table under a WeakMap (Vue's reactive targetMap doubled twice on a clean page): its
    # capacity follows the most keys alive at once between two GCs; what it keeps, live keys keep.
    snaps = graphs(tmp_path, [program(800, table=t, table_class="WeakMap") for t in (4096, 8192, 16384)])
    found = grown_in_place(snaps, stable_ids=True)
    assert (found.grown, found.one_round) == ([], [])
    # As a Set, the same growth is found (the other side of the rule).
    snaps = graphs(new_folder(tmp_path, "set"), [program(800, table=t, table_class="Set") for t in (4096, 8192, 16384)])
    assert [g.class_name for g in grown_in_place(snaps, stable_ids=True).grown] == ["Set"]


def test_a_set_table_in_a_system_cell_is_the_programs_data(tmp_path) -> None:
    # Bun keeps a Set's table in a `(system)` cell only the Set holds: its growth is the program's.
    # A `(system)` cell under a function is the runtime's and weighs nothing however it grows.
    snaps = graphs(tmp_path, [
        program(800, table=4096 * 2**i, table_type="hidden", runtime_cell=1000 + 4000 * i, renumber=10_000 * i)
        for i in range(3)
    ])
    found = grown_in_place(snaps, stable_ids=False)
    assert [(g.class_name, g.sizes) for g in found.grown] == [("Set", (4128, 8224, 16416))]


def test_a_table_that_jumped_before_the_rounds_is_found_by_its_size_in_a_long_extra_round(tmp_path) -> None:
    # Bun's seen-ids: the Set's table jumped 4x in the sampling round, stayed put through rounds A
    # and B, and jumps again in a long extra round. The candidates are the large objects of S3 (the
    # harness's command stream is never one); the deepest that grew by the jump again is the Set.
    s3, s4 = graphs(tmp_path, [program(800, table=t, harness_buffer=70_000, renumber=10_000 * i, table_type="hidden")
                               for i, t in enumerate((131_072, 524_288))])
    candidates = large_objects(s3, min_bytes=49_152, stable_ids=False)
    assert "ReadStream" not in [c.class_name for c in candidates]
    again = deepest(s4, grew_again(s3, s4, candidates, stable_ids=False, min_bytes=98_304))
    assert [(g.class_name, g.sizes) for g in again] == [("Set", (131_104, 524_320))]


def test_growth_explained_by_survivors_is_not_reported_twice(tmp_path) -> None:
    snaps = graphs(tmp_path, [program(800 + 1600 * i) for i in range(3)])
    final = snaps[2]
    latencies = next(i for i in range(final.node_count)
                     if final.node(i).name == "Array" and final.node(i).id == 7)
    explained = dominated_ancestors(final, [latencies])
    assert grown_in_place(snaps, stable_ids=True, explained=explained).grown == []


def test_jsleak_diff_lists_what_grew_in_place(tmp_path, capsys) -> None:
    from pytest_jsleak.cli import main

    files = [program(800 + 1600 * i).write(tmp_path / f"s{i}.heapsnapshot") for i in range(3)]
    assert main(["diff", *map(str, files)]) == 0
    out = capsys.readouterr().out
    assert "grew in place" in out
    assert "Array @7: 832 B → 2.4 KB → 3.9 KB  retained by:" in out and "latencies" in out
    assert main(["diff", "--json", *map(str, files)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(g["class_name"], g["sizes"]) for g in document["grown_in_place"]] == [("Array", [832, 2432, 4032])]
    assert main(["diff", "--no-growth", *map(str, files)]) == 0
    assert "grew in place" not in capsys.readouterr().out

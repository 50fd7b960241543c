"""The analysis on small generated snapshots: what counts as a new object of the program."""

from __future__ import annotations

from pathlib import Path

from heap.snapshot_builder import SnapshotBuilder

from pytest_jsleak import analysis, heap
from pytest_jsleak.profiles import NODE
from pytest_jsleak.verdict import is_leaking_class

# Four long-lived Maps (ids 101-107): the tables of two are replaced in round A, of the other two in
# round B (a rehash: the new table replaces the old one, which dies). And a module array `log` that a
# leak pushes two small arrays per round onto (each a new `Array` with its own elements).
MAPS = (101, 103, 105, 107)


def rooted(node_type: str, name: str, self_size: int) -> tuple[SnapshotBuilder, int, int]:
    """A builder with the GC roots and one node under them (a module's scope, or an engine's roots):
    (builder, roots, node)."""
    b = SnapshotBuilder()
    roots = b.add("synthetic", "(GC roots)", self_size=0, id=3)
    b.edge(0, roots, 1, "element")
    node = b.add(node_type, name, self_size=self_size, id=5)
    b.edge(roots, node, 1, "element")
    return b, roots, node


def write(path: Path, tables: dict[int, int], leaked: list[int], log_storage: int) -> Path:
    b, _, scope = rooted("object", "system / Context", 40)
    for number, map_id in enumerate(MAPS):
        holder = b.add("object", "Map", self_size=32, id=map_id)
        b.edge(scope, holder, f"cache{number}", "context")
        b.edge(holder, b.add("array", "", self_size=1000, id=tables[map_id]), "table", "internal")
    log = b.add("object", "Array", self_size=32, id=51)
    b.edge(scope, log, "log", "context")
    storage = b.add("array", "(object elements)", self_size=16 + 8 * len(leaked), id=log_storage)
    b.edge(log, storage, "elements", "internal")
    for k, leak_id in enumerate(leaked):
        item = b.add("object", "Array", self_size=32, id=leak_id)
        b.edge(storage, item, k, "element")
        b.edge(item, b.add("array", "(object elements)", self_size=24, id=leak_id + 1000), "elements", "internal")
    return b.write(path)


def test_a_long_lived_objects_replaced_storage_is_not_a_new_object(tmp_path: Path) -> None:
    first = {101: 201, 103: 203, 105: 205, 107: 207}
    round_a = {**first, 101: 301, 103: 303}
    round_b = {**round_a, 105: 401, 107: 403}
    snapshots = [
        write(tmp_path / "s1.heapsnapshot", first, [], log_storage=61),
        write(tmp_path / "s2.heapsnapshot", round_a, [601, 603], log_storage=63),
        write(tmp_path / "s3.heapsnapshot", round_b, [601, 603, 701, 703], log_storage=65),
    ]
    graphs = [heap.HeapGraph(heap.read_snapshot(p)) for p in snapshots]
    raw = heap.three_snapshot_diff(graphs[0].snapshot.node_id, graphs[1].snapshot.node_id, graphs[2])
    # By ids alone the replaced tables look like two new (array)s a round that stay alive (beside the
    # leaked arrays' elements, and, in round B, log's own storage).
    assert (raw["(array)"].survivors, raw["(array)"].fresh) == (2 + 2, 2 + 2 + 1)
    evidence = analysis.analyse(snapshots, profile=NODE, round_calls=100)
    leaking = {g.class_name: (g.round_a, g.round_b) for g in evidence.classes
               if is_leaking_class(g, iterations=100, profile=NODE)}
    # The leaked arrays, with their own elements, still count; the tables and log's storage do not.
    assert leaking == {"Array": (2, 2), "(array)": (2, 2)}, leaking


def write_root_held(path: Path, leaked: list[int]) -> Path:
    """Charts that only an engine root holds (Blink keeps a page's detached canvases through its own
    roots): each a `Chart` of 400 B with a 600 B dataset, under a synthetic node alive since S1."""
    b, _, blink = rooted("synthetic", "(Blink roots)", 0)
    for k, leak_id in enumerate(leaked):
        chart = b.add("object", "Chart", self_size=400, id=leak_id)
        b.edge(blink, chart, k, "element")
        b.edge(chart, b.add("object", "Dataset", self_size=600, id=leak_id + 1000), "data", "property")
    return b.write(path)


def test_new_objects_only_an_engine_root_holds_are_sized_over_both_rounds(tmp_path: Path) -> None:
    # Round A's survivors alone read half the leak (the Chart.js page's leak read 51 KB/action of its
    # samples' 98 KB): round B's new objects count too, each with what it retains.
    snapshots = [
        write_root_held(tmp_path / "s1.heapsnapshot", []),
        write_root_held(tmp_path / "s2.heapsnapshot", [601, 603]),
        write_root_held(tmp_path / "s3.heapsnapshot", [601, 603, 701, 703]),
    ]
    evidence = analysis.analyse(snapshots, profile=NODE, round_calls=2)
    assert {g.class_name for g in evidence.classes if is_leaking_class(g, iterations=2, profile=NODE)} >= {"Chart"}
    assert evidence.holders_growth == 4 * (400 + 600)


def write_with_natives(
    path: Path, charts: int, text_nodes: int, cache_entries: int, *, under_charts: bool = False
) -> Path:
    """A page's heap: `charts` leaked Chart objects under a module array, and Blink's own natives
    under Blink's roots (as a page's snapshot has them, not under the charts that own them, and with
    even ids, as Chromium gives the embedder's nodes: never survivors by id): 100 B text nodes, and
    50 B entries of a cache of Blink's."""
    b, roots, scope = rooted("object", "system / Context", 40)
    history = b.add("object", "Array", self_size=32, id=7)
    b.edge(scope, history, "history", "context")
    blink = b.add("synthetic", "(Blink roots)", self_size=0, id=9)
    b.edge(roots, blink, 2, "element")
    chart_nodes = []
    for k in range(charts):
        chart_nodes.append(b.add("object", "Chart", self_size=400, id=1001 + 2 * k))
        b.edge(history, chart_nodes[-1], k, "element")
    for k in range(text_nodes):
        text = b.add("native", "blink::PlainTextNode", self_size=100, id=100_000 + 2 * k)
        # Under its chart (3 per chart), or under Blink's roots.
        b.edge(chart_nodes[k // 3] if under_charts else blink, text, k, "element")
    for k in range(cache_entries):
        b.edge(blink, b.add("native", "blink::ShapeCache", self_size=50, id=200_000 + 2 * k), k, "element")
    return b.write(path)


def test_the_engines_natives_that_kept_the_calls_pace_are_the_leaks_size_not_its_evidence(tmp_path: Path) -> None:
    # 10 calls a round: a chart and 3 text nodes per call (Blink's, for the chart's canvas), and a
    # cache of Blink's that gains 4 entries a round (under half an object per call: Blink warming).
    rounds = [(0, 0, 0), (10, 30, 4), (20, 60, 8)]
    snapshots = [write_with_natives(tmp_path / f"s{n}.heapsnapshot", *counts) for n, counts in enumerate(rounds, 1)]
    evidence = analysis.analyse(snapshots, profile=NODE, round_calls=10)
    assert evidence.natives_growth == 60 * 100
    assert "blink::PlainTextNode" not in {g.class_name for g in evidence.classes}
    # At the pace's floor (half an object per call: 5 a round) they count; below it they do not.
    assert analysis.natives_kept_pace([heap.HeapGraph(heap.read_snapshot(p)) for p in snapshots], 8) == 6000 + 400
    assert analysis.natives_kept_pace([heap.HeapGraph(heap.read_snapshot(p)) for p in snapshots], 10) == 6000
    # Without a leaking class of the program, Blink's natives alone are no evidence.
    quiet = [write_with_natives(tmp_path / f"q{n}.heapsnapshot", 0, *counts[1:]) for n, counts in enumerate(rounds, 1)]
    assert analysis.analyse(quiet, profile=NODE, round_calls=10).natives_growth == 0


def test_the_engines_natives_under_the_leaked_objects_are_counted_once(tmp_path: Path) -> None:
    # The text nodes held under their charts are in the charts' retained sizes already.
    rounds = [(0, 0, 0), (10, 30, 0), (20, 60, 0)]
    snapshots = [write_with_natives(tmp_path / f"s{n}.heapsnapshot", *counts, under_charts=True)
                 for n, counts in enumerate(rounds, 1)]
    evidence = analysis.analyse(snapshots, profile=NODE, round_calls=10)
    assert (evidence.holders_growth, evidence.natives_growth) == (20 * 400 + 60 * 100, 0)


def write_replaced_module_variable(path: Path, buffer_bytes: int, buffer_id: int) -> Path:
    """A user module whose `buf` is replaced by a larger Uint8Array on every call (a new object in
    every snapshot). Only its scope outlives the calls, and the shortest path to the scope is the
    loader's (`(GC roots) → Node / Environment → ModuleWrap → Generator → system / Context`)."""
    b, roots, environment = rooted("native", "Node / Environment", 0)
    wrap = b.add("native", "ModuleWrap", self_size=16, id=7)
    b.edge(environment, wrap, 1, "element")
    generator = b.add("object", "Generator", self_size=32, id=9)
    b.edge(wrap, generator, 1, "element")
    scope = b.add("object", "system / Context", self_size=40, id=11)
    b.edge(generator, scope, "context", "internal")
    native = b.add("object", "system / NativeContext", self_size=40, id=13)
    b.edge(roots, native, 2, "element")
    b.edge(scope, native, "previous", "internal")
    # The scope is the module's: a function of the module closes over it, and its script is the file.
    replaced = b.add("closure", "replaced", self_size=32, id=15)
    b.edge(scope, replaced, "replaced", "context")
    b.edge(replaced, scope, "context", "internal")
    shared = b.add("code", "(shared function info)", self_size=40, id=17)
    b.edge(replaced, shared, "shared", "internal")
    script = b.add("code", "(script)", self_size=40, id=19)
    b.edge(shared, script, "script_or_debug_info", "internal")
    b.edge(script, b.add("string", "/project/src/store.mjs", self_size=40, id=21), "name", "internal")
    buf = b.add("object", "Uint8Array", self_size=96, id=buffer_id)
    b.edge(scope, buf, "buf", "context")
    b.edge(buf, b.add("native", "system / JSArrayBufferData", self_size=buffer_bytes, id=buffer_id + 1000),
           "backing_store", "internal")
    return b.write(path)


def test_a_module_variable_replaced_by_a_larger_copy_is_named_and_held_by_the_program(tmp_path: Path) -> None:
    # 256 B more per call, 10 calls a round: only the module's scope is alive in all three snapshots.
    snapshots = [
        write_replaced_module_variable(tmp_path / f"s{k + 1}.heapsnapshot", 1024 + 2560 * k, 101 + 2 * k)
        for k in range(3)
    ]
    evidence = analysis.analyse(snapshots, profile=NODE, round_calls=10)
    assert [(g.class_name, g.per_iteration) for g in evidence.grown] == [("Uint8Array", 256.0)], evidence
    assert not evidence.unheld
    path = heap.retainer_path(evidence.final, evidence.grown[0].node)
    assert path is not None and path.steps[-1].edge_name == "buf" and analysis.held_by_program(path)

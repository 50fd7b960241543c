"""Graph views, class keys and retainer paths on real node snapshots."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_jsleak import heap
from pytest_jsleak.heap.classes import DENSE_RANGE_FACTOR, class_keys, unique_inverse
from pytest_jsleak.heap.paths import shortest_paths
from pytest_jsleak.report.paths import format_path_inline, format_retainer_path

from .conftest import LEAKS, TARGET


def _nodes_of(snap, class_name):
    codes, names = class_keys(heap.HeapGraph(snap))
    return np.flatnonzero(codes == names.index(class_name))


def test_class_keys_follow_devtools(node_final):
    _codes, names = class_keys(heap.HeapGraph(node_final))
    for key in ("RequestRecord", "onRequest()", "(string)", "(array)", "(compiled code)", "system / Context",
                "EventEmitter", "Array"):
        assert key in names, key
    # 3 steps of LEAKS records, plus the warm-up-free start: exactly 3 * LEAKS alive in S3.
    assert len(_nodes_of(node_final, "RequestRecord")) == 3 * LEAKS
    assert len(_nodes_of(node_final, "onRequest()")) == 3 * LEAKS


def test_node_and_edge_views(node_final):
    graph = heap.HeapGraph(node_final)
    record = graph.node(_nodes_of(node_final, "RequestRecord")[0])
    assert record.type == "object" and record.name == "RequestRecord" and record.id % 2 == 1
    names = {edge.name: edge.target for edge in record.edges if edge.type == "property"}
    assert names["url"].type in ("string", "concatenated string", "sliced string")
    assert "n" not in names  # a small integer (Smi) lives inside the object: no edge, no node
    retainers = record.retainers
    assert any(edge.type == "element" and edge.source.name == "Array" for edge in retainers)
    assert graph.find_by_id(record.id) == record.index


def test_retainer_path_names_the_variable(node_final):
    graph = heap.HeapGraph(node_final)
    record = _nodes_of(node_final, "RequestRecord")[0]
    path = heap.retainer_path(graph, record)
    assert path is not None
    steps = path.steps
    assert steps[-1].class_name == "RequestRecord"
    assert steps[-2].class_name == "Array"
    assert (steps[-2].edge_type, steps[-2].edge_name) == ("context", "requestLog")
    assert steps[-1].edge_type == "element"
    text = format_path_inline(path)
    assert text.startswith("(GC roots) → ") and "requestLog → Array → [" in text, text
    assert format_retainer_path(path).count("\n") == len(steps) - 2


def test_closure_location_is_resolved_to_the_file(node_final):
    graph = heap.HeapGraph(node_final)
    closure = _nodes_of(node_final, "onRequest()")[0]
    path = heap.retainer_path(graph, closure)
    assert path.steps[-1].class_name == "onRequest()"
    lines = TARGET.read_text().splitlines()
    line = next(i for i, text in enumerate(lines) if "function onRequest" in text)
    column = lines[line].index("onRequest(") + len("onRequest")  # V8 points at the '('
    assert path.steps[-1].location == f"{TARGET}:{line + 1}:{column + 1}"


def test_retained_sizes_cover_self_sizes(node_final):
    graph = heap.HeapGraph(node_final)
    sizes = heap.retained_sizes(graph)
    reachable = shortest_paths(graph).rank >= 0
    assert (sizes >= node_final.node_self_size).all()
    # The root retains everything reachable.
    assert sizes[0] == int(node_final.node_self_size[reachable].sum(dtype=np.int64))


def test_a_retainer_path_never_goes_through_the_string_table(tmp_path):
    # V8 writes the string table's edges as `internal`, but it clears dead entries at every GC: a key
    # string that a program's object holds is alive through the object, and the path says so.
    from .snapshot_builder import SnapshotBuilder

    b = SnapshotBuilder()
    roots = b.add("synthetic", "(GC roots)", self_size=0)
    b.edge(0, roots, 1, "element")
    table = b.add("synthetic", "(Internalized strings)", self_size=0)
    b.edge(roots, table, 1, "element")
    strong = b.add("synthetic", "(Strong roots)", self_size=0)
    b.edge(roots, strong, 2, "element")
    key = b.add("string", "wBrjSessionId", self_size=32)
    b.edge(table, key, 0, "internal")  # one step from the roots: the shortest path, were it followed
    scope = b.add("object", "system / Context", self_size=40)
    b.edge(strong, scope, 1, "element")
    sessions = b.add("object", "Object", self_size=24)
    b.edge(scope, sessions, "sessions", "context")
    properties = b.add("array", "(object properties)", self_size=64)
    b.edge(sessions, properties, "properties", "internal")
    b.edge(properties, key, 3, "internal")
    only_in_table = b.add("string", "unused", self_size=32)
    b.edge(table, only_in_table, 1, "internal")
    graph = heap.HeapGraph(heap.read_snapshot(b.write(tmp_path / "s.heapsnapshot")))
    path = heap.retainer_path(graph, key)
    assert path is not None
    assert [step.node_name for step in path.steps][-4:] == ["system / Context", "Object", "(object properties)",
                                                            "wBrjSessionId"]
    assert "(Internalized strings)" not in [step.node_name for step in path.steps]
    # A string only the table holds is garbage the next GC frees: no path at all.
    assert heap.retainer_path(graph, only_in_table) is None


@pytest.mark.parametrize("span", [50, 10**9])  # a dense range (a table) and a sparse one (sorting)
def test_unique_inverse_is_numpys_unique_on_both_sides_of_the_dense_range(span: int) -> None:
    values = np.random.default_rng(7).integers(0, span, 4000)
    assert (span < DENSE_RANGE_FACTOR * values.size) == (span == 50)
    unique, inverse = unique_inverse(values)
    expected_unique, expected_inverse = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(unique, expected_unique)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
    np.testing.assert_array_equal(unique[inverse], values)

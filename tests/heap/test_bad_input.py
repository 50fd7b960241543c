"""Bad snapshots never give a traceback or a hang: one SnapshotFormatError naming the file."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_jsleak import heap
from pytest_jsleak.errors import SnapshotFormatError

from .snapshot_builder import SnapshotBuilder


def small_snapshot(tmp_path):
    builder = SnapshotBuilder()
    holder = builder.add("object", "Holder")
    for i in range(5):
        item = builder.add("object", "Item", self_size=20 + i)
        builder.edge(holder, item, i, type="element")
        builder.edge(item, holder, "owner")
    text = builder.add("string", 'a "quoted" [text]')
    builder.edge(0, holder, "holder")
    builder.edge(holder, text, "label")
    return builder.write(tmp_path / "small.heapsnapshot")


def _analyse(path) -> None:
    """Everything the CLI does with a snapshot."""
    snap = heap.read_snapshot(path)
    heap.class_census(snap)
    ids = heap.read_node_ids(path)
    graph = heap.HeapGraph(snap)
    diff = heap.three_snapshot_diff(ids[:1], ids, graph)
    for row in diff:
        heap.representative_path(graph, row.example_nodes)
    heap.retained_sizes(graph)


def _expect_clean_failure(path, action) -> None:
    try:
        action(path)
    except SnapshotFormatError as error:
        message = str(error)
        assert message.startswith(str(path)), message
        assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"hello world", "not JSON"),
        (b"[1, 2, 3]", "not JSON"),
        (b'{"nodes": []}', "no 'snapshot' header"),
        (b'{"snapshot": {"meta": {}}}', "node_fields"),
        (b'{"snapshot": {"meta": {"node_fields": ["type"]}, "node_count": 1, "edge_count": 0}}', "node_fields"),
    ],
)
def test_unreadable_files_name_the_problem(tmp_path, content, words):
    path = tmp_path / "bad.heapsnapshot"
    path.write_bytes(content)
    with pytest.raises(SnapshotFormatError, match=words) as raised:
        heap.read_snapshot(path)
    assert str(raised.value).startswith(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(SnapshotFormatError, match="cannot read"):
        heap.read_snapshot(tmp_path / "nope.heapsnapshot")


def _edit(tmp_path, change) -> object:
    doc = SnapshotBuilder().document()
    builder = SnapshotBuilder()
    a = builder.add("object", "A")
    builder.edge(0, a, "a")
    doc = builder.document()
    change(doc)
    path = tmp_path / "edited.heapsnapshot"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["snapshot"].update(edge_count=5), "header says 5"),
        (lambda d: d["snapshot"].update(node_count=9), "header says 9"),
        (lambda d: d["edges"].__setitem__(2, 7 * 40), "does not exist"),
        (lambda d: d["edges"].__setitem__(2, 3), "does not exist"),
        (lambda d: d["nodes"].__setitem__(1, 999), "past the"),
        (lambda d: d["nodes"].__setitem__(0, 77), "type code"),
        (lambda d: d.pop("strings"), "'strings' is missing"),
        (lambda d: d["nodes"].__setitem__(3, -4), "unexpected character '-'"),
        (lambda d: d["nodes"].__setitem__(3, "x"), "unexpected character"),
        (lambda d: d["snapshot"]["meta"].update(edge_types=[["a"]]), "do not match"),
    ],
)
def test_inconsistent_snapshots(tmp_path, change, words):
    path = _edit(tmp_path, change)
    with pytest.raises(SnapshotFormatError, match=words):
        _analyse(path)


def test_every_truncation_of_a_small_snapshot(tmp_path):
    data = small_snapshot(tmp_path).read_bytes()
    path = tmp_path / "cut.heapsnapshot"
    for length in range(0, len(data) - 1):
        path.write_bytes(data[:length])
        if data[:length].rstrip() == data.rstrip():
            continue
        with pytest.raises(SnapshotFormatError):
            _analyse(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_small_snapshot(tmp_path, monkeypatch, data):
    # Half the examples go through the two-thread reader (normally only for files of 64 MB on).
    monkeypatch.setattr("pytest_jsleak.heap.snapshot.PARALLEL_BYTES", 0 if data.draw(st.booleans()) else 1 << 26)
    original = small_snapshot(tmp_path).read_bytes()
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.sampled_from(b'0123456789,[]{}" \n-x\\:'))
    if data.draw(st.booleans()):
        mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    path = tmp_path / "mutated.heapsnapshot"
    path.write_bytes(bytes(mutated))
    _expect_clean_failure(path, _analyse)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_real_snapshot(tmp_path, node_snapshots, data):
    original = node_snapshots[0].read_bytes()
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        mutated = mutated[: data.draw(st.integers(0, len(mutated)))]
    path = tmp_path / "mutated.heapsnapshot"
    path.write_bytes(bytes(mutated))
    _expect_clean_failure(path, heap.read_snapshot)
    _expect_clean_failure(path, heap.read_node_ids)

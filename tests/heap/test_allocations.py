"""Allocation stacks: trace-tree decoding and grouping, on generated snapshots with known stacks."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from pytest_jsleak import heap
from pytest_jsleak.errors import SnapshotFormatError
from pytest_jsleak.heap.allocations import (
    AllocationTraces,
    allocation_sites,
    decode_trace_tree,
    frame_kind,
    package_of,
)
from pytest_jsleak.report.sites import site_text

from .snapshot_builder import SnapshotBuilder

ROOT = "/home/me/app"
HARNESS = [
    ("processImmediate", "node:internal/timers", 438, 28),
    ("run", "file:///venv/lib/python3.13/site-packages/pytest_jsleak/runtime/harness.mjs", 282, 19),
    ("callOnce", "file:///venv/lib/python3.13/site-packages/pytest_jsleak/runtime/harness.mjs", 249, 18),
]
SCENARIO = ("leaky", f"file://{ROOT}/app.leak.mjs", 3, 22)
LOGIN = ("handleLogin", f"file://{ROOT}/src/login.mjs", 30, 3)
AUDIT = ("buildAuditEntry", f"file://{ROOT}/src/audit.mjs", 12, 10)
USE = ("use", f"file://{ROOT}/node_modules/axios/lib/core/InterceptorManager.js", 18, 6)
PUSH = ("push", "", 0, 0)


def tracked_snapshot(tmp_path):
    """5 audit entries from buildAuditEntry ← handleLogin ← leaky, 3 from axios' `use`, 2 untracked."""
    builder = SnapshotBuilder()
    holder = builder.add("object", "Array", self_size=32)
    builder.edge(0, holder, "log")
    audit = builder.call([*HARNESS, SCENARIO, LOGIN, AUDIT])
    via_axios = builder.call([*HARNESS, SCENARIO, USE])
    ids = {"audit": [], "axios": [], "untracked": []}
    for i in range(5):
        node = builder.add("object", "Object", self_size=48, trace=audit)
        builder.edge(holder, node, i, "element")
        ids["audit"].append(builder.nodes[node].id)
    for i in range(3):
        node = builder.add("object", "Object", self_size=56, trace=via_axios)
        builder.edge(holder, node, 5 + i, "element")
        ids["axios"].append(builder.nodes[node].id)
    for i in range(2):
        node = builder.add("object", "Object", self_size=48)
        builder.edge(holder, node, 8 + i, "element")
        ids["untracked"].append(builder.nodes[node].id)
    path = builder.write(tmp_path / "tracked.heapsnapshot")
    return heap.read_snapshot(path), ids


def test_sites_group_by_stack_with_the_harness_cut_off_and_paths_relative(tmp_path):
    snap, ids = tracked_snapshot(tmp_path)
    traces = AllocationTraces.of_snapshot(snap)
    assert traces is not None
    all_ids = np.asarray(ids["audit"] + ids["axios"] + ids["untracked"])
    sizes = np.asarray([48] * 5 + [56] * 3 + [48] * 2)
    sites = allocation_sites(traces, all_ids, sizes, root=ROOT)
    assert [(site.count, site.bytes) for site in sites] == [(5, 240), (3, 168)]
    audit, axios = sites
    assert [(f.function, f.file, f.line, f.column, f.kind) for f in audit.frames] == [
        ("buildAuditEntry", "src/audit.mjs", 12, 10, "user"),
        ("handleLogin", "src/login.mjs", 30, 3, "user"),
        ("leaky", "app.leak.mjs", 3, 22, "user"),
    ]
    assert site_text(audit) == (
        "allocated at buildAuditEntry (src/audit.mjs:12:10) ← handleLogin (src/login.mjs:30:3)"
        " ← leaky (app.leak.mjs:3:22)  ×5"
    )
    assert [f.kind for f in axios.frames] == ["library", "user"]
    assert axios.frames[0].package == "axios"
    # Your code first, then the library call that allocated.
    assert site_text(axios) == (
        "allocated at leaky (app.leak.mjs:3:22), in axios: use"
        " (node_modules/axios/lib/core/InterceptorManager.js:18:6)  ×3"
    )


def test_ids_of_another_snapshot_are_looked_up_and_unknown_ones_left_out(tmp_path):
    snap, ids = tracked_snapshot(tmp_path)
    traces = AllocationTraces.of_snapshot(snap)
    # An id that the tracked snapshot does not have (allocated later) and untracked ones: no site.
    sites = allocation_sites(traces, np.asarray([999_999, *ids["untracked"]]), np.asarray([16, 48, 48]))
    assert sites == []
    assert traces.trace_ids(np.asarray([999_999])).tolist() == [0]


def test_user_stacks_come_before_runtime_only_stacks(tmp_path):
    builder = SnapshotBuilder()
    runtime_only = builder.call([*HARNESS[:1], PUSH])
    user = builder.call([*HARNESS, SCENARIO])
    nodes = [builder.add("object", "Object", trace=runtime_only) for _ in range(4)]
    nodes.append(builder.add("object", "Object", trace=user))
    snap = heap.read_snapshot(builder.write(tmp_path / "s.heapsnapshot"))
    traces = AllocationTraces.of_snapshot(snap)
    sites = allocation_sites(traces, snap.node_id[nodes], snap.node_self_size[nodes])
    assert [site.frames[0].function for site in sites] == ["leaky", "push"]
    assert site_text(sites[1]) == "allocated at push ← processImmediate (node:internal/timers:438:28)  ×4"


def test_a_snapshot_without_tracking_has_no_traces(tmp_path):
    builder = SnapshotBuilder()
    builder.add("object", "Object")
    snap = heap.read_snapshot(builder.write(tmp_path / "plain.heapsnapshot"))
    assert AllocationTraces.of_snapshot(snap) is None


def test_node_fields_without_trace_node_id_as_deno_writes_them(tmp_path):
    # Deno's snapshots have no trace_node_id column unless tracking was on (runtimes.md §3).
    builder = SnapshotBuilder()
    builder.add("object", "Object")
    doc = copy.deepcopy(builder.document())  # the builder's field lists are shared module constants
    meta = doc["snapshot"]["meta"]
    width = len(meta["node_fields"])
    at = meta["node_fields"].index("trace_node_id")
    meta["node_fields"].pop(at)
    meta["node_types"].pop(at)
    doc["nodes"] = [value for i, value in enumerate(doc["nodes"]) if i % width != at]
    for i in range(2, len(doc["edges"]), 3):
        doc["edges"][i] = doc["edges"][i] // width * (width - 1)
    path = tmp_path / "deno.heapsnapshot"
    path.write_text(json.dumps(doc))
    assert AllocationTraces.of_snapshot(heap.read_snapshot(path)) is None


def test_a_deep_trace_tree_decodes_without_recursion():
    depth = 20_000
    tree: list = []
    for node_id in range(depth, 0, -1):
        tree = [node_id, node_id % 7, 1, 16, tree]
    decoded = decode_trace_tree(tree, ("id", "function_info_index", "count", "size", "children"))
    assert decoded.ids.size == depth
    assert decoded.parent[0] == -1
    row = int(decoded.rows_of(np.asarray([depth]))[0])
    steps = 0
    while decoded.parent[row] >= 0:
        row = int(decoded.parent[row])
        steps += 1
    assert steps == depth - 1


def test_trace_fields_are_read_from_the_meta_in_any_order():
    # children first, then id, function, count, size
    tree = [[[], 2, 1, 5, 80], 1, 0, 0, 0]
    decoded = decode_trace_tree(tree, ("children", "id", "function_info_index", "count", "size"))
    assert decoded.ids.tolist() == [1, 2]
    assert decoded.function.tolist() == [0, 1]
    assert decoded.parent.tolist() == [-1, 0]


@pytest.mark.parametrize("tree", [[1, 0, 0, 0], [1, 0, 0, 0, 5], ["1", 0, 0, 0, []]])
def test_a_malformed_trace_tree_is_a_clear_error(tree):
    with pytest.raises(SnapshotFormatError, match="trace_tree"):
        decode_trace_tree(tree, ("id", "function_info_index", "count", "size", "children"), "x.heapsnapshot")


def test_frame_kinds_and_packages():
    assert frame_kind("file:///a/node_modules/axios/index.js") == "library"
    assert frame_kind("node:events") == "runtime"
    assert frame_kind("") == "runtime"
    assert frame_kind("file:///x/pytest_jsleak/runtime/harness.mjs") == "harness"
    assert frame_kind("file:///a/src/app.mjs") == "user"
    assert package_of("node_modules/@scope/pkg/lib/x.js") == "@scope/pkg"
    assert package_of("a/node_modules/b/node_modules/c/x.js") == "c"
    assert package_of("src/x.js") is None


def test_jsleak_diff_prints_the_stacks_of_new_objects(tmp_path, capsys):
    from pytest_jsleak.cli import main

    before = SnapshotBuilder()
    holder = before.add("object", "Array", self_size=32)
    before.edge(0, holder, "log")
    before_path = before.write(tmp_path / "before.heapsnapshot")
    after, _ = tracked_snapshot(tmp_path)  # the same Array (id 1) plus 10 new Objects
    assert main(["diff", str(before_path), after.path]) == 0
    text = capsys.readouterr().out
    assert "where the new Object objects were allocated:" in text
    assert f"allocated at buildAuditEntry ({ROOT}/src/audit.mjs:12:10) ← handleLogin" in text
    assert "×5" in text and "×3" in text
    assert main(["diff", str(before_path), after.path, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    row = next(row for row in document["classes"] if row["class_name"] == "Object")
    assert [site["count"] for site in row["allocation_sites"]] == [5, 3]
    assert row["allocation_sites"][0]["frames"][0]["function"] == "buildAuditEntry"

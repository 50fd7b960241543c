"""Allocation stacks: which functions allocated the objects of a snapshot taken while V8 tracked them.

While `HeapProfiler.startTrackingHeapObjects({trackAllocations: true})` is on, V8 records the
JS stack of every allocation in a tree of call sites, and a snapshot written then carries it:

- `trace_function_infos`: one row per function (`function_id, name, script_name, script_id,
  line, column`; line and column 1-based, of the function's start; 0 when unknown);
- `trace_tree`: nested JSON, each node `id, function_info_index, count, size, [children...]`,
  the children flattened five values each; the root is `(root)`, a child is a callee;
- `trace_node_id` per node: the tree node of the stack that allocated it (0: not tracked).

Field positions come from `snapshot.meta` (Deno's node fields have no `trace_node_id` unless
tracking is on: research/runtimes.md §3). Everything is decoded into flat arrays indexed by
position in the tree: `function`, `parent`.

A stack reads innermost first. Frames are classed as the user's code, a library (a path through
`node_modules`), the runtime (`node:` internals, builtins without a script) or the harness; the
harness's frames and everything below them (the event loop that called the scenario) are cut off.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pytest_jsleak.errors import SnapshotFormatError
from pytest_jsleak.heap.exclusions import HARNESS_SCRIPTS
from pytest_jsleak.heap.parse import read_header
from pytest_jsleak.heap.scan import SnapshotFile
from pytest_jsleak.heap.snapshot import HeapSnapshot
from pytest_jsleak.model import AllocationSite, StackFrame

MAX_FRAMES = 8
"""Frames kept per stack (innermost first, after the harness's are cut off)."""
TOP_SITES = 3
"""Stacks reported per class."""

_TRACE_NODE_WIDTH = 5  # id, function_info_index, count, size, children (V8's trace_node_fields)


@dataclass(frozen=True, slots=True)
class TraceTree:
    """The allocation call tree of one snapshot, flat: row i is one call site."""

    ids: np.ndarray
    """Trace node id per row (the value nodes carry in `trace_node_id`)."""
    function: np.ndarray
    """Row into the snapshot's `trace_function_infos` per call site."""
    parent: np.ndarray
    """Row of the caller (-1 for the root)."""
    order: np.ndarray
    """Rows sorted by id, for id → row lookups."""

    def rows_of(self, trace_ids: np.ndarray) -> np.ndarray:
        """The row of each trace node id (-1 when the tree has no such node, or for id 0)."""
        trace_ids = np.asarray(trace_ids, dtype=np.int64)
        rows = np.full(trace_ids.size, -1, np.int64)
        sorted_ids = self.ids[self.order]
        if sorted_ids.size:
            at = np.minimum(np.searchsorted(sorted_ids, trace_ids), sorted_ids.size - 1)
            hit = (sorted_ids[at] == trace_ids) & (trace_ids != 0)
            rows[hit] = self.order[at[hit]]
        return rows


def decode_trace_tree(tree: object, fields: Sequence[str], filename: str = "snapshot") -> TraceTree:
    """Flatten V8's nested `trace_tree` into arrays (an explicit stack: trees can be deep)."""
    if not fields:
        fields = ("id", "function_info_index", "count", "size", "children")
    try:
        id_at = fields.index("id")
        function_at = fields.index("function_info_index")
        children_at = fields.index("children")
    except ValueError:
        raise SnapshotFormatError(
            f"{filename}: snapshot.meta.trace_node_fields lacks id/function_info_index/children"
        ) from None
    width = len(fields)
    ids: list[int] = []
    functions: list[int] = []
    parents: list[int] = []
    if not isinstance(tree, list) or not tree:
        empty = np.zeros(0, np.int64)
        return TraceTree(empty, empty, empty, empty)
    # Work items: (flat list of sibling nodes, parent row).
    pending: list[tuple[list, int]] = [(tree, -1)]
    while pending:
        siblings, parent = pending.pop()
        if len(siblings) % width:
            raise SnapshotFormatError(
                f"{filename}: section 'trace_tree' has a node with {len(siblings) % width} stray values"
            )
        for start in range(0, len(siblings), width):
            node_id = siblings[start + id_at]
            function = siblings[start + function_at]
            children = siblings[start + children_at]
            if not isinstance(node_id, int) or not isinstance(function, int) or not isinstance(children, list):
                raise SnapshotFormatError(
                    f"{filename}: section 'trace_tree' is malformed near trace node {node_id!r}"
                )
            row = len(ids)
            ids.append(node_id)
            functions.append(function)
            parents.append(parent)
            if children:
                pending.append((children, row))
    id_array = np.asarray(ids, dtype=np.int64)
    return TraceTree(
        ids=id_array,
        function=np.asarray(functions, dtype=np.int64),
        parent=np.asarray(parents, dtype=np.int64),
        order=np.argsort(id_array, kind="stable"),
    )


class AllocationTraces:
    """The allocation stacks a snapshot carries, by node id.

    Built from a snapshot written while allocation tracking was on; `None` from `of_snapshot`
    when it carries none. Objects of another snapshot of the same process are looked up by id.
    """

    def __init__(self, snapshot: HeapSnapshot) -> None:
        meta = snapshot.meta
        self.path = snapshot.path
        self.strings = snapshot.strings
        order = np.argsort(snapshot.node_id, kind="stable")
        self.sorted_ids = snapshot.node_id[order].astype(np.int64)
        self.trace_of_sorted = snapshot.node_columns["trace_node_id"][order].astype(np.int64)
        self.tree = decode_trace_tree(snapshot.trace_tree, meta.trace_node_fields, snapshot.path)
        infos = snapshot.trace_function_infos
        fields = meta.trace_function_info_fields
        if infos is None or not infos.size:
            infos = np.zeros((0, max(1, len(fields))), np.int64)
        self.infos = infos
        self._column = {name: (fields.index(name) if name in fields else -1)
                        for name in ("name", "script_name", "line", "column")}
        if self.tree.function.size and int(self.tree.function.max()) >= infos.shape[0]:
            raise SnapshotFormatError(
                f"{snapshot.path}: a trace node points past the {infos.shape[0]} trace_function_infos"
            )
        self._frames: dict[int, tuple[str, str, int, int]] = {}

    @classmethod
    def of_snapshot(cls, snapshot: HeapSnapshot) -> AllocationTraces | None:
        """The snapshot's allocation stacks, or None when it was not written while tracking."""
        column = snapshot.node_columns.get("trace_node_id")
        if column is None or not column.any() or not snapshot.trace_tree:
            return None
        return cls(snapshot)

    def trace_ids(self, node_ids: np.ndarray) -> np.ndarray:
        """The trace node id of each node id (0: unknown here, or allocated before tracking)."""
        node_ids = np.asarray(node_ids, dtype=np.int64)
        if not self.sorted_ids.size:
            return np.zeros(node_ids.size, np.int64)
        at = np.minimum(np.searchsorted(self.sorted_ids, node_ids), self.sorted_ids.size - 1)
        return np.where(self.sorted_ids[at] == node_ids, self.trace_of_sorted[at], 0)

    def function(self, index: int) -> tuple[str, str, int, int]:
        """(name, script, line, column) of one row of trace_function_infos."""
        cached = self._frames.get(index)
        if cached is None:
            row = self.infos[index]
            columns = self._column

            def text(key: str) -> str:
                return self.strings[int(row[columns[key]])] if columns[key] >= 0 else ""

            def number(key: str) -> int:
                return int(row[columns[key]]) if columns[key] >= 0 else 0

            cached = self._frames[index] = (text("name"), text("script_name"), number("line"), number("column"))
        return cached

    def stack(self, row: int) -> list[tuple[str, str, int, int]]:
        """The functions of a trace tree row, innermost first, without the `(root)`."""
        frames = []
        parent = self.tree.parent
        while row >= 0 and parent[row] >= 0:
            frames.append(self.function(int(self.tree.function[row])))
            row = int(parent[row])
        return frames


def carries_allocation_traces(path: str | os.PathLike[str]) -> bool:
    """Whether a snapshot file was written while allocations were tracked (reads only its header)."""
    with SnapshotFile(path) as src:
        meta, _ = read_header(src)
    return meta.trace_function_count > 0 and "trace_node_id" in meta.node_fields


def frame_kind(script: str, harness: Sequence[str] = HARNESS_SCRIPTS) -> str:
    """`user`, `library` (node_modules), `runtime` (node: internals, builtins) or `harness`."""
    path = script[len("file://"):] if script.startswith("file://") else script
    if any(path.endswith(suffix) for suffix in harness):
        return "harness"
    if not path or path.startswith(("node:", "internal/", "ext:", "bun:")) or "://" in path:
        return "runtime"
    if "/node_modules/" in path or path.startswith("node_modules/"):
        return "library"
    return "user"


def package_of(path: str) -> str | None:
    """The npm package a file in node_modules belongs to (`axios`, `@scope/name`), else None."""
    marker = "node_modules/"
    at = path.rfind(marker)
    if at < 0:
        return None
    parts = path[at + len(marker):].split("/")
    if parts and parts[0].startswith("@") and len(parts) > 1:
        return f"{parts[0]}/{parts[1]}"
    return parts[0] or None


def display_path(script: str, root: str | os.PathLike[str] | None) -> str:
    """A script URL as the reader knows it: relative to `root` when under it, `file://` dropped."""
    path = script[len("file://"):] if script.startswith("file://") else script
    if root is not None and path.startswith("/"):
        root_text = os.fspath(root).rstrip("/") + "/"
        if path.startswith(root_text):
            return path[len(root_text):]
    return path


def to_frames(
    raw: Iterable[tuple[str, str, int, int]],
    root: str | os.PathLike[str] | None = None,
    harness: Sequence[str] = HARNESS_SCRIPTS,
    max_frames: int = MAX_FRAMES,
) -> tuple[StackFrame, ...]:
    """Frames innermost first, cut at the first harness frame (what called the scenario)."""
    frames = []
    for name, script, line, column in raw:
        kind = frame_kind(script, harness)
        if kind == "harness":
            break
        file = display_path(script, root)
        frames.append(StackFrame(function=name or "(anonymous)", file=file, line=line, column=column, kind=kind,
                                 package=package_of(file) if kind == "library" else None))
        if len(frames) >= max_frames:
            break
    return tuple(frames)


def allocation_sites(
    traces: AllocationTraces,
    node_ids: np.ndarray,
    sizes: np.ndarray,
    *,
    root: str | os.PathLike[str] | None = None,
    top: int = TOP_SITES,
    harness: Sequence[str] = HARNESS_SCRIPTS,
) -> list[AllocationSite]:
    """The stacks that allocated these objects (ids, with their self sizes), most objects first.

    Objects are grouped by the frames shown (the harness's cut off), so stacks that differ only
    below the scenario merge. Objects without a stack are left out (allocated before tracking, or
    by the runtime outside JS).
    """
    node_ids = np.asarray(node_ids, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    rows = traces.tree.rows_of(traces.trace_ids(node_ids))
    known = rows >= 0
    if not known.any():
        return []
    unique_rows, inverse = np.unique(rows[known], return_inverse=True)
    counts = np.bincount(inverse, minlength=unique_rows.size)
    byte_sums = np.bincount(inverse, weights=sizes[known], minlength=unique_rows.size)
    grouped: dict[tuple[StackFrame, ...], list[int]] = {}
    for row, count, total in zip(unique_rows.tolist(), counts.tolist(), byte_sums.tolist(), strict=True):
        frames = to_frames(traces.stack(row), root, harness)
        if not frames:
            continue
        entry = grouped.setdefault(frames, [0, 0])
        entry[0] += int(count)
        entry[1] += int(total)
    sites = [AllocationSite(frames=frames, count=count, bytes=total) for frames, (count, total) in grouped.items()]
    # Stacks that reach the user's code first: a stack of runtime frames only says little.
    sites.sort(key=lambda s: (not any(f.kind == "user" for f in s.frames), -s.count, -s.bytes))
    return sites[:top]


__all__ = [
    "AllocationTraces",
    "TraceTree",
    "allocation_sites",
    "carries_allocation_traces",
    "decode_trace_tree",
    "display_path",
    "frame_kind",
    "package_of",
    "to_frames",
]

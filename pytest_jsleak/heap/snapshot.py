"""`HeapSnapshot` (one parsed snapshot as flat arrays) and the two ways of reading one."""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

import numpy as np

from pytest_jsleak.heap.meta import SnapshotMeta
from pytest_jsleak.heap.parse import (
    ColumnSink,
    FlatSink,
    SelectSink,
    StringTable,
    iter_sections,
    read_header,
    read_strings,
)
from pytest_jsleak.heap.scan import DigitParser, SnapshotFile, scan_json_array

_NODE_DTYPES: dict[str, Any] = {
    "type": np.uint8,
    "detachedness": np.uint8,
    "id": np.uint32,  # V8's SnapshotObjectId is a uint32
}
_EDGE_DTYPES: dict[str, Any] = {"type": np.uint8}
_FLAT_SECTIONS = ("trace_function_infos", "samples", "locations")


class HeapSnapshot:
    """One V8 heap snapshot as flat numpy arrays, one per node field and per edge field.

    Node `i` is row `i` of every node column; its edges are the `edge_count[i]` edges that
    follow those of node `i - 1` (see `HeapGraph.first_edge`). `edge_to` holds node *indices*
    (the file's `to_node` divided by the node field count).
    """

    def __init__(
        self,
        path: str,
        meta: SnapshotMeta,
        node_columns: dict[str, np.ndarray],
        edge_columns: dict[str, np.ndarray],
        strings: StringTable,
        *,
        locations: np.ndarray | None = None,
        trace_function_infos: np.ndarray | None = None,
        trace_tree: Any = None,
        samples: np.ndarray | None = None,
    ) -> None:
        self.path = path
        self.meta = meta
        self.node_columns = node_columns
        self.edge_columns = edge_columns
        self.strings = strings
        self.locations = locations if locations is not None else np.zeros((0, 4), np.int64)
        self.trace_function_infos = trace_function_infos
        self.trace_tree = trace_tree
        self.samples = samples

    # The columns every analysis uses, by name.
    @property
    def node_type(self) -> np.ndarray:
        return self.node_columns["type"]

    @property
    def node_name(self) -> np.ndarray:
        return self.node_columns["name"]

    @property
    def node_id(self) -> np.ndarray:
        return self.node_columns["id"]

    @property
    def node_self_size(self) -> np.ndarray:
        return self.node_columns["self_size"]

    @property
    def node_edge_count(self) -> np.ndarray:
        return self.node_columns["edge_count"]

    @property
    def edge_type(self) -> np.ndarray:
        return self.edge_columns["type"]

    @property
    def edge_name(self) -> np.ndarray:
        return self.edge_columns["name_or_index"]

    @property
    def edge_to(self) -> np.ndarray:
        return self.edge_columns["to_node"]

    @property
    def node_count(self) -> int:
        return self.meta.node_count

    @property
    def edge_count(self) -> int:
        return self.meta.edge_count

    @property
    def ids_comparable(self) -> bool:
        """Whether ids identify the same object across snapshots of one process.

        V8 (Node, Deno, Chrome) keeps an id map and gives JS heap objects odd ids; Bun renumbers
        every snapshot 1, 2, 3, ... (research/runtimes.md §4), so ids mean nothing across its
        snapshots.
        """
        return self.runtime_guess != "bun"

    @cached_property
    def runtime_guess(self) -> str:
        """`bun` for Bun's V8-format writer, else `v8` (see `ids_comparable`).

        Told apart by the ids: V8 hands out odd ids only (a few Node embedder nodes have even
        ones), Bun numbers nodes consecutively, so about half of its ids are even.
        """
        return guess_runtime(self.node_id)

    def type_name(self, code: int) -> str:
        return self.meta.node_types[int(code)]

    def edge_type_name(self, code: int) -> str:
        return self.meta.edge_types[int(code)]

    def __repr__(self) -> str:
        return f"<HeapSnapshot {os.path.basename(self.path)} nodes={self.node_count} edges={self.edge_count}>"


def guess_runtime(ids: np.ndarray) -> str:
    """`bun` when many ids are even (Bun's consecutive numbering), else `v8`."""
    sample = ids[: min(ids.size, 4096)]
    if sample.size < 8:
        return "v8"
    return "bun" if np.count_nonzero((sample & 1) == 0) * 4 > sample.size else "v8"


PARALLEL_BYTES = 64 << 20
"""From this file size on, `edges` are decoded on a second thread while `nodes` are."""


def read_snapshot(path: str | os.PathLike[str], *, parallel: bool = True) -> HeapSnapshot:
    """Parse a whole snapshot (Node, Deno, Bun or Chrome) into a HeapSnapshot.

    With `parallel` (and a file of PARALLEL_BYTES or more), the `edges` section is decoded on a
    second thread while the main thread decodes `nodes`: the digit parser is numpy work that
    releases the GIL. Raises SnapshotFormatError (naming the file and what is wrong) on anything
    unreadable.
    """
    with SnapshotFile(path) as src:
        meta, pos = read_header(src)
        parser = DigitParser(src)
        node_sink = ColumnSink(meta.node_count, meta.node_fields, _NODE_DTYPES, src, "nodes")
        edge_sink = ColumnSink(meta.edge_count, meta.edge_fields, _EDGE_DTYPES, src, "edges",
                               node_offsets=("to_node", meta.node_field_count, meta.node_count))
        flat: dict[str, np.ndarray] = {}
        strings: StringTable | None = None
        trace_tree: Any = None
        seen: set[str] = set()
        edges_ahead = None
        pool = None
        sections = iter_sections(src, pos)
        step = next(sections, None)
        try:
            while step is not None:
                key, at = step
                seen.add(key)
                if key == "nodes":
                    edges_at = _edges_after_nodes(src, at) if parallel and src.size >= PARALLEL_BYTES else None
                    if edges_at is not None:
                        pool = ThreadPoolExecutor(max_workers=1)
                        edges_ahead = (edges_at, pool.submit(DigitParser(src).numbers, edges_at, "edges", edge_sink))
                    end, count = parser.numbers(at, key, node_sink)
                    _expect_count(src, key, count, meta.node_count, meta.node_field_count)
                elif key == "edges":
                    if edges_ahead is not None and edges_ahead[0] == at:
                        end, count = edges_ahead[1].result()
                    else:
                        end, count = parser.numbers(at, key, edge_sink)
                    _expect_count(src, key, count, meta.edge_count, meta.edge_field_count)
                elif key in _FLAT_SECTIONS:
                    sink = FlatSink()
                    end, _ = parser.numbers(at, key, sink)
                    flat[key] = sink.array()
                elif key == "strings":
                    end, strings = read_strings(src, at)
                else:
                    end = _skip_value(src, at, key)
                    if key == "trace_tree":
                        trace_tree = _decode_json(src, at, end, key)
                try:
                    step = sections.send(end)
                except StopIteration:
                    step = None
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        for required in ("nodes", "edges", "strings"):
            if required not in seen:
                src.fail(f"section '{required}' is missing")
        assert strings is not None
        node_columns = dict(zip(meta.node_fields, node_sink.columns, strict=True))
        for name in ("trace_node_id", "detachedness"):
            # Usually all 0 (no allocation tracking, no DOM): keep a calloc'ed copy instead, whose
            # pages the kernel never materialises, and let the parsed one go.
            column = node_columns.get(name)
            if column is not None and column.size and not column.any():
                node_columns[name] = np.zeros(column.size, column.dtype)
        edge_columns = dict(zip(meta.edge_fields, edge_sink.columns, strict=True))
        _validate(src, meta, node_columns, edge_columns, strings)
        locations = _shape(src, meta.location_fields, flat.get("locations"), "locations")
        if locations is not None and locations.size and "object_index" in meta.location_fields:
            object_column = meta.location_fields.index("object_index")
            objects = locations[:, object_column]
            width = meta.node_field_count
            if (objects % width).any() or (objects >= meta.node_count * width).any():
                src.fail("section 'locations' points at a node that does not exist")
            locations[:, object_column] //= width
        return HeapSnapshot(
            src.path,
            meta,
            node_columns,
            edge_columns,
            strings,
            locations=locations,
            trace_function_infos=_shape(
                src, meta.trace_function_info_fields, flat.get("trace_function_infos"), "trace_function_infos"
            ),
            trace_tree=trace_tree,
            samples=_shape(src, meta.sample_fields, flat.get("samples"), "samples"),
        )


_EDGES_KEY = re.compile(rb'\][ \t\r\n]*,[ \t\r\n]*"edges"[ \t\r\n]*:[ \t\r\n]*')


def _edges_after_nodes(src: SnapshotFile, nodes_at: int) -> int | None:
    """Where the `edges` array starts, when it directly follows `nodes` (V8's and Bun's order).

    `nodes` holds only digits, commas and whitespace, so its first ']' closes it. None when the
    layout is anything else: then the sections are simply read one after the other.
    """
    close = src.mm.find(b"]", nodes_at)
    if close < 0:
        return None
    match = _EDGES_KEY.match(src.mm, close)
    return match.end() if match and src.byte_at(match.end()) == ord("[") else None


def read_node_ids(path: str | os.PathLike[str], *, dtype: Any = np.int64) -> np.ndarray:
    """Only the node ids of a snapshot, sorted, as int64 (for the baseline and target of a diff).

    Decodes just the `id` column of `nodes` and stops there: edges and strings are never read.
    `dtype=np.uint32` halves the memory (V8's ids are uint32); a larger id is then an error.
    """
    with SnapshotFile(path) as src:
        meta, pos = read_header(src)
        parser = DigitParser(src)
        sections = iter_sections(src, pos)
        step = next(sections, None)
        while step is not None:
            key, at = step
            if key == "nodes":
                sink = SelectSink(meta.node_count, src, key, dtype)
                width = meta.node_field_count
                _, count = parser.numbers(at, key, sink, stride=width, keep=meta.node_field("id"))
                _expect_count(src, key, count, meta.node_count, width)
                ids = sink.values
                ids.sort()
                return ids
            end = _skip_value(src, at, key)
            try:
                step = sections.send(end)
            except StopIteration:
                step = None
        src.fail("section 'nodes' is missing")
        raise AssertionError  # unreachable: fail() raises


def _expect_count(src: SnapshotFile, key: str, count: int, rows: int, width: int) -> None:
    if count != rows * width:
        src.fail(
            f"section '{key}' has {count} numbers but the header says {rows} × {width} = {rows * width}"
            + (" (the file is probably truncated)" if count < rows * width else "")
        )


def _skip_value(src: SnapshotFile, at: int, key: str) -> int:
    if src.byte_at(at) == ord("["):
        end, _, _ = scan_json_array(src, at, key, collect_strings=False)
        return end
    text = bytes(src.mm[at : at + (1 << 20)]).decode("utf-8", errors="replace")
    try:
        _, end_char = json.JSONDecoder().raw_decode(text)
    except ValueError:
        src.fail(f"section '{key}' is not valid JSON (byte {at})")
    return at + len(text[:end_char].encode("utf-8", errors="replace"))


def _decode_json(src: SnapshotFile, start: int, end: int, key: str) -> Any:
    try:
        return json.loads(bytes(src.mm[start:end]))
    except ValueError:
        src.fail(f"section '{key}' is not valid JSON")


def _shape(src: SnapshotFile, fields: tuple[str, ...], values: np.ndarray | None, key: str) -> np.ndarray | None:
    if values is None:
        return None
    width = len(fields)
    if not width:
        return values.reshape(-1, 1) if values.size else np.zeros((0, 0), np.int64)
    if values.size % width:
        src.fail(f"section '{key}' has {values.size} numbers, not a multiple of its {width} fields")
    return values.reshape(-1, width)


def _validate(
    src: SnapshotFile,
    meta: SnapshotMeta,
    nodes: dict[str, np.ndarray],
    edges: dict[str, np.ndarray],
    strings: StringTable,
) -> None:
    """Check every index the analyses follow, so that later code cannot index out of range."""
    string_count = len(strings)
    if meta.node_count:
        if int(nodes["type"].max()) >= len(meta.node_types):
            src.fail("a node has a type code that snapshot.meta.node_types does not define")
        if int(nodes["name"].max()) >= string_count:
            src.fail(f"a node's name points past the {string_count} strings")
        if int(nodes["edge_count"].sum(dtype=np.int64)) != meta.edge_count:
            src.fail(
                f"the nodes' edge counts add up to {int(nodes['edge_count'].sum(dtype=np.int64))}, "
                f"but the header says edge_count = {meta.edge_count} (meta and arrays do not match)"
            )
    elif meta.edge_count:
        src.fail("the header says there are edges but no nodes")
    if meta.edge_count:
        edge_types = edges["type"]
        if int(edge_types.max()) >= len(meta.edge_types):
            src.fail("an edge has a type code that snapshot.meta.edge_types does not define")
        # `element` and `hidden` edges carry an index; the others a string index (V8's
        # HeapSnapshotJSONSerializer::SerializeEdge).
        by_index = np.zeros(len(meta.edge_types), np.bool_)
        for name in ("element", "hidden"):
            code = meta.edge_type_code(name)
            if code >= 0:
                by_index[code] = True
        # In blocks, so that the temporaries stay small.
        block = 1 << 22
        names = edges["name_or_index"]
        for start in range(0, meta.edge_count, block):
            named = ~by_index[edge_types[start : start + block]]
            if named.any() and int(names[start : start + block][named].max()) >= string_count:
                src.fail(f"an edge's name points past the {string_count} strings")
        # `to_node` was checked and turned into node indices while it was read (ColumnSink).

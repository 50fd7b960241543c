"""Redaction of a V8 `.heapsnapshot`: the text of string values goes, names and the graph stay (DESIGN §16).

A snapshot's `strings` section is one table shared by everything that has a name: a node's name
(a class, a function, a script, a string's text), an edge's name (a property, a variable), an
allocation stack's function and script. Only a *string value*'s name is its contents, so the rule
is by use, over the whole file:

- an index is **redacted** when it is the name of a node of a string type (`string`, and
  `concatenated string` / `sliced string`, which Bun names by their text) and of nothing else;
- it **stays** when it is also a node name of any other type (a class, a function, a script's URL
  (V8 names a Script node by it), a regexp's source, a native/DOM node), a named edge's name
  (property, variable, internal), or a function or script name of the allocation traces;
- the empty string, V8's fixed `(concatenated string)` / `(sliced string)` names and a placeholder
  from an earlier redaction stay as they are (so redacting twice changes nothing).

A redacted string becomes `<redacted: N chars>`, N its length in the snapshot (UTF-16 units as in
JavaScript; V8 keeps at most the first 1024 characters of a string). A placeholder rather than the
same number of filler characters: it says what happened to whoever opens the file in DevTools,
keeps the length (all a same-length filler would keep), and shrinks big texts (script sources, JSON
bodies) instead of copying their size. Nodes, edges, ids, sizes, locations and allocation traces
are copied byte for byte, so DevTools loads the file and `jsleak diff` finds the same classes,
counts and retainer paths; only the string steps of a path read `"…" (string, N chars)`.

Streaming, in bounded memory: the file is memory-mapped and walked once. `nodes`, `edges` and
`trace_function_infos` are decoded chunk by chunk (the digit parser of heap/scan.py) into two
bitmaps over the string indices (used as a value, used as a name), never into columns; the
`strings` section is only located (its strings' byte ranges). Then the output is written to a temp
file beside the target: the bytes before `strings` copied, `strings` rewritten, the rest copied,
and the temp file renamed over the target.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pytest_jsleak.errors import SnapshotFormatError
from pytest_jsleak.heap.meta import SnapshotMeta
from pytest_jsleak.heap.parse import iter_sections, read_header
from pytest_jsleak.heap.scan import DigitParser, SnapshotFile, scan_json_array
from pytest_jsleak.model import (
    FIXED_STRING_NAMES,
    STRING_NODE_TYPES,
    LeakResult,
    js_length,
    redacted_length,
    redacted_string,
)

COPY_BYTES = 16 << 20
"""Bytes copied per write: big enough for the disk, and whole map pages dropped after each (SnapshotFile.release)."""
WRITE_BUFFER = 1 << 20
"""The output file's buffer."""
OUT_BATCH = 1 << 20
"""Bytes of the rewritten `strings` gathered at a time: the index temporaries are 16× that."""
_INDEX_EDGE_TYPES = ("element", "hidden")
"""Edge types whose `name_or_index` is an index, not a string (V8's SerializeEdge)."""
_KEPT_TEXTS = {json.dumps(name).encode()[1:-1] for name in FIXED_STRING_NAMES} | {b""}


@dataclass(frozen=True, slots=True)
class RedactionStats:
    """What one redaction did."""

    path: str
    """The file written."""
    strings: int
    """Strings in the table."""
    redacted: int
    """Strings replaced by a placeholder."""
    kept_values: int
    """String values kept because the same text is also a name (a property, a class, a script)."""
    bytes_in: int
    bytes_out: int
    seconds: float


SCRIPT_NAMES = ("system / Script",)
"""How Deno's V8 (and DevTools) name a Script node: `system / Script` or `system / Script / <url>`.
Its `name` edge leads to the script's URL, a string that closure locations are read from
(`heap.paths.ClosureLocations`): kept. Node's V8 names the Script node by the URL itself."""


class _Uses:
    """Two bitmaps over the string indices: used as a string value, used as a name."""

    def __init__(self, count: int, src: SnapshotFile) -> None:
        self.value = np.zeros(count, np.bool_)
        self.name = np.zeros(count, np.bool_)
        self.src = src

    def mark(self, bitmap: np.ndarray, indices: np.ndarray, what: str) -> None:
        if indices.size:
            if int(indices.max()) >= bitmap.size:
                self.src.fail(f"{what} points past the {bitmap.size} strings")
            bitmap[indices.astype(np.intp)] = True


class _FieldSink:
    """Hands chosen fields of each row of a flat numeric section to `use(first_row, *columns)`, whole
    rows only: a chunk of the digit parser may end inside a row, whose numbers wait for the next one."""

    def __init__(self, width: int, fields: tuple[int, ...], rows: int | None, src: SnapshotFile, what: str,
                 use: Any) -> None:
        self.width = width
        self.fields = fields
        self.rows = rows
        self.src = src
        self.what = what
        self.use = use
        self.left = np.zeros(0, np.uint64)
        self.row = 0

    def __call__(self, values: np.ndarray, first_index: int) -> None:
        if self.left.size:
            values = np.concatenate((self.left, values))
        rows = values.size // self.width
        if self.rows is not None and self.row + rows > self.rows:
            self.src.fail(f"section '{self.what}' has more numbers than the header's count")
        table = values[: rows * self.width].reshape(rows, self.width)
        self.left = values[rows * self.width :].copy()
        if rows:
            self.use(self.row, *(table[:, field] for field in self.fields))
            self.row += rows

    def read(self, parser: DigitParser, at: int) -> None:
        """Decode the whole section at `at` (every field: one pass is cheaper than one per field)."""
        _, count = parser.numbers(at, self.what, self)
        if self.rows is not None and count != self.rows * self.width:
            expected = self.rows * self.width
            cut = " (the file is probably truncated)" if count < expected else ""
            self.src.fail(f"section '{self.what}' has {count} numbers but the header says {self.rows} × "
                          f"{self.width} = {expected}{cut}")
        if self.left.size:
            self.src.fail(f"section '{self.what}' ends inside a row of {self.width} numbers")


@dataclass(slots=True)
class _Layout:
    """Where each top-level section's value is: key → (start, end), and the strings' byte ranges."""

    sections: dict[str, tuple[int, int]]
    starts: np.ndarray
    ends: np.ndarray
    """Byte ranges of each string's contents, relative to the start of `strings`."""


def locate_sections(src: SnapshotFile, pos: int) -> _Layout:
    """Walk the top level once without decoding numbers: the numeric arrays hold no ']' but their
    own, so they are skipped at memchr speed; `strings` is scanned for its strings' byte ranges."""
    sections: dict[str, tuple[int, int]] = {}
    starts = ends = None
    walk = iter_sections(src, pos)
    step = next(walk, None)
    while step is not None:
        key, at = step
        if key in ("nodes", "edges", "locations", "samples", "trace_function_infos"):
            if src.byte_at(at) != ord("["):
                src.fail(f"section '{key}' is not an array (byte {at})")
            close = src.mm.find(b"]", at)
            if close < 0:
                src.fail(f"the file is truncated inside section '{key}' (no closing ']')")
            end = close + 1
            src.release(at, end)  # the search touched every page: drop them (the digit passes map them again)
        elif key == "strings":
            end, starts, ends = scan_json_array(src, at, key, collect_strings=True)
            if starts.size != ends.size:
                src.fail("section 'strings' is malformed")
        else:
            from pytest_jsleak.heap.snapshot import _skip_value

            end = _skip_value(src, at, key)
        sections[key] = (at, end)
        try:
            step = walk.send(end)
        except StopIteration:
            step = None
    for required in ("nodes", "edges", "strings"):
        if required not in sections:
            src.fail(f"section '{required}' is missing")
    assert starts is not None and ends is not None
    return _Layout(sections, starts, ends)


def _indices_where(src: SnapshotFile, layout: _Layout, text: str, *, prefix: bool = False) -> np.ndarray:
    """Indices of the strings equal to `text` (or starting with it), found in the map (ASCII `text`)."""
    section = layout.sections["strings"][0]
    end = layout.sections["strings"][1]
    needle = b'"' + text.encode("ascii") + (b"" if prefix else b'"')
    found = []
    at = src.mm.find(needle, section, end)
    while at >= 0:
        index = int(np.searchsorted(layout.starts, at + 1 - section))
        if index < layout.starts.size and int(layout.starts[index]) == at + 1 - section:
            found.append(index)
        at = src.mm.find(needle, at + 1, end)
    return np.asarray(found, dtype=np.int64)


def collect_uses(src: SnapshotFile, meta: SnapshotMeta, layout: _Layout) -> _Uses:
    """Which string indices are used as values and which as names, over the whole file (module docstring)."""
    uses = _Uses(int(layout.starts.size), src)
    parser = DigitParser(src)
    node_type_count, edge_type_count = len(meta.node_types), len(meta.edge_types)
    value_types = meta.node_type_mask(STRING_NODE_TYPES)
    index_edges = np.zeros(edge_type_count, np.bool_)
    for name in _INDEX_EDGE_TYPES:
        code = meta.edge_type_code(name)
        if code >= 0:
            index_edges[code] = True
    script_names = np.concatenate([
        *(_indices_where(src, layout, name) for name in SCRIPT_NAMES),
        *(_indices_where(src, layout, name + " / ", prefix=True) for name in SCRIPT_NAMES),
    ])
    # With Script nodes named `system / Script…`, their `name` edges' targets are looked up: the
    # nodes' types and names are kept (5 bytes a node), and each Script's range of edges.
    scripts = bool(script_names.size)
    node_types = np.empty(meta.node_count, np.uint8) if scripts else None
    node_names = np.empty(meta.node_count, np.uint32) if scripts else None
    ranges: list[tuple[np.ndarray, np.ndarray]] = []
    edges_before = [0]

    def node_rows(first_row: int, types: np.ndarray, names: np.ndarray, *counts: np.ndarray) -> None:
        if int(types.max()) >= node_type_count:
            src.fail("section 'nodes': a type code that snapshot.meta does not define")
        is_value = value_types[types.astype(np.intp)]
        uses.mark(uses.value, names[is_value], "a string's name")
        uses.mark(uses.name, names[~is_value], "a node's name")
        if node_types is not None and node_names is not None:
            rows = slice(first_row, first_row + types.size)
            node_types[rows], node_names[rows] = types, names
            first_edge = np.cumsum(counts[0], dtype=np.int64) - counts[0].astype(np.int64) + edges_before[0]
            edges_before[0] += int(counts[0].sum(dtype=np.uint64))
            script = np.isin(names, script_names)
            if script.any():
                ranges.append((first_edge[script], first_edge[script] + counts[0][script].astype(np.int64)))

    fields = (0, meta.node_field("name"), *((meta.node_field("edge_count"),) if scripts else ()))
    _FieldSink(meta.node_field_count, fields, meta.node_count, src, "nodes", node_rows).read(
        parser, layout.sections["nodes"][0])
    if scripts and edges_before[0] != meta.edge_count:
        src.fail(f"the nodes' edge counts add up to {edges_before[0]}, but the header says edge_count = "
                 f"{meta.edge_count}")
    range_from = np.concatenate([first for first, _ in ranges]) if ranges else np.zeros(0, np.int64)
    range_to = np.concatenate([end for _, end in ranges]) if ranges else np.zeros(0, np.int64)
    name_edge = _indices_where(src, layout, "name") if range_from.size else np.zeros(0, np.int64)

    def edge_rows(first_row: int, types: np.ndarray, names: np.ndarray, *to_node: np.ndarray) -> None:
        if int(types.max()) >= edge_type_count:
            src.fail("section 'edges': a type code that snapshot.meta does not define")
        named = ~index_edges[types.astype(np.intp)]
        uses.mark(uses.name, names[named], "an edge's name")
        if to_node and name_edge.size and node_types is not None and node_names is not None:
            # A Script's `name` edge: its target, when a string, is the script's URL.
            rows = np.arange(first_row, first_row + types.size)
            at = np.searchsorted(range_from, rows, side="right") - 1
            inside = (at >= 0) & (rows < range_to[np.maximum(at, 0)]) & named & np.isin(names, name_edge)
            if inside.any():
                targets = (to_node[0][inside] // np.uint64(meta.node_field_count)).astype(np.int64)
                targets = targets[targets < meta.node_count]
                strings = targets[value_types[node_types[targets]]]
                uses.mark(uses.name, node_names[strings], "a script's name")

    fields = (0, meta.edge_field("name_or_index"), *((meta.edge_field("to_node"),) if name_edge.size else ()))
    _FieldSink(meta.edge_field_count, fields, meta.edge_count, src, "edges", edge_rows).read(
        parser, layout.sections["edges"][0])

    trace = layout.sections.get("trace_function_infos")
    names = meta.trace_function_info_fields
    if trace is not None and names:
        columns = tuple(names.index(field) for field in ("name", "script_name") if field in names)

        def function_rows(_first_row: int, *columns: np.ndarray) -> None:
            for column in columns:
                uses.mark(uses.name, column, "an allocation trace's function name")

        _FieldSink(len(names), columns, None, src, "trace_function_infos", function_rows).read(parser, trace[0])
    return uses


def redacted_indices(uses: _Uses) -> np.ndarray:
    """Indices used only as string values (before the exemptions of `_rewrite_strings`)."""
    return np.flatnonzero(uses.value & ~uses.name)


def _special_positions(mm: mmap.mmap, start: int, end: int) -> np.ndarray:
    """Offsets (from `start`) of the bytes that make a string's byte length differ from its length:
    backslashes (escapes) and non-ASCII bytes. In pieces, so no temporary is the section's size."""
    found = []
    step = 1 << 22
    for at in range(start, end, step):
        chunk = np.frombuffer(mm, np.uint8, min(step, end - at), at)
        hits = np.flatnonzero((chunk == 92) | (chunk >= 128))
        if hits.size:
            found.append(hits + (at - start))
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def _length_of(raw: bytes) -> int:
    """The JavaScript length of a JSON string's raw contents (escapes undone)."""
    try:
        text = json.loads(b'"' + raw + b'"')
    except ValueError:
        text = raw.decode("utf-8", errors="replace")
    return js_length(text)


def _rewrite_strings(mm: mmap.mmap, section: int, starts: np.ndarray, ends: np.ndarray, redact: np.ndarray,
                     out: Any) -> tuple[int, int]:
    """Write the `strings` section up to its last redacted string, each `redact` index replaced.

    Returns (strings replaced, absolute position up to which the input is now written). The kept
    strings between two redacted ones are copied as one slice of the map; starts/ends are relative
    to `section`.
    """
    begin = starts[redact].astype(np.int64)
    finish = ends[redact].astype(np.int64)
    # Texts that stay although only values: "", V8's fixed cons/sliced names, earlier placeholders.
    # Only strings of their lengths or starting with '<' can be one, so only those are looked at.
    lengths = finish - begin
    section_bytes = np.frombuffer(mm, np.uint8, int(ends[-1]) + 1, section)
    suspects = np.flatnonzero((lengths == 0) | np.isin(lengths, [len(text) for text in _KEPT_TEXTS])
                              | (section_bytes[np.minimum(begin, section_bytes.size - 1)] == ord("<")))
    if suspects.size:
        keep = [int(i) for i in suspects.tolist() if _stays(mm[section + int(begin[i]) : section + int(finish[i])])]
        if keep:
            chosen = np.ones(begin.size, np.bool_)
            chosen[keep] = False
            begin, finish, lengths = begin[chosen], finish[chosen], lengths[chosen]
    del section_bytes
    if not begin.size:
        return 0, section
    special = _special_positions(mm, section, section + int(ends[-1]) + 1)
    escaped = np.flatnonzero(np.searchsorted(special, finish) != np.searchsorted(special, begin))
    for i in escaped.tolist():
        lengths[i] = _length_of(mm[section + int(begin[i]) : section + int(finish[i])])
    # The output is gap, placeholder, gap, placeholder, ...: each gap a slice of the input (the
    # kept strings between two redacted ones), each placeholder a slice of a pool of the distinct
    # ones. Both are gathered with numpy into one buffer per batch of about OUT_BATCH bytes.
    distinct, which = np.unique(lengths, return_inverse=True)
    texts = [redacted_string(int(n)).encode("ascii") for n in distinct.tolist()]
    pool = np.frombuffer(b"".join(texts), np.uint8)
    pool_at = np.concatenate(([0], np.cumsum([len(text) for text in texts])))[:-1].astype(np.int64)
    text_from = pool_at[which.reshape(-1)]
    text_size = np.asarray([len(text) for text in texts], np.int64)[which.reshape(-1)]
    gap_from = np.concatenate(([0], finish[:-1]))  # relative to the section, like begin and finish
    gap_size = begin - gap_from
    pair_end = np.cumsum(gap_size + text_size)
    source = np.frombuffer(mm, np.uint8, int(finish[-1]), section)
    first = 0
    while first < begin.size:
        upto = max(first + 1, int(np.searchsorted(pair_end, (pair_end[first - 1] if first else 0) + OUT_BATCH)))
        out.write(_gather(source, pool, gap_from[first:upto], gap_size[first:upto], text_from[first:upto],
                          text_size[first:upto]))
        first = upto
    return int(begin.size), section + int(finish[-1])


def _ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The indices start_0 .. start_0+size_0-1, start_1 .., concatenated (every size > 0)."""
    steps = np.ones(int(sizes.sum()), np.int64)
    steps[0] = starts[0]
    ends = np.cumsum(sizes)[:-1]
    steps[ends] = starts[1:] - (starts[:-1] + sizes[:-1]) + 1
    return np.cumsum(steps)


def _gather(source: np.ndarray, pool: np.ndarray, gap_from: np.ndarray, gap_size: np.ndarray,
            text_from: np.ndarray, text_size: np.ndarray) -> bytes:
    """One batch of the output: each gap of `source` followed by its placeholder from `pool`."""
    out_at = np.concatenate(([0], np.cumsum(gap_size + text_size)))
    buffer = np.empty(int(out_at[-1]), np.uint8)
    gaps = gap_size > 0
    if gaps.any():
        buffer[_ranges(out_at[:-1][gaps], gap_size[gaps])] = source[_ranges(gap_from[gaps], gap_size[gaps])]
    buffer[_ranges(out_at[:-1] + gap_size, text_size)] = pool[_ranges(text_from, text_size)]
    return buffer.tobytes()


def _stays(raw: bytes) -> bool:
    """A value text left as it is: nothing to hide, or redacted already."""
    return raw in _KEPT_TEXTS or (raw.startswith(b"<redacted: ") and
                                  redacted_length(raw.decode("ascii", "replace")) is not None)


def _copy(src: SnapshotFile, out: Any, start: int, end: int) -> None:
    """Copy bytes [start, end) of the input, dropping the map's pages once written."""
    view = memoryview(src.mm)
    try:
        released = start
        for at in range(start, end, COPY_BYTES):
            out.write(view[at : min(end, at + COPY_BYTES)])
            released = src.release(released, min(end, at + COPY_BYTES))
    finally:
        view.release()


def redact_snapshot(source: str | os.PathLike[str], target: str | os.PathLike[str] | None = None) -> RedactionStats:
    """Write `source` with its string values redacted to `target` (default: `source` itself, in place).

    The output is written to a temp file in the target's folder and renamed over it, so a reader
    never sees half a file and a failure leaves the target as it was. The target keeps the source's
    permission bits. Raises SnapshotFormatError naming `source` for anything unreadable.
    """
    started = time.perf_counter()
    source = os.fspath(source)
    target_path = Path(os.fspath(target) if target is not None else source)
    with SnapshotFile(source) as src:
        meta, pos = read_header(src)
        layout = locate_sections(src, pos)
        uses = collect_uses(src, meta, layout)
        redact = redacted_indices(uses)
        kept_values = int(np.count_nonzero(uses.value & uses.name))
        del uses
        section = layout.sections["strings"][0]
        starts, ends = layout.starts, layout.ends
        try:
            mode = stat.S_IMODE(os.stat(source).st_mode)
        except OSError:
            mode = 0o600
        handle, temp = tempfile.mkstemp(prefix=f".{target_path.name}.", suffix=".tmp", dir=target_path.parent or ".")
        try:
            with os.fdopen(handle, "wb", buffering=WRITE_BUFFER) as out:
                _copy(src, out, 0, section)
                if redact.size:
                    done, copied_to = _rewrite_strings(src.mm, section, starts, ends, redact, out)
                else:
                    done, copied_to = 0, section
                _copy(src, out, copied_to, src.size)
                size = out.tell()
            os.chmod(temp, mode)
            os.replace(temp, target_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return RedactionStats(
            path=str(target_path), strings=int(starts.size), redacted=done, kept_values=kept_values,
            bytes_in=src.size, bytes_out=size, seconds=time.perf_counter() - started,
        )


def redact_result(result: LeakResult) -> None:
    """The `redact` option on one check's outcome: its paths lose string contents, its kept snapshots
    are redacted in place.

    Called once the snapshots are kept or dropped (`check.retain_snapshots`). A kept
    snapshot that cannot be redacted (cut short by a crash, a full disk) is deleted rather than
    kept with its strings, and a note says so.
    """
    started = time.perf_counter()
    result.redact_strings()
    kept = []
    for path in result.snapshot_paths:
        try:
            redact_snapshot(path)
        except (SnapshotFormatError, OSError) as exc:
            with contextlib.suppress(OSError):
                os.unlink(path)
            result.notes.append(f"{Path(path).name} was deleted, not kept: it could not be redacted ({exc})")
            continue
        kept.append(path)
    result.snapshot_paths = kept
    if result.snapshot_dir is not None and not kept:
        result.snapshot_dir = None
    result.timings["redact"] = time.perf_counter() - started


__all__ = ["RedactionStats", "collect_uses", "redact_result", "redact_snapshot"]

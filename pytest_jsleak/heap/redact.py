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
`trace_function_infos` are decoded chunk by chunk (the digit parser of heap/parse.py) into two
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
from pytest_jsleak.heap.parse import SnapshotFile, _DigitParser, iter_sections, read_header, scan_json_array
from pytest_jsleak.model import (
    FIXED_STRING_NAMES,
    STRING_NODE_TYPES,
    LeakResult,
    js_length,
    redacted_length,
    redacted_string,
)

COPY_BYTES = 16 << 20
"""Bytes copied per write: big enough for the disk, and whole map pages dropped after each (parse.release)."""
WRITE_BUFFER = 1 << 20
"""The rewritten `strings` section is written in pieces of about this size."""
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
    """Hands chosen fields of each row of a flat numeric section to `use(*columns)`, whole rows only.

    A chunk of the digit parser may end inside a row: the numbers of that row wait for the next one.
    """

    def __init__(self, width: int, fields: tuple[int, ...], src: SnapshotFile, what: str, use: Any) -> None:
        self.width = width
        self.fields = fields
        self.src = src
        self.what = what
        self.use = use
        self.left = np.zeros(0, np.uint64)

    def __call__(self, values: np.ndarray, first_index: int) -> None:
        if self.left.size:
            values = np.concatenate((self.left, values))
        rows = values.size // self.width
        table = values[: rows * self.width].reshape(rows, self.width)
        self.left = values[rows * self.width :].copy()
        if rows:
            self.use(*(table[:, field] for field in self.fields))

    def finish(self) -> None:
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


class _Field:
    """Decodes one field of every row of a numeric section (the digits of the others are only
    delimited: about twice as fast as decoding them all) and hands it to `use(values, first_row)`."""

    def __init__(self, src: SnapshotFile, parser: _DigitParser, key: str, at: int, rows: int, width: int) -> None:
        self.src, self.parser, self.key, self.at, self.rows, self.width = src, parser, key, at, rows, width

    def read(self, field: int, use: Any) -> None:
        def checked(values: np.ndarray, first_row: int) -> None:
            if first_row + values.size > self.rows:
                self.src.fail(f"section '{self.key}' has more numbers than the header's count")
            use(values, first_row)

        _, count = self.parser.numbers(self.at, self.key, checked, stride=self.width, keep=field)
        if count != self.rows * self.width:
            self.src.fail(
                f"section '{self.key}' has {count} numbers but the header says {self.rows} × {self.width} = "
                f"{self.rows * self.width}" + (" (the file is probably truncated)" if count < self.rows * self.width
                                                else "")
            )

    def types(self, type_count: int) -> np.ndarray:
        """Field 0, the type codes, as uint8 (one byte per row), checked against the meta's names."""
        codes = np.empty(self.rows, np.uint8)

        def keep(values: np.ndarray, first_row: int) -> None:
            if int(values.max()) >= type_count:
                self.src.fail(f"section '{self.key}': a type code that snapshot.meta does not define")
            codes[first_row : first_row + values.size] = values

        self.read(0, keep)
        return codes


def collect_uses(src: SnapshotFile, meta: SnapshotMeta, layout: _Layout) -> _Uses:
    """Which string indices are used as values and which as names, over the whole file (module docstring)."""
    uses = _Uses(int(layout.starts.size), src)
    parser = _DigitParser(src)
    value_types = meta.node_type_mask(STRING_NODE_TYPES)
    index_edges = np.zeros(len(meta.edge_types), np.bool_)
    for name in _INDEX_EDGE_TYPES:
        code = meta.edge_type_code(name)
        if code >= 0:
            index_edges[code] = True
    script_names = np.concatenate([
        *(_indices_where(src, layout, name) for name in SCRIPT_NAMES),
        *(_indices_where(src, layout, name + " / ", prefix=True) for name in SCRIPT_NAMES),
    ])

    # Nodes: the type, then the name of each; Script nodes remembered by row.
    nodes = _Field(src, parser, "nodes", layout.sections["nodes"][0], meta.node_count, meta.node_field_count)
    node_types = nodes.types(len(meta.node_types))
    node_names = np.empty(meta.node_count, np.uint32) if script_names.size else None
    script_rows: list[np.ndarray] = []

    def node_name(values: np.ndarray, first_row: int) -> None:
        is_value = value_types[node_types[first_row : first_row + values.size]]
        uses.mark(uses.value, values[is_value], "a string's name")
        uses.mark(uses.name, values[~is_value], "a node's name")
        if node_names is not None:
            node_names[first_row : first_row + values.size] = values
            script_rows.append(np.flatnonzero(np.isin(values, script_names)) + first_row)

    nodes.read(meta.node_field("name"), node_name)
    scripts = np.concatenate(script_rows) if script_rows else np.zeros(0, np.int64)

    # Edges: the type, then the name of each (element and hidden edges carry an index).
    edges = _Field(src, parser, "edges", layout.sections["edges"][0], meta.edge_count, meta.edge_field_count)
    edge_types = edges.types(len(meta.edge_types))
    ranges = _edge_ranges(nodes, meta, scripts) if scripts.size else None
    name_edges = _indices_where(src, layout, "name") if ranges is not None else np.zeros(0, np.int64)
    url_edges: list[np.ndarray] = []

    def edge_name(values: np.ndarray, first_row: int) -> None:
        named = ~index_edges[edge_types[first_row : first_row + values.size]]
        uses.mark(uses.name, values[named], "an edge's name")
        if ranges is not None and name_edges.size:
            rows = np.arange(first_row, first_row + values.size)
            at = np.searchsorted(ranges[0], rows, side="right") - 1
            inside = (at >= 0) & (rows < ranges[1][np.maximum(at, 0)])
            url_edges.append(rows[inside & named & np.isin(values, name_edges)])

    edges.read(meta.edge_field("name_or_index"), edge_name)
    urls = np.concatenate(url_edges) if url_edges else np.zeros(0, np.int64)
    if urls.size and node_names is not None:
        # A Script's `name` edge: its target, when a string, is the script's URL.
        targets: list[np.ndarray] = []

        def to_node(values: np.ndarray, first_row: int) -> None:
            wanted = urls[(urls >= first_row) & (urls < first_row + values.size)]
            if wanted.size:
                targets.append(values[wanted - first_row] // np.uint64(meta.node_field_count))

        edges.read(meta.edge_field("to_node"), to_node)
        found = np.concatenate(targets).astype(np.int64) if targets else np.zeros(0, np.int64)
        found = found[found < meta.node_count]
        uses.mark(uses.name, node_names[found[value_types[node_types[found]]]], "a script's name")

    trace = layout.sections.get("trace_function_infos")
    fields = meta.trace_function_info_fields
    if trace is not None and fields:
        columns = tuple(fields.index(field) for field in ("name", "script_name") if field in fields)

        def function_names(*names: np.ndarray) -> None:
            for column in names:
                uses.mark(uses.name, column, "an allocation trace's function name")

        sink = _FieldSink(len(fields), columns, src, "trace_function_infos", function_names)
        parser.numbers(trace[0], "trace_function_infos", sink)
        sink.finish()
    return uses


def _edge_ranges(nodes: _Field, meta: SnapshotMeta, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, end) edge rows of the nodes at `rows` (sorted), from a pass over `edge_count`."""
    firsts = np.empty(rows.size, np.int64)
    counts = np.empty(rows.size, np.int64)
    total = [0]

    def edge_count(values: np.ndarray, first_row: int) -> None:
        before = np.cumsum(values, dtype=np.int64)
        before -= values.astype(np.int64)
        before += total[0]
        lo, hi = np.searchsorted(rows, [first_row, first_row + values.size])
        picked = rows[lo:hi] - first_row
        firsts[lo:hi] = before[picked]
        counts[lo:hi] = values[picked].astype(np.int64)
        total[0] += int(values.sum(dtype=np.uint64))

    nodes.read(meta.node_field("edge_count"), edge_count)
    if total[0] != meta.edge_count:
        nodes.src.fail(f"the nodes' edge counts add up to {total[0]}, but the header says edge_count = "
                       f"{meta.edge_count}")
    return firsts, firsts + counts


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

    Returns (strings replaced, absolute position up to which the input is now written). Runs of
    kept strings are copied as one slice of the map; starts/ends are relative to `section`.
    """
    special = _special_positions(mm, section, section + int(ends[-1]) + 1) if redact.size else np.zeros(0)
    begin = starts[redact].astype(np.int64)
    finish = ends[redact].astype(np.int64)
    plain = np.searchsorted(special, finish) == np.searchsorted(special, begin)
    view = memoryview(mm)
    placeholders: dict[int, bytes] = {}
    pieces: list[Any] = []
    pending = 0
    done = 0
    copied_to = section  # absolute position up to which the input is written
    try:
        for first, last, is_plain in zip(begin.tolist(), finish.tolist(), plain.tolist(), strict=True):
            raw_start, raw_end = section + first, section + last
            raw = mm[raw_start:raw_end]
            if raw in _KEPT_TEXTS or (raw.startswith(b"<redacted: ") and redacted_length(raw.decode("ascii", "replace"))
                                      is not None):
                continue  # nothing to hide, or redacted already
            length = (last - first) if is_plain else _length_of(raw)
            text = placeholders.get(length)
            if text is None:
                text = placeholders[length] = redacted_string(length).encode("ascii")
            pieces.append(view[copied_to:raw_start])
            pieces.append(text)
            pending += raw_start - copied_to + len(text)
            copied_to = raw_end
            done += 1
            if pending >= WRITE_BUFFER:
                _flush(out, pieces)
                pending = 0
        _flush(out, pieces)
    finally:
        pieces.clear()
        view.release()
    return done, copied_to


def _flush(out: Any, pieces: list[Any]) -> None:
    out.writelines(pieces)
    pieces.clear()


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

    Called once the snapshots are kept or dropped (`measure._keep_or_drop_snapshots`). A kept
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

"""Streaming reader of V8 `.heapsnapshot` files into flat numpy arrays: the header and the sections.

The file is memory-mapped and walked once, section by section (`iter_sections`); scan.py holds the
scanning below (the mapped file, the digit parser, where an array ends). Here the numbers land in
preallocated per-field columns (the sinks), checked against the header's counts, and the `strings`
become a `StringTable`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from pytest_jsleak.errors import SnapshotFormatError
from pytest_jsleak.heap.meta import SnapshotMeta, parse_meta
from pytest_jsleak.heap.scan import CHUNK_BYTES, MAX_DIGITS, DigitParser, SnapshotFile, scan_json_array

HEADER_BYTES = 1 << 20

_KEY = re.compile(rb'"([A-Za-z_0-9]*)"[ \t\r\n]*:[ \t\r\n]*')
_SNAPSHOT_KEY = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"snapshot"[ \t\r\n]*:[ \t\r\n]*')


# --- header and section walk -------------------------------------------------------------------


def read_header(src: SnapshotFile) -> tuple[SnapshotMeta, int]:
    """Decode the `snapshot` object; return the meta and the position just after it."""
    match = _SNAPSHOT_KEY.match(src.mm, 0)
    if not match:
        head = bytes(src.mm[: min(src.size, 1)])
        if head not in (b"{", b" ", b"\n", b"\t", b"\r"):
            src.fail("not a heap snapshot (not JSON: it does not start with '{')")
        src.fail("not a V8 heap snapshot (no 'snapshot' header object at the start)")
    start = match.end()
    prefix = bytes(src.mm[start : start + HEADER_BYTES]).decode("utf-8", errors="replace")
    try:
        header, end_char = json.JSONDecoder().raw_decode(prefix)
    except json.JSONDecodeError as error:
        src.fail(f"the 'snapshot' header is not valid JSON ({error.msg} at byte {start + error.pos})")
    meta = parse_meta(header, src.path)
    end = start + len(prefix[:end_char].encode("utf-8", errors="replace"))
    return meta, end


def iter_sections(src: SnapshotFile, pos: int) -> Any:
    """Yield (key, position of its value) for each top-level section after the header.

    The consumer must send back the position after the value it consumed.
    """
    seen: set[str] = set()
    while True:
        pos = src.skip_ws(pos)
        char = src.byte_at(pos)
        if char == ord("}"):
            rest = src.skip_ws(pos + 1)
            if rest != src.size:
                src.fail(f"unexpected data after the end of the JSON document at byte {rest}")
            return
        if char == -1:
            src.fail("the file is truncated (the top-level object is not closed)")
        if char != ord(","):
            src.fail(f"expected ',' or '}}' between sections at byte {pos}, found {chr(char)!r}")
        pos = src.skip_ws(pos + 1)
        match = _KEY.match(src.mm, pos)
        if not match:
            if pos >= src.size:
                src.fail("the file is truncated (a section name is missing)")
            src.fail(f"expected a section name at byte {pos}")
        key = match.group(1).decode("ascii")
        if key in seen:
            src.fail(f"section '{key}' appears twice")
        seen.add(key)
        pos = yield key, match.end()


# --- numeric sections: where the digit parser's numbers land -----------------------------------


class ColumnSink:
    """Distributes a flat run of numbers into per-field columns, widening a column on overflow."""

    def __init__(self, rows: int, fields: Sequence[str], dtypes: dict[str, Any], src: SnapshotFile,
                 what: str, node_offsets: tuple[str, int, int] | None = None) -> None:
        # node_offsets: (field, node field count, node count) for `to_node`, which the file gives
        # as an offset into `nodes`; it is checked and divided into a node index chunk by chunk.
        self.node_offsets = node_offsets
        self.rows = rows
        self.fields = tuple(fields)
        self.width = len(self.fields)
        self.columns = [np.empty(rows, dtypes.get(name, np.int32)) for name in self.fields]
        self.src = src
        self.what = what

    def __call__(self, values: np.ndarray, first_index: int) -> None:
        width = self.width
        end_index = first_index + values.size
        if end_index > self.rows * width:
            self.src.fail(
                f"section '{self.what}' has more numbers than the header's count "
                f"({self.rows} × {width})"
            )
        fits_int32 = int(values.max()) < (1 << 31)
        for field in range(width):
            offset = (field - first_index) % width
            part = values[offset::width]
            if not part.size:
                continue
            if self.node_offsets is not None and self.fields[field] == self.node_offsets[0]:
                _, node_width, node_count = self.node_offsets
                if int(part.max()) >= node_width * node_count or (part % np.uint64(node_width)).any():
                    self.src.fail(f"section '{self.what}': an edge points at a node that does not exist")
                part = part // np.uint64(node_width)
            row = (first_index + offset) // width
            column = self.columns[field]
            if not fits_int32 or column.dtype.itemsize < 4:
                limit = np.iinfo(column.dtype).max
                if int(part.max()) > limit:
                    column = self.columns[field] = column.astype(np.int64)
            column[row : row + part.size] = part


class SelectSink:
    """Collects the numbers of one field (the ids-only read), as int64 or uint32."""

    def __init__(self, rows: int, src: SnapshotFile, what: str, dtype: Any = np.int64) -> None:
        self.values = np.empty(rows, dtype)
        self.limit = np.iinfo(self.values.dtype).max
        self.rows = rows
        self.src = src
        self.what = what

    def __call__(self, values: np.ndarray, first_row: int) -> None:
        end = first_row + values.size
        if end > self.rows:
            self.src.fail(f"section '{self.what}' has more numbers than the header's count")
        if int(values.max()) > self.limit:
            self.src.fail(f"section '{self.what}': an id does not fit {self.values.dtype}")
        self.values[first_row:end] = values


class FlatSink:
    """Collects a numeric section of unknown length: int32 when every value fits, else int64."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.wide = False

    def __call__(self, values: np.ndarray, first_index: int) -> None:
        if not self.wide and int(values.max()) >= (1 << 31):
            self.wide = True
            self.parts = [part.astype(np.int64) for part in self.parts]
        self.parts.append(values.astype(np.int64 if self.wide else np.int32))

    def array(self) -> np.ndarray:
        if not self.parts:
            return np.zeros(0, np.int32)
        joined = np.concatenate(self.parts)
        self.parts = []
        return joined


# --- strings -----------------------------------------------------------------------------------


class StringTable:
    """The snapshot's `strings`, kept as one bytes blob plus offsets; decoded on demand."""

    def __init__(self, blob: bytes, starts: np.ndarray, ends: np.ndarray, filename: str) -> None:
        self.blob = blob
        self.starts = starts
        self.ends = ends
        self.filename = filename
        self._cache: dict[int, str] = {}

    def __len__(self) -> int:
        return int(self.starts.size)

    def __getitem__(self, index: int) -> str:
        index = int(index)
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        if not 0 <= index < self.starts.size:
            raise SnapshotFormatError(f"{self.filename}: string index {index} is out of range")
        raw = self.blob[int(self.starts[index]) : int(self.ends[index])]
        if b"\\" in raw:
            try:
                text = json.loads(b'"' + raw + b'"')
            except ValueError:
                raise SnapshotFormatError(
                    f"{self.filename}: string #{index} is not a valid JSON string"
                ) from None
        else:
            text = raw.decode("utf-8", errors="replace")
        self._cache[index] = text
        return text

    def indices_with_prefix(self, prefix: str) -> list[int]:
        """Every index whose string starts with `prefix` (plain ASCII prefixes: no escapes to undo)."""
        needle = b'"' + prefix.encode("ascii")
        found = []
        at = self.blob.find(needle)
        while at >= 0:
            index = int(np.searchsorted(self.starts, at + 1))
            if index < self.starts.size and self.starts[index] == at + 1:
                found.append(index)
            at = self.blob.find(needle, at + 1)
        return found

    def indices_of(self, text: str) -> list[int]:
        """Every index whose string equals `text` (V8 interns names, so usually one)."""
        encoded = json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8")
        needle = b'"' + encoded + b'"'
        found = []
        at = self.blob.find(needle)
        while at >= 0:
            index = int(np.searchsorted(self.starts, at + 1))
            if index < self.starts.size and self.starts[index] == at + 1 and self.ends[index] == at + 1 + len(
                encoded
            ):
                found.append(index)
            at = self.blob.find(needle, at + 1)
        return found


def read_strings(src: SnapshotFile, start: int) -> tuple[int, StringTable]:
    end, starts, ends = scan_json_array(src, start, "strings", collect_strings=True)
    if starts.size != ends.size:
        src.fail("section 'strings' is malformed")
    blob = bytes(src.mm[start:end])
    src.release(start, end)
    return end, StringTable(blob, starts, ends, src.path)


# CHUNK_BYTES, MAX_DIGITS, DigitParser, SnapshotFile and scan_json_array are scan.py's; they were
# parse.py's before, and are still found here (the parser reads scan.CHUNK_BYTES: patch that one).
__all__ = [
    "CHUNK_BYTES", "HEADER_BYTES", "MAX_DIGITS", "ColumnSink", "DigitParser", "FlatSink", "SelectSink",
    "SnapshotFile", "StringTable", "iter_sections", "read_header", "read_strings", "scan_json_array",
]

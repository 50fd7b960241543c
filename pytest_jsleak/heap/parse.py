"""Streaming reader of V8 `.heapsnapshot` files into flat numpy arrays.

The file is memory-mapped and walked once, section by section. The big numeric sections
(`nodes`, `edges`) are decoded in small chunks by a vectorised digit parser and written straight
into preallocated per-field columns, so the file's text is never held in memory and no Python
object is made per node or per edge. Chunks stay small (256 KiB of text) on purpose: on this kind
of VM the first touch of fresh memory costs about 3 s per GiB, so reusing small scratch buffers is
faster than big temporaries. Pages already read are dropped from the mapping (MADV_DONTNEED), so
the resident size stays bounded by the arrays, not by the file.

Digit parsing: every number is loaded as the 8 bytes that end at its last digit (one gather from an
unaligned, byte-strided uint64 view), the bytes before its first digit are masked off, and the
8 ASCII digits are combined with three SWAR multiply-shift steps. Numbers of 9 to 16 digits take a
second window. bench/README.md compares this with `np.fromstring(..., count=)` and pysimdjson.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import re
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from pytest_jsleak.errors import SnapshotFormatError
from pytest_jsleak.heap.meta import SnapshotMeta, parse_meta

CHUNK_BYTES = 1 << 18
"""Text decoded per step. Small enough that scratch buffers are reused (see module docstring)."""
HEADER_BYTES = 1 << 20
MAX_DIGITS = 16

_WS = re.compile(rb"[ \t\r\n]*")
_KEY = re.compile(rb'"([A-Za-z_0-9]*)"[ \t\r\n]*:[ \t\r\n]*')
_SNAPSHOT_KEY = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"snapshot"[ \t\r\n]*:[ \t\r\n]*')

_U64 = np.uint64
_LOW_NIBBLES = _U64(0x0F0F0F0F0F0F0F0F)
_PAIR_MASK = _U64(0x00FF00FF00FF00FF)
_QUAD_MASK = _U64(0x0000FFFF0000FFFF)
_PAIR_MUL = _U64(10 * 256 + 1)
_QUAD_MUL = _U64(100 * 65536 + 1)
_OCT_MUL = _U64(10000 * (1 << 32) + 1)
_SHIFT8 = _U64(8)
_SHIFT16 = _U64(16)
_SHIFT32 = _U64(32)
_HUNDRED_MILLION = _U64(100_000_000)


class SnapshotFile:
    """One snapshot file, memory-mapped, with error messages that name it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            with open(self.path, "rb") as handle:
                self.size = os.fstat(handle.fileno()).st_size
                if self.size == 0:
                    self.fail("the file is empty")
                self.mm = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as error:
            raise SnapshotFormatError(f"{self.path}: cannot read: {error.strerror or error}") from None

    def fail(self, message: str) -> NoReturn:
        raise SnapshotFormatError(f"{self.path}: {message}")

    def close(self) -> None:
        mm = getattr(self, "mm", None)
        if mm is not None:
            # A view may still be exported (BufferError); the GC closes the map then.
            with contextlib.suppress(BufferError):
                mm.close()

    def __enter__(self) -> SnapshotFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def skip_ws(self, pos: int) -> int:
        match = _WS.match(self.mm, pos)
        return match.end() if match else pos

    def byte_at(self, pos: int) -> int:
        return self.mm[pos] if pos < self.size else -1

    def release(self, start: int, end: int) -> int:
        """Drop the whole pages in [start, end) from this process (they stay in the page cache).

        Returns the new start: `end` rounded down to a page when something was dropped, else
        `start`. Each reader releases only its own section, so two threads can read two
        sections of one file at once.
        """
        first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
        last = (end // mmap.PAGESIZE) * mmap.PAGESIZE
        if last - first >= (16 << 20) and hasattr(self.mm, "madvise"):
            self.mm.madvise(mmap.MADV_DONTNEED, first, last - first)
            return last
        return start

    def where(self, pos: int) -> str:
        return f"byte {pos}"


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


# --- numeric arrays ----------------------------------------------------------------------------


class DigitParser:
    """Decodes runs of comma-separated non-negative integers, chunk by chunk, into uint64."""

    def __init__(self, src: SnapshotFile) -> None:
        self.src = src
        size = CHUNK_BYTES + 32
        self.pad = np.empty(size, np.uint8)
        self.digit = np.empty(size, np.bool_)
        self.other = np.empty(size, np.bool_)
        self.change = np.empty(size, np.bool_)
        # A uint64 view at every byte offset: element i is the 8 bytes pad[i:i+8].
        self.windows = np.ndarray((size - 7,), dtype=np.uint64, buffer=self.pad, strides=(1,))

    def numbers(
        self,
        start: int,
        what: str,
        on_chunk: Callable[[np.ndarray, int], None],
        *,
        stride: int = 1,
        keep: int | None = None,
    ) -> tuple[int, int]:
        """Decode the array whose '[' is at `start`; call on_chunk(values, index of first).

        With `keep`, only numbers whose index % stride == keep are decoded (the rest are only
        counted), and on_chunk gets those with the index of the first kept number's row.
        Returns (position after ']', count of numbers).
        """
        src = self.src
        mm = src.mm
        if src.byte_at(start) != ord("["):
            src.fail(f"section '{what}' is not an array (byte {start})")
        close = mm.find(b"]", start + 1)
        if close < 0:
            src.fail(f"the file is truncated inside section '{what}' (no closing ']')")
        pos = start + 1
        released = pos
        total = 0
        commas = 0
        while pos < close:
            limit = pos + CHUNK_BYTES
            if limit < close:
                cut = mm.rfind(b",", pos, limit)
                if cut < 0:
                    src.fail(f"section '{what}': no ',' in {CHUNK_BYTES} bytes at byte {pos}")
                next_pos = cut + 1
                commas += 1
            else:
                cut = close
                next_pos = close
            count = self._chunk(pos, cut, what, on_chunk, total, stride, keep)
            commas += self._commas
            total += count
            pos = next_pos
            released = src.release(released, pos)
        if (total and commas != total - 1) or (not total and commas):
            src.fail(f"section '{what}' has an empty element (',,' or a trailing ',')")
        return close + 1, total

    def _chunk(
        self,
        pos: int,
        cut: int,
        what: str,
        on_chunk: Callable[[np.ndarray, int], None],
        first_index: int,
        stride: int,
        keep: int | None,
    ) -> int:
        length = cut - pos
        used = length + 16
        pad = self.pad[:used]
        pad[:8] = 44
        pad[8 : 8 + length] = np.frombuffer(self.src.mm, np.uint8, length, pos)
        pad[8 + length :] = 44
        digit = self.digit[:used]
        other = self.other[:used]
        # '0'..'9' are 48..57: subtract in place (uint8 wraps) and compare. The SWAR step keeps
        # only low nibbles, which the subtraction leaves as they were; ',' is now 252, '\n' 218.
        np.subtract(pad, 48, out=pad)
        np.less(pad, 10, out=digit)
        np.equal(pad, 252, out=other)
        self._commas = int(np.count_nonzero(other)) - 16
        digits = int(np.count_nonzero(digit))
        np.equal(pad, 218, out=other)
        newlines = int(np.count_nonzero(other))
        if digits + self._commas + newlines + 16 != used:
            self._check_characters(pad, pos, what)
        change = self.change[: used - 1]
        np.not_equal(digit[1:], digit[:-1], out=change)
        edges = np.flatnonzero(change)
        edges += 1
        starts = edges[0::2]
        ends = edges[1::2]
        count = ends.size
        if keep is not None:
            first = (keep - first_index) % stride
            starts = starts[first::stride]
            ends = ends[first::stride]
            first_index = (first_index + first) // stride
        if ends.size:
            values = self._decode(starts, ends, pos, what)
            on_chunk(values, first_index)
        return count

    def _decode(self, starts: np.ndarray, ends: np.ndarray, pos: int, what: str) -> np.ndarray:
        lengths = ends - starts
        longest = int(lengths.max())
        if longest > MAX_DIGITS:
            at = pos + int(starts[int(np.argmax(lengths))]) - 8
            self.src.fail(f"section '{what}': a number with more than {MAX_DIGITS} digits at byte {at}")
        values = _swar(self.windows, ends, lengths, 8)
        if longest > 8:
            long = np.flatnonzero(lengths > 8)
            high = _swar(self.windows, ends[long] - 8, lengths[long] - 8, 8)
            high *= _HUNDRED_MILLION
            values[long] += high
        return values

    def _check_characters(self, pad: np.ndarray, pos: int, what: str) -> None:
        allowed = np.zeros(256, np.bool_)
        allowed[48:58] = True
        allowed[[9, 10, 13, 32, 44]] = True
        pad = pad + np.uint8(48)  # undo the in-place subtraction of _chunk
        bad = np.flatnonzero(~allowed[pad])
        if bad.size:
            offset = int(bad[0])
            char = chr(int(pad[offset]))
            self.src.fail(f"section '{what}': unexpected character {char!r} at byte {pos + offset - 8}")


# For a number of n digits (n <= 8), the mask keeps the low nibble of its n digit bytes, which
# are the n *high* bytes of the little-endian window that ends at its last digit.
_DIGIT_MASKS = np.array(
    [0x0F0F0F0F0F0F0F0F & ((1 << 64) - (1 << (8 * (8 - min(n, 8))))) for n in range(MAX_DIGITS + 1)],
    dtype=np.uint64,
)


def _swar(windows: np.ndarray, ends: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """The value of the up-to-8 digits that end at each `ends` (exclusive) in the padded chunk."""
    # np.take is ~2.5x faster than fancy indexing on this byte-strided, unaligned view.
    values = np.take(windows, ends - 8)
    values &= np.take(_DIGIT_MASKS, lengths)
    values *= _PAIR_MUL
    values >>= _SHIFT8
    values &= _PAIR_MASK
    values *= _QUAD_MUL
    values >>= _SHIFT16
    values &= _QUAD_MASK
    values *= _OCT_MUL
    values >>= _SHIFT32
    return values


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


# --- string and nested arrays ------------------------------------------------------------------


def scan_json_array(src: SnapshotFile, start: int, what: str, *, collect_strings: bool
                    ) -> tuple[int, np.ndarray, np.ndarray]:
    """Find the end of the JSON array at `start`, skipping brackets inside strings.

    Returns (position after the closing ']', starts, ends) where starts/ends are the byte ranges
    of the strings' contents relative to `start` (only when collect_strings).
    """
    mm = src.mm
    if src.byte_at(start) != ord("["):
        src.fail(f"section '{what}' is not an array (byte {start})")
    # Offsets relative to `start`, as uint32 while the section is below 4 GiB.
    offset_type = np.uint32 if src.size - start < (1 << 32) else np.int64
    pos = start + 1
    inside = False
    depth = 1
    quotes: list[np.ndarray] = []
    step = 1 << 22
    while True:
        if pos >= src.size:
            src.fail(f"the file is truncated inside section '{what}'")
        length = min(step, src.size - pos)
        chunk = np.frombuffer(mm, np.uint8, length, pos)
        found = np.flatnonzero(chunk == 34)
        escaped = found[(found > 0) & (chunk[np.maximum(found - 1, 0)] == 92)]
        if found.size and found[0] == 0 and pos > 0 and mm[pos - 1] == 92:
            escaped = np.concatenate(([0], escaped))
        if escaped.size:
            drop = [int(q) for q in escaped if _backslashes_before(mm, pos + int(q)) % 2 == 1]
            if drop:
                found = np.setdiff1d(found, np.asarray(drop, dtype=found.dtype), assume_unique=True)
        brackets = np.flatnonzero((chunk == 91) | (chunk == 93))
        del chunk
        end = -1
        if brackets.size:
            before = np.searchsorted(found, brackets)
            outside = brackets[(before + int(inside)) % 2 == 0]
            if outside.size:
                bracket_bytes = np.frombuffer(mm, np.uint8, length, pos)[outside]
                steps = np.where(bracket_bytes == 91, 1, -1)
                levels = depth + np.cumsum(steps)
                closed = np.flatnonzero(levels == 0)
                if closed.size:
                    end = int(outside[closed[0]])
                else:
                    depth = int(levels[-1])
        if end >= 0:
            found = found[found < end]
            if collect_strings:
                quotes.append((found + (pos - start)).astype(offset_type))
            if (len(found) + int(inside)) % 2:
                src.fail(f"section '{what}': an unterminated string")
            break
        if collect_strings:
            quotes.append((found + (pos - start)).astype(offset_type))
        inside = (len(found) + int(inside)) % 2 == 1
        pos += length
    all_quotes = np.concatenate(quotes) if quotes else np.zeros(0, offset_type)
    del quotes
    starts = all_quotes[0::2] + 1
    ends = np.ascontiguousarray(all_quotes[1::2])
    return pos + end + 1, starts, ends


def _backslashes_before(mm: mmap.mmap, pos: int) -> int:
    count = 0
    while pos - count - 1 >= 0 and mm[pos - count - 1] == 92:
        count += 1
    return count


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

"""The low-level scanning of a V8 `.heapsnapshot` file: the mapped file, its numbers, its arrays' ends.

The file is memory-mapped (`SnapshotFile`). The big numeric sections (`nodes`, `edges`) are decoded
in small chunks by a vectorised digit parser (`DigitParser`), which hands each chunk's values to a
sink, so the file's text is never held in memory and no Python object is made per node or per edge.
Chunks stay small (256 KiB of text) on purpose: on this kind of VM the first touch of fresh memory
costs about 3 s per GiB, so reusing small scratch buffers is faster than big temporaries. Pages
already read are dropped from the mapping (MADV_DONTNEED), so the resident size stays bounded by the
arrays, not by the file. `scan_json_array` finds where a string or nested array ends without decoding it.

Digit parsing: every number is loaded as the 8 bytes that end at its last digit (one gather from an
unaligned, byte-strided uint64 view), the bytes before its first digit are masked off, and the
8 ASCII digits are combined with three SWAR multiply-shift steps. Numbers of 9 to 16 digits take a
second window. bench/README.md compares this with `np.fromstring(..., count=)` and pysimdjson.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
from collections.abc import Callable
from typing import NoReturn

import numpy as np

from pytest_jsleak.errors import SnapshotFormatError

CHUNK_BYTES = 1 << 18
"""Text decoded per step. Small enough that scratch buffers are reused (see module docstring)."""
MAX_DIGITS = 16

_WS = re.compile(rb"[ \t\r\n]*")

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


__all__ = ["CHUNK_BYTES", "MAX_DIGITS", "DigitParser", "SnapshotFile", "scan_json_array"]

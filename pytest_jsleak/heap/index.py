"""The processed-snapshot cache: what an analysis read and computed from a snapshot, kept beside it.

`s3.heapsnapshot` gets `s3.heapsnapshot.jsleak-index` the first time `jsleak diff` analyses it: the
parsed columns and strings, the sorted ids, the BFS tree, the dominator tree, the class keys and the
keyed sizes that growth in place compares. The next diff of the same file starts from those instead
of the JSON (a 122 MB snapshot takes ~1.5 s to parse and analyse; its index maps in milliseconds and
is read lazily, page by page, as the analysis touches it).

An index is safe to delete and never trusted when stale: it names the snapshot's size and
modification time and a digest of this package's heap core (every rule that shapes what it holds),
and is ignored when any of them differs, when it is truncated, or when an array's length does not
fit the snapshot. It is written to a temporary file and renamed, so a reader never sees half of one;
a folder that cannot be written to simply gets no index.

The file: the magic `JSLEAKIX`, the length of a JSON header (little-endian uint64), the header
(`key`, the arrays' dtype, shape and offset, and small JSON values), then each array's bytes at a
64-byte aligned offset. Arrays are mapped copy-on-write: the analyses may write into them, the file
never changes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import mmap
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: Bump when the layout of what is stored changes; the code digest covers changes of the rules.
FORMAT = 1
SUFFIX = ".jsleak-index"
MAGIC = b"JSLEAKIX"
ALIGN = 64
#: A header larger than this is not ours (the largest real one, with a trace tree, is a few MB).
MAX_HEADER_BYTES = 256 << 20


def index_path(snapshot: str | os.PathLike[str]) -> str:
    """Where the index of `snapshot` lives: beside it, its name plus `.jsleak-index`."""
    return os.fspath(snapshot) + SUFFIX


@functools.cache
def code_digest() -> str:
    """A digest of the heap core's source: an index built by other rules is stale."""
    digest = hashlib.blake2b(digest_size=12)
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def snapshot_key(snapshot: str | os.PathLike[str]) -> dict[str, Any]:
    """What an index of `snapshot` must name to be trusted."""
    stat = os.stat(snapshot)
    return {"format": FORMAT, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "code": code_digest()}


class SnapshotIndex:
    """The entries of one snapshot's index: named arrays and small JSON values.

    `load` gives the entries a valid index holds (none when there is no index, or a stale or broken
    one); `put` adds entries; `save` writes them all, old and new, when something was added.
    """

    def __init__(self, snapshot: str | os.PathLike[str], key: dict[str, Any],
                 arrays: dict[str, np.ndarray] | None = None, values: dict[str, Any] | None = None) -> None:
        self.snapshot = os.fspath(snapshot)
        self.key = key
        self.arrays: dict[str, np.ndarray] = arrays or {}
        self.values: dict[str, Any] = values or {}
        self.changed = False

    @classmethod
    def load(cls, snapshot: str | os.PathLike[str]) -> SnapshotIndex:
        key = snapshot_key(snapshot)
        index = cls(snapshot, key)
        try:
            found = _read(index_path(snapshot), key)
        except (OSError, ValueError, KeyError, TypeError, struct.error):
            found = None  # broken or foreign: ignored, and replaced by the next save
        if found is not None:
            index.arrays, index.values = found
        return index

    def has(self, *names: str) -> bool:
        return all(name in self.arrays or name in self.values for name in names)

    def put(self, arrays: Mapping[str, np.ndarray] | None = None, values: Mapping[str, Any] | None = None) -> None:
        for name, array in (arrays or {}).items():
            if name not in self.arrays:
                self.arrays[name] = np.ascontiguousarray(array)
                self.changed = True
        for name, value in (values or {}).items():
            if name not in self.values:
                self.values[name] = value
                self.changed = True

    def save(self) -> bool:
        """Write the index if entries were added; False when the folder cannot take it (no error:
        the cache is an optimisation)."""
        if not self.changed:
            return True
        # The snapshot may have changed since it was read: then what was computed is not its.
        try:
            if snapshot_key(self.snapshot) != self.key:
                return False
            _write(index_path(self.snapshot), self.key, self.arrays, self.values)
        except OSError:
            return False
        self.changed = False
        return True


def _read(path: str, key: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    try:
        handle = open(path, "rb")  # noqa: SIM115 - the map outlives the file object
    except FileNotFoundError:
        return None
    with handle:
        head = handle.read(len(MAGIC) + 8)
        if len(head) < len(MAGIC) + 8 or head[: len(MAGIC)] != MAGIC:
            return None
        (length,) = struct.unpack("<Q", head[len(MAGIC):])
        if length > MAX_HEADER_BYTES:
            return None
        header = json.loads(handle.read(length))
        if header.get("key") != key:
            return None
        size = os.fstat(handle.fileno()).st_size
        spans = header["arrays"]
        if any(int(offset) + int(nbytes) > size for _, _, offset, nbytes in spans.values()):
            return None  # truncated
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY) if size else None
    arrays = {}
    for name, (dtype, shape, offset, nbytes) in spans.items():
        kind = np.dtype(dtype)
        count = int(nbytes) // kind.itemsize
        if mapped is None or count == 0:
            arrays[name] = np.zeros(shape, kind)
            continue
        arrays[name] = np.frombuffer(mapped, kind, count=count, offset=int(offset)).reshape(shape)
    return arrays, header["values"]


def _write(path: str, key: dict[str, Any], arrays: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> None:
    spans: dict[str, list[Any]] = {}
    # The header holds the offsets, and its length moves them: lay the arrays out after a header
    # sized with room to spare, then pad the real header to that size.
    def layout(start: int) -> int:
        offset = start
        for name, array in arrays.items():
            offset = -(-offset // ALIGN) * ALIGN
            spans[name] = [array.dtype.str, list(array.shape), offset, int(array.nbytes)]
            offset += int(array.nbytes)
        return offset

    def header_bytes() -> bytes:
        return json.dumps({"key": key, "arrays": spans, "values": values}, separators=(",", ":")).encode()

    layout(0)
    reserved = -(-(len(header_bytes()) + 256) // ALIGN) * ALIGN
    layout(len(MAGIC) + 8 + reserved)
    header = header_bytes()
    if len(header) > reserved:
        raise AssertionError("index header outgrew its reservation")  # offsets only grow by digits
    header += b" " * (reserved - len(header))
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".jsleak-index-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC + struct.pack("<Q", len(header)) + header)
            for name, array in arrays.items():
                offset = spans[name][2]
                out.write(b"\0" * (offset - out.tell()))
                if array.size:
                    out.write(np.ascontiguousarray(array).reshape(-1).data.cast("B"))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


__all__ = ["FORMAT", "SUFFIX", "SnapshotIndex", "code_digest", "index_path", "snapshot_key"]

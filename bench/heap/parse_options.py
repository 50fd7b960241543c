"""Which way to turn the `nodes`/`edges` text of a snapshot into integers is fastest here?

    python bench/heap/parse_options.py [SNAPSHOT]     (default: the medium set's s3)

Times, on the same file and in the same 256 KiB chunks (cut at a comma), each in a fresh
process so that first-touch memory costs are counted the same way:

- `fromstring`: numpy's C text parser, `np.fromstring(chunk, sep=",", count=...)`;
- `simdjson`: pysimdjson, each chunk wrapped in `[...]`, `Array.as_buffer(of_type="i")`;
- `swar`: pytest_jsleak.heap.scan's digit parser (one 8-byte window per number) on the mapped
  file, values thrown away like the others';
- `read_snapshot`: for reference, the whole single-threaded read (also strings, checks and the
  columns' first-touch memory).

pysimdjson is only needed for this script (pip install pysimdjson); it is not a dependency.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CHUNK = 1 << 18
DEFAULT = Path(__file__).resolve().parents[1] / ".scratch" / "heap" / "medium" / "s3.heapsnapshot"


def sections(data: bytes) -> list[bytes]:
    out = []
    for key in (b'"nodes":[', b'"edges":['):
        start = data.index(key) + len(key)
        out.append(data[start : data.index(b"]", start)])
    return out


def chunks(text: bytes):
    pos = 0
    while pos < len(text):
        end = min(pos + CHUNK, len(text))
        if end < len(text):
            end = text.rindex(b",", pos, end)
        yield text[pos:end]
        pos = end + 1


def run_fromstring(texts: list[bytes]) -> int:
    total = 0
    for text in texts:
        for chunk in chunks(text):
            count = chunk.count(b",") + 1
            total += np.fromstring(chunk, dtype=np.int64, sep=",", count=count).size
    return total


def run_simdjson(texts: list[bytes]) -> int:
    import simdjson

    parser = simdjson.Parser()
    total = 0
    for text in texts:
        for chunk in chunks(text):
            array = parser.parse(b"[" + chunk + b"]")
            total += np.frombuffer(array.as_buffer(of_type="i"), np.int64).size
            del array
    return total


def run_swar(path: Path) -> int:
    """The digit parser alone, on the same two sections, values thrown away like the others'."""
    from pytest_jsleak.heap import scan

    total = 0
    with scan.SnapshotFile(path) as src:
        parser = scan.DigitParser(src)
        for key in (b'"nodes":[', b'"edges":['):
            at = src.mm.find(key) + len(key) - 1
            _, count = parser.numbers(at, key.decode(), lambda values, first: None)
            total += count
    return total


def run_read_snapshot(path: Path) -> int:
    """For reference: the whole `read_snapshot` (header, strings, checks, the columns' memory)."""
    from pytest_jsleak.heap import read_snapshot

    snap = read_snapshot(path, parallel=False)
    return snap.node_count * snap.meta.node_field_count + snap.edge_count * snap.meta.edge_field_count


def child(option: str, path: Path) -> None:
    # Same allocator setting as the `jsleak` process for every option, and the file's reading
    # inside the timing for every option.
    from pytest_jsleak.cli import keep_freed_memory

    keep_freed_memory()
    started = time.perf_counter()
    if option == "swar":
        count = run_swar(path)
    elif option == "read_snapshot":
        count = run_read_snapshot(path)
    else:
        texts = sections(path.read_bytes())
        count = {"fromstring": run_fromstring, "simdjson": run_simdjson}[option](texts)
    print(f"{option} {time.perf_counter() - started:.3f} {count}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]))
        return
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    size = sum(len(t) for t in sections(path.read_bytes())) / 1e6
    print(f"{path.name}: {size:.0f} MB of nodes+edges text")
    print("| option | seconds (best of 3) | MB/s | numbers |")
    print("|---|---|---|---|")
    for option in ("fromstring", "simdjson", "swar", "read_snapshot"):
        best = None
        for _ in range(3):
            done = subprocess.run([sys.executable, __file__, "--child", option, str(path)],
                                  capture_output=True, text=True, check=False)
            if done.returncode:
                print(f"| {option} | failed: {done.stderr.strip().splitlines()[-1]} | | |")
                break
            _, seconds, count = done.stdout.split()
            best = min(best or float(seconds), float(seconds))
        if best:
            print(f"| {option} | {best:.2f} | {size / best:.0f} | {int(count):,} |")


if __name__ == "__main__":
    main()

"""`jsleak redact` speed and memory on the diff benchmark's snapshots and on a real program's heap.

    python bench/heap/bench_redact.py [--sets small,medium,real] [--repeat N]

Sets: `small`, `medium`, `large` are bench_diff.py's generated S3 files (made on first use);
`real` is one snapshot of a Node process holding npm's dependency tree and its packages' metadata
(bench/heap/real_heap.mjs). Each run is a whole `python -m pytest_jsleak redact IN -o OUT --force`
process, stdin from /dev/null; wall time and peak RSS from os.wait4, best of N; "of which redaction"
is the command's own timer (no interpreter start-up or imports), from which MB/s is computed; CPU
is user + system time, which a shared machine inflates less than the wall time. Also
printed: a whole process that only runs `read_snapshot` on the same file (the parse a check
already does), for scale.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from bench_diff import SCRATCH, generate  # noqa: E402


def real_snapshot() -> Path:
    target = SCRATCH / "heap" / "real" / "npm-heap.heapsnapshot"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["node", "--expose-gc", str(HERE / "real_heap.mjs"), str(target)], check=True,
                       stdin=subprocess.DEVNULL)
    return target


def run(command: list[str]) -> tuple[float, int, str, float]:
    """(wall seconds, peak RSS in MiB, stdout, CPU seconds) of one whole process, from wait4."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        out = os.open(str(SCRATCH / "redact-stdout.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.environ["PYTHONPATH"] = str(REPO)
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{command} failed")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss // 1024, (SCRATCH / "redact-stdout.txt").read_text(), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="small,medium,real")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| set | file | strings redacted / all | output | `jsleak redact` process: wall (CPU) | of which redaction |"
          " MB/s | peak RSS | a `read_snapshot` process: wall (CPU), RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.sets.split(","):
        source = real_snapshot() if name == "real" else generate(name)[2]
        target = source.with_name(source.stem + ".redacted.heapsnapshot")
        best = None
        for _ in range(args.repeat):
            measured = run([sys.executable, "-m", "pytest_jsleak", "redact", str(source), "-o", str(target), "--force"])
            if best is None or measured[0] < best[0]:
                best = measured
        wall, peak, out, cpu = best
        parse, parse_peak, _, parse_cpu = run([sys.executable, "-c",
                                               f"from pytest_jsleak import heap; heap.read_snapshot({str(source)!r})"])
        size = source.stat().st_size / 1e6
        counts = out.split(": ", 1)[1].split(" strings", 1)[0]
        own = float(out.rsplit(" in ", 1)[1].split(" s", 1)[0])  # the CLI's own timer: no start-up, no imports
        print(f"| {name} | {size:.1f} MB | {counts} | {target.stat().st_size / 1e6:.1f} MB |"
              f" {wall:.2f} s ({cpu:.2f} s) | {own:.2f} s | {size / own:.0f} | {peak} MiB |"
              f" {parse:.2f} s ({parse_cpu:.2f} s), {parse_peak} MiB |")


if __name__ == "__main__":
    main()

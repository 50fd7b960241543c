"""The watchdog that stops every spawned runtime and server when the Python process that spawned them dies.

Run by `proctree` as `python -I -S watchdog.py FD` (standard library only: it starts in ~20 ms).
It forks at once and its first half exits, so the watchdog itself is nobody's child (tests that
count their children do not see it) and no terminal signal aimed at pytest's group reaches it.
It then reads lines from the pipe at FD, whose only write end is held by the spawning process:

    watch <pid> <run id>     a process group was started with `JSLEAK_RUN_ID=<run id>`, led by <pid>
    unwatch <run id>         that group was stopped by the spawning process itself

End of file means the spawning process is gone (exited, or killed with SIGKILL, which no handler
can see). If any group is still watched, everything rooted in it is killed: the processes carrying
its marker, their descendants, and the members of its process group. Then the watchdog exits.
Linux only: it reads /proc.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

#: How many times the sweep looks again: a process that forked during the first look is found by the next.
SWEEPS = 4
#: The pause between two looks: long enough for an exec in flight to complete.
SWEEP_PAUSE = 0.05


def read_table() -> dict[int, tuple[int, int, bytes]]:
    """Every process we can read: pid → (parent pid, process group, environment block)."""
    table: dict[int, tuple[int, int, bytes]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
                fields = stat.read().rsplit(b")", 1)[1].split()
            ppid, pgrp = int(fields[1]), int(fields[2])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        try:
            with open(f"/proc/{pid}/environ", "rb") as env:
                environ = env.read()
        except OSError:
            environ = b""  # not ours to read: never marked
        table[pid] = (ppid, pgrp, environ)
    return table


def victims(table: dict[int, tuple[int, int, bytes]], watched: dict[str, int], me: int) -> set[int]:
    """The processes rooted in a watched group: marked, descending from a marked one, or in a marked group."""
    markers = {f"JSLEAK_RUN_ID={run_id}".encode() for run_id in watched}
    marked = {pid for pid, (_, _, environ) in table.items() if markers.intersection(environ.split(b"\0"))}
    leaders = set(watched.values())
    # A group counts only while one of its members carries a marker: its id cannot be another's then.
    groups = {table[pid][1] for pid in marked} & leaders
    found = marked | {pid for pid, (_, pgrp, _) in table.items() if pgrp in groups}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    found.discard(me)
    return found


def sweep(watched: dict[str, int]) -> None:
    me = os.getpid()
    for _ in range(SWEEPS):
        found = victims(read_table(), watched, me)
        if not found:
            return
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(SWEEP_PAUSE)


def main(argv: list[str]) -> int:
    fd = int(argv[1])
    if os.fork() > 0:
        os._exit(0)  # the first half: the spawning process reaps it at once
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C ends pytest, and pytest's end ends us
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    watched: dict[str, int] = {}
    pending = b""
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except InterruptedError:
            continue
        except OSError:
            break
        if not data:
            break
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            parts = line.decode(errors="replace").split()
            if len(parts) == 3 and parts[0] == "watch" and parts[1].isdigit():
                watched[parts[2]] = int(parts[1])
            elif len(parts) == 2 and parts[0] == "unwatch":
                watched.pop(parts[1], None)
    if watched:
        sweep(watched)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

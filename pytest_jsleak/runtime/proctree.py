"""Process trees of spawned runtimes and servers: finding them, killing them, and tying them to our life.

Every runtime (`HarnessProcess`) and server (`ServiceProcess`) starts in a session of its own, so
one `killpg` reaches what it started, and carries `JSLEAK_RUN_ID` in its environment, which its
children inherit, so that those that left the group are still found.

`close()` stops a tree; a crashed or killed pytest never gets to call it. On Linux a watchdog
covers that (`watch`, `unwatch`): one small process per spawning Python process, started with the
first spawn, holding the read end of a pipe whose write end only we hold. The kernel closes it when
we die however we die (SIGKILL included); at end of file the watchdog kills every group still
watched, their descendants and every process carrying a watched marker (see `watchdog.py`).
`PR_SET_PDEATHSIG` alone would not do: it fires when the *thread* that forked exits (pytest runs
checks from several threads: xdist's, a service's output drainer) and reaches only the direct child,
never the workers a server starts. The cost per spawned process is one short write to a pipe;
starting the watchdog once costs ~20 ms. Elsewhere `watch` and `unwatch` do nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil

#: Inherited by every process a runtime or server starts, so that escaped ones can still be found.
RUN_ID_VAR = "JSLEAK_RUN_ID"
#: The watchdog script (standard library only, run with `python -I -S`).
WATCHDOG_SCRIPT = Path(__file__).with_name("watchdog.py")
#: How long the watchdog's first half may take to fork and exit.
WATCHDOG_START_TIMEOUT = 10.0
#: Where the watchdog can work: it reads /proc.
WATCHDOG_SUPPORTED = sys.platform.startswith("linux")


def kill_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group `popen` leads, then `popen` itself, and reap it.

    Also a weakref finalizer: it must not refer to the object that owns `popen`.
    """
    # start_new_session made the process a group leader: one signal reaches every process it
    # started that did not leave the group, even after the leader died.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    try:
        popen.kill()
        popen.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        pass


def end_group(popen: subprocess.Popen[bytes], run_id: str) -> None:
    """`kill_group`, then tell the watchdog that the group is ours no more (a finalizer too)."""
    kill_group(popen)
    unwatch(run_id)


def descendants(pid: int) -> list[psutil.Process]:
    """Every living descendant of `pid` (children first); empty when `pid` is gone."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def marked_processes(run_id: str) -> list[psutil.Process]:
    """The processes whose environment carries `JSLEAK_RUN_ID=run_id`."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(RUN_ID_VAR) == run_id:
                found.append(proc)
        except psutil.Error:
            continue  # gone, or not ours to read
    return found


def kill_all(processes: list[psutil.Process]) -> None:
    """SIGKILL each of `processes` that still runs."""
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def signal_name(number: int) -> str:
    """`SIGKILL` for 9; `signal 99` for a number without a name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# --- the watchdog ----------------------------------------------------------------------------------


class _Watchdog:
    """This process's end of the pipe to its watchdog, and what it was told is running."""

    def __init__(self) -> None:
        # Re-entrant: `unwatch` also runs from weakref finalizers, which the GC may call from any
        # allocation, including one inside `send` on the same thread.
        self.lock = threading.RLock()
        self.starting = False
        self.fd = -1
        self.owner = 0  # the pid that opened `fd`: a forked child must not use its parent's
        self.watched: dict[str, int] = {}
        self.failed = False  # it could not be started: do not try on every spawn

    def send(self, line: str) -> None:
        with self.lock:
            if self.failed or self.starting:
                return  # while it starts, `watched` is the state: the backlog sends it
            for _attempt in range(2):
                if self.fd < 0 and not self._start():
                    return
                try:
                    os.write(self.fd, line.encode())
                    return
                except OSError:
                    # The watchdog died (someone killed it): a new one, told what still runs.
                    self._close()

    def _start(self) -> bool:
        self.starting = True
        try:
            return self._spawn()
        finally:
            self.starting = False

    def _spawn(self) -> bool:
        read_end, write_end = os.pipe()  # both non-inheritable: no other child gets the write end
        env = {key: value for key, value in os.environ.items() if key != RUN_ID_VAR}
        try:
            first_half = subprocess.Popen(
                [sys.executable, "-I", "-S", os.fspath(WATCHDOG_SCRIPT), str(read_end)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # never a pipe of ours: it would hold a capture open
                stderr=subprocess.DEVNULL,
                pass_fds=(read_end,),
                env=env,
                start_new_session=True,
            )
            first_half.wait(timeout=WATCHDOG_START_TIMEOUT)
        except (OSError, subprocess.SubprocessError):
            os.close(write_end)
            self.failed = True
            return False
        finally:
            os.close(read_end)
        self.fd, self.owner = write_end, os.getpid()
        backlog = "".join(f"watch {pid} {run_id}\n" for run_id, pid in self.watched.copy().items())
        if backlog:
            with contextlib.suppress(OSError):
                os.write(self.fd, backlog.encode())
        return True

    def _close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = -1

    def forked(self) -> None:
        # In a child forked without exec: its parent's watchdog guards those processes, not the child.
        self.lock = threading.RLock()
        self.starting = False
        self._close()
        self.watched.clear()
        self.failed = False


_WATCHDOG = _Watchdog()
if WATCHDOG_SUPPORTED:
    os.register_at_fork(after_in_child=_WATCHDOG.forked)


def watch(pid: int, run_id: str) -> None:
    """Have the group led by `pid`, marked `run_id`, killed if this process dies before `unwatch`."""
    if not WATCHDOG_SUPPORTED or not sys.executable:
        return
    _WATCHDOG.watched[run_id] = pid
    _WATCHDOG.send(f"watch {pid} {run_id}\n")


def unwatch(run_id: str) -> None:
    """The group marked `run_id` was stopped: forget it (idempotent)."""
    if _WATCHDOG.watched.pop(run_id, None) is not None:
        _WATCHDOG.send(f"unwatch {run_id}\n")


def watched() -> dict[str, int]:
    """The groups the watchdog guards now: run id → leader pid."""
    return _WATCHDOG.watched.copy()


__all__ = [
    "RUN_ID_VAR",
    "descendants",
    "end_group",
    "kill_all",
    "kill_group",
    "marked_processes",
    "signal_name",
    "unwatch",
    "watch",
    "watched",
]

"""Draining the target's stdout/stderr into a bounded tail, so a chatty target can neither block nor bloat us."""

from __future__ import annotations

import fcntl
import os
import select
import termios
import threading
import time
from collections.abc import Callable

#: Bytes kept of the target's output; error reports show the last few thousand characters.
DEFAULT_CAPACITY = 64 * 1024


class OutputTail:
    """A thread that reads one pipe to its end and keeps only its last `capacity` bytes.

    The runtime blocks once a pipe buffer (64 KiB) is full, so the pipe must be read all the time,
    not only when a report needs the output; keeping a bounded tail makes hundreds of MB cost
    nothing but the copying.
    """

    def __init__(
        self,
        fd: int,
        *,
        capacity: int = DEFAULT_CAPACITY,
        name: str = "jsleak-output",
        on_chunk: Callable[[bytes], None] | None = None,
    ) -> None:
        """`on_chunk`, when given, sees every chunk read, on the draining thread (it must not block)."""
        self._fd = fd
        self._on_chunk = on_chunk
        self._capacity = capacity
        self._tail = bytearray()
        self._total = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name=name, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        # Wait for data outside the lock, then read and store it under the lock: a chunk is never
        # out of the pipe and not yet in the tail while the lock is free (what `settle` relies on).
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            while True:
                try:
                    poller.poll()
                except InterruptedError:
                    continue
                with self._lock:
                    try:
                        chunk = os.read(self._fd, 1 << 16)
                    except OSError:
                        break
                    if not chunk:
                        break
                    self._total += len(chunk)
                    self._tail += chunk
                    excess = len(self._tail) - self._capacity
                    if excess > 0:
                        del self._tail[:excess]
                if self._on_chunk is not None:
                    self._on_chunk(chunk)
        finally:
            os.close(self._fd)

    @property
    def total_bytes(self) -> int:
        """How many bytes the target wrote in all."""
        with self._lock:
            return self._total

    def text(self, limit: int = 4000) -> str:
        """The last `limit` bytes of output, decoded as UTF-8 (undecodable bytes replaced)."""
        with self._lock:
            data = bytes(self._tail[-limit:]) if limit > 0 else b""
        # The cut may split a multi-byte character: drop its stray continuation bytes.
        return data.decode("utf-8", errors="replace").lstrip("\ufffd")

    def settle(self, timeout: float = 0.25) -> None:
        """Wait until what the target has written so far is in the tail (the pipe is empty)."""
        deadline = time.monotonic() + timeout
        buf = bytearray(4)
        while time.monotonic() < deadline and self._thread.is_alive():
            try:
                fcntl.ioctl(self._fd, termios.FIONREAD, buf)
            except OSError:
                return  # closed: the drain has ended
            if int.from_bytes(buf, "little") == 0:
                break
            time.sleep(0.002)
        # A chunk the drain thread has taken out of the pipe is stored before it lets go of the lock.
        with self._lock:
            pass

    def join(self, timeout: float) -> None:
        """Wait until the pipe reached its end (the process and its children are gone)."""
        self._thread.join(timeout)


__all__ = ["OutputTail"]

"""The runtime process that runs harness.mjs, started with its two pipes, and the bytes over them.

Commands go in on one pipe and events come out on another, whose fd numbers travel in the
environment (`JSLEAK_CMD_FD`, `JSLEAK_EVT_FD`); the target's stdout and stderr share a third. This
module only starts the process, writes commands and waits for events: what an event means, and what
a failure says, is process.py's business; how a line is encoded, protocol.py's.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_jsleak.errors import RuntimeNotFoundError
from pytest_jsleak.runtime.protocol import Event, EventDecoder, encode_command

#: The longest select() wait, so that a dead runtime is noticed even if a grandchild keeps the pipe open.
POLL_INTERVAL = 0.25


class Expired(Exception):
    """A wait for an event reached its deadline."""


class ChannelClosed(Exception):
    """The event pipe reached its end, or the runtime died while something else still holds it open."""


class HarnessChannel:
    """A started runtime (`popen`), the write end of its command pipe, the read end of its event pipe,
    and `output_fd`, the read end of its stdout and stderr (for an `OutputTail` to drain)."""

    def __init__(self, popen: subprocess.Popen[bytes], cmd_w: int, evt_r: int, output_fd: int) -> None:
        self.popen = popen
        self.output_fd = output_fd
        self._cmd_w = cmd_w
        self._evt_r = evt_r
        self._decoder = EventDecoder()
        self._events: deque[Event] = deque()
        self._eof = False

    @classmethod
    def spawn(
        cls, argv: Sequence[str], *, cwd: str | os.PathLike[str] | None, env: Mapping[str, str]
    ) -> HarnessChannel:
        """Start `argv` in a session of its own with the pipes; `RuntimeNotFoundError` if it cannot start."""
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        out_r, out_w = os.pipe()
        env = dict(env)
        env["JSLEAK_CMD_FD"] = str(cmd_r)
        env["JSLEAK_EVT_FD"] = str(evt_w)
        try:
            # pass_fds keeps the two channel ends at their numbers; dup2 in a preexec_fn would be
            # undone by close_fds (runtimes.md §8). A new session lets one killpg end the whole tree.
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(cmd_r, evt_w),
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (out_r, cmd_w, evt_r):
                os.close(fd)
            raise RuntimeNotFoundError(f"could not start {argv[0]}: {exc}") from exc
        finally:
            for fd in (cmd_r, evt_w, out_w):
                os.close(fd)
        return cls(popen, cmd_w, evt_r, out_r)

    def send(self, cmd: str, **kwargs: Any) -> None:
        """Write one command; `BrokenPipeError` when the harness is gone."""
        os.write(self._cmd_w, encode_command(cmd, **kwargs))

    def send_quietly(self, cmd: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self._cmd_w, encode_command(cmd))

    def end_commands(self) -> None:
        """Close the command pipe: at its end the harness exits, even if it missed the exit command."""
        os.close(self._cmd_w)
        self._cmd_w = -1

    def next_event(self, deadline: float) -> Event:
        """The next event; `Expired` once `deadline` (monotonic) has passed without one, `ChannelClosed`
        once no more can come."""
        while not self._events:
            if self._eof:
                raise ChannelClosed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Expired
            ready, _, _ = select.select([self._evt_r], [], [], min(remaining, POLL_INTERVAL))
            if not ready:
                if self.popen.poll() is not None:
                    self._eof = True  # dead, while a grandchild may still hold the pipe open
                continue
            data = os.read(self._evt_r, 1 << 16)
            if not data:
                self._eof = True
                continue
            self._events.extend(self._decoder.feed(data))
        return self._events.popleft()

    def close(self) -> None:
        """Close our ends of the command and event pipes (the output's is the `OutputTail`'s). Idempotent."""
        for fd in (self._cmd_w, self._evt_r):
            if fd >= 0:
                os.close(fd)
        self._cmd_w = self._evt_r = -1


__all__ = ["POLL_INTERVAL", "ChannelClosed", "Expired", "HarnessChannel"]

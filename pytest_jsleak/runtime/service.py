"""A running server (Node or Deno) driven from Python: spawn, readiness, inspector, cleanup.

`ServiceProcess` starts the user's command with `--expose-gc` and an inspector on a free loopback
port, passes a free port for the server in an environment variable, waits until it is ready and
keeps one CDP connection open until `close()`, which stops the whole process tree.

`InspectorDriver` drives one leak check on it: one iteration is one call of a Python `action`; heap
samples, GC and snapshots go through the inspector. It implements the measurement's `Driver`, so a
service check runs the same plan and verdict as a module scenario.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from pytest_jsleak.errors import (
    InspectorError,
    OptionError,
    RuntimeNotFoundError,
    ServiceStartError,
)
from pytest_jsleak.runtime import cdp, proctree
from pytest_jsleak.runtime.output import OutputTail
from pytest_jsleak.runtime.proctree import RUN_ID_VAR
from pytest_jsleak.runtime.runtimes import NODE_FLAGS

#: The line both Node and Deno print on stderr once the inspector listens.
INSPECTOR_LINE = re.compile(rb"Debugger listening on (ws://[^\s]+)")
#: What Node prints when the program ends (process.exit, a crash, an empty event loop) while an
#: inspector session is attached: it then waits for the session to close before it really exits.
EXIT_WAIT_LINE = b"Waiting for the debugger to disconnect"
#: The inspector listens on loopback only, on a port the system picks (both runtimes print it).
INSPECT_FLAG = "--inspect=127.0.0.1:0"
#: The target's id (the secret part of its WebSocket address) goes to stderr only, where we read it,
#: not to the inspector's HTTP listing (`/json/list`), which any local process may fetch.
PUBLISH_UID_FLAG = "--inspect-publish-uid=stderr"
#: How long a server may take to stop after SIGTERM before it is killed.
TERM_GRACE = 2.0
#: Pause between two readiness probes.
READY_POLL = 0.05
#: How many free ports a start tries when the server finds its port taken (EADDRINUSE).
PORT_ATTEMPTS = 3
#: Deno subcommands that run a program and accept --inspect.
DENO_SUBCOMMANDS = ("run", "serve")


def service_command(command: Sequence[str] | str) -> tuple[str, list[str]]:
    """The runtime (`node` or `deno`) and the argv with the GC and inspector flags added.

    Raises `OptionError` for anything but a node or deno program (Bun's inspector speaks another
    protocol) and `RuntimeNotFoundError` when the executable cannot be found.
    """
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if not argv or not all(isinstance(part, (str, os.PathLike)) for part in argv):
        raise OptionError(f"jsleak.service(): command must be a non-empty list of strings, got {command!r}")
    argv = [os.fspath(part) for part in argv]
    name = Path(argv[0]).name.lower().removesuffix(".exe")
    shown = shlex.join(argv)
    if name in ("bun", "bunx") or name.startswith("bun-"):
        raise OptionError(
            f"jsleak.service(): {shown!r} runs Bun, whose inspector speaks WebKit's protocol, not the Chrome "
            "DevTools Protocol; run the server under node or deno (or check its code as a module target "
            "with runtime='bun')"
        )
    if re.fullmatch(r"node(js)?[\d.]*", name):
        runtime = "node"
    elif name == "deno":
        runtime = "deno"
    else:
        raise OptionError(
            f"jsleak.service(): {shown!r} does not start node or deno; give the runtime's command itself, "
            "e.g. ['node', 'server.mjs'] or ['deno', 'run', '--allow-net', '--allow-env', 'server.ts'] "
            "(not npm, a shell script or another program, whose children the inspector cannot reach)"
        )
    executable = shutil.which(argv[0])
    if executable is None:
        raise RuntimeNotFoundError(f"jsleak.service(): {argv[0]!r} was not found (command {shown!r})")
    rest = argv[1:]
    if any(arg.startswith(("--inspect", "--debug")) for arg in _runtime_flags(rest, runtime)):
        raise OptionError(
            f"jsleak.service(): {shown!r} already opens an inspector; leave the --inspect flags to jsleak, "
            "which needs its own session"
        )
    if runtime == "node":
        flags = [flag for flag in NODE_FLAGS if flag not in rest]
        return runtime, [executable, *flags, INSPECT_FLAG, PUBLISH_UID_FLAG, *rest]
    if not rest or rest[0] not in DENO_SUBCOMMANDS:
        raise OptionError(
            f"jsleak.service(): {shown!r}: give deno's `run` (or `serve`) subcommand, "
            "e.g. ['deno', 'run', '--allow-net', '--allow-env', 'server.ts']"
        )
    sub, options = rest[0], rest[1:]
    # Right after the subcommand, where no flag of the user's can be waiting for its value; a
    # --v8-flags of the user's gets --expose-gc added instead (deno keeps only one of them).
    ours = [INSPECT_FLAG, PUBLISH_UID_FLAG] if _deno_publishes_uid(executable) else [INSPECT_FLAG]
    for index, arg in enumerate(_runtime_flags(options, runtime)):
        if arg.startswith("--v8-flags="):
            if "--expose-gc" not in arg.split("=", 1)[1].split(","):
                options[index] = arg + ",--expose-gc"
            break
    else:
        ours.append("--v8-flags=--expose-gc")
    return runtime, [executable, sub, *ours, *options]


@functools.lru_cache(maxsize=8)
def _deno_publishes_uid(executable: str) -> bool:
    """Whether this Deno has `--inspect-publish-uid` (2.9 has; its `run --help` takes ~10 ms)."""
    try:
        done = subprocess.run([executable, "run", "--help"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return b"--inspect-publish-uid" in done.stdout + done.stderr


#: Flags of the runtimes that take their value as the next argument (so it is not the script).
_VALUE_FLAGS = {
    "node": {"-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions", "--env-file"},
    "deno": {"-c", "--config", "--import-map", "--lock", "-L", "--log-level", "--location", "--seed", "--cert"},
}


def _runtime_flags(args: list[str], runtime: str) -> list[str]:
    """The runtime's own flags at the start of `args`: up to the script, whose arguments are its own."""
    flags: list[str] = []
    takes_value = False
    for arg in args:
        if takes_value:
            flags.append(arg)
            takes_value = False
        elif arg.startswith("-"):
            flags.append(arg)
            takes_value = arg in _VALUE_FLAGS[runtime]
        else:
            break
    return flags


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """A server process with an inspector session; a context manager that stops the whole tree."""

    def __init__(
        self,
        command: Sequence[str] | str,
        *,
        ready: str | None = None,
        port_env: str = "PORT",
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.runtime, self.argv = service_command(command)
        self.command = command if isinstance(command, str) else shlex.join(os.fspath(c) for c in command)
        if ready is not None and not isinstance(ready, str):
            raise OptionError(f"jsleak.service(): ready must be a path such as '/health', got {ready!r}")
        self.ready = None if ready is None else (ready if ready.startswith("/") else "/" + ready)
        if not port_env or not isinstance(port_env, str):
            raise OptionError(f"jsleak.service(): port_env must name an environment variable, got {port_env!r}")
        self.port_env = port_env
        self.env = dict(env or {})
        self.cwd = None if cwd is None else Path(cwd)
        if not isinstance(startup_timeout, (int, float)) or isinstance(startup_timeout, bool) or startup_timeout <= 0:
            raise OptionError(f"jsleak.service(): startup_timeout must be a positive number, got {startup_timeout!r}")
        self.startup_timeout = float(startup_timeout)
        self.port = 0
        self.runtime_version = ""
        self.inspector_url: str | None = None
        self.client: cdp.CdpClient | None = None
        self.idle: list[str] = []
        """The active resources of the idle server, what `settle` waits to return to."""
        self._popen: subprocess.Popen[bytes] | None = None
        self._output: OutputTail | None = None
        self._head = bytearray()  # the start of the output, until the inspector URL is in it
        self._url_found = threading.Event()
        self._carry = b""  # the end of the previous output chunk, for a line split across two
        self.exiting = threading.Event()
        """Set when the runtime said it is exiting and only waits for the inspector session."""
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._closed = False
        self._run_id = f"svc-{os.getpid()}-{id(self):x}-{time.monotonic_ns()}"
        self.timings: dict[str, float] = {}

    # --- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> ServiceProcess:
        if self._popen is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        """Spawn the server, wait until it is ready and connect the inspector."""
        if self._popen is not None or self._closed:
            raise RuntimeError("ServiceProcess.start() can be called once, before close()")
        if self.cwd is not None and not self.cwd.is_dir():
            raise OptionError(f"jsleak.service(): the working directory {self.cwd} does not exist")
        t0 = time.perf_counter()
        deadline = time.monotonic() + self.startup_timeout
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self._spawn()
            try:
                self._connect(deadline)
            except ServiceStartError as exc:
                # Another process (an xdist worker's server) took the free port between our look
                # and the server's listen: try another one.
                if attempt < PORT_ATTEMPTS and self.exit_code() is not None and _port_in_use(exc.output_tail):
                    self._discard_attempt()
                    continue
                self.close()
                raise
            except InspectorError as exc:
                error = self._start_failure(f"its inspector failed ({exc.message})")
                self.close()
                raise error from None
            except BaseException:
                self.close()
                raise
            break
        self.timings["start"] = time.perf_counter() - t0
        return self

    def _spawn(self) -> None:
        self.port = free_port()
        env = {**os.environ, **self.env, self.port_env: str(self.port), RUN_ID_VAR: self._run_id}
        out_r, out_w = os.pipe()
        try:
            # A session of its own: one killpg reaches everything the server starts (workers, children).
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                cwd=self.cwd,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            os.close(out_r)
            self._closed = True
            raise RuntimeNotFoundError(f"jsleak.service(): could not start {self.command!r}: {exc}") from exc
        finally:
            os.close(out_w)
        # Killed with us if we die before close(); unwatched by the finalizer once the group is gone.
        proctree.watch(self._popen.pid, self._run_id)
        self._finalizer = weakref.finalize(self, proctree.end_group, self._popen, self._run_id)
        self._output = OutputTail(out_r, name="jsleak-service-output", on_chunk=self._watch_output)

    def _connect(self, deadline: float) -> None:
        self.inspector_url = self._wait_for_inspector(deadline)
        self._wait_until_ready(deadline)
        self.client = self._new_session(deadline)
        self.runtime_version = str(cdp.evaluate(self.client, "globalThis.Deno?.version?.deno ?? process.versions.node"))
        self.idle = cdp.idle_resources(self.client)
        self.client.deadline = None

    def _new_session(self, deadline: float) -> cdp.CdpClient:
        assert self.inspector_url is not None
        client = cdp.CdpClient(self.inspector_url, timeout=max(1.0, deadline - time.monotonic()))
        client.deadline = deadline
        try:
            # No Runtime.enable: it would send every console message of the server our way.
            client.send("HeapProfiler.enable")
        except BaseException:
            client.close()
            raise
        return client

    def open_session(self, timeout: float = 10.0) -> cdp.CdpClient | None:
        """The inspector session for a check: the open one, or a new one when the last check closed it.

        None when there is no server to connect to (not started, stopped, exited or exiting): the
        check then says why. An inspector that refuses a running server is an `InspectorError`.
        """
        if self.client is not None and not self.client.closed:
            return self.client
        if self._closed or self.inspector_url is None or self.exit_code() is not None or self.exiting.is_set():
            return None
        client = self._new_session(time.monotonic() + timeout)
        client.deadline = None
        self.client = client
        return client

    def close_session(self) -> None:
        """Close the inspector session at the end of a check (idempotent; the server runs on).

        While no check runs, no session of ours is open, and V8 keeps no console message for one.
        Object ids are stable within one session only, which is all one check needs.
        """
        if self.client is not None:
            self.client.close()

    def _discard_attempt(self) -> None:
        """Forget a start that failed, so that the next one begins afresh."""
        self.kill_tree()
        if self.client is not None:
            self.client.close()
        self.client = None
        self._popen = None
        self._output = None
        self._head = bytearray()
        self._carry = b""
        self._url_found = threading.Event()
        self.exiting = threading.Event()

    def _watch_output(self, chunk: bytes) -> None:
        # On the draining thread.
        seen, self._carry = self._carry + chunk, chunk[-len(EXIT_WAIT_LINE) :]
        if EXIT_WAIT_LINE in seen and not self.exiting.is_set():
            self.exiting.set()
            # The program is over: let the runtime exit now (with its own exit code) instead of
            # keeping the sockets of an action open until the action times out.
            client = self.client
            if client is not None:
                threading.Thread(target=client.close, name="jsleak-inspector-close", daemon=True).start()
        if self._url_found.is_set():
            return
        self._head += chunk
        # Found, or not in the first MB of output: either way the waiting ends.
        if INSPECTOR_LINE.search(self._head) or len(self._head) > 1 << 20:
            self._url_found.set()

    def _wait_for_inspector(self, deadline: float) -> str:
        while not self._url_found.wait(READY_POLL):
            self._check_starting(deadline, "before its inspector listened")
        match = INSPECTOR_LINE.search(self._head)
        if match is None:
            raise self._start_failure("its inspector did not say where it listens (no 'Debugger listening on ws://')")
        return match.group(1).decode()

    def _wait_until_ready(self, deadline: float) -> None:
        what = f"GET {self.ready} answering with a status below 500" if self.ready else "its port accepting connections"
        while True:
            self._check_starting(deadline, f"before it was ready ({what} on port {self.port})")
            if self._probe():
                return
            time.sleep(READY_POLL)

    def _probe(self) -> bool:
        if self.ready is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return True
            except OSError:
                return False
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2.0)
        try:
            conn.request("GET", self.ready, headers={"Connection": "close"})
            response = conn.getresponse()
            response.read()
            return response.status < 500
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def _check_starting(self, deadline: float, when: str) -> None:
        assert self._popen is not None
        code = self._popen.poll()
        if code is not None:
            raise self._start_failure(f"{_how_it_ended(code)} {when}")
        if time.monotonic() > deadline:
            raise self._start_failure(f"did not start within startup_timeout={self.startup_timeout:g} s ({when})")

    def _start_failure(self, what: str) -> ServiceStartError:
        if self._output is not None:
            self._output.settle()
        return ServiceStartError(
            f"jsleak.service(): the server {self.command!r} {what}", phase="start", output_tail=self.output_tail()
        )

    def close(self) -> None:
        """Close the inspector session and stop the whole process tree (SIGTERM, then SIGKILL). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.client is not None:
            self.client.close()
        popen = self._popen
        if popen is None:
            return
        try:
            victims = proctree.descendants(popen.pid) if popen.poll() is None else []
            if popen.poll() is None:
                # Servers may clean up on SIGTERM (close sockets, flush logs); the group gets it at once.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(popen.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=TERM_GRACE)
        finally:
            self.kill_tree(victims)

    def kill_tree(self, known: Sequence[psutil.Process] = ()) -> None:
        """SIGKILL the server, its process group, its descendants and whatever carries its marker."""
        if self._popen is None:
            return
        victims = list(known)
        if self._popen.poll() is None:
            victims += proctree.descendants(self._popen.pid)
        victims += proctree.marked_processes(self._run_id)
        proctree.kill_all(victims)
        if self._finalizer is not None:
            self._finalizer()
        if self._output is not None:
            self._output.join(1.0)

    # --- state -------------------------------------------------------------------------------------

    def exit_code(self, wait: float = 0.0) -> int | None:
        """The server's exit status (negative: killed by that signal), or None while it runs."""
        if self._popen is None:
            return None
        if wait > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                return self._popen.wait(timeout=wait)
        return self._popen.poll()

    def rss(self) -> int:
        """Resident memory of the server process in bytes (0 when it cannot be read)."""
        try:
            return int(psutil.Process(self.pid).memory_info().rss) if self.pid else 0
        except psutil.Error:
            return 0

    def output_tail(self, limit: int = 4000) -> str:
        """The last `limit` bytes of the server's stdout and stderr, up to what it has written by now."""
        if self._output is None:
            return ""
        self._output.settle()
        return self._output.text(limit)

    def settle_output(self) -> None:
        if self._output is not None:
            self._output.settle()


def _port_in_use(output: str | None) -> bool:
    # Node: "listen EADDRINUSE: address already in use"; Deno: "AddrInUse: Address already in use".
    return output is not None and ("EADDRINUSE" in output or "AddrInUse" in output)


def _how_it_ended(code: int) -> str:
    return f"was killed by {proctree.signal_name(-code)}" if code < 0 else f"exited with code {code}"


__all__ = ["ServiceProcess", "free_port", "service_command"]

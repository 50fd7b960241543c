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
import traceback
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from pytest_jsleak.errors import (
    ActionError,
    InspectorError,
    OptionError,
    RuntimeCrashError,
    RuntimeNotFoundError,
    ScenarioTimeoutError,
    ServiceStartError,
)
from pytest_jsleak.model import MemorySample
from pytest_jsleak.runtime import cdp
from pytest_jsleak.runtime.output import OutputTail
from pytest_jsleak.runtime.process import RUN_ID_VAR, _kill_group, _marked_processes, _signal_name
from pytest_jsleak.runtime.runtimes import NODE_FLAGS

#: The line both Node and Deno print on stderr once the inspector listens.
INSPECTOR_LINE = re.compile(rb"Debugger listening on (ws://[^\s]+)")
#: What Node prints when the program ends (process.exit, a crash, an empty event loop) while an
#: inspector session is attached: it then waits for the session to close before it really exits.
EXIT_WAIT_LINE = b"Waiting for the debugger to disconnect"
#: The inspector listens on loopback only, on a port the system picks (both runtimes print it).
INSPECT_FLAG = "--inspect=127.0.0.1:0"
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
        return runtime, [executable, *flags, INSPECT_FLAG, *rest]
    if not rest or rest[0] not in DENO_SUBCOMMANDS:
        raise OptionError(
            f"jsleak.service(): {shown!r}: give deno's `run` (or `serve`) subcommand, "
            "e.g. ['deno', 'run', '--allow-net', '--allow-env', 'server.ts']"
        )
    sub, options = rest[0], rest[1:]
    # Right after the subcommand, where no flag of the user's can be waiting for its value; a
    # --v8-flags of the user's gets --expose-gc added instead (deno keeps only one of them).
    ours = [INSPECT_FLAG]
    for index, arg in enumerate(_runtime_flags(options, runtime)):
        if arg.startswith("--v8-flags="):
            if "--expose-gc" not in arg.split("=", 1)[1].split(","):
                options[index] = arg + ",--expose-gc"
            break
    else:
        ours.append("--v8-flags=--expose-gc")
    return runtime, [executable, sub, *ours, *options]


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
        self._finalizer = weakref.finalize(self, _kill_group, self._popen)
        self._output = OutputTail(out_r, name="jsleak-service-output", on_chunk=self._watch_output)

    def _connect(self, deadline: float) -> None:
        self.inspector_url = self._wait_for_inspector(deadline)
        self._wait_until_ready(deadline)
        self.client = cdp.CdpClient(self.inspector_url, timeout=max(1.0, deadline - time.monotonic()))
        self.client.deadline = deadline
        # No Runtime.enable: it would send every console message of the server our way.
        self.client.send("HeapProfiler.enable")
        self.runtime_version = str(cdp.evaluate(self.client, "globalThis.Deno?.version?.deno ?? process.versions.node"))
        self.idle = cdp.idle_resources(self.client)
        self.client.deadline = None

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
            victims = self._descendants() if popen.poll() is None else []
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
            victims += self._descendants()
        victims += _marked_processes(self._run_id)
        for proc in victims:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        if self._finalizer is not None:
            self._finalizer()
        if self._output is not None:
            self._output.join(1.0)

    def _descendants(self) -> list[psutil.Process]:
        assert self._popen is not None
        try:
            return psutil.Process(self._popen.pid).children(recursive=True)
        except psutil.Error:
            return []

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
        """The last `limit` bytes of the server's stdout and stderr."""
        if self._output is None:
            return ""
        return self._output.text(limit)

    def settle_output(self) -> None:
        if self._output is not None:
            self._output.settle()


def _port_in_use(output: str | None) -> bool:
    # Node: "listen EADDRINUSE: address already in use"; Deno: "AddrInUse: Address already in use".
    return output is not None and ("EADDRINUSE" in output or "AddrInUse" in output)


def _how_it_ended(code: int) -> str:
    return f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"


class InspectorDriver:
    """One leak check on a running service: `action()` is one iteration, memory is read over CDP.

    The check's `timeout` runs from the driver's creation to `teardown()`; when it passes, a
    watchdog stops the server's whole process tree, so an action blocked on the server returns,
    and the check fails as timed out.
    """

    stable_ids = True

    def __init__(self, service: ServiceProcess, action: Callable[[], object], *, timeout: float) -> None:
        if not callable(action):
            raise OptionError(f"svc.check(): action must be a callable (one iteration), got {action!r}")
        if service.client is None or service.client.closed:
            code = service.exit_code()
            if code is not None:
                raise RuntimeCrashError(
                    f"the server {service.command!r} is gone: it {_how_it_ended(code)} before this check",
                    phase="start",
                    output_tail=service.output_tail(),
                )
            raise InspectorError(
                f"the inspector session of {service.command!r} is not open (not started, or stopped)", closed=True
            )
        self.service = service
        self.client = service.client
        self.action = action
        self.runtime = service.runtime
        self.runtime_version = service.runtime_version
        self.timeout = float(timeout)
        self.timings: dict[str, float] = {}
        self._deadline = time.monotonic() + self.timeout
        self.client.deadline = self._deadline
        self._where: dict[str, Any] = {"phase": "warmup", "iteration": None}
        self._tracking = False
        self._expired = threading.Event()
        self._watchdog = threading.Timer(self.timeout, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self) -> None:
        self._expired.set()
        self.service.kill_tree()

    # --- Driver ------------------------------------------------------------------------------------

    def run(self, iterations: int, *, sample_every: int, start: int, phase: str) -> list[MemorySample]:
        """Call the action `iterations` times (numbered from start+1), sampling every `sample_every` calls."""
        samples: list[MemorySample] = []
        for offset in range(1, iterations + 1):
            iteration = start + offset
            self._where = {"phase": phase, "iteration": iteration}
            self._check_time()
            t0 = time.perf_counter()
            try:
                self.action()
            except Exception as exc:
                raise self._action_failed(exc, phase, iteration) from None
            self._add_time("run.call", time.perf_counter() - t0)
            if sample_every and offset % sample_every == 0:
                t0 = time.perf_counter()
                samples.append(self._sample(iteration))
                self._add_time("run.sample", time.perf_counter() - t0)
        return samples

    def sample(self) -> MemorySample:
        """Settle, full GC, then heap, external and RSS (iteration 0)."""
        self._where = {"phase": "sample", "iteration": None}
        return self._sample(0)

    def snapshot(self, path: Path) -> Path:
        """A full GC, then a heap snapshot streamed to `path`."""
        self._where = {"phase": "snapshot", "iteration": None}
        t0 = time.perf_counter()
        with self._faults():
            cdp.settle(self.client, self.service.idle)
            cdp.discard_console(self.client)
            cdp.full_gc(self.client)
            written = cdp.take_snapshot(self.client, path)
        self._add_time("snapshot", time.perf_counter() - t0)
        return written

    def track_allocations(self, on: bool) -> bool:
        """Allocation tracking through the inspector (both Node and Deno can)."""
        if on == self._tracking:
            return True
        self._where = {"phase": "allocation-tracking", "iteration": None}
        with self._faults():
            cdp.set_allocation_tracking(self.client, on)
        self._tracking = on
        return True

    def teardown(self) -> None:
        """The end of a check that reached its verdict: stop tracking allocations (the service runs on)."""
        if self._tracking:
            self.track_allocations(False)

    def close(self) -> None:
        """Release the check, whatever happened: the watchdog, allocation tracking, the deadline. Idempotent."""
        self._watchdog.cancel()
        try:
            if self._tracking and not self._expired.is_set() and not self.client.closed:
                with contextlib.suppress(InspectorError, RuntimeCrashError, ScenarioTimeoutError):
                    self.track_allocations(False)
        finally:
            self._tracking = False
            self.client.deadline = None

    # --- the work ----------------------------------------------------------------------------------

    def _sample(self, iteration: int) -> MemorySample:
        with self._faults():
            # The response may have left before the handler's last await: let that work end first.
            cdp.settle(self.client, self.service.idle)
            cdp.discard_console(self.client)
            cdp.full_gc(self.client)
            heap, external = cdp.read_memory(self.client)
        return MemorySample(iteration=iteration, heap=heap, external=external, rss=self.service.rss())

    def _add_time(self, key: str, seconds: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + seconds

    def _check_time(self) -> None:
        if self._expired.is_set() or time.monotonic() > self._deadline:
            raise self._timed_out()

    @contextlib.contextmanager
    def _faults(self) -> Any:
        """Turn a failed inspector call into the error that explains it: timeout, crash, disconnect."""
        self._check_time()
        try:
            yield
        except InspectorError as exc:
            raise self._explain(exc) from None

    def _explain(self, exc: InspectorError) -> Exception:
        if self._expired.is_set() or exc.timed_out:
            return self._timed_out()
        code = self.service.exit_code(wait=2.0 if self.service.exiting.is_set() else 0.5 if exc.closed else 0.0)
        if code is not None:
            return self._crashed(code)
        where = self._describe_where()
        self.service.settle_output()
        return InspectorError(
            f"{exc.message} {where}; the server {self.service.command!r} (pid {self.service.pid}) still runs",
            method=exc.method,
            closed=exc.closed,
            phase=self._where["phase"],
            iteration=self._where["iteration"],
            output_tail=self.service.output_tail() if exc.closed else None,
        )

    def _action_failed(self, exc: Exception, phase: str, iteration: int) -> Exception:
        if self._expired.is_set():
            return self._timed_out()
        # A request that killed the server fails in the action first (connection reset): the crash
        # is the cause worth reporting, with the server's last words.
        code = self.service.exit_code(wait=2.0 if self.service.exiting.is_set() else 0.3)
        if code is not None:
            return self._crashed(code)
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        name = getattr(self.action, "__qualname__", None) or repr(self.action)
        return ActionError(
            f"the action {name} raised {type(exc).__name__} at iteration {iteration} ({phase} phase): {exc}",
            traceback_text=text,
            phase=phase,
            iteration=iteration,
        )

    def _crashed(self, code: int) -> RuntimeCrashError:
        self.service.kill_tree()
        return RuntimeCrashError(
            f"the {self.runtime} server {self.service.command!r} {_how_it_ended(code)} {self._describe_where()}",
            phase=self._where["phase"],
            iteration=self._where["iteration"],
            output_tail=self.service.output_tail(),
        )

    def _timed_out(self) -> ScenarioTimeoutError:
        self._expired.set()
        self.service.kill_tree()
        return ScenarioTimeoutError(
            f"timed out after {self.timeout:g} s {self._describe_where()}; the server's process tree was stopped",
            phase=self._where["phase"],
            iteration=self._where["iteration"],
            output_tail=self.service.output_tail(),
        )

    def _describe_where(self) -> str:
        phase, iteration = self._where["phase"], self._where["iteration"]
        if iteration is None:
            return f"in the {phase} phase"
        return f"at iteration {iteration} ({phase} phase)"


__all__ = ["InspectorDriver", "ServiceProcess", "free_port", "service_command"]

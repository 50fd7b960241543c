"""One runtime process running harness.mjs on one target: spawn, commands, time budget, cleanup."""

from __future__ import annotations

import contextlib
import os
import re
import select
import subprocess
import time
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from pytest_jsleak.errors import (
    JsLeakError,
    RuntimeCrashError,
    RuntimeNotFoundError,
    ScenarioTimeoutError,
    TargetError,
)
from pytest_jsleak.model import MemorySample
from pytest_jsleak.runtime import proctree
from pytest_jsleak.runtime.output import OutputTail
from pytest_jsleak.runtime.protocol import Event, EventDecoder, HarnessProtocolError, encode_command
from pytest_jsleak.runtime.runtimes import RuntimeInfo, check_target, harness_command

RESERVED = ("setup", "teardown", "jsleak")
#: Inherited by every process the runtime starts, so that escaped ones can still be found.
RUN_ID_VAR = proctree.RUN_ID_VAR
#: How long a hung harness may take to say where it is before it is killed.
STATUS_GRACE = 0.3
#: How long `close()` lets the harness exit on its own before killing it.
EXIT_GRACE = 1.0
#: The longest select() wait, so that a dead runtime is noticed even if a grandchild keeps the pipe open.
POLL_INTERVAL = 0.25


@dataclass(frozen=True, slots=True)
class Hello:
    """What the harness reports once the target has loaded."""

    runtime: str
    """`node`, `bun` or `deno`."""
    version: str
    """The runtime's version, e.g. `20.20.2`."""
    pid: int
    """The runtime's process id."""
    exports: dict[str, str]
    """Scenarios (exported functions, reserved names excluded) → kind: `function`, `async function`, ..."""
    non_functions: list[str]
    """Exports that are neither functions nor reserved names."""
    options: dict[str, Any]
    """The `jsleak` export (`{}` when there is none)."""
    reserved: dict[str, str] = field(default_factory=dict)
    """Reserved exports present (`setup`, `teardown`, `jsleak`) → kind."""
    load_ms: float = 0.0
    """Time the runtime spent importing the target."""

    @property
    def scenarios(self) -> list[str]:
        """Scenario names, in the order the runtime listed them."""
        return list(self.exports)


#: What `run` and `gc_sample` return (the model's type: the plan takes samples from every driver alike).
Sample = MemorySample


class _Expired(Exception):
    """A wait for an event reached its deadline."""


class HarnessProcess:
    """A runtime running harness.mjs on one target, driven through the command pipe.

    `timeout` is the budget from `start()` to `close()`: each call waits only for what is left of it.
    Use it as a context manager; `close()` leaves no process behind.
    """

    def __init__(
        self,
        runtime: RuntimeInfo,
        target: str | os.PathLike[str],
        *,
        timeout: float = 60.0,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        runtime_args: Sequence[str] = (),
        writable: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        self.runtime = runtime
        self.target = Path(target)
        self.timeout = float(timeout)
        self.cwd = cwd
        self.env = env
        self.runtime_args = tuple(runtime_args)
        #: Folders the runtime may write (Deno's permissions): where snapshots go.
        self.writable = tuple(writable)
        self.hello: Hello | None = None
        #: Wall seconds spent per command, cumulative; "start" is spawn → hello. The runtime's own
        #: share of `run` is split into "run.call" and "run.sample" (GC + heap reading).
        self.timings: dict[str, float] = {}
        self._popen: subprocess.Popen[bytes] | None = None
        self._output: OutputTail | None = None
        self._cmd_w = -1
        self._evt_r = -1
        self._decoder = EventDecoder()
        self._events: deque[Event] = deque()
        self._eof = False
        self._deadline = 0.0
        self._closed = False
        self._gone: str | None = None  # why the process can no longer be used
        self._where: dict[str, Any] = {"phase": "load", "scenario": None, "iteration": None}
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._orphans: list[psutil.Process] = []
        self._busy = False  # a command was sent and its answer not yet read
        self._scenario: str | None = None  # the last scenario run
        self._run_id = f"{os.getpid()}-{id(self):x}-{time.monotonic_ns()}"

    # --- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> HarnessProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The runtime's process id once started."""
        return None if self._popen is None else self._popen.pid

    @property
    def run_id(self) -> str:
        """The marker (`JSLEAK_RUN_ID`) the runtime and every process it starts carry."""
        return self._run_id

    def start(self) -> Hello:
        """Spawn the runtime, load the target and return its `Hello`."""
        if self._popen is not None or self._closed:
            raise RuntimeError("HarnessProcess.start() can be called once, before close()")
        check_target(self.runtime, self.target, self.runtime_args)
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise JsLeakError(f"cannot run {self.target}: the working directory {self.cwd} does not exist")
        argv = harness_command(
            self.runtime,
            self.target.resolve(),
            runtime_args=self.runtime_args,
            readable=[os.path.abspath(self.cwd if self.cwd is not None else os.getcwd())],
            writable=[os.path.abspath(path) for path in self.writable],
        )
        cmd_r, self._cmd_w = os.pipe()
        self._evt_r, evt_w = os.pipe()
        out_r, out_w = os.pipe()
        env = dict(os.environ if self.env is None else self.env)
        env["JSLEAK_CMD_FD"] = str(cmd_r)
        env["JSLEAK_EVT_FD"] = str(evt_w)
        env[RUN_ID_VAR] = self._run_id
        t0 = time.perf_counter()
        self._deadline = time.monotonic() + self.timeout
        try:
            # pass_fds keeps the two channel ends at their numbers; dup2 in a preexec_fn would be
            # undone by close_fds (runtimes.md §8). A new session lets one killpg end the whole tree.
            self._popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(cmd_r, evt_w),
                cwd=self.cwd,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (out_r, self._cmd_w, self._evt_r):
                os.close(fd)
            self._closed = True
            raise RuntimeNotFoundError(f"could not start {self.runtime.executable}: {exc}") from exc
        finally:
            for fd in (cmd_r, evt_w, out_w):
                os.close(fd)
        # Killed with us if we die before close(); unwatched by the finalizer once the group is gone.
        proctree.watch(self._popen.pid, self._run_id)
        self._finalizer = weakref.finalize(self, proctree.end_group, self._popen, self._run_id)
        self._output = OutputTail(out_r)
        self._busy = True
        event = self._wait("hello")
        self.timings["start"] = time.perf_counter() - t0
        self.hello = Hello(
            runtime=event["runtime"],
            version=event["version"],
            pid=event["pid"],
            exports=dict(event["exports"]),
            non_functions=list(event["non_functions"]),
            options=dict(event["options"]),
            reserved=dict(event.get("reserved", {})),
            load_ms=float(event.get("load_ms", 0.0)),
        )
        return self.hello

    def close(self) -> None:
        """Ask the harness to exit, then kill whatever is left of the process tree. Idempotent."""
        if self._closed:
            return
        self._closed = True
        popen = self._popen
        if popen is None:
            return
        try:
            if popen.poll() is None:
                # Listed before the runtime exits: afterwards its children are orphans, found only
                # through the process group (unless they started a session of their own).
                self._orphans = proctree.descendants(popen.pid)
                # A command still running (an interrupted wait) would delay the exit command: kill.
                if self._gone is None and not self._busy:
                    self._send_quietly("exit")
                    # EOF on the command pipe makes the harness exit even if it missed the command.
                    os.close(self._cmd_w)
                    self._cmd_w = -1
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        popen.wait(timeout=EXIT_GRACE)
        finally:
            self._kill()
            for fd in (self._cmd_w, self._evt_r):
                if fd >= 0:
                    os.close(fd)
            self._cmd_w = self._evt_r = -1
            if self._output is not None:
                self._output.join(1.0)

    def _kill(self, *, sweep: bool = False) -> None:
        """SIGKILL the runtime, its process group and every descendant we know of."""
        assert self._popen is not None
        victims = self._orphans
        if self._popen.poll() is None:
            victims = victims + proctree.descendants(self._popen.pid)
        if sweep:
            # The runtime died on its own: its children were re-parented, and those that left
            # the process group are found only by the marker they inherited in their environment.
            victims = victims + proctree.marked_processes(self._run_id)
        proctree.kill_all(victims)
        if self._finalizer is not None:
            self._finalizer()

    @property
    def output_bytes(self) -> int:
        """How many bytes the target has written to stdout and stderr so far."""
        return 0 if self._output is None else self._output.total_bytes

    def output_tail(self, limit: int = 4000) -> str:
        """The last `limit` bytes of the target's stdout and stderr (interleaved as written)."""
        return "" if self._output is None else self._output.text(limit)

    # --- commands ----------------------------------------------------------------------------------

    def setup(self) -> bool:
        """Call the target's `setup` export; False when it has none."""
        return bool(self._request("setup", phase="setup")["called"])

    def teardown(self) -> bool:
        """Call the target's `teardown` export; False when it has none."""
        return bool(self._request("teardown", phase="teardown")["called"])

    def run(
        self, scenario: str, iterations: int, *, sample_every: int = 0, start: int = 0, phase: str = "measured"
    ) -> list[MemorySample]:
        """Call `scenario` `iterations` times; every `sample_every` calls, sample memory after a full GC.

        Calls are numbered from `start + 1`, so samples and errors name the call across runs.
        """
        self.check_scenario(scenario)
        for name, value in (("iterations", iterations), ("sample_every", sample_every), ("start", start)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        t0 = time.perf_counter()
        event = self._request(
            "run",
            phase=phase,
            scenario=scenario,
            iterations=iterations,
            sample_every=sample_every,
            start=start,
        )
        self._add_time("run", time.perf_counter() - t0)
        self._add_time("run.call", event.get("call_ms", 0.0) / 1000)
        self._add_time("run.sample", event.get("sample_ms", 0.0) / 1000)
        return [MemorySample(int(i), int(heap), int(external), int(rss)) for i, heap, external, rss in event["samples"]]

    def warm_channel(self, scenario: str, commands: int = 60) -> None:
        """Exercise the command path with empty runs before measuring anything.

        The first few dozen commands of a fresh runtime compile and cache its own JSON, pipe and
        promise paths (V8: ~110 KB over ~40 commands), a few KB at the start of each run, which
        would otherwise show as growth between the measured rounds. Empty runs cost ~0.2 ms each.
        """
        for _ in range(commands):
            self.run(scenario, 0, phase="warmup")

    def gc_sample(self) -> MemorySample:
        """A macrotask, a full GC, then the memory in use (iteration 0)."""
        event = self._timed("gc_sample", phase="gc_sample")
        return MemorySample(0, int(event["heap_used"]), int(event["external"]), int(event["rss"]))

    def snapshot(self, path: str | os.PathLike[str]) -> Path:
        """A full GC, then a V8-format heap snapshot written at `path` (parent folders created)."""
        target = Path(path).resolve()
        if self.runtime.name == "deno" and not any(target.is_relative_to(Path(w).resolve()) for w in self.writable):
            # Deno's permissions were fixed at the start: refuse here, clearly, not in the runtime.
            allowed = ", ".join(os.fspath(folder) for folder in self.writable) or "none"
            raise JsLeakError(
                f"cannot write a snapshot at {target}: deno may write only under the folders given as "
                f"HarnessProcess(writable=...) ({allowed})"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        self._timed("snapshot", phase="snapshot", path=os.fspath(target))
        return target

    def track_allocations(self, on: bool) -> bool:
        """Allocation tracking on or off; False when the runtime cannot track (Bun).

        Snapshots written while it is on carry the allocation stack of every object allocated
        since it was turned on. It slows allocation down many times over: only for one round.
        """
        return bool(self._timed("track_allocations", phase="track_allocations", on=bool(on))["supported"])

    # --- the channel -------------------------------------------------------------------------------

    def _timed(self, cmd: str, *, phase: str, **kwargs: Any) -> Event:
        t0 = time.perf_counter()
        event = self._request(cmd, phase=phase, **kwargs)
        self._add_time(cmd, time.perf_counter() - t0)
        return event

    def _add_time(self, key: str, seconds: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + seconds

    def _request(self, cmd: str, *, phase: str, **kwargs: Any) -> Event:
        if self._popen is None or self.hello is None:
            raise RuntimeError(f"HarnessProcess.{cmd}() needs a successful start() first")
        if self._gone is not None:
            raise RuntimeCrashError(f"the {self.runtime.name} process is gone ({self._gone})", phase=phase)
        if self._closed:
            raise RuntimeError(f"HarnessProcess.{cmd}() after close()")
        if cmd == "run":
            kwargs["phase"] = phase
            self._scenario = kwargs["scenario"]
        # Between runs the process still belongs to the last scenario (one process per scenario);
        # setup and teardown belong to the file.
        scenario = None if cmd in ("setup", "teardown") else self._scenario
        self._where = {"phase": phase, "scenario": scenario, "iteration": None}
        try:
            os.write(self._cmd_w, encode_command(cmd, **kwargs))
        except BrokenPipeError:
            raise self._crashed() from None
        self._busy = True
        return self._wait(cmd)

    def _send_quietly(self, cmd: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self._cmd_w, encode_command(cmd))

    def _wait(self, cmd: str) -> Event:
        """The answer to `cmd` ("hello" for the start), keeping track of progress meanwhile."""
        while True:
            try:
                event = self._next_event(self._deadline)
            except _Expired:
                raise self._timed_out() from None
            kind = event["event"]
            if kind == "progress":
                self._where = {k: event.get(k) for k in ("phase", "scenario", "iteration")}
            elif kind == "error":
                self._busy = False  # answered, if with an error: the harness is ready again
                raise self._error(event)
            elif kind == "status":
                continue  # a late answer to a status query
            elif kind == "exiting":
                # The target called process.exit(): EOF follows, and the crash report says where.
                self._where = {k: event.get(k) for k in ("phase", "scenario", "iteration")}
            elif (kind == "hello" and cmd == "hello") or (kind == "result" and event.get("cmd") == cmd):
                self._busy = False
                return event
            else:
                self._gone = "protocol error"
                raise HarnessProtocolError(f"unexpected {kind!r} event while waiting for {cmd!r}: {event}")

    def _next_event(self, deadline: float) -> Event:
        """The next event; `_Expired` once `deadline` (monotonic) has passed without one."""
        assert self._popen is not None
        while not self._events:
            if self._eof:
                raise self._crashed()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Expired
            ready, _, _ = select.select([self._evt_r], [], [], min(remaining, POLL_INTERVAL))
            if not ready:
                if self._popen.poll() is not None:
                    self._eof = True  # dead, while a grandchild may still hold the pipe open
                continue
            data = os.read(self._evt_r, 1 << 16)
            if not data:
                self._eof = True
                continue
            self._events.extend(self._decoder.feed(data))
        return self._events.popleft()

    # --- failures ----------------------------------------------------------------------------------

    def _describe_where(self, where: Mapping[str, Any]) -> str:
        phase, scenario, iteration = where.get("phase"), where.get("scenario"), where.get("iteration")
        if phase == "load":
            return f"while loading {self.target.name}"
        if scenario is None:
            return f"in the {phase} of {self.target.name}"
        text = f"in scenario {scenario!r}, {phase} phase"
        return text if iteration is None else f"{text}, at iteration {iteration}"

    def _error(self, event: Event) -> JsLeakError:
        name, message = event.get("name", "Error"), event.get("message", "")
        phase, iteration, scenario = event.get("phase"), event.get("iteration"), event.get("scenario")
        thrown = f"{name}: {message}" if message else name
        if name == "ProtocolError":
            return HarnessProtocolError(f"the harness rejected a command: {message}")
        stack = _clean_stack(event.get("stack"))
        if phase == "load":
            self._gone = "the target failed to load"
            self._settle()  # the harness exits now; its last words (node's syntax error location) count
            if name == "JsleakOptionsError":
                text = f"{self.target}: {message}"
            else:
                text = f"cannot load {self.target} with {self.runtime.name} {self.runtime.version}: {thrown}"
        elif event.get("uncaught"):
            self._gone = "the target threw outside a call"
            kind = "promise rejection" if event["uncaught"] == "rejection" else "exception"
            text = (
                f"uncaught {kind} {self._describe_where(event)} (raised outside the call itself: "
                f"a timer, a callback or a promise nobody awaited) in {self.target.name}: {thrown}"
            )
        elif name == "ScenarioNotFound":
            return self._missing_scenario(str(scenario), message)
        elif name == "ReservedExportError":
            text = f"{self.target.name}: {message}"
        elif event.get("cmd") == "run":
            text = f"scenario {scenario!r} threw at call {iteration} ({phase} phase) in {self.target.name}: {thrown}"
        elif phase in ("setup", "teardown"):
            text = f"the {phase} export of {self.target.name} threw: {thrown}"
        else:
            text = f"{phase} failed in the harness ({self.target.name}): {thrown}"
        if self.runtime.name == "deno":
            text += _deno_permission_hint(name, message)
        if self._output is not None and phase != "load":
            self._output.settle()  # what the target printed just before it threw
        return TargetError(text, phase=phase, iteration=iteration, js_stack=stack, output_tail=self.output_tail())

    def check_scenario(self, scenario: str) -> None:
        """Raise `TargetError` unless the loaded target exports `scenario` as a function (listing those it does)."""
        if self.hello is None or scenario in self.hello.exports:  # not started: _request says so
            return
        if scenario in RESERVED:
            raise self._missing_scenario(scenario, f"{scenario!r} is a reserved export, not a scenario")
        if scenario in self.hello.non_functions:
            raise self._missing_scenario(scenario, f"{scenario!r} is exported but is not a function")
        raise self._missing_scenario(scenario, f"{self.target.name} exports no {scenario!r}")

    def _missing_scenario(self, scenario: str, reason: str) -> TargetError:
        known = self.hello.scenarios if self.hello else []
        listing = f"its scenarios: {', '.join(known)}" if known else "it exports no functions"
        return TargetError(f"no scenario {scenario!r} in {self.target}: {reason}; {listing}", phase="run")

    def _settle(self) -> None:
        """Give an exiting runtime a moment to finish and its output to drain."""
        assert self._popen is not None
        try:
            self._popen.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return
        if self._output is not None:
            self._output.join(0.5)

    def _crashed(self) -> RuntimeCrashError:
        assert self._popen is not None
        try:
            code = self._popen.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            code = None  # it closed the event pipe yet lives on
        self._gone = "it exited" if code is not None else "its event pipe closed"
        where = self._describe_where(self._where)
        self._kill(sweep=True)
        if code is None:
            how = "closed the harness channel"
        elif code < 0:
            how = f"was killed by {proctree.signal_name(-code)}"
        else:
            how = f"exited with code {code}"
        hint = " (does the target call process.exit()?)" if code is not None and code >= 0 else ""
        if self._output is not None:
            self._output.join(0.5)  # the last words are often the explanation
        return RuntimeCrashError(
            f"{self.runtime.name} {how} {where}{hint}",
            phase=self._where.get("phase"),
            iteration=self._where.get("iteration"),
            output_tail=self.output_tail(),
        )

    def _timed_out(self) -> ScenarioTimeoutError:
        where, exact = self._ask_status()
        self._gone = "timed out"
        self._kill()
        text = f"timed out after {self.timeout!r} s {self._describe_where(where)}"
        if where.get("iteration") is not None and not exact:
            text += " or later (the event loop was blocked: synchronous code that never returns?)"
        if self._output is not None:
            self._output.join(0.5)
        return ScenarioTimeoutError(
            text, phase=where.get("phase"), iteration=where.get("iteration"), output_tail=self.output_tail()
        )

    def _ask_status(self) -> tuple[Mapping[str, Any], bool]:
        # The harness answers only when its event loop is free (a promise that never settles): then
        # the answer is exact. A busy loop leaves us with the last progress event.
        self._send_quietly("status")
        grace = time.monotonic() + STATUS_GRACE
        while True:
            try:
                event = self._next_event(grace)
            except (_Expired, RuntimeCrashError, HarnessProtocolError):
                return self._where, False
            if event["event"] == "status":
                return {k: event.get(k) for k in ("phase", "scenario", "iteration")}, True
            if event["event"] == "progress":
                self._where = {k: event.get(k) for k in ("phase", "scenario", "iteration")}


_DENO_FLAG_RE = re.compile(r"--allow-[a-z-]+")


def _deno_permission_hint(name: str, message: str) -> str:
    """What to add when Deno refused a permission (`NotCapable: Requires net access to ...`)."""
    if name not in ("NotCapable", "PermissionDenied") or "Requires" not in message:
        return ""
    found = _DENO_FLAG_RE.search(message)
    flag = found.group(0) if found else "--allow-..."
    return (
        f" [deno denied a permission the target needs: grant it with the runtime_args option, "
        f"e.g. --jsleak-runtime-args={flag} or runtime_args=[{flag!r}]]"
    )


def _clean_stack(stack: Any) -> str | None:
    """The JS stack without the harness's own frames, which say nothing about the target."""
    if not isinstance(stack, str):
        return None
    lines = [line for line in stack.splitlines() if not ("harness.mjs" in line and "pytest_jsleak" in line)]
    return "\n".join(lines)


def list_scenarios(
    runtime: RuntimeInfo,
    target: str | os.PathLike[str],
    timeout: float = 60.0,
    *,
    cwd: str | os.PathLike[str] | None = None,
    runtime_args: Sequence[str] = (),
) -> Hello:
    """Load `target` once and return what it exports (for collection)."""
    with HarnessProcess(runtime, target, timeout=timeout, cwd=cwd, runtime_args=runtime_args) as proc:
        return proc.start()


__all__ = ["HarnessProcess", "Hello", "Sample", "list_scenarios"]

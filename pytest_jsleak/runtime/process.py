"""One runtime process running harness.mjs on one target: spawn, commands, time budget, cleanup.

The process and its pipes are harness_channel.py's, the wording of its failures harness_failures.py's;
this module decides what each event means and what becomes of the process.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import weakref
from collections.abc import Mapping, Sequence
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
from pytest_jsleak.runtime.harness_channel import ChannelClosed, Expired, HarnessChannel
from pytest_jsleak.runtime.harness_failures import clean_stack, crash_text, describe_where, error_text, missing_scenario
from pytest_jsleak.runtime.output import OutputTail
from pytest_jsleak.runtime.protocol import Event, HarnessProtocolError, Hello
from pytest_jsleak.runtime.runtimes import RuntimeInfo, check_target, harness_command

RESERVED = ("setup", "teardown", "jsleak")
#: Inherited by every process the runtime starts, so that escaped ones can still be found.
RUN_ID_VAR = proctree.RUN_ID_VAR
#: How long a hung harness may take to say where it is before it is killed.
STATUS_GRACE = 0.3
#: How long `close()` lets the harness exit on its own before killing it.
EXIT_GRACE = 1.0


#: What `run` and `gc_sample` return (the model's type: the plan takes samples from every driver alike).
Sample = MemorySample



def _handle_counts(raw: object) -> dict[str, int]:
    return {str(kind): int(count) for kind, count in raw.items()} if isinstance(raw, dict) else {}


def _sample(row: list[Any]) -> MemorySample:
    """One `run` sample: [iteration, heap, external, rss, {kind: active resources}]."""
    iteration, heap, external, rss = row[:4]
    handles = _handle_counts(row[4]) if len(row) > 4 else {}
    return MemorySample(int(iteration), int(heap), int(external), int(rss), handles=handles)

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
        self._channel: HarnessChannel | None = None
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
        env = dict(os.environ if self.env is None else self.env)
        env[RUN_ID_VAR] = self._run_id
        t0 = time.perf_counter()
        self._deadline = time.monotonic() + self.timeout
        try:
            self._channel = HarnessChannel.spawn(argv, cwd=self.cwd, env=env)
        except RuntimeNotFoundError:
            self._closed = True
            raise
        self._popen = self._channel.popen
        # Killed with us if we die before close(); unwatched by the finalizer once the group is gone.
        proctree.watch(self._popen.pid, self._run_id)
        self._finalizer = weakref.finalize(self, proctree.end_group, self._popen, self._run_id)
        self._output = OutputTail(self._channel.output_fd)
        self._busy = True
        event = self._wait("hello")
        self.timings["start"] = time.perf_counter() - t0
        self.hello = Hello.from_event(event)
        return self.hello

    def close(self) -> None:
        """Ask the harness to exit, then kill whatever is left of the process tree. Idempotent."""
        if self._closed:
            return
        self._closed = True
        popen, channel = self._popen, self._channel
        if popen is None or channel is None:
            return
        try:
            if popen.poll() is None:
                # Listed before the runtime exits: afterwards its children are orphans, found only
                # through the process group (unless they started a session of their own).
                self._orphans = proctree.descendants(popen.pid)
                # A command still running (an interrupted wait) would delay the exit command: kill.
                if self._gone is None and not self._busy:
                    channel.send_quietly("exit")
                    # EOF on the command pipe makes the harness exit even if it missed the command.
                    channel.end_commands()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        popen.wait(timeout=EXIT_GRACE)
        finally:
            self._kill()
            channel.close()
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
        """The last `limit` bytes of the target's stdout and stderr (interleaved as written), up to
        what it has written by now (the pipe is drained first, for at most a quarter second)."""
        if self._output is None:
            return ""
        self._output.settle()
        return self._output.text(limit)

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
        return [_sample(row) for row in event["samples"]]

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
        return MemorySample(0, int(event["heap_used"]), int(event["external"]), int(event["rss"]),
                            handles=_handle_counts(event.get("handles")))

    def track_handles(self, on: bool) -> bool:
        """Record (or stop recording) the creation stacks of the async resources born from now."""
        return bool(self._request("track_handles", phase="measured", on=on).get("supported"))

    def handle_sites(self) -> list[tuple[str, list[tuple[str, str, int, int]], int]]:
        """(kind, raw frames innermost first, count) of the recorded resources still active."""
        sites = []
        for site in self._request("handle_sites", phase="measured").get("sites", []):
            frames = [(str(name), str(script), int(line), int(column)) for name, script, line, column in site["frames"]]
            sites.append((str(site["kind"]), frames, int(site["count"])))
        return sites

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
        if self._channel is None or self.hello is None:
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
            self._channel.send(cmd, **kwargs)
        except BrokenPipeError:
            raise self._crashed() from None
        self._busy = True
        return self._wait(cmd)

    def _wait(self, cmd: str) -> Event:
        """The answer to `cmd` ("hello" for the start), keeping track of progress meanwhile."""
        while True:
            try:
                event = self._next_event(self._deadline)
            except Expired:
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
        """The next event; `Expired` once `deadline` (monotonic) has passed without one."""
        assert self._channel is not None
        try:
            return self._channel.next_event(deadline)
        except ChannelClosed:
            pass
        raise self._crashed()

    # --- failures ----------------------------------------------------------------------------------

    def _error(self, event: Event) -> JsLeakError:
        name, message = event.get("name", "Error"), event.get("message", "")
        phase, iteration, scenario = event.get("phase"), event.get("iteration"), event.get("scenario")
        if name == "ProtocolError":
            return HarnessProtocolError(f"the harness rejected a command: {message}")
        stack = clean_stack(event.get("stack"))
        if phase == "load":
            self._gone = "the target failed to load"
            self._settle()  # the harness exits now; its last words (node's syntax error location) count
        elif event.get("uncaught"):
            self._gone = "the target threw outside a call"
        elif name == "ScenarioNotFound":
            return self._missing_scenario(str(scenario), message)
        text = error_text(event, self.target, self.runtime)
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
        return missing_scenario(self.target, scenario, reason, self.hello.scenarios if self.hello else [])

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
        where = describe_where(self.target, self._where)
        self._kill(sweep=True)
        if self._output is not None:
            self._output.join(0.5)  # the last words are often the explanation
        return RuntimeCrashError(
            crash_text(self.runtime.name, code, where),
            phase=self._where.get("phase"),
            iteration=self._where.get("iteration"),
            output_tail=self.output_tail(),
        )

    def _timed_out(self) -> ScenarioTimeoutError:
        where, exact = self._ask_status()
        self._gone = "timed out"
        self._kill()
        text = f"timed out after {self.timeout!r} s {describe_where(self.target, where)}"
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
        assert self._channel is not None
        self._channel.send_quietly("status")
        grace = time.monotonic() + STATUS_GRACE
        while True:
            try:
                event = self._next_event(grace)
            except (Expired, RuntimeCrashError, HarnessProtocolError):
                return self._where, False
            if event["event"] == "status":
                return {k: event.get(k) for k in ("phase", "scenario", "iteration")}, True
            if event["event"] == "progress":
                self._where = {k: event.get(k) for k in ("phase", "scenario", "iteration")}


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

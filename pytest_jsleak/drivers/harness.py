"""A module target's scenario, run by harness.mjs in a Node, Bun or Deno child process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pytest_jsleak.drivers.base import Phase
from pytest_jsleak.heap.allocations import to_frames
from pytest_jsleak.model import HandleSite, LeakResult, MemorySample, StackFrame
from pytest_jsleak.options import Options
from pytest_jsleak.profiles import RuntimeProfile, profile_for
from pytest_jsleak.runtime.process import HarnessProcess
from pytest_jsleak.runtime.runtimes import RuntimeInfo, find_runtime


def launch_key(options: Options) -> tuple[object, ...]:
    """The options that decide how the runtime is started: a change means another process."""
    return (options.runtime, options.runtime_path, options.runtime_args)


class HarnessDriver:
    """One scenario of a loaded target (`HarnessProcess` stays the owner of the process)."""

    def __init__(self, process: HarnessProcess, scenario: str) -> None:
        self.process = process
        self.scenario = scenario
        hello = process.hello
        self.profile: RuntimeProfile = profile_for(hello.runtime if hello else process.runtime.name)
        self.runtime_version = hello.version if hello else process.runtime.version
        self.timings: dict[str, float] = process.timings

    def run(self, iterations: int, *, sample_every: int, start: int, phase: Phase) -> list[MemorySample]:
        return self.process.run(self.scenario, iterations, sample_every=sample_every, start=start, phase=phase)

    def sample(self) -> MemorySample:
        return self.process.gc_sample()

    def snapshot(self, path: Path, *, stop_tracking: bool = False) -> Path:
        written = self.process.snapshot(path)
        if stop_tracking:
            self.process.track_allocations(False)
        return written

    def track_allocations(self, on: bool) -> bool:
        return self.process.track_allocations(on)

    def track_handles(self, on: bool) -> bool:
        return self.process.track_handles(on)

    def handle_sites(self) -> list[HandleSite]:
        # The stacks differ below the scenario (the harness's own frames, cut here): one site per
        # kind and stack as the report shows it.
        counts: dict[tuple[str, tuple[StackFrame, ...]], int] = {}
        for kind, frames, count in self.process.handle_sites():
            key = (kind, to_frames(frames))
            counts[key] = counts.get(key, 0) + count
        return [HandleSite(kind, frames, count) for (kind, frames), count in counts.items()]

    def teardown(self) -> None:
        self.process.teardown()

    def annotate(self, result: LeakResult) -> LeakResult:
        return result

    def close(self) -> None:
        self.process.close()


class HarnessLauncher:
    """Starts the runtime for one scenario and yields its driver, ready to measure.

    The file's own `export const jsleak` is only known once the target is loaded; when it names
    another runtime (or executable, or arguments), the target is loaded again there. `runtime`
    and `options` say how far the start got, so an error result can name the runtime.
    """

    def __init__(
        self,
        target: Path,
        scenario: str,
        options: Options,
        *,
        cwd: Path,
        writable: Path,
        with_file_options: Callable[[Mapping[str, Any] | None], Options] | None = None,
    ) -> None:
        self.target = target
        self.scenario = scenario
        self.options = options
        self.cwd = cwd
        self.writable = writable
        self.with_file_options = with_file_options
        self.runtime: RuntimeInfo | None = None
        self.start_seconds = 0.0
        self.started: float | None = None
        """`time.monotonic()` when the process that runs the check was started (its timeout runs from there)."""

    @contextmanager
    def open(self) -> Iterator[HarnessDriver]:
        proc = self._start()
        with proc:
            proc.check_scenario(self.scenario)  # before `setup`, which may be costly
            proc.setup()
            proc.warm_channel(self.scenario)
            self.start_seconds = time.perf_counter() - self._mark
            yield HarnessDriver(proc, self.scenario)

    def _start(self) -> HarnessProcess:
        for _attempt in range(2):
            launch = launch_key(self.options)
            self.runtime = find_runtime(self.options.runtime, self.options.runtime_path, cwd=self.cwd)
            self._mark = time.perf_counter()
            self.started = time.monotonic()
            proc = HarnessProcess(
                self.runtime,
                self.target,
                timeout=self.options.timeout,
                cwd=self.cwd,
                runtime_args=self.options.runtime_args,
                writable=(self.writable,),
            )
            try:
                hello = proc.start()
                if self.with_file_options is not None:
                    self.options = self.with_file_options(hello.options)
            except BaseException:
                proc.close()
                raise
            if launch_key(self.options) == launch or _attempt == 1:
                return proc
            # The file's own export asks for another runtime: load it again there.
            proc.close()
        raise AssertionError("unreachable: the second start always returns")


__all__ = ["HarnessDriver", "HarnessLauncher", "launch_key"]

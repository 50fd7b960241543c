"""harness.mjs spoken to directly, line by line, in node and bun: the wire protocol as the harness sees it."""

from __future__ import annotations

import itertools
import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_jsleak.runtime import RuntimeInfo
from pytest_jsleak.runtime.runtimes import harness_command, harness_path


class RawHarness:
    """The harness on raw pipes; `pop(event)` skips progress events, like xdist's `popevent`."""

    def __init__(self, runtime: RuntimeInfo, target: Path, argv: list[str] | None = None) -> None:
        cmd_r, self.cmd_w = os.pipe()
        self.evt_r, evt_w = os.pipe()
        env = {**os.environ, "JSLEAK_CMD_FD": str(cmd_r), "JSLEAK_EVT_FD": str(evt_w)}
        self.proc = subprocess.Popen(
            argv or harness_command(runtime, target),
            pass_fds=(cmd_r, evt_w),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cmd_r)
        os.close(evt_w)
        self.buffer = b""

    def send(self, line: str | dict[str, Any]) -> None:
        text = line if isinstance(line, str) else json.dumps(line)
        os.write(self.cmd_w, text.encode() + b"\n")

    def pop(self, timeout: float = 10.0, *, progress: bool = False) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                event = json.loads(line)
                if progress or event["event"] != "progress":
                    return event
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no event in time"
            if select.select([self.evt_r], [], [], remaining)[0]:
                data = os.read(self.evt_r, 65536)
                assert data, "the harness closed its event pipe"
                self.buffer += data

    def close(self) -> None:
        os.close(self.cmd_w)
        os.close(self.evt_r)
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def raw(runtime: RuntimeInfo, targets: Path) -> Iterator[RawHarness]:
    harness = RawHarness(runtime, targets / "basic.mjs")
    yield harness
    harness.close()


def test_hello_then_commands_then_exit(raw: RawHarness, runtime: RuntimeInfo) -> None:
    hello = raw.pop()
    assert hello["event"] == "hello"
    assert hello["runtime"] == runtime.name
    assert hello["version"] == runtime.version
    assert hello["pid"] == raw.proc.pid
    raw.send({"cmd": "setup"})
    assert raw.pop() == {"event": "result", "cmd": "setup", "called": True, "ms": pytest.approx(0, abs=1e4)}
    raw.send({"cmd": "run", "scenario": "clean", "iterations": 6, "sample_every": 2, "start": 4, "phase": "warmup"})
    result = raw.pop()
    assert result["cmd"] == "run"
    assert [sample[0] for sample in result["samples"]] == [6, 8, 10]
    # [iteration, heap, external, rss, {kind: active resources}]
    assert all(len(sample) == 5 and all(isinstance(v, int) and v >= 0 for v in sample[:4])
               and isinstance(sample[4], dict) for sample in result["samples"])
    assert all(heap > 0 and rss > heap for _, heap, _external, rss, _handles in result["samples"])
    assert {"ms", "call_ms", "sample_ms"} <= result.keys()
    raw.send({"cmd": "exit"})
    assert raw.proc.wait(timeout=5) == 0


def test_status_is_answered_out_of_turn(raw: RawHarness) -> None:
    raw.pop()  # hello
    # Each call awaits a setImmediate: the event loop is free between calls, so status is answered.
    raw.send({"cmd": "run", "scenario": "asyncClean", "iterations": 10**7, "sample_every": 0, "start": 5, "phase": "p"})
    first = raw.pop(progress=True)
    assert first == {"event": "progress", "phase": "p", "scenario": "asyncClean", "iteration": 6}
    raw.send({"cmd": "status"})
    status = raw.pop()
    assert status["event"] == "status"
    assert status["cmd"] == "run"
    assert status["scenario"] == "asyncClean"
    assert status["phase"] == "p"
    assert status["iteration"] >= 6


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"cmd": "fly"}', 'unknown command "fly"'),
        ("{not json", "not JSON"),
        ('{"cmd": "run", "scenario": "clean", "iterations": -1}', "iterations must be a non-negative integer"),
        ('{"cmd": "run", "scenario": "setup", "iterations": 1}', '"setup" is not a scenario name'),
        ('{"cmd": "run", "scenario": "version", "iterations": 1}', '"version" is string, not a function'),
        ('{"cmd": "snapshot"}', "snapshot needs a path"),
    ],
)
def test_bad_commands_are_protocol_errors_and_the_harness_carries_on(raw: RawHarness, line: str, message: str) -> None:
    raw.pop()  # hello
    raw.send(line)
    error = raw.pop()
    assert error["event"] == "error"
    assert message in error["message"]
    assert error["origin"] == "harness"
    raw.send({"cmd": "gc_sample"})
    assert raw.pop()["cmd"] == "gc_sample"


def test_closing_the_command_pipe_ends_the_harness(raw: RawHarness) -> None:
    raw.pop()  # hello
    os.close(raw.cmd_w)
    raw.cmd_w = os.open(os.devnull, os.O_WRONLY)  # something for close() to close
    assert raw.proc.wait(timeout=5) == 0


def test_node_without_expose_gc_still_collects(node: RuntimeInfo, targets: Path) -> None:
    raw = RawHarness(
        node, targets / "basic.mjs", argv=[node.executable, str(harness_path()), str(targets / "basic.mjs")]
    )
    try:
        raw.pop()  # hello
        raw.send({"cmd": "run", "scenario": "clean", "iterations": 200, "sample_every": 0, "phase": "warmup"})
        raw.pop()
        raw.send({"cmd": "run", "scenario": "leak", "iterations": 400, "sample_every": 40, "phase": "measured"})
        used = [heap for _, heap, _external, _rss, _handles in raw.pop()["samples"]]
        steps = sorted(b - a for a, b in itertools.pairwise(used))
        assert 40 * 50 <= steps[len(steps) // 2] <= 40 * 110  # the garbage is gone, the leak is not
    finally:
        raw.close()

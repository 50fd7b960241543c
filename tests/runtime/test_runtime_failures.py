"""How a broken, crashing or hanging target is reported, and that no process outlives it."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest

from pytest_jsleak.errors import RuntimeCrashError, ScenarioTimeoutError, TargetError
from pytest_jsleak.runtime import HarnessProcess, RuntimeInfo, list_scenarios

# --- a throw in the target --------------------------------------------------------------------------


def test_throw_at_call_n(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "basic.mjs", timeout=20) as proc:
        proc.start()
        with pytest.raises(TargetError) as info:
            proc.run("boom", 10, start=100)
        error = info.value
        assert type(error) is TargetError
        assert (error.phase, error.iteration) == ("measured", 103)
        expected = "scenario 'boom' threw at call 103 (measured phase) in basic.mjs: TypeError: boom at call 3"
        assert expected in str(error)
        assert error.js_stack is not None
        assert "basic.mjs:" in error.js_stack
        assert "harness.mjs" not in error.js_stack
        # The process survives a throw: the next command works.
        assert proc.teardown() is True


def test_async_rejection_and_odd_throws(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "basic.mjs", timeout=20) as proc:
        proc.start()
        with pytest.raises(TargetError, match=r"threw at call 1 \(warmup phase\).*RangeError: async boom"):
            proc.run("asyncBoom", 5, phase="warmup")
        with pytest.raises(TargetError, match="string: a bare string"):
            proc.run("throwsString", 1)


@pytest.mark.parametrize(("scenario", "kind"), [("uncaught", "exception"), ("unhandled", "promise rejection")])
def test_throw_outside_the_call(runtime: RuntimeInfo, targets: Path, scenario: str, kind: str) -> None:
    with HarnessProcess(runtime, targets / "exits.mjs", timeout=20) as proc:
        proc.start()
        with pytest.raises(TargetError) as info:
            proc.run(scenario, 1)
    assert f"uncaught {kind} in scenario {scenario!r}, measured phase, at iteration 1" in str(info.value)
    assert "exits.mjs:" in (info.value.js_stack or "")


def test_missing_scenario_lists_the_scenarios(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "commonjs.cjs", timeout=20) as proc:
        proc.start()
        with pytest.raises(TargetError, match=r"no scenario 'nope' in .*commonjs.cjs.*its scenarios: counter$"):
            proc.run("nope", 1)
        with pytest.raises(TargetError, match="'notAFunction' is exported but is not a function"):
            proc.run("notAFunction", 1)
        with pytest.raises(TargetError, match="'setup' is a reserved export, not a scenario"):
            proc.run("setup", 1)


def test_setup_that_is_not_a_function(node: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(node, targets / "bad-setup.mjs", timeout=20) as proc:
        proc.start()
        with pytest.raises(TargetError, match="the `setup` export is string, not a function") as info:
            proc.setup()
        assert info.value.phase == "setup"


# --- loading -------------------------------------------------------------------------------------


def test_syntax_error(runtime: RuntimeInfo, targets: Path) -> None:
    with pytest.raises(TargetError) as info:
        list_scenarios(runtime, targets / "syntax-error.mjs", timeout=20)
    error = info.value
    assert error.phase == "load"
    assert f"cannot load {targets / 'syntax-error.mjs'} with {runtime.name}" in str(error)
    # The location: Node prints it to stderr (the tail), Bun carries it in the error.
    assert "syntax-error.mjs:2" in str(error)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("import-error.mjs", "does-not-exist.mjs"),
        ("throws-at-load.cjs", "Error: cannot initialise"),
        ("bad-options.mjs", "the `jsleak` export is not serialisable as JSON: jsleak.filter is function"),
    ],
)
def test_load_failures(runtime: RuntimeInfo, targets: Path, name: str, message: str) -> None:
    with pytest.raises(TargetError, match=re.escape(message)) as info:
        list_scenarios(runtime, targets / name, timeout=20)
    assert type(info.value) is TargetError
    assert info.value.phase == "load"
    assert name in str(info.value)


# --- crashes -------------------------------------------------------------------------------------


def test_process_exit_in_the_target(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "exits.mjs", timeout=20) as proc:
        proc.start()
        with pytest.raises(RuntimeCrashError) as info:
            proc.run("exitsAtTwo", 5)
        error = info.value
        assert (error.phase, error.iteration) == ("measured", 2)
        expected = f"{runtime.name} exited with code 3 in scenario 'exitsAtTwo', measured phase, at iteration 2"
        assert expected in str(error)
        assert "process.exit()" in str(error)
        assert error.output_tail is not None
        assert "about to exit" in error.output_tail
        with pytest.raises(RuntimeCrashError, match="is gone"):
            proc.gc_sample()


def test_killed_by_a_signal(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "exits.mjs", timeout=20) as proc:
        proc.start()
        with pytest.raises(RuntimeCrashError, match="was killed by SIGKILL in scenario 'killsItself'"):
            proc.run("killsItself", 1)


def test_exit_while_loading(node: RuntimeInfo, targets: Path) -> None:
    with pytest.raises(RuntimeCrashError, match=r"exited with code 0 while loading exits-at-load.mjs") as info:
        list_scenarios(node, targets / "exits-at-load.mjs", timeout=20)
    assert "bye from load" in str(info.value)


# --- timeouts ------------------------------------------------------------------------------------


def test_async_hang_is_located_exactly(runtime: RuntimeInfo, targets: Path, assert_gone: Callable[..., None]) -> None:
    with HarnessProcess(runtime, targets / "hangs.mjs", timeout=0.8) as proc:
        proc.start()
        pid = proc.pid
        with pytest.raises(ScenarioTimeoutError) as info:
            proc.run("asyncHang", 100)
        expected = "timed out after 0.8 s in scenario 'asyncHang', measured phase, at iteration 37"
        assert str(info.value).startswith(expected)
        assert info.value.iteration == 37
        assert_gone([pid])  # killed at once, not only at close()


def test_busy_loop_is_killed(node: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(node, targets / "hangs.mjs", timeout=0.8) as proc:
        proc.start()
        with pytest.raises(ScenarioTimeoutError) as info:
            proc.run("spin", 100, phase="warmup")
    # The event loop is blocked: the last progress event is all there is to go by.
    assert "in scenario 'spin', warmup phase, at iteration 1 or later" in str(info.value)
    assert "event loop was blocked" in str(info.value)


def test_load_hang(node: RuntimeInfo, targets: Path) -> None:
    with pytest.raises(ScenarioTimeoutError, match=r"timed out after 0\.5 s while loading load-hang\.mjs"):
        list_scenarios(node, targets / "load-hang.mjs", timeout=0.5)


def test_the_budget_spans_every_call(node: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(node, targets / "hangs.mjs", timeout=1.0) as proc:
        proc.start()
        proc.run("asyncHang", 30)
        with pytest.raises(ScenarioTimeoutError, match="at iteration 37"):
            proc.run("asyncHang", 30, start=30)


def _children(tail: str) -> list[int]:
    match = re.search(r"children (\d+) (\d+)", tail)
    assert match, tail
    return [int(match[1]), int(match[2])]


def test_timeout_kills_the_whole_tree(runtime: RuntimeInfo, targets: Path, assert_gone: Callable[..., None]) -> None:
    # Deno lets the target start processes only when runtime_args say so.
    args = ["--allow-run"] if runtime.name == "deno" else []
    with HarnessProcess(runtime, targets / "hangs.mjs", timeout=1.0, runtime_args=args) as proc:
        proc.start()
        with pytest.raises(ScenarioTimeoutError):
            proc.run("spawnsAndHangs", 1)
        pids = [proc.pid or 0, *_children(proc.output_tail())]
    assert_gone(pids)


@pytest.fixture
def interrupt_after() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, handler)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.usefixtures("interrupt_after")
def test_keyboard_interrupt_leaves_nothing(node: RuntimeInfo, targets: Path, assert_gone: Callable[..., None]) -> None:
    proc = HarnessProcess(node, targets / "hangs.mjs", timeout=30)
    with pytest.raises(KeyboardInterrupt), proc:
        proc.start()
        signal.setitimer(signal.ITIMER_REAL, 0.4)
        proc.run("spawnsAndHangs", 1)
    assert_gone([proc.pid or 0, *_children(proc.output_tail())])

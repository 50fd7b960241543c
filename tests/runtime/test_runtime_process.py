"""HarnessProcess against real runtimes: loading targets, the call order, samples, snapshots, output."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import time
from pathlib import Path

import pytest

from pytest_jsleak.errors import TargetError
from pytest_jsleak.runtime import HarnessProcess, RuntimeInfo, Sample, list_scenarios


def test_hello_describes_the_exports(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "basic.mjs", timeout=20) as proc:
        hello = proc.start()
        assert (hello.runtime, hello.version, hello.pid) == (runtime.name, runtime.version, proc.pid)
        assert hello.exports == {
            "Widget": "class",
            "asyncBoom": "async function",
            "asyncClean": "async function",
            "boom": "function",
            "clean": "function",
            "generator": "generator function",
            "leak": "function",
            "thenableClean": "function",
            "throwsString": "function",
        }
        assert hello.non_functions == ["version"]
        assert hello.options == {"iterations": 120, "ignore": ["Foo"], "maxGrowthPerIteration": "1KB"}
        assert set(hello.reserved) == {"setup", "teardown", "jsleak"}
        assert "setup" not in hello.scenarios
        assert proc.timings["start"] > 0


def wait_for_output(proc: HarnessProcess, text: str, timeout: float = 5.0) -> None:
    """The output travels through its own pipe and reader thread: give a loaded machine a moment."""
    deadline = time.monotonic() + timeout
    while text not in proc.output_tail() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_setup_calls_teardown_in_order(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "basic.mjs", timeout=20) as proc:
        proc.start()
        assert proc.setup() is True
        proc.run("clean", 5, phase="warmup")
        proc.run("asyncClean", 4, start=5)
        proc.run("thenableClean", 3, start=9)
        assert proc.teardown() is True
        wait_for_output(proc, "marker:teardown")
        tail = proc.output_tail()
    assert re.findall(r"marker:\S+(?: after \d+ calls)?", tail) == ["marker:setup", "marker:teardown after 12 calls"]


def test_samples_are_numbered_from_start(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "basic.mjs", timeout=20) as proc:
        proc.start()
        samples = proc.run("clean", 10, sample_every=3, start=5)
        assert [s.iteration for s in samples] == [8, 11, 14]
        assert all(isinstance(s, Sample) and s.heap > 100_000 for s in samples)
        assert [s.iteration for s in proc.run("asyncClean", 4, sample_every=2)] == [2, 4]
        assert proc.run("clean", 7, sample_every=0) == []
        assert proc.run("clean", 0, sample_every=5) == []
        assert proc.gc_sample().heap > 100_000
        assert {"run", "run.call", "run.sample", "gc_sample"} <= proc.timings.keys()


def test_run_rejects_bad_counts(node: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(node, targets / "basic.mjs", timeout=20) as proc:
        proc.start()
        for bad in ({"iterations": -1}, {"iterations": 2, "sample_every": -3}, {"iterations": True}):
            with pytest.raises(ValueError, match="non-negative integer"):
                proc.run("clean", **bad)  # type: ignore[arg-type]


def test_reserved_exports_are_optional(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "commonjs-object.cjs", timeout=20) as proc:
        proc.start()
        assert proc.setup() is False
        assert proc.teardown() is False


def test_commonjs_named_exports(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "commonjs.cjs", timeout=20) as proc:
        hello = proc.start()
        assert hello.exports == {"counter": "function"}
        assert hello.non_functions == ["notAFunction"]
        assert proc.setup() is True
        assert len(proc.run("counter", 4, sample_every=2)) == 2
        wait_for_output(proc, "cjs setup")
        assert "cjs setup" in proc.output_tail()


@pytest.mark.parametrize(
    ("name", "scenarios"), [("commonjs-object.cjs", ["alpha", "beta"]), ("commonjs-function.cjs", ["default"])]
)
def test_commonjs_module_exports(runtime: RuntimeInfo, targets: Path, name: str, scenarios: list[str]) -> None:
    hello = list_scenarios(runtime, targets / name, timeout=20)
    assert hello.scenarios == scenarios
    assert hello.non_functions == []


@pytest.mark.bun
def test_typescript_under_bun(bun: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(bun, targets / "typed.ts", timeout=20) as proc:
        assert proc.start().exports == {"typedAsync": "async function", "typedLeak": "function"}
        assert [s.iteration for s in proc.run("typedLeak", 4, sample_every=2)] == [2, 4]
        proc.run("typedAsync", 2)


def test_snapshot_is_a_v8_heap_snapshot(runtime: RuntimeInfo, targets: Path, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "s1.heapsnapshot"
    with HarnessProcess(runtime, targets / "basic.mjs", timeout=30, writable=[tmp_path]) as proc:
        proc.start()
        proc.run("leak", 50)
        assert proc.snapshot(path) == path
    with path.open("rb") as f:
        snapshot = json.load(f)
    meta = snapshot["snapshot"]["meta"]
    assert meta["node_fields"][:4] == ["type", "name", "id", "self_size"]
    assert meta["edge_fields"] == ["type", "name_or_index", "to_node"]
    assert snapshot["snapshot"]["node_count"] * len(meta["node_fields"]) == len(snapshot["nodes"])


def test_protocol_lookalikes_on_stdout_change_nothing(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "noisy.mjs", timeout=20) as proc:
        assert proc.start().exports == {"chatty": "function"}
        assert [s.iteration for s in proc.run("chatty", 4, sample_every=2)] == [2, 4]
        assert proc.gc_sample().heap > 0
        tail = proc.output_tail()
    assert tail.count('"samples":[[1,1]]') == 5
    assert '{"event":"progress","phase":"x","iteration":999}' in tail


def test_output_tail_is_bounded(runtime: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(runtime, targets / "noisy.mjs", timeout=20) as proc:
        proc.start()
        proc.run("chatty", 100)
        assert len(proc.output_tail(300)) <= 300
        assert proc.output_tail(0) == ""


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def test_200_mb_of_output_neither_blocks_nor_fills_memory(runtime: RuntimeInfo, targets: Path) -> None:
    before = _rss_mb()
    env = {**os.environ, "FLOOD_MB": "200"}
    expected = 200 * 2**20 + len("flood done\n") + len("the end\n")
    with HarnessProcess(runtime, targets / "flood.mjs", timeout=30, env=env) as proc:
        proc.start()
        proc.run("flood", 1)
        # Bun may still hold some stdout when the call returns; it writes it while idle.
        deadline = time.monotonic() + 10
        while proc.output_bytes < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.output_bytes == expected
        assert proc.gc_sample().heap > 0
        tail = proc.output_tail()
    assert len(tail) == 4000
    if runtime.name == "node":
        # Bun lets a short write overtake the megabytes it still buffers, so only Node keeps the order.
        assert tail.endswith("x\nflood done\nthe end\n")
    assert _rss_mb() - before < 40


@pytest.mark.parametrize(("name", "scenario"), [("basic.mjs", "leak"), ("commonjs.cjs", "counter")])
def test_paths_with_spaces_and_non_ascii(
    runtime: RuntimeInfo, targets: Path, tmp_path: Path, name: str, scenario: str
) -> None:
    folder = tmp_path / "a folder with spaces" / "ünïcödé ✓ 漢字"
    folder.mkdir(parents=True)
    target = folder / f"my {name}"
    shutil.copy(targets / name, target)
    with HarnessProcess(runtime, target, timeout=20, cwd=folder, writable=[folder]) as proc:
        assert scenario in proc.start().exports
        proc.setup()
        assert len(proc.run(scenario, 2, sample_every=1)) == 2
        snapshot = proc.snapshot(folder / "snäpshots" / "s 1.heapsnapshot")
    assert snapshot.stat().st_size > 1000


def test_target_errors_name_non_ascii_paths(runtime: RuntimeInfo, targets: Path, tmp_path: Path) -> None:
    target = tmp_path / "répertoire" / "cassé.mjs"
    target.parent.mkdir()
    shutil.copy(targets / "basic.mjs", target)
    with HarnessProcess(runtime, target, timeout=20) as proc:
        proc.start()
        with pytest.raises(TargetError) as info:
            proc.run("boom", 3)
    assert "cassé.mjs" in str(info.value)
    assert "cass" in (info.value.js_stack or "")

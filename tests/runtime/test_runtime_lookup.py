"""Finding runtimes, refusing targets before spawning, and the protocol codec (no JS runs here)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pytest_jsleak.errors import JsLeakError, OptionError, RuntimeNotFoundError, TargetError
from pytest_jsleak.runtime import HarnessProcess, HarnessProtocolError, RuntimeInfo, find_runtime, harness_path
from pytest_jsleak.runtime.protocol import COMMANDS, EventDecoder, encode_command


def test_find_node(node: RuntimeInfo) -> None:
    assert node.name == "node"
    assert Path(node.executable).is_absolute()
    assert node.version[0].isdigit(), node.version  # no leading "v"


@pytest.mark.parametrize("name", ["Node", "", "python", "chromium"])
def test_unknown_runtime_is_an_option_error(name: str) -> None:
    with pytest.raises(OptionError, match=r"runtime") as info:
        find_runtime(name)
    assert repr(name) in str(info.value)
    assert "node, bun, deno" in str(info.value)


@pytest.mark.parametrize(
    ("name", "hint"), [("node", "nodejs.org"), ("bun", "npm install -g bun"), ("deno", "npm install -g deno")]
)
def test_missing_executable_says_how_to_install(
    name: str, hint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeNotFoundError) as info:
        find_runtime(name)
    assert f"the {name} executable was not found on PATH" in str(info.value)
    assert hint in str(info.value)


def _no_spawn(*args: object, **kwargs: object) -> None:
    raise AssertionError("a runtime was spawned")


def test_typescript_under_node_is_refused_before_spawning(
    node: RuntimeInfo, targets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subprocess, "Popen", _no_spawn)
    with HarnessProcess(node, targets / "typed.ts") as proc, pytest.raises(TargetError) as info:
        proc.start()
    assert "cannot run TypeScript" in str(info.value)
    assert "runtime_args" in str(info.value) and "--import tsx" in str(info.value)
    assert "runtime_path" in str(info.value) and "22.6" in str(info.value)
    assert info.value.phase == "load"


def test_missing_file_is_refused_before_spawning(
    node: RuntimeInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subprocess, "Popen", _no_spawn)
    missing = tmp_path / "nowhere.leak.mjs"
    with HarnessProcess(node, missing) as proc, pytest.raises(TargetError) as info:
        proc.start()
    assert str(missing) in str(info.value)
    assert "does not exist" in str(info.value)


def test_commands_before_start_are_refused(node: RuntimeInfo, targets: Path) -> None:
    with HarnessProcess(node, targets / "basic.mjs") as proc, pytest.raises(RuntimeError, match="start"):
        proc.gc_sample()


def test_harness_ships_in_the_package() -> None:
    path = harness_path()
    assert path.name == "harness.mjs"
    assert path.is_file()
    assert path.parent.name == "runtime"


def test_encode_command_is_one_ascii_json_line() -> None:
    line = encode_command("snapshot", path="/tmp/ünï cödé/s1.heapsnapshot")
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    line.decode("ascii")  # non-ASCII travels escaped
    assert json.loads(line) == {"cmd": "snapshot", "path": "/tmp/ünï cödé/s1.heapsnapshot"}


def test_unknown_command_is_refused() -> None:
    with pytest.raises(HarnessProtocolError, match="unknown command 'fly'"):
        encode_command("fly")
    assert "run" in COMMANDS


def test_decoder_reassembles_split_lines() -> None:
    decoder = EventDecoder()
    assert decoder.feed(b'{"event":"progress","iter') == []
    assert decoder.partial
    events = decoder.feed(b'ation":3}\n\n{"event":"result","cmd":"gc_sample","heap_used":1}\n{"ev')
    assert events == [
        {"event": "progress", "iteration": 3},
        {"event": "result", "cmd": "gc_sample", "heap_used": 1},
    ]
    assert decoder.partial == b'{"ev'


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"not json\n", "not JSON"),
        (b"[1, 2]\n", "not an event"),
        (b'{"cmd": "run"}\n', "not an event"),
        (b'{"event": "surprise"}\n', "unknown event 'surprise'"),
    ],
)
def test_decoder_rejects_what_is_not_a_known_event(line: bytes, problem: str) -> None:
    with pytest.raises(HarnessProtocolError, match=problem):
        EventDecoder().feed(line)


def test_missing_working_directory(node: RuntimeInfo, targets: Path, tmp_path: Path) -> None:
    with (
        HarnessProcess(node, targets / "basic.mjs", cwd=tmp_path / "gone") as proc,
        pytest.raises(JsLeakError, match=r"the working directory .*gone does not exist"),
    ):
        proc.start()

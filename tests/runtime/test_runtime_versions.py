"""runtime_path, runtime_args, version checks, Deno's permissions and TypeScript per runtime."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pytest_jsleak.errors import OptionError, RuntimeNotFoundError, TargetError
from pytest_jsleak.runtime import HarnessProcess, RuntimeInfo, find_runtime
from pytest_jsleak.runtime.runtimes import (
    DENO_V8_FLAGS,
    deno_permissions,
    harness_command,
    harness_path,
    parse_version,
)


def fake_executable(folder: Path, name: str, prints: str) -> Path:
    """An executable whose `--version` prints `prints`: an old or unknown runtime, without installing one."""
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{prints}'\n")
    path.chmod(0o755)
    return path


# --- finding the executable -------------------------------------------------------------------


@pytest.mark.deno
def test_runtime_path_picks_the_executable_and_reads_its_version(deno: RuntimeInfo, tmp_path: Path) -> None:
    link = tmp_path / "bin" / "my-deno"
    link.parent.mkdir()
    link.symlink_to(deno.executable)
    found = find_runtime("deno", str(link))
    assert found.name == "deno"
    assert found.executable == str(link)
    assert found.version == deno.version
    assert parse_version(found.version) >= (2,)
    # Relative to the rootdir (cwd) when it has a slash.
    assert find_runtime("deno", "bin/my-deno", cwd=tmp_path).executable == str(link)


def test_missing_runtime_path_names_what_was_tried(tmp_path: Path) -> None:
    with pytest.raises(RuntimeNotFoundError) as info:
        find_runtime("node", str(tmp_path / "nowhere" / "node"))
    text = str(info.value)
    assert f"runtime_path='{tmp_path / 'nowhere' / 'node'}'" in text
    assert "does not exist" in text
    not_executable = tmp_path / "node"
    not_executable.write_text("")
    with pytest.raises(RuntimeNotFoundError, match="is not an executable file"):
        find_runtime("node", str(not_executable))
    with pytest.raises(RuntimeNotFoundError, match="was not found on PATH"):
        find_runtime("node", "no-such-node-anywhere")


@pytest.mark.deno
def test_runtime_path_of_another_runtime(deno: RuntimeInfo) -> None:
    with pytest.raises(RuntimeNotFoundError) as info:
        find_runtime("node", deno.executable)
    text = str(info.value)
    assert f"is deno {deno.version}" in text
    assert "not node" in text
    assert "runtime option to 'deno'" in text


@pytest.mark.parametrize(
    ("name", "prints", "needs"), [("node", "v18.19.0", "node >= 20"), ("bun", "1.0.36", "bun >= 1.1"),
                                  ("deno", "deno 1.46.3 (stable)", "deno >= 2")]
)
def test_too_old_runtime_is_refused(tmp_path: Path, name: str, prints: str, needs: str) -> None:
    old = fake_executable(tmp_path, name, prints)
    with pytest.raises(RuntimeNotFoundError) as info:
        find_runtime(name, str(old))
    text = str(info.value)
    assert "too old" in text and needs in text
    assert str(old) in text and "runtime_path" in text


def test_something_else_is_not_a_runtime(tmp_path: Path) -> None:
    other = fake_executable(tmp_path, "python-ish", "Python 3.12.1")
    with pytest.raises(RuntimeNotFoundError, match=r"is not node, bun or deno.*Python 3\.12\.1"):
        find_runtime("node", str(other))


def test_unknown_runtime_name_is_still_an_option_error() -> None:
    with pytest.raises(OptionError, match="node, bun, deno"):
        find_runtime("rhino", "/usr/bin/rhino")


def test_parse_version() -> None:
    assert parse_version("20.20.2") == (20, 20, 2)
    assert parse_version("1.4.5+a7733435c") == (1, 4, 5)
    assert parse_version("22.6.0-nightly") == (22, 6, 0)
    assert parse_version("canary") == ()


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "strip_flag"),
    [("20.20.2", False), ("22.5.1", False), ("22.6.0", True), ("22.17.1", True), ("22.18.0", False),
     ("23.3.0", True), ("23.6.0", False), ("24.1.0", False)],
)
def test_node_gets_the_type_stripping_flag_where_its_version_needs_it(version: str, strip_flag: bool) -> None:
    node = RuntimeInfo("node", "/opt/node/bin/node", version)
    argv = harness_command(node, Path("/src/app.leak.mts"), runtime_args=["--import", "tsx"])
    assert ("--experimental-strip-types" in argv) is strip_flag
    assert "--experimental-strip-types" not in harness_command(node, Path("/src/app.leak.mjs"))
    # runtime_args come right before the harness.
    assert argv[-4:] == ["--import", "tsx", os.fspath(harness_path()), "/src/app.leak.mts"]
    assert argv[:3] == ["/opt/node/bin/node", "--expose-gc", "--no-concurrent-recompilation"]


def test_deno_command_line() -> None:
    deno = RuntimeInfo("deno", "/usr/bin/deno", "2.9.6")
    argv = harness_command(
        deno, Path("/src/app.leak.mjs"), runtime_args=["--allow-net", "--location=http://x"],
        readable=["/root"], writable=["/root/.jsleak/app"],
    )
    assert argv[:3] == ["/usr/bin/deno", "run", "--no-prompt"]
    assert "--allow-read=/dev/fd,/src,/root" in argv
    assert "--allow-write=/dev/fd,/root/.jsleak/app" in argv
    assert {"--allow-env", "--allow-sys", "--allow-net", DENO_V8_FLAGS} <= set(argv)
    assert argv[-3:] == ["--location=http://x", os.fspath(harness_path()), "/src/app.leak.mjs"]


@pytest.mark.parametrize(
    ("args", "expected", "rest"),
    [
        ([], {"--allow-read=/dev/fd,/t", "--allow-write=/dev/fd,/s"}, []),
        (["--allow-write"], {"--allow-read=/dev/fd,/t", "--allow-write"}, []),
        (["-W=/data", "--allow-read=/etc,/t"], {"--allow-read=/dev/fd,/t,/etc", "--allow-write=/dev/fd,/s,/data"}, []),
        (["--allow-env=HOME"], {"--allow-env"}, []),  # already all of it: never narrowed
        (["--allow-net=127.0.0.1", "--cached-only"], {"--allow-net=127.0.0.1"}, ["--cached-only"]),
        (["-A", "--cached-only"], {"--allow-all"}, ["--cached-only"]),
    ],
)
def test_deno_permissions_merge_with_runtime_args(args: list[str], expected: set[str], rest: list[str]) -> None:
    flags, others = deno_permissions(Path("/t/app.mjs"), [], ["/s"], args)
    assert flags[0] == "--no-prompt"
    assert expected <= set(flags), flags
    assert others == rest
    if "-A" in args:
        assert flags == ["--no-prompt", "--allow-all"]


# --- Deno's permissions at run time -------------------------------------------------------------

READS_A_FILE = """
import fs from "node:fs";
export function readConfig() { return fs.readFileSync(process.env.CONFIG_FILE, "utf8").length; }
"""


@pytest.mark.deno
def test_a_permission_error_names_the_permission_and_the_option(deno: RuntimeInfo, tmp_path: Path) -> None:
    app, data = tmp_path / "app", tmp_path / "data"
    app.mkdir()
    data.mkdir()
    (data / "config.json").write_text("{}")
    target = app / "reads.mjs"
    target.write_text(READS_A_FILE)
    env = {**os.environ, "CONFIG_FILE": str(data / "config.json")}
    with HarnessProcess(deno, target, timeout=20, cwd=app, env=env) as proc:
        proc.start()
        with pytest.raises(TargetError) as info:
            proc.run("readConfig", 1)
    text = str(info.value)
    assert "NotCapable" in text and "read access" in text
    assert "runtime_args" in text and "--jsleak-runtime-args=--allow-read" in text
    # Granted through runtime_args, it runs.
    with HarnessProcess(deno, target, timeout=20, cwd=app, env=env, runtime_args=[f"--allow-read={data}"]) as proc:
        proc.start()
        proc.run("readConfig", 2)


@pytest.mark.deno
def test_deno_writes_snapshots_only_where_it_was_allowed(deno: RuntimeInfo, targets: Path, tmp_path: Path) -> None:
    with HarnessProcess(deno, targets / "basic.mjs", timeout=20, writable=[tmp_path / "ok"]) as proc:
        proc.start()
        assert proc.snapshot(tmp_path / "ok" / "s1.heapsnapshot").stat().st_size > 0
        with pytest.raises(Exception, match=r"deno may write only under .*ok"):
            proc.snapshot(tmp_path / "elsewhere" / "s2.heapsnapshot")


# --- TypeScript ---------------------------------------------------------------------------------


@pytest.fixture(
    params=[pytest.param("bun", marks=pytest.mark.bun), pytest.param("deno", marks=pytest.mark.deno),
            pytest.param("node22", marks=pytest.mark.node22)]
)
def ts_runtime(request: pytest.FixtureRequest) -> RuntimeInfo:
    """Each runtime that runs TypeScript without a loader."""
    if request.param == "node22":
        return find_runtime("node", request.getfixturevalue("node22_executable"))
    if shutil.which(request.param) is None:
        request.getfixturevalue(request.param)  # skips or fails as the runtime tests do
    return find_runtime(request.param)


def test_typescript_importing_typescript(ts_runtime: RuntimeInfo, targets: Path) -> None:
    assert ts_runtime.runs_typescript
    with HarnessProcess(ts_runtime, targets / "typed-main.mts", timeout=20) as proc:
        hello = proc.start()
        assert hello.runtime == ts_runtime.name and hello.version == ts_runtime.version
        assert hello.exports == {"keepPoint": "function"}
        assert [s.iteration for s in proc.run("keepPoint", 4, sample_every=2)] == [2, 4]
    with HarnessProcess(ts_runtime, targets / "typed-common.cts", timeout=20) as proc:
        assert proc.start().exports == {"count": "function"}
        proc.run("count", 3)
    with HarnessProcess(ts_runtime, targets / "typed.ts", timeout=20) as proc:
        assert set(proc.start().exports) == {"typedLeak", "typedAsync"}

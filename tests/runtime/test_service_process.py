"""Service mode's process layer on real servers: start-up, readiness, the inspector, faults, cleanup."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from conftest import TARGETS, assert_all_gone

from pytest_jsleak.drivers.inspector import InspectorDriver
from pytest_jsleak.errors import (
    ActionError,
    InspectorError,
    OptionError,
    RuntimeCrashError,
    ScenarioTimeoutError,
    ServiceStartError,
)
from pytest_jsleak.runtime.service import ServiceProcess, service_command

FAULTS = TARGETS / "service_faults.mjs"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "service"


def require_runtime(name: str) -> None:
    """Skip without `name` on PATH, except under CI=true, where every runtime must be installed."""
    if shutil.which(name) is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is not on PATH, and CI=true does not allow skipping its tests")
        pytest.skip(f"{name} is not on PATH")


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def faults_service(**kwargs) -> ServiceProcess:
    require_runtime("node")
    kwargs.setdefault("ready", "/health")
    return ServiceProcess(["node", str(FAULTS)], **kwargs)


# --- the command ------------------------------------------------------------------------------------


def test_node_command_gets_gc_and_an_inspector_on_loopback() -> None:
    require_runtime("node")
    runtime, argv = service_command(["node", "--enable-source-maps", "server.mjs", "--verbose"])
    assert runtime == "node"
    assert argv[1:] == [
        "--expose-gc", "--no-concurrent-recompilation", "--inspect=127.0.0.1:0", "--inspect-publish-uid=stderr",
        "--enable-source-maps", "server.mjs", "--verbose",
    ]
    assert service_command("node --expose-gc app.mjs")[1].count("--expose-gc") == 1


def test_deno_command_gets_its_flags_before_the_script() -> None:
    require_runtime("deno")
    _, argv = service_command(["deno", "run", "--config", "deno.json", "--allow-net", "server.ts", "--port-from-env"])
    ours = ["--inspect=127.0.0.1:0", "--inspect-publish-uid=stderr"]  # deno 2.9 has the flag
    assert argv[1:] == ["run", *ours, "--v8-flags=--expose-gc", "--config", "deno.json",
                        "--allow-net", "server.ts", "--port-from-env"]
    _, argv = service_command(["deno", "run", "-A", "--v8-flags=--max-old-space-size=512", "server.ts"])
    assert argv[1:] == ["run", *ours, "-A", "--v8-flags=--max-old-space-size=512,--expose-gc", "server.ts"]
    # The script's own arguments are the script's, whatever they look like.
    assert service_command(["deno", "run", "server.ts", "--inspect-routes"])[1][-1] == "--inspect-routes"
    assert service_command(["node", "-r", "./tracing.cjs", "server.mjs", "--debug"])[1][-1] == "--debug"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["bun", "server.ts"], "Bun, whose inspector speaks WebKit's protocol"),
        (["python", "-m", "http.server"], "does not start node or deno"),
        (["npm", "start"], "does not start node or deno"),
        (["deno", "task", "start"], "give deno's `run` (or `serve`) subcommand"),
        (["node", "--inspect=9229", "server.mjs"], "already opens an inspector"),
        ([], "non-empty list"),
    ],
)
def test_commands_that_cannot_be_driven_are_usage_errors(command: list[str], message: str) -> None:
    with pytest.raises(OptionError, match=re.escape(message)):
        service_command(command)


# --- start-up and readiness ---------------------------------------------------------------------------


def test_ready_path_port_and_cleanup_of_the_whole_tree() -> None:
    with faults_service(env={"CHILD": "1"}) as svc:
        assert svc.url == f"http://127.0.0.1:{svc.port}"
        assert get(svc.url + "/ok") == b"1"
        assert svc.inspector_url and svc.inspector_url.startswith("ws://127.0.0.1:")
        assert svc.runtime == "node" and re.match(r"\d+\.\d+", svc.runtime_version)
        pids = [svc.pid, *(p.pid for p in psutil.Process(svc.pid).children(recursive=True))]
        assert len(pids) == 2, "the server's own child (sleep) should be running"
    assert_all_gone(pids)


def test_without_ready_the_port_accepting_is_enough() -> None:
    with faults_service(ready=None) as svc:
        assert get(svc.url + "/ok") == b"1"


@pytest.mark.parametrize("ready", ["/health", None], ids=["ready-path", "port-only"])
def test_the_idle_baseline_is_the_servers_steady_set_without_the_probes_connection(ready: str | None) -> None:
    # Read at once after the readiness probe, the baseline held the probe's socket and lacked the
    # server's stdio pipe in 5 of 6 starts, and every sample then waited 20 ms for a socket to go quiet.
    from pytest_jsleak.runtime import cdp

    for _ in range(3):
        with faults_service(ready=ready) as svc:
            time.sleep(0.3)
            steady = sorted(cdp.evaluate(svc.client, "process.getActiveResourcesInfo()"))
            assert svc.idle == [name for name in steady if name != "TTYWrap"]
            assert "TCPSocketWrap" not in svc.idle
            get(svc.url + "/ok")
            assert cdp.settle(svc.client, svc.idle) == svc.idle  # back to the baseline, nothing extra


def test_server_that_exits_at_start_fails_with_its_output() -> None:
    with pytest.raises(ServiceStartError) as info, faults_service(env={"EXIT_AT_START": "3"}):
        pass
    text = str(info.value)
    assert "exited with code 3 before" in text
    assert "fatal: missing configuration DATABASE_URL" in text
    assert info.value.phase == "start"


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"NEVER_LISTEN": "1"}, r"(?m)^not listening on purpose$"),
        ({"UNHEALTHY": "1"}, r"(?m)^listening on \d+$"),  # its own line, not the inspector's "Debugger listening on"
    ],
)
def test_server_that_never_gets_ready_times_out_with_its_output(env: dict[str, str], said: str) -> None:
    started = time.monotonic()
    with pytest.raises(ServiceStartError) as info, faults_service(env=env, startup_timeout=1.5):
        pass
    assert time.monotonic() - started < 10
    text = str(info.value)
    assert "did not start within startup_timeout=1.5 s" in text and "GET /health answering" in text
    assert re.search(said, text), text  # the output tail: what the server itself printed


def test_missing_working_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="does not exist"), faults_service(cwd=tmp_path / "nope"):
        pass


# --- the inspector ------------------------------------------------------------------------------------


def inspector_listing(svc: ServiceProcess) -> tuple[int, str]:
    """What the inspector's HTTP endpoint lists (`/json/list`): status and body."""
    import http.client

    assert svc.inspector_url is not None
    host, port = svc.inspector_url.removeprefix("ws://").split("/", 1)[0].rsplit(":", 1)
    assert host == "127.0.0.1"  # loopback only
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/json/list")
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


@pytest.mark.parametrize("runtime", ["node", pytest.param("deno", marks=pytest.mark.deno)])
def test_the_inspector_does_not_list_its_target_over_http(runtime: str) -> None:
    require_runtime(runtime)
    command = (
        ["node", "server.mjs"]
        if runtime == "node"
        else ["deno", "run", "--allow-net=127.0.0.1", "--allow-env=PORT", "server.ts"]
    )
    with ServiceProcess(command, ready="/health", cwd=EXAMPLES) as svc:
        assert svc.inspector_url is not None
        target_id = svc.inspector_url.rsplit("/", 1)[1]
        assert re.fullmatch(r"[0-9a-f-]{36}", target_id), svc.inspector_url
        status, body = inspector_listing(svc)
        # Node answers 200 with nothing in it, Deno 404: either way no WebSocket address to steal.
        assert target_id not in body and "webSocketDebuggerUrl" not in body, (status, body)
        drive = InspectorDriver(svc, lambda: get(svc.url + "/track"), timeout=30)
        samples = drive.run(4, sample_every=2, start=0, phase="measured")  # the check still works
        drive.close()
        assert [s.iteration for s in samples] == [2, 4] and all(s.heap > 1_000_000 for s in samples)


def test_a_check_can_close_its_session_and_the_next_one_opens_another() -> None:
    with faults_service() as svc:
        first = svc.open_session()
        assert first is svc.client and first is not None and not first.closed  # start() left it open
        svc.close_session()
        assert first.closed
        with pytest.raises(InspectorError, match="not open"):
            InspectorDriver(svc, lambda: get(svc.url + "/ok"), timeout=30)  # no session: no check
        second = svc.open_session()
        assert second is not None and second is not first and not second.closed
        assert svc.open_session() is second  # idempotent while open
        drive = driver(svc, "/leak")
        samples = drive.run(60, sample_every=20, start=0, phase="measured")
        drive.close()
        svc.close_session()
        # 40 Kept of 1 KB each between the first sample and the last. The margin is half of that: the
        # server's own heap moved by up to 10 KB between two samples in a loaded full run (a rise of
        # 10.1 KB over 20 Kept failed a bar of 15 KB once).
        assert second.closed and samples[-1].heap - samples[0].heap > 20 * 1000
    assert svc.open_session() is None  # the server is gone: nothing to connect to


# --- the driver ----------------------------------------------------------------------------------------


def driver(svc: ServiceProcess, route: str, timeout: float = 30) -> InspectorDriver:
    return InspectorDriver(svc, lambda: get(svc.url + route), timeout=timeout)


def test_samples_follow_a_leaking_route() -> None:
    with faults_service() as svc:
        leaky = driver(svc, "/leak")
        assert leaky.profile.name == "node"  # the interface itself: tests/unit/test_drivers.py
        samples = leaky.run(60, sample_every=20, start=0, phase="measured")
        leaky.close()
        assert [s.iteration for s in samples] == [20, 40, 60]
        leaked = samples[-1].heap - samples[0].heap
        assert leaked > 40 * 1000  # a Kept and its 1 KB string per request
        assert all(s.rss > 10_000_000 and s.external > 0 for s in samples)
        clean = driver(svc, "/ok")
        clean.run(30, sample_every=3, start=-30, phase="warmup")  # the sampling path settles too
        first = clean.sample()
        assert first.iteration == 0
        samples = [first, *clean.run(60, sample_every=20, start=0, phase="measured")]
        clean.close()
        # A young server still grows a little per request (JIT, lazy internals); far less than a leak.
        assert samples[-1].heap - samples[0].heap < leaked


def test_samples_wait_for_work_that_outlives_the_response() -> None:
    with faults_service() as svc:
        drive = driver(svc, "/linger")
        drive.run(3, sample_every=0, start=0, phase="warmup")
        [after_action] = drive.run(1, sample_every=1, start=0, phase="measured")
        time.sleep(0.3)
        later = drive.sample()
        drive.close()
    # Sampled right after the response, the lingering megabyte would still be there.
    assert abs(after_action.heap - later.heap) < 100_000


def test_cdp_errors_and_timeouts_are_errors_not_hangs() -> None:
    from pytest_jsleak.runtime import cdp

    with faults_service() as svc:
        client = svc.client
        assert client is not None
        with pytest.raises(InspectorError, match=r"NoSuch\.method failed: .*wasn't found"):
            client.send("NoSuch.method")
        started = time.monotonic()
        with pytest.raises(InspectorError, match=r"no answer from the inspector within 0\.3 s") as info:
            client.send("Runtime.evaluate", {"expression": "new Promise(() => {})", "awaitPromise": True}, timeout=0.3)
        assert info.value.timed_out and time.monotonic() - started < 2
        # The session goes on; the late answer (never, here) would be dropped by its id.
        assert cdp.evaluate(client, "6 * 7") == 42
        with pytest.raises(InspectorError, match="ReferenceError"):
            cdp.evaluate(client, "notDefinedAnywhere + 1")


def test_snapshots_stream_to_files_with_stable_ids_and_allocation_traces(tmp_path: Path) -> None:
    with faults_service() as svc:
        drive = driver(svc, "/leak")
        drive.run(5, sample_every=0, start=0, phase="warmup")
        first = drive.snapshot(tmp_path / "a" / "s1.heapsnapshot")
        assert drive.track_allocations(True) is True
        drive.run(5, sample_every=0, start=5, phase="measured")
        # S2 is the snapshot V8 answers the stop of tracking with: the traces, and one snapshot less.
        second = drive.snapshot(tmp_path / "s2.heapsnapshot", stop_tracking=True)
        drive.run(5, sample_every=0, start=10, phase="measured")
        third = drive.snapshot(tmp_path / "s3.heapsnapshot")
        drive.close()
    assert not list(tmp_path.rglob("*.part"))
    docs = [json.loads(path.read_text()) for path in (first, second, third)]
    assert docs[0]["snapshot"]["node_count"] > 10_000
    assert len(docs[0]["trace_function_infos"]) == 0
    assert len(docs[1]["trace_function_infos"]) > 0  # allocation sites were recorded
    assert len(docs[2]["trace_function_infos"]) == 0  # and tracking stopped with S2

    from pytest_jsleak import heap

    ids = [set(heap.read_node_ids(path).tolist()) for path in (first, second, third)]
    # One inspector session: old objects keep their ids, across the stop of tracking too.
    assert len(ids[0] & ids[1]) > 0.9 * len(ids[0])
    assert len(ids[1] & ids[2]) > 0.9 * len(ids[1])


def test_a_server_crash_names_the_phase_iteration_and_output() -> None:
    with faults_service() as svc:
        calls = iter(["/ok", "/ok", "/ok", "/crash"])
        drive = InspectorDriver(svc, lambda: get(svc.url + next(calls)), timeout=30)
        with pytest.raises(RuntimeCrashError) as info:
            drive.run(4, sample_every=1, start=10, phase="measured")
        drive.close()
        pid = svc.pid
    error = info.value
    assert (error.phase, error.iteration) == ("measured", 14)
    assert "exited with code 7 at iteration 14 (measured phase)" in str(error)
    assert "about to crash on request" in str(error)
    assert_all_gone([pid])


def test_a_raising_action_names_the_iteration_with_its_traceback() -> None:
    with faults_service() as svc:
        count = 0

        def action() -> None:
            nonlocal count
            count += 1
            if count == 3:
                raise KeyError("missing session cookie")
            get(svc.url + "/ok")

        drive = InspectorDriver(svc, action, timeout=30)
        with pytest.raises(ActionError) as info:
            drive.run(5, sample_every=2, start=0, phase="warmup")
        drive.close()
        assert get(svc.url + "/ok")  # the server is fine and keeps serving
    text = str(info.value)
    assert "raised KeyError at iteration 3 (warmup phase): 'missing session cookie'" in text
    assert "Traceback (most recent call last)" in text and 'raise KeyError("missing session cookie")' in text


def test_an_inspector_that_disconnects_is_an_error_not_a_hang() -> None:
    with faults_service() as svc:
        drive = driver(svc, "/drop-inspector")
        started = time.monotonic()
        with pytest.raises(InspectorError) as info:
            drive.run(3, sample_every=1, start=0, phase="measured")
        drive.close()
    assert time.monotonic() - started < 10
    assert "inspector connection closed" in str(info.value) and "still runs" in str(info.value)


def test_a_check_timeout_stops_the_server_tree() -> None:
    with faults_service(env={"CHILD": "1"}) as svc:
        pids = [svc.pid, *(p.pid for p in psutil.Process(svc.pid).children(recursive=True))]
        # The action blocks on a route that never answers (urlopen's own timeout is far away).
        drive = InspectorDriver(svc, lambda: urllib.request.urlopen(svc.url + "/hang", timeout=60).read(), timeout=1.5)
        started = time.monotonic()
        with pytest.raises(ScenarioTimeoutError) as info:
            drive.run(3, sample_every=1, start=0, phase="measured")
        drive.close()
        assert time.monotonic() - started < 8
        assert_all_gone(pids)
    assert "timed out after 1.5 s at iteration 1 (measured phase)" in str(info.value)


@pytest.mark.parametrize("runtime", ["node", "deno"])
def test_example_servers_start_under_both_runtimes(runtime: str) -> None:
    require_runtime(runtime)
    command: list[str] = (
        ["node", "server.mjs"]
        if runtime == "node"
        else ["deno", "run", "--allow-net=127.0.0.1", "--allow-env=PORT", "server.ts"]
    )
    with ServiceProcess(command, ready="/health", cwd=EXAMPLES) as svc:
        assert get(svc.url + "/track") == b"tracked 1"
        assert svc.runtime == runtime
        drive: Callable[[], object] = InspectorDriver(svc, lambda: get(svc.url + "/audit"), timeout=30)
        assert drive.sample().heap > 1_000_000
        drive.close()
        pid = svc.pid
    assert_all_gone([pid])


def test_a_route_that_logs_every_request_is_clean(tmp_path: Path) -> None:
    # V8 keeps console messages (and their strings) for a connected inspector session.
    from pytest_jsleak.check import run_driver_check
    from pytest_jsleak.model import LeakResult
    from pytest_jsleak.options import resolve

    with faults_service() as svc:
        result = LeakResult(target="faults", scenario="/log", runtime="node", verdict="clean")
        options = resolve({"iterations": 60, "warmup": 10, "snapshots": "always"})
        run_driver_check(lambda: driver(svc, "/log"), options, tmp_path / "log", result)
    assert result.method == "ids" and result.verdict == "clean", (
        result.verdict, result.method, result.reason, result.error, result.notes, result.timings,
        [s.class_name for s in result.suspects],
    )


@pytest.mark.parametrize("runtime", ["node", "deno"])
def test_a_port_taken_meanwhile_is_retried(monkeypatch: pytest.MonkeyPatch, runtime: str) -> None:
    import socket

    from pytest_jsleak.runtime import service as service_module

    require_runtime(runtime)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = iter([taken.getsockname()[1]])
        real = service_module.free_port
        monkeypatch.setattr(service_module, "free_port", lambda: next(ports, None) or real())
        command = (
            ["node", "server.mjs"]
            if runtime == "node"
            else ["deno", "run", "--allow-net=127.0.0.1", "--allow-env=PORT", "server.ts"]
        )
        with ServiceProcess(command, ready="/health", cwd=EXAMPLES) as svc:
            assert svc.port != taken.getsockname()[1]
            assert get(svc.url + "/health") == b"ok"

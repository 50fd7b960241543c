"""No process outlives the Python process that spawned it, even one killed with SIGKILL mid-check."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import TARGETS, living

from pytest_jsleak.runtime import proctree, watchdog

REPO = Path(__file__).resolve().parents[2]
#: The watchdog kills within ~100 ms of the spawning process's death (one /proc scan, four sweeps
#: 50 ms apart); 10 s is the margin for a loaded 2-core machine, far below the 6 minutes seen before.
GONE_WITHIN = 10.0

# Mid-check, all at once: a runtime spinning in a scenario (it can read no command and no EOF),
# a runtime whose scenario started a child and a child in a session of its own, and a server being
# sampled over its inspector whose own child (sleep 300) sits in the server's process group.
SPAWNER = r"""
import json, sys, threading, time, urllib.request
from pathlib import Path
import psutil
from pytest_jsleak.runtime import HarnessProcess, find_runtime
from pytest_jsleak.drivers.inspector import InspectorDriver
from pytest_jsleak.runtime.service import ServiceProcess

targets = Path(sys.argv[1])
node = find_runtime("node")
svc = ServiceProcess(["node", str(targets / "service_faults.mjs")], ready="/health", env={"CHILD": "1"}).start()
spinner = HarnessProcess(node, targets / "hangs.mjs", timeout=600)
spinner.start()
spawner = HarnessProcess(node, targets / "hangs.mjs", timeout=600)
spawner.start()
driver = InspectorDriver(svc, lambda: urllib.request.urlopen(svc.url + "/ok", timeout=60).read(), timeout=600)

def check_the_service():
    start = 0
    while True:
        driver.run(10, sample_every=5, start=start, phase="measured")
        start += 10

threading.Thread(target=check_the_service, daemon=True).start()
threading.Thread(target=lambda: spawner.run("spawnsAndHangs", 1), daemon=True).start()
deadline = time.monotonic() + 30
while len(psutil.Process(spawner.pid).children()) < 2 and time.monotonic() < deadline:
    time.sleep(0.02)
tree = lambda pid: [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
print(json.dumps({"runtime": [spinner.pid], "spawner": tree(spawner.pid), "server": tree(svc.pid)}), flush=True)
spinner.run("spin", 40)  # never returns: call 37 spins forever
"""


def test_a_sigkilled_spawner_leaves_no_runtime_server_or_child_behind(tmp_path: Path) -> None:
    if not proctree.WATCHDOG_SUPPORTED:
        pytest.skip("the watchdog needs Linux's /proc")
    script = tmp_path / "spawner.py"
    script.write_text(SPAWNER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    spawner = subprocess.Popen(
        [sys.executable, str(script), str(TARGETS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    pids: list[int] = []
    try:
        line = spawner.stdout.readline() if spawner.stdout else b""
        assert line, f"the spawner said nothing: {spawner.communicate(timeout=30)[1].decode()[-3000:]}"
        tree = json.loads(line)
        pids = [pid for group in tree.values() for pid in group]
        assert len(tree["spawner"]) == 3 and len(tree["server"]) == 2, tree  # each child is there to be killed
        time.sleep(0.5)  # well inside the checks: samples over the inspector, a spinning call
        assert spawner.poll() is None and living(pids) == pids
        spawner.send_signal(signal.SIGKILL)  # no handler, no finally, no atexit runs
        spawner.wait(timeout=10)
        deadline = time.monotonic() + GONE_WITHIN
        while living(pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert living(pids) == [], f"still running {GONE_WITHIN} s after the spawner died: {living(pids)} of {tree}"
    finally:
        spawner.kill()
        spawner.wait()
        for pid in living(pids):  # a failure here must not leave them to the next test
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()


def test_closed_groups_are_unwatched() -> None:
    # The watchdog's sweep at our exit must find nothing of a group we stopped ourselves.
    from pytest_jsleak.runtime import HarnessProcess, find_runtime

    before = proctree.watched()
    with HarnessProcess(find_runtime("node"), TARGETS / "basic.mjs", timeout=20) as proc:
        proc.start()
        assert set(proctree.watched().items()) - set(before.items()) == {(proc.run_id, proc.pid)}
    assert proctree.watched() == before


def test_the_sweep_takes_what_a_marker_roots_and_nothing_else() -> None:
    marker = b"JSLEAK_RUN_ID=r1"
    table = {
        100: (1, 100, b"PATH=/bin\0" + marker + b"\0"),  # the leader
        101: (100, 100, b""),  # its child, in its group, the environment replaced
        102: (1, 102, marker),  # a child that left the group and was re-parented
        103: (102, 103, b""),  # and its own child
        104: (1, 100, b""),  # a group member whose parent died
        200: (1, 200, b"JSLEAK_RUN_ID=r10\0"),  # another run's marker, a prefix of ours
        300: (1, 300, b""),  # a stranger whose pid a dead leader of ours once had
        1: (0, 1, b""),
    }
    assert watchdog.victims(table, {"r1": 100}, me=999) == {100, 101, 102, 103, 104}
    # A watched leader whose group holds no marked process any more: its id may be someone else's.
    assert watchdog.victims(table, {"r2": 300}, me=999) == set()
    assert watchdog.victims(table, {"r1": 100}, me=101) == {100, 102, 103, 104}

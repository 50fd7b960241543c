"""The handle corpus: timers, sockets, servers, watchers and listeners that a call leaves behind in
a helper module (`lib/`), each scenario with its fixed twin (issue 22).

The ground truth is measured here, WITHOUT the plugin: `ground_truth.mjs` makes TRUTH_CALLS plain
calls in a process of its own and reads the runtime's active resources before and after (Node's
`process.getActiveResourcesInfo()`, the listeners on `process`). A leak leaves at least one
resource per call (every kind here leaves exactly one or two); a fixed twin leaves none. The
plugin must give the same verdict, name the kind that grew, and say where each was created: a
frame of the helper module, file and line.
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent
FILES = sorted(CORPUS.glob("*.leak.mjs"))
EXPORT = re.compile(r"^export (?:async )?function (\w+)", re.MULTILINE)
RESERVED = ("setup", "teardown")
#: Calls of the plain loop: one resource per call of a leak stands 300 above the twin's none.
TRUTH_CALLS = 300
#: Deno runs a module target with read access only (no network, no writes: docs/runtimes.md), and
#: its node:process counts timers and sockets, not watchers: the kinds it can show.
DENO_FILES = ("debounce.leak.mjs", "exit-listener.leak.mjs", "interval.leak.mjs", "retry.leak.mjs",
              "watchfile.leak.mjs")
#: Bun's process.getActiveResourcesInfo() is always empty: it counts listeners on `process` only.
BUN_FILES = ("exit-listener.leak.mjs",)
#: Leaks whose creation site cannot be in the helper module, and why.
NO_SITE = {
    ("deno", "watchfile.leak.mjs::leaky"): "Deno's fs.watchFile polls in a loop of timers, each made by the last",
}


def scenarios(paths: list[Path]) -> list[str]:
    return [f"{path.name}::{name}" for path in paths for name in EXPORT.findall(path.read_text())
            if name not in RESERVED]


def ground_truth(runtime: str, nodeid: str) -> dict[str, int]:
    """The kinds a plain loop of TRUTH_CALLS calls left active, with how many more than before."""
    file, name = nodeid.split("::")
    command = {"node": ["node"], "deno": ["deno", "run", "-A"], "bun": ["bun"]}[runtime]
    done = subprocess.run([*command, "ground_truth.mjs", file, name, str(TRUTH_CALLS)], cwd=CORPUS,
                          capture_output=True, text=True, timeout=120, check=True)
    reading = json.loads(done.stdout)
    before, after = reading["before"], reading["after"]
    return {kind: after[kind] - before.get(kind, 0) for kind in after if after[kind] > before.get(kind, 0)}


def truth_verdict(grew: dict[str, int]) -> str:
    total = sum(grew.values())
    if total >= TRUTH_CALLS:
        return "leak"
    assert total <= 2, f"neither a leak nor clean: {grew} after {TRUTH_CALLS} calls (change the scenario)"
    return "clean"


def test_every_file_pairs_a_leak_with_its_fixed_twin() -> None:
    assert len(FILES) >= 8
    for path in FILES:
        names = [name for name in EXPORT.findall(path.read_text()) if name not in RESERVED]
        assert names == ["leaky", "fixed"], path.name
        assert "./lib/" in path.read_text(), f"{path.name}: the resource must be made in a helper module"


@pytest.mark.slow
@pytest.mark.parametrize(
    "runtime", ["node", pytest.param("deno", marks=pytest.mark.deno), pytest.param("bun", marks=pytest.mark.bun)]
)
def test_handle_corpus_verdicts_equal_ground_truth(pytester: pytest.Pytester, runtime: str) -> None:
    paths = [path for path in FILES
             if runtime == "node" or path.name in {"deno": DENO_FILES, "bun": BUN_FILES}[runtime]]
    truth = {nodeid: ground_truth(runtime, nodeid) for nodeid in scenarios(paths)}
    verdicts = {nodeid: truth_verdict(grew) for nodeid, grew in truth.items()}
    assert sorted(set(verdicts.values())) == ["clean", "leak"]
    for path in paths:
        shutil.copy(path, pytester.path / path.name)
    shutil.copytree(CORPUS / "lib", pytester.path / "lib")
    # Each leaked connection holds two descriptors; a machine's default soft limit may be 1,024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        report = pytester.path / "report.json"
        result = pytester.runpytest_subprocess(
            "--jsleak", f"--jsleak-runtime={runtime}", f"--jsleak-report={report}", "-p", "no:cacheprovider",
            "--jsleak-snapshots=never", "-p", "xdist", "-n", "2", *(path.name for path in paths), timeout=600,
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert report.exists(), f"no report written:\n{result.stdout.str()[-5000:]}"
    items = {item["nodeid"]: item for item in json.loads(report.read_text())["items"]}
    wrong = []
    for nodeid, verdict in verdicts.items():
        item = items.get(nodeid)
        if item is None or item["verdict"] != verdict:
            said = "no item" if item is None else f"{item['verdict']} {(item.get('error') or '')[:300]}"
            wrong.append(f"{nodeid}: {verdict} in the ground truth ({truth[nodeid]}), the plugin said {said}")
            continue
        if verdict != "leak" or (runtime, nodeid) in NO_SITE:
            continue
        handles = item["handles"]
        expected = max(truth[nodeid], key=truth[nodeid].__getitem__)
        if not handles or handles[0]["kind"] != expected:
            wrong.append(f"{nodeid}: {expected} grew in the ground truth, the report names {handles}")
            continue
        frames = [frame for site in handles[0]["sites"] for frame in site["frames"]]
        if not any(frame["file"].startswith("lib/") and frame["line"] > 0 for frame in frames):
            wrong.append(f"{nodeid}: no creation site in lib/ among {frames}")
    assert not wrong, (f"{len(wrong)} of {len(verdicts)} handle verdicts are wrong under {runtime}:\n  "
                       + "\n  ".join(wrong))

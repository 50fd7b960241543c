"""Allocation sites and paths that read like the code (issue 10), from the outside with pytester.

The targets leak plain `Object`s built two calls below the scenario in another module: only the
allocation site names the function where the fix goes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jsleak_targets import FAST

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

AUDIT = """\
export function buildAuditEntry(user, at) {
  return { user, at, action: "login" };
}
"""
LOGIN = """\
import { buildAuditEntry } from "./audit.mjs";
const auditLog = [];
export function handleLogin(user, at) {
  const entry = buildAuditEntry(user, at);
  auditLog.push(entry);
  return entry.action;
}
"""
SCENARIO = """\
import { handleLogin } from "./src/login.mjs";
let calls = 0;
export function requestLogger() {
  handleLogin("user" + (calls % 5), calls++);
}
"""
# A second file exporting the same scenario name: its failure must not look like the first one's.
OTHER = """\
const seen = [];
export function requestLogger() {
  seen.push({ at: seen.length });
}
"""
# A library under node_modules that builds the leaked objects; the user's code only calls it.
LIBRARY = """\
export class Registry {
  constructor() { this.handlers = []; }
  use(fulfilled) {
    this.handlers.push({ fulfilled, synchronous: false });
    return this.handlers.length - 1;
  }
}
export const registry = new Registry();
"""
USES_LIBRARY = """\
import { registry } from "tinyreg";
export function addHandler() {
  registry.use((config) => config);
}
"""


def write_targets(pytester: pytest.Pytester) -> None:
    (pytester.path / "src").mkdir()
    (pytester.path / "src" / "audit.mjs").write_text(AUDIT)
    (pytester.path / "src" / "login.mjs").write_text(LOGIN)
    (pytester.path / "login.leak.mjs").write_text(SCENARIO)
    (pytester.path / "other").mkdir()
    (pytester.path / "other" / "login.leak.mjs").write_text(OTHER)


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, dict]]:
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        "--jsleak", *FAST, f"--jsleak-report={report}", "-p", "no:cacheprovider", *args, timeout=300
    )
    document = json.loads(report.read_text())
    return result, {item["nodeid"]: item for item in document["items"]}


def suspect(item: dict, class_name: str) -> dict:
    return next(s for s in item["suspects"] if s["class_name"] == class_name)


def test_a_plain_object_built_in_another_module_names_the_function_that_built_it(pytester: pytest.Pytester) -> None:
    write_targets(pytester)
    result, items = run(pytester)
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    # The function that built the objects, with file:line:column relative to the rootdir, and the holder.
    assert "allocated at buildAuditEntry (src/audit.mjs:1:32) ← handleLogin (src/login.mjs:3:28)" in text
    assert "← requestLogger (login.leak.mjs:3:30)" in text
    assert "held by: auditLog (variable) → Array" in text
    objects = suspect(items["login.leak.mjs::requestLogger"], "Object")
    top = objects["allocation_sites"][0]
    assert [frame["function"] for frame in top["frames"]] == ["buildAuditEntry", "handleLogin", "requestLogger"]
    assert top["frames"][0] == {"function": "buildAuditEntry", "file": "src/audit.mjs", "line": 1, "column": 32,
                                "kind": "user", "package": None}
    assert top["count"] == 40  # one per call of round A (FAST: 40 iterations)
    assert top["bytes"] > 0
    # The path starts at the user's module, never at the harness's objects.
    for item in items.values():
        for entry in item["suspects"]:
            names = [step["edge_name"] or "" for step in entry["path"] or []]
            assert not any(name.startswith("__jsleak") for name in names), names
    assert "__jsleakExports" not in text
    assert "(module scope) src/login.mjs" in text
    # Two files export `requestLogger`: each failure's header names its whole node id.
    headers = [line for line in result.outlines if line.startswith("___")]
    assert any(" login.leak.mjs::requestLogger " in line for line in headers), headers
    assert any(" other/login.leak.mjs::requestLogger " in line for line in headers), headers
    result.stdout.fnmatch_lines(["*LEAK   login.leak.mjs::requestLogger (node *)*",
                                 "*LEAK   other/login.leak.mjs::requestLogger (node *)*"])
    # The kept snapshots: `jsleak diff` finds the stacks in S2 (tracked) for the survivors of S3.
    kept = items["login.leak.mjs::requestLogger"]["snapshot_paths"]
    diff = subprocess.run([sys.executable, "-m", "pytest_jsleak", "diff", *kept], capture_output=True, text=True,
                          cwd=pytester.path, timeout=120)
    assert diff.returncode == 0, diff.stderr
    assert "allocated at buildAuditEntry (src/audit.mjs:1:32) ← handleLogin (src/login.mjs:3:28)" in diff.stdout


def test_allocation_sites_off_skips_tracking(pytester: pytest.Pytester) -> None:
    write_targets(pytester)
    result, items = run(pytester, "--jsleak-allocation-sites=off", "login.leak.mjs")
    result.assert_outcomes(failed=1)
    assert "allocated at" not in result.stdout.str()
    item = items["login.leak.mjs::requestLogger"]
    assert all(entry["allocation_sites"] == [] for entry in item["suspects"])
    assert "track_allocations" not in str(item["timings"])


def test_objects_built_inside_a_library_name_the_user_call_and_the_library_function(
    pytester: pytest.Pytester,
) -> None:
    package = pytester.path / "node_modules" / "tinyreg"
    package.mkdir(parents=True)
    (package / "package.json").write_text(
        '{"name": "tinyreg", "version": "1.0.0", "type": "module", "main": "index.js"}'
    )
    (package / "index.js").write_text(LIBRARY)
    (pytester.path / "handlers.leak.mjs").write_text(USES_LIBRARY)
    result, items = run(pytester)
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert (
        "allocated at addHandler (handlers.leak.mjs:2:27), in tinyreg: use (node_modules/tinyreg/index.js:3:6)"
    ) in text
    site = suspect(items["handlers.leak.mjs::addHandler"], "Object")["allocation_sites"][0]
    assert [(f["function"], f["kind"], f["package"]) for f in site["frames"]] == [
        ("use", "library", "tinyreg"), ("addHandler", "user", None)
    ]


AXIOS_TARGET = """\
import axios from "axios";
const client = axios.create({ baseURL: "http://127.0.0.1:9" });
export function addInterceptor() {
  client.interceptors.request.use((config) => config);
}
"""


AXIOS_DEFAULT = """\
import axios from "axios";
export function addInterceptor() {
  axios.interceptors.request.use((config) => config);
}
"""


@pytest.fixture(scope="session")
def axios_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """axios 1.7.9 from the npm registry (pinned), installed once per session."""
    npm = shutil.which("npm")
    folder = tmp_path_factory.mktemp("axios")
    why = "npm is not on PATH" if npm is None else ""
    if npm is not None:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "axios@1.7.9"],
            cwd=folder, capture_output=True, text=True, timeout=240,
        )
        why = "" if done.returncode == 0 else f"npm install axios failed: {done.stderr[-500:]}"
    if why:
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    return folder / "node_modules"


def test_a_real_library_leak_names_the_library_call_that_allocated(
    pytester: pytest.Pytester, axios_modules: Path
) -> None:
    shutil.copytree(axios_modules, pytester.path / "node_modules", symlinks=True)
    (pytester.path / "client.leak.mjs").write_text(AXIOS_TARGET)
    (pytester.path / "default.leak.mjs").write_text(AXIOS_DEFAULT)
    result, items = run(pytester)
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert (
        "allocated at addInterceptor (client.leak.mjs:3:31), in axios: use"
        " (node_modules/axios/lib/core/InterceptorManager.js"
    ) in text
    assert "held by: client (variable)" in text and "handlers → Array" in text
    site = suspect(items["client.leak.mjs::addInterceptor"], "Object")["allocation_sites"][0]
    assert site["frames"][0]["package"] == "axios"
    # Held inside the library's default instance: the path reads from the user's import of it.
    assert "held by: axios (import) → wrap() → interceptors → Object → request → InterceptorManager" in text
    path = suspect(items["default.leak.mjs::addInterceptor"], "Object")["path"]
    assert path[0]["node_name"] == "(module scope) default.leak.mjs"
    assert (path[1]["edge_type"], path[1]["edge_name"]) == ("import", "axios")

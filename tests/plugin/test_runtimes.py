"""runtime, runtime_path and runtime_args from the outside: every layer, precedence, errors, reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from jsleak_targets import FAST, LEAKY_AND_CLEAN

# Says which runtime and arguments it runs under: a scenario throws unless they are as expected.
REPORTS_ITS_RUNTIME = """
export function check() {
  const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
  if (process.env.EXPECT_RUNTIME && runtime !== process.env.EXPECT_RUNTIME) {
    throw new Error(`running under ${runtime}, expected ${process.env.EXPECT_RUNTIME}`);
  }
  if (process.env.EXPECT_PRELOAD && globalThis.__preloaded !== process.env.EXPECT_PRELOAD) {
    throw new Error(`preload ${globalThis.__preloaded}, expected ${process.env.EXPECT_PRELOAD}`);
  }
}
"""


def node_link(pytester: pytest.Pytester, name: str = "my-node") -> Path:
    """The system node under another name, in a folder off PATH: only runtime_path can find it."""
    folder = pytester.mkdir("runtimes") if not (pytester.path / "runtimes").exists() else pytester.path / "runtimes"
    link = folder / name
    node = shutil.which("node")
    assert node is not None
    link.symlink_to(node)
    return link


def items_of(report: Path) -> dict[str, dict]:
    return {item["nodeid"]: item for item in json.loads(report.read_text())["items"]}


def test_runtime_path_from_the_ini_file_and_the_command_line(pytester: pytest.Pytester) -> None:
    ini_node, cli_node = node_link(pytester, "ini-node"), node_link(pytester, "cli-node")
    pytester.makeini(f"[pytest]\njsleak_runtime_path = runtimes/{ini_node.name}\n")
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--jsleak", *FAST, f"--jsleak-report={report}")
    result.assert_outcomes(passed=1, failed=1)
    items = items_of(report)
    assert {item["runtime_executable"] for item in items.values()} == {str(ini_node)}
    version = items["app.leak.mjs::leaky"]["runtime_version"]
    assert version and version[0].isdigit()
    result.stdout.fnmatch_lines([f"*LEAK: app.leak.mjs::leaky (node {version})*"])
    # The command line beats the ini file.
    result = pytester.runpytest_subprocess("--jsleak", *FAST, f"--jsleak-report={report}",
                                           f"--jsleak-runtime-path={cli_node}")
    assert {item["runtime_executable"] for item in items_of(report).values()} == {str(cli_node)}


def test_runtime_path_and_args_from_marker_and_keywords(pytester: pytest.Pytester) -> None:
    marker_node, kwargs_node = node_link(pytester, "marker-node"), node_link(pytester, "kwargs-node")
    pytester.makefile(".mjs", target=REPORTS_ITS_RUNTIME)
    pytester.makefile(".mjs", preload_a='globalThis.__preloaded = "a";\n')
    pytester.makefile(".mjs", preload_b='globalThis.__preloaded = "b";\n')
    pytester.makepyfile(
        f"""
        import os
        import pytest

        @pytest.mark.jsleak(runtime_path={str(marker_node)!r}, runtime_args=["--import", "./preload_a.mjs"],
                            iterations=20, warmup=2)
        def test_marker(jsleak, monkeypatch):
            monkeypatch.setenv("EXPECT_PRELOAD", "a")
            result = jsleak.check("target.mjs", "check")
            assert result.runtime_executable == {str(marker_node)!r}

        @pytest.mark.jsleak(runtime_path={str(marker_node)!r}, runtime_args="--import ./preload_a.mjs",
                            iterations=20, warmup=2)
        def test_keywords_beat_the_marker(jsleak, monkeypatch):
            monkeypatch.setenv("EXPECT_PRELOAD", "b")
            result = jsleak.check("target.mjs", "check", runtime_path={str(kwargs_node)!r},
                                  runtime_args=["--import", "./preload_b.mjs"])
            assert result.runtime_executable == {str(kwargs_node)!r}
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)


def test_runtime_args_from_the_files_export(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makefile(".mjs", preload_a='globalThis.__preloaded = "a";\n', preload_c='globalThis.__preloaded = "c";\n')
    export = 'export const jsleak = { runtimeArgs: ["--import", "./preload_c.mjs"] };\n'
    pytester.makefile(".leak.mjs", app=REPORTS_ITS_RUNTIME + export)
    monkeypatch.setenv("EXPECT_PRELOAD", "c")
    # The file is listed with the command line's arguments; its scenario runs with its own.
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "--jsleak-runtime-args=--import ./preload_a.mjs")
    result.assert_outcomes(passed=1)
    monkeypatch.setenv("EXPECT_PRELOAD", "a")
    pytester.makefile(".leak.mjs", app=REPORTS_ITS_RUNTIME)
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "--jsleak-runtime-args=--import ./preload_a.mjs")
    result.assert_outcomes(passed=1)


def test_a_loader_in_runtime_args_lets_node_20_load_typescript(pytester: pytest.Pytester) -> None:
    # A minimal loader: .ts files that hold plain JavaScript are ES modules (tsx and friends also strip types).
    pytester.makefile(
        ".mjs",
        hooks="""
        import { readFile } from "node:fs/promises";
        export async function load(url, context, next) {
          if (!url.endsWith(".ts")) return next(url, context);
          return { format: "module", source: await readFile(new URL(url)), shortCircuit: true };
        }
        """,
        register='import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n',
    )
    pytester.makefile(".leak.ts", app=LEAKY_AND_CLEAN)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(
        "--jsleak", *FAST, "--jsleak-runtime=node", "--jsleak-runtime-args=--import ./register.mjs",
        f"--jsleak-report={report}",
    )
    result.assert_outcomes(passed=1, failed=1)
    assert items_of(report)["app.leak.ts::leaky"]["verdict"] == "leak"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jsleak-runtime-path=/nowhere/node"], "runtime_path='/nowhere/node' (runtime='node'): /nowhere/node does"),
        (["--jsleak-runtime-args=--import 'tsx"], "runtime_args="),
        (["--jsleak-runtime=bun", "--jsleak-runtime-path=NODE"], "is node"),
    ],
)
def test_runtime_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    args = [arg.replace("NODE", shutil.which("node") or "node") for arg in args]
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    result = pytester.runpytest("--jsleak", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_too_old_runtime_in_the_ini_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    old = pytester.path / "node18"
    old.write_text("#!/bin/sh\necho v18.19.0\n")
    old.chmod(0o755)
    pytester.makeini("[pytest]\njsleak_runtime_path = ./node18\n")
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    result = pytester.runpytest("--jsleak")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "node 18.19.0" in result.stderr.str() and "too old" in result.stderr.str()
    assert "node >= 20" in result.stderr.str()


def test_missing_runtime_from_a_files_export_fails_that_file(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN + 'export const jsleak = { runtimePath: "./missing/node" };\n')
    result = pytester.runpytest_subprocess("--jsleak", *FAST)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*runtime_path='./missing/node'*does not exist*"])


LISTENS = """
import net from "node:net";
let server;
export async function setup() {
  server = net.createServer();
  await new Promise((resolve, reject) => server.listen(0, "127.0.0.1", resolve).on("error", reject));
}
export async function teardown() { await new Promise((resolve) => server.close(resolve)); }
export function ping() { return server.address().port; }
"""


@pytest.mark.deno
def test_deno_permission_error_names_the_flag_and_the_option(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", server=LISTENS)
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "--jsleak-runtime=deno")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*NotCapable*net access*", "*--jsleak-runtime-args=--allow-net*"])
    result = pytester.runpytest_subprocess(
        "--jsleak", *FAST, "--jsleak-runtime=deno", "--jsleak-runtime-args=--allow-net"
    )
    result.assert_outcomes(passed=1)


@pytest.mark.deno
def test_deno_leak_report_and_json(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "--jsleak-runtime=deno", f"--jsleak-report={report}")
    result.assert_outcomes(passed=1, failed=1)
    leaky = items_of(report)["app.leak.mjs::leaky"]
    assert leaky["runtime"] == "deno" and leaky["verdict"] == "leak"
    assert leaky["runtime_version"].startswith("2.")
    assert leaky["suspects"][0]["class_name"] == "Leaked"
    assert "keep" in [step["edge_name"] for step in leaky["suspects"][0]["path"]]
    result.stdout.fnmatch_lines([f"*LEAK: app.leak.mjs::leaky (deno {leaky['runtime_version']})*", "*keep*"])
    # The snapshots are kept, in the V8 format.
    assert all(Path(path).read_bytes()[:12] == b'{"snapshot":' for path in leaky["snapshot_paths"])


# A module that exports its own memory (no `new WebAssembly.Memory` in the target): a memory section
# of one page and an export "mem" of it.
EXPORTED_MEMORY = """
const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1, 7, 7, 1, 3, 109, 101, 109, 2, 0]);
const exported = (await WebAssembly.instantiate(bytes)).instance.exports.mem;
const made = new WebAssembly.Memory({ initial: 1, maximum: 16384 });
const reused = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports.mem;
// Each writes to the memory it grew, as code using an arena does (V8 sizes a memory in a snapshot by
// its current buffer, which a grow detaches and the next access makes anew).
export function growsExported() { exported.grow(1); new Uint8Array(exported.buffer)[0] = 1; }
export function growsMade() { made.grow(1); new Uint8Array(made.buffer)[0] = 1; }
export function reusesOne() {
  if (reused.buffer.byteLength < 8 * 65536) reused.grow(1);
  new Uint8Array(reused.buffer)[0] = 1;
}
"""


@pytest.mark.deno
def test_deno_counts_the_webassembly_memory_that_its_external_leaves_out(pytester: pytest.Pytester) -> None:
    # Deno's memoryUsage().external does not move when a WebAssembly.Memory grows (Node's does): the
    # harness adds the memories it sees made or exported, so an arena grown per call is a leak of
    # 64 KB per call whether or not anything else sends the check to the snapshots.
    pytester.makefile(".leak.mjs", app=EXPORTED_MEMORY)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--jsleak", "--jsleak-runtime=deno", f"--jsleak-report={report}")
    result.assert_outcomes(passed=1, failed=2)
    items = items_of(report)
    for name in ("growsExported", "growsMade"):
        item = items[f"app.leak.mjs::{name}"]
        assert item["verdict"] == "leak", item
        assert 60 * 1024 <= item["growth_per_iteration"] <= 70 * 1024, item["growth_per_iteration"]
    assert items["app.leak.mjs::reusesOne"]["verdict"] == "clean"


STRINGS_ONLY = """
const log = [];
let calls = 0;
export function keepsStrings() { log.push(`request ${calls++} from client-${Math.random()}`); }
export function dropsStrings() { return `request ${calls++} from client-${Math.random()}`.length; }
"""


@pytest.mark.deno
def test_deno_strings_only_leak_is_found_despite_renumbered_strings(pytester: pytest.Pytester) -> None:
    # Deno gives ~10k strings a new id in every snapshot; they must not drown a leak of strings.
    pytester.makefile(".leak.mjs", app=STRINGS_ONLY)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(
        "--jsleak", "--jsleak-iterations=100", "--jsleak-warmup=10", "--jsleak-runtime=deno",
        f"--jsleak-report={report}",
    )
    result.assert_outcomes(passed=1, failed=1)
    leaky = items_of(report)["app.leak.mjs::keepsStrings"]
    assert leaky["verdict"] == "leak"
    assert leaky["suspects"][0]["class_name"] == "(string)"


# A program that drains a startup cache while it leaks: Bun's snapshots cannot tell a new object from
# an old one, and the GC'd memory falls over the rounds (~0.5 KB freed a call) while the Orders pile up.
DRAINS_WHILE_IT_LEAKS = """
const startup = Array.from({ length: 40000 }, (_, i) => new Array(64).fill(i));
const orders = [];
let calls = 0;
class Order { constructor(id) { this.id = id; this.customer = "c" + (id % 100); } }
export function leaky() { orders.push(new Order(calls++)); startup.pop(); }
export function fixed() { new Order(calls++); startup.pop(); }
"""


@pytest.mark.bun
def test_bun_objects_that_pile_up_while_the_memory_falls_are_a_leak(pytester: pytest.Pytester) -> None:
    # The counts gate sets aside a class that grew while the GC'd memory did not rise (a stack scan's
    # stray objects); an Order a call is no stray: one longer round shows it keeping pace, and it leaks
    # sized by its own bytes. (ajv's compile cache was judged clean so once, JSC freeing code meanwhile.)
    pytester.makefile(".leak.mjs", app=DRAINS_WHILE_IT_LEAKS)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--jsleak", "--jsleak-runtime=bun", "--jsleak-snapshots=always",
                                           f"--jsleak-report={report}")
    result.assert_outcomes(passed=1, failed=1)
    items = items_of(report)
    leaky = items["app.leak.mjs::leaky"]
    assert leaky["verdict"] == "leak" and leaky["suspects"][0]["class_name"] == "Order", leaky["notes"]
    assert leaky["measured_growth_per_iteration"] < 0  # the memory fell
    assert 8 <= leaky["growth_per_iteration"] <= 200, leaky["growth_per_iteration"]
    assert any("Order gained an object per iteration or more in every round" in n for n in leaky["notes"])
    assert len(leaky["snapshot_paths"]) == 4  # the longer round
    assert items["app.leak.mjs::fixed"]["verdict"] == "clean"

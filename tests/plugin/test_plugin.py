"""The plugin from the outside: options, help, markers, collection, fixture, statuses, junit, JSON."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest
from jsleak_targets import FAST, LEAKY_AND_CLEAN


def test_help_lists_the_option_group_and_every_flag(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*memory leak checks of JavaScript code (pytest-jsleak)*"])
    for flag in ("--jsleak ", "--jsleak-runtime", "--jsleak-runtime-path", "--jsleak-runtime-args",
                 "--jsleak-iterations", "--jsleak-warmup",
                 "--jsleak-max-growth-per-iteration", "--jsleak-ignore", "--jsleak-timeout",
                 "--jsleak-snapshots", "--jsleak-dir", "--jsleak-report", "--jsleak-self-check"):
        assert flag in result.stdout.str(), flag
    result.stdout.fnmatch_lines(["*jsleak_files*", "*jsleak_iterations*"])


def test_marker_is_registered_with_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.jsleak(runtime=, runtime_path=, runtime_args=, iterations=*"])


def test_leak_files_are_not_collected_without_the_flag(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_p_no_jsleak_disables_everything(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    pytester.makepyfile("def test_uses_fixture(jsleak): pass")
    result = pytester.runpytest("-p", "no:jsleak")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'jsleak' not found*"])
    assert pytester.runpytest("-p", "no:jsleak", "--jsleak").ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jsleak-iterations=-5"], "invalid jsleak option iterations='-5' (--jsleak-iterations)"),
        (["--jsleak-max-growth-per-iteration=lots"], "max_growth_per_iteration='lots'"),
        (["--jsleak-runtime=python"], "runtime='python'"),
        (["--jsleak-snapshots=sometimes"], "snapshots='sometimes'"),
    ],
)
def test_bad_command_line_values_are_usage_errors(pytester: pytest.Pytester, args, message) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    result = pytester.runpytest("--jsleak", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\njsleak_timeout = never\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "invalid jsleak option timeout='never' (ini jsleak_timeout)" in result.stderr.str()


def test_bad_marker_value_fails_the_test_before_any_process_starts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.jsleak(iterations=-1)
        def test_it(jsleak):
            jsleak.check("nowhere.mjs")
        """
    )
    result = pytester.runpytest_subprocess()
    assert "invalid jsleak option iterations=-1 (@pytest.mark.jsleak on test_bad_marker" in result.stdout.str() + (
        result.stderr.str()
    )
    assert result.ret != pytest.ExitCode.OK


def test_a_positional_marker_argument_fails_the_fixture_and_the_collected_scenarios(pytester: pytest.Pytester) -> None:
    """One reading of the marker for both: keyword options only, before any check starts."""
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    pytester.makeconftest(
        """
        import pytest
        def pytest_collection_modifyitems(items):
            for item in items:
                item.add_marker(pytest.mark.jsleak("fast", iterations=40))
        """
    )
    pytester.makepyfile("def test_it(jsleak):\n    jsleak.check('app.leak.mjs', 'clean')\n")
    result = pytester.runpytest_subprocess("--jsleak", "-rA")
    result.assert_outcomes(failed=2, errors=1)  # the fixture's test errors in setup; each scenario fails
    for test in ("app.leak.mjs::clean", "app.leak.mjs::leaky", "test_it"):
        result.stdout.re_match_lines([rf".*{test}.*: @pytest.mark.jsleak takes keyword options only"])
    assert "LEAK" not in result.stdout.str()


def test_a_run_without_leak_checks_loads_none_of_their_modules(pytester: pytest.Pytester) -> None:
    """pytest loads the plugin in every run: what a leak check needs (numpy with it) loads only for one."""
    pytester.makepyfile(
        """
        import sys
        def test_fails():
            assert False
        def test_nothing_of_the_check_is_loaded():
            loaded = [name for name in ("pytest_jsleak.api", "pytest_jsleak.collect", "pytest_jsleak.heap",
                                        "pytest_jsleak.check", "pytest_jsleak.plan", "numpy")
                      if name in sys.modules]
            assert not loaded, loaded
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, failed=1)


def test_collected_scenarios_leak_and_pass_with_status_and_report(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "-v", f"--junitxml={junit}")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # ES module namespaces list exports in alphabetical order: clean, then leaky.
    result.stdout.fnmatch_lines(["*app.leak.mjs::clean PASSED*", "*app.leak.mjs::leaky LEAKED*"])
    result.stdout.fnmatch_lines([
        "*LEAK: app.leak.mjs::leaky (node *), 2 rounds of 40 iterations*",
        "*surviving class*new objects alive*per iteration*retained*",
        "*Leaked*40*",
    ])
    assert "keep" in result.stdout.str()
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    failure = cases["leaky"].find("failure")
    assert failure is not None and "Leaked" in (failure.text or failure.get("message", ""))
    assert cases["clean"].find("failure") is None


def test_snapshots_kept_on_failure_only_by_default(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    report = pytester.path / "r.json"
    pytester.runpytest_subprocess("--jsleak", *FAST, f"--jsleak-report={report}")
    items = {item["scenario"]: item for item in json.loads(report.read_text())["items"]}
    kept = [p for p in items["leaky"]["snapshot_paths"]]
    assert len(kept) == 3 and all(p.endswith(".heapsnapshot") for p in kept)
    assert all((pytester.path / ".jsleak") in __import__("pathlib").Path(p).parents for p in kept)
    assert items["clean"]["snapshot_paths"] == []
    folders = sorted(p.name for p in (pytester.path / ".jsleak").iterdir())
    assert folders == ["app.leak.mjs__leaky"]


def test_snapshots_always_and_never(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    out = pytester.path / "snaps"
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "--jsleak-snapshots=always", f"--jsleak-dir={out}")
    result.assert_outcomes(passed=1, failed=1)
    assert len(list((out / "app.leak.mjs__clean").glob("*.heapsnapshot"))) == 3
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "--jsleak-snapshots=never", f"--jsleak-dir={out}")
    result.assert_outcomes(passed=1, failed=1)
    assert not list(out.rglob("*.heapsnapshot"))


def test_file_export_options_apply_and_kwargs_win(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".leak.mjs",
        app=LEAKY_AND_CLEAN
        + '\nexport const jsleak = { iterations: 30, warmup: 2, ignore: ["Leaked", "(string)"] };\n',
    )
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--jsleak", "--jsleak-iterations=99", f"--jsleak-report={report}")
    result.assert_outcomes(passed=2)
    items = {item["scenario"]: item for item in json.loads(report.read_text())["items"]}
    assert items["leaky"]["iterations"] == 30  # the file's export beats the command line
    assert any("ignored by the `ignore` option: Leaked" in note for note in items["leaky"]["notes"])


def test_fixture_marker_and_kwargs_precedence(pytester: pytest.Pytester) -> None:
    pytester.makefile(".mjs", lib=LEAKY_AND_CLEAN)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.jsleak(iterations=30, warmup=3)
        def test_clean_returns_result(jsleak):
            result = jsleak.check("lib.mjs", "clean")
            assert result.verdict == "clean" and result.iterations == 30 and result.warmup == 3
            result = jsleak.check("lib.mjs", "clean", iterations=20)
            assert result.iterations == 20

        @pytest.mark.jsleak(iterations=30, warmup=3)
        def test_leak_fails(jsleak):
            jsleak.check("lib.mjs", "leaky")

        @pytest.mark.jsleak(iterations=30, warmup=3, max_growth_per_iteration="1MB")
        def test_leak_within_tolerance(jsleak):
            result = jsleak.check("lib.mjs", "leaky")
            assert result.verdict == "clean" and result.growth_per_iteration > 0
        """
    )
    result = pytester.runpytest_subprocess("-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_leak_fails LEAKED*", "*LEAK: lib.mjs::leaky (node*"])


def test_fixture_missing_scenario_is_a_target_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".mjs", lib=LEAKY_AND_CLEAN)
    pytester.makepyfile(
        """
        def test_it(jsleak):
            jsleak.check("lib.mjs", "nope")
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no scenario 'nope'*clean, leaky*"])
    assert "LEAK:" not in result.stdout.str()


def test_a_target_that_cannot_load_fails_one_item_and_the_session_goes_on(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", broken="export function f( {")
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    result = pytester.runpytest_subprocess("--jsleak", *FAST)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*broken.leak.mjs::(load)*", "*SyntaxError*"])


TS_TARGET = """
interface Order { id: number; items: string[] }
const backlog: Order[] = [];
let next: number = 0;
export function leaky(): void { backlog.push({ id: next++, items: ["a", "b"] }); }
export function clean(): number { const order: Order = { id: next++, items: [] }; return order.id; }
"""


@pytest.mark.bun
def test_typescript_target_runs_under_bun(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.ts", orders=TS_TARGET + 'export const jsleak = { runtime: "bun" };\n')
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--jsleak", *FAST, f"--jsleak-report={report}")
    result.assert_outcomes(passed=1, failed=1)
    items = {item["scenario"]: item for item in json.loads(report.read_text())["items"]}
    assert items["leaky"]["runtime"] == "bun" and items["leaky"]["verdict"] == "leak"
    assert "backlog" in result.stdout.str()


@pytest.mark.bun
def test_typescript_target_is_refused_under_node(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.ts", orders=TS_TARGET)
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "--jsleak-runtime=node")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*TypeScript*runtime*bun*"])


def test_missing_runtime_executable_is_a_clear_failure(pytester: pytest.Pytester, monkeypatch) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    empty = pytester.mkdir("empty-bin")
    node_only = pytester.mkdir("node-only")
    (node_only / "node").symlink_to(shutil.which("node") or "node")
    monkeypatch.setenv("PATH", str(empty))
    # Chosen on the command line: a usage error before anything runs.
    result = pytester.runpytest_subprocess("--jsleak", "--jsleak-runtime=bun")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "the bun executable was not found on PATH" in result.stderr.str()
    assert "npm install -g bun" in result.stderr.str()
    # Chosen by the file: that file fails, saying the same.
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN + 'export const jsleak = { runtime: "bun" };\n')
    monkeypatch.setenv("PATH", str(node_only))
    result = pytester.runpytest_subprocess("--jsleak")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*app.leak.mjs::leaky*", "*bun*npm install -g bun*"])
    assert "Traceback" not in result.stdout.str()

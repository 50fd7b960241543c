"""The gate from the outside (pytester): inconclusive and strict, baselines, merge, GitHub annotations.

Most runs here replace the check itself with a conftest that returns a made-up result (the verdict
code is not what is tested; the gate around it is), so they cost one `node` listing each. One test
per feature runs the real check end to end.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from jsleak_targets import FAST, LEAKY_AND_CLEAN

from pytest_jsleak.cli import main as jsleak_main
from pytest_jsleak.report.json_report import schema

REASON = "memory rose in the sampling rounds but no object in the snapshots accounts for it"
ADVICE = "raise warmup to 500 or iterations to 1000"

# Scenarios whose names are in fake_results.json get that made-up result instead of a real check.
FAKE_RUN = '''
import json, pathlib
import pytest_jsleak.session as session_module
from pytest_jsleak.model import LeakResult, MemorySample, Suspect

_real_run = session_module.JsLeakSession.run
FAKES = pathlib.Path(__file__).with_name("fake_results.json")


def run(self, item, target, scenario, **kwargs):
    fakes = json.loads(FAKES.read_text()) if FAKES.exists() else {}
    if scenario not in fakes:
        return _real_run(self, item, target, scenario, **kwargs)
    fields = dict(fakes[scenario])
    suspects = [Suspect(name, 40, 1.0, 1000, 1000) for name in fields.pop("classes", [])]
    growth = fields.get("growth_per_iteration", 0)
    samples = [MemorySample(i * 10, 1_000_000 + int(i * 10 * growth)) for i in range(9)]
    return LeakResult(target=str(target), scenario=scenario, runtime=fields.pop("runtime", "node"),
                      runtime_version="20.20.2", iterations=40, round_iterations=40, warmup=5, method="ids",
                      suspects=suspects, samples=samples, total_growth=int(growth * 80), **fields)


session_module.JsLeakSession.run = run
'''

TARGET = """
export function leaky() { return 1; }
export function clean() { return 2; }
export function unsure() { return 3; }
"""

FAKES = {
    "leaky": {"verdict": "leak", "growth_per_iteration": 100.0, "classes": ["Leaked"]},
    "clean": {"verdict": "clean"},
    "unsure": {"verdict": "inconclusive", "reason": REASON, "advice": ADVICE, "measured_growth_per_iteration": 48.0},
}


def faked(pytester: pytest.Pytester, fakes: dict | None = None, target: str = TARGET) -> None:
    pytester.makeconftest(FAKE_RUN)
    pytester.makefile(".leak.mjs", app=target)
    (pytester.path / "fake_results.json").write_text(json.dumps(FAKES if fakes is None else fakes))


@pytest.fixture(autouse=True)
def not_on_github(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs below are not under GitHub Actions unless a test says so (CI may well be)."""
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE", "JSLEAK_MACHINE"):
        monkeypatch.delenv(name, raising=False)


# -- inconclusive ------------------------------------------------------------------------------------------


def test_inconclusive_passes_with_a_warning_its_letter_and_its_word(pytester: pytest.Pytester) -> None:
    faked(pytester)
    report, junit = pytester.path / "r.json", pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("--jsleak", "-k", "unsure or clean", f"--jsleak-report={report}",
                                           f"--junitxml={junit}", "-rA")
    assert result.ret == pytest.ExitCode.OK
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and outcomes.get("inconclusive") == 1 and "failed" not in outcomes
    result.stdout.fnmatch_lines([
        "app.leak.mjs *.I*",  # the progress line: clean, then unsure (alphabetical exports)
        "*JsLeakInconclusiveWarning: app.leak.mjs::unsure: leak check inconclusive: " + REASON + "; " + ADVICE + "*",
        f"INCONCLUSIVE  app.leak.mjs::unsure (node 20.20.2): {REASON}",
        f"  what to change: {ADVICE}",
        "2 checked: 0 leaked, 1 clean, 0 errors, 1 inconclusive",
    ])
    # The warning points at the scenario's export.
    result.stdout.fnmatch_lines(["*app.leak.mjs:3: JsLeakInconclusiveWarning*"])
    document = json.loads(report.read_text())
    jsonschema.validate(document, schema())
    items = {item["scenario"]: item for item in document["items"]}
    assert items["unsure"]["verdict"] == "inconclusive" and items["unsure"]["outcome"] == "warn"
    assert items["unsure"]["reason"] == REASON and items["unsure"]["advice"] == ADVICE
    assert document["summary"]["inconclusive"] == 1
    case = next(c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == "unsure")
    assert case.find("failure") is None and case.find("skipped") is None  # junit: a passed test ...
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["jsleak_verdict"] == "inconclusive"  # ... that says what it was
    assert properties["jsleak_reason"] == REASON and properties["jsleak_advice"] == ADVICE

    verbose = pytester.runpytest_subprocess("--jsleak", "-k", "unsure", "-v")
    verbose.stdout.fnmatch_lines(["*app.leak.mjs::unsure INCONCLUSIVE*"])


@pytest.mark.parametrize("how", ["command line", "ini", "file export", "marker"])
def test_strict_makes_inconclusive_fail(pytester: pytest.Pytester, how: str) -> None:
    target = TARGET
    args = ["--jsleak", "-k", "unsure"]
    if how == "command line":
        args.append("--jsleak-strict")
    elif how == "ini":
        pytester.makeini("[pytest]\njsleak_strict = true\n")
    elif how == "file export":
        target += "export const jsleak = { strict: true };\n"
    faked(pytester, target=target)
    if how == "marker":
        pytester.makeconftest(FAKE_RUN + '''
import pytest

def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.jsleak(strict=True))
''')
    result = pytester.runpytest_subprocess(*args, "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*app.leak.mjs::unsure INCONCLUSIVE*",
        f"INCONCLUSIVE: app.leak.mjs::unsure (node 20.20.2), 2 rounds of 40 iterations: {REASON}",
        f"what to change: {ADVICE}",
        "*(strict: failed)*",
    ])
    assert "JsLeakInconclusiveWarning" not in result.stdout.str()


def test_the_fixture_strict_keyword_fails_and_the_marker_can_turn_it_off(pytester: pytest.Pytester) -> None:
    faked(pytester)
    pytester.makepyfile(
        """
        import pytest

        def test_warns(jsleak):
            assert jsleak.check("app.leak.mjs", "unsure").verdict == "inconclusive"

        def test_strict_keyword(jsleak):
            jsleak.check("app.leak.mjs", "unsure", strict=True)

        @pytest.mark.jsleak(strict=False)
        def test_marker_over_the_command_line(jsleak):
            jsleak.check("app.leak.mjs", "unsure")
        """
    )
    result = pytester.runpytest_subprocess("--jsleak-strict", "-v", "-k", "test_")
    result.stdout.fnmatch_lines([
        "*::test_warns INCONCLUSIVE*",
        "*::test_strict_keyword INCONCLUSIVE*",
        "*::test_marker_over_the_command_line INCONCLUSIVE*",
    ])
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 2 and outcomes.get("inconclusive") == 1  # --jsleak-strict, kwarg, marker off


# -- baselines ---------------------------------------------------------------------------------------------


def baseline_file(pytester: pytest.Pytester) -> Path:
    return pytester.path / "jsleak-baseline.json"


def test_baseline_rules_new_known_grown_new_class_and_fixed(pytester: pytest.Pytester) -> None:
    faked(pytester)
    baseline = baseline_file(pytester)
    missing = pytester.runpytest_subprocess("--jsleak", f"--jsleak-baseline={baseline}")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    assert "does not exist: create it with --jsleak-baseline-update" in missing.stderr.str()
    alone = pytester.runpytest_subprocess("--jsleak", "--jsleak-baseline-update")
    assert alone.ret == pytest.ExitCode.USAGE_ERROR and "needs a baseline file" in alone.stderr.str()

    # Adopting: record what leaks today; the run that records passes, as a snapshot update does.
    created = pytester.runpytest_subprocess("--jsleak", f"--jsleak-baseline={baseline}", "--jsleak-baseline-update",
                                            "-k", "leaky or clean")
    assert created.ret == pytest.ExitCode.OK
    created.stdout.fnmatch_lines([f"baseline {baseline}: 1 added", f"baseline {baseline} written: 1 added, *"])
    recorded = json.loads(baseline.read_text())
    entry = recorded["leaks"]["app.leak.mjs::leaky"]["node"]
    assert entry["growth_per_iteration"] == 100.0 and entry["classes"] == ["Leaked"]
    assert list(recorded["leaks"]) == ["app.leak.mjs::leaky"]

    # Known: passes as K, junit skipped as an xfail with the numbers.
    junit = pytester.path / "junit.xml"
    known = pytester.runpytest_subprocess("--jsleak", f"--jsleak-baseline={baseline}", "-k", "leaky", "-v",
                                          f"--junitxml={junit}")
    assert known.ret == pytest.ExitCode.OK
    known.stdout.fnmatch_lines(["*app.leak.mjs::leaky KNOWN LEAK*", "*1 known*"])
    assert known.parseoutcomes().get("known") == 1
    case = next(c for c in ET.parse(junit).getroot().iter("testcase") if c.get("name") == "leaky")
    skipped = case.find("skipped")
    assert skipped is not None and skipped.get("type") == "pytest.xfail"
    assert skipped.get("message") == "known leak: 100 B/iteration (baseline 100 B/iteration, tolerance 50%)"
    quiet = pytester.runpytest_subprocess("--jsleak", f"--jsleak-baseline={baseline}", "-k", "leaky")
    quiet.stdout.fnmatch_lines(["app.leak.mjs K*"])

    # Grown past the tolerance: fails, says what changed.
    fakes = dict(FAKES, leaky={"verdict": "leak", "growth_per_iteration": 160.0, "classes": ["Leaked"]})
    (pytester.path / "fake_results.json").write_text(json.dumps(fakes))
    grown = pytester.runpytest_subprocess("--jsleak", f"--jsleak-baseline={baseline}", "-k", "leaky", "-v")
    grown.assert_outcomes(failed=1)
    grown.stdout.fnmatch_lines([
        "*app.leak.mjs::leaky LEAKED (grew)*",
        "against the baseline:", "  grew from 100 B to 160 B/iteration (+60%, tolerance 50%)",
    ])
    # ... unless a marker allows more for this test.
    pytester.makeconftest(FAKE_RUN + '''
import pytest

def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.jsleak(baseline_tolerance=75))
''')
    allowed = pytester.runpytest_subprocess("--jsleak", f"--jsleak-baseline={baseline}", "-k", "leaky")
    assert allowed.ret == pytest.ExitCode.OK and allowed.parseoutcomes().get("known") == 1
    pytester.makeconftest(FAKE_RUN)

    # A class the entry does not list: fails.
    fakes = dict(FAKES, leaky={"verdict": "leak", "growth_per_iteration": 100.0, "classes": ["Leaked", "Session"]})
    (pytester.path / "fake_results.json").write_text(json.dumps(fakes))
    new_class = pytester.runpytest_subprocess("--jsleak", f"--jsleak-baseline={baseline}", "-k", "leaky")
    new_class.assert_outcomes(failed=1)
    new_class.stdout.fnmatch_lines(["  leaks a class the baseline does not list: Session"])

    # A new leak (not in the baseline): fails as new.
    (pytester.path / "fake_results.json").write_text(json.dumps(dict(FAKES, clean=FAKES["leaky"])))
    new = pytester.runpytest_subprocess("--jsleak", f"--jsleak-baseline={baseline}", "-k", "clean", "-v")
    new.assert_outcomes(failed=1)
    new.stdout.fnmatch_lines(["*app.leak.mjs::clean LEAKED (new)*", "*not in the baseline jsleak-baseline.json*"])

    # Fixed: the known leak runs clean: passes, with the hint.
    (pytester.path / "fake_results.json").write_text(json.dumps(dict(FAKES, leaky=FAKES["clean"])))
    fixed = pytester.runpytest_subprocess("--jsleak", f"--jsleak-baseline={baseline}", "-k", "leaky", "-v")
    assert fixed.ret == pytest.ExitCode.OK
    fixed.stdout.fnmatch_lines([
        "*app.leak.mjs::leaky PASSED (leak fixed)*",
        "FIXED  app.leak.mjs::leaky *(baseline: 100 B/iteration)",
        f"baseline {baseline}: 1 fixed",
        "*--jsleak-baseline-update*",
    ])


def test_partial_update_keeps_what_did_not_run_and_the_file_is_stable(pytester: pytest.Pytester) -> None:
    faked(pytester, fakes=dict(FAKES, unsure=FAKES["leaky"]))
    baseline = baseline_file(pytester)
    kept = {"growth_per_iteration": 5.0, "classes": [], "grown": ["Array"], "runtime_version": "1.4.5",
            "recorded": "2026-01-01"}
    baseline.write_text(json.dumps({"schema": 1, "leaks": {
        "zz/elsewhere.leak.mjs::notrun": {"node": kept},
        "app.leak.mjs::leaky": {"bun": kept},  # another runtime's entry for a test that runs here on node
        "app.leak.mjs::clean": {"node": kept},  # now clean: removed
    }}))
    args = ("--jsleak", f"--jsleak-baseline={baseline}", "--jsleak-baseline-update")
    first = pytester.runpytest_subprocess(*args, "-k", "leaky or clean")
    first.stdout.fnmatch_lines([f"baseline {baseline} written: 1 added, 0 updated, 1 removed, 2 kept"])
    leaks = json.loads(baseline.read_text())["leaks"]
    assert sorted(leaks) == ["app.leak.mjs::leaky", "zz/elsewhere.leak.mjs::notrun"]
    assert sorted(leaks["app.leak.mjs::leaky"]) == ["bun", "node"] and leaks["zz/elsewhere.leak.mjs::notrun"] == {
        "node": kept}
    # Another shard's update adds its own leak and keeps this one's.
    second = pytester.runpytest_subprocess(*args, "-k", "unsure")
    second.stdout.fnmatch_lines([f"baseline {baseline} written: 1 added, 0 updated, 0 removed, 3 kept"])
    text = baseline.read_text()
    assert sorted(json.loads(text)["leaks"]) == ["app.leak.mjs::leaky", "app.leak.mjs::unsure",
                                                 "zz/elsewhere.leak.mjs::notrun"]
    # Nothing changed: the file is byte for byte the same (known leaks keep their entries), keys sorted.
    pytester.runpytest_subprocess(*args)
    assert baseline.read_text() == text
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_a_real_leak_goes_into_the_baseline_and_then_passes_as_known(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    baseline = baseline_file(pytester)
    args = ("--jsleak", *FAST, f"--jsleak-baseline={baseline}")
    pytester.runpytest_subprocess(*args, "--jsleak-baseline-update")
    entry = json.loads(baseline.read_text())["leaks"]["app.leak.mjs::leaky"]["node"]
    assert entry["classes"] == ["Leaked"] and entry["growth_per_iteration"] > 0
    report = pytester.path / "r.json"
    again = pytester.runpytest_subprocess(*args, "-v", f"--jsleak-report={report}")
    assert again.ret == pytest.ExitCode.OK
    again.stdout.fnmatch_lines(["*app.leak.mjs::clean PASSED*", "*app.leak.mjs::leaky KNOWN LEAK*"])
    # A known leak passes: snapshots=on-failure keeps none of it.
    leaky = next(item for item in json.loads(report.read_text())["items"] if item["scenario"] == "leaky")
    assert leaky["verdict"] == "known" and leaky["snapshot_paths"] == []
    assert not list((pytester.path / ".jsleak").rglob("*.heapsnapshot"))


def test_a_broken_baseline_is_a_usage_error_naming_the_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\njsleak_baseline = base.json\n")
    (pytester.path / "base.json").write_text("{not json")
    result = pytester.runpytest_subprocess("--jsleak")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "base.json is not JSON" in result.stderr.str()


# -- merge ------------------------------------------------------------------------------------------------


def test_merge_of_two_shards_equals_the_serial_run(pytester: pytest.Pytester, capsys) -> None:
    pytester.makefile(".leak.mjs", app=LEAKY_AND_CLEAN)
    serial, one, two = (pytester.path / name for name in ("serial.json", "one.json", "two.json"))
    pytester.runpytest_subprocess("--jsleak", *FAST, f"--jsleak-report={serial}")
    pytester.runpytest_subprocess("--jsleak", *FAST, "-k", "leaky", f"--jsleak-report={one}")
    pytester.runpytest_subprocess("--jsleak", *FAST, "-k", "not leaky", f"--jsleak-report={two}")
    merged, page = pytester.path / "merged.json", pytester.path / "merged.html"
    # The shards in the "wrong" order: the merged items are sorted all the same.
    assert jsleak_main(["merge", "--json", str(merged), "--html", str(page), str(one), str(two)]) == 0
    assert "2 items from 2 reports (1 clean, 1 leak)" in capsys.readouterr().out
    document = json.loads(merged.read_text())
    jsonschema.validate(document, schema())

    def checks(doc: dict) -> list[tuple]:
        return sorted((i["nodeid"], i["scenario"], i["runtime"], i["verdict"]) for i in doc["items"])

    assert checks(document) == checks(json.loads(serial.read_text()))
    assert [item["scenario"] for item in document["items"]] == ["clean", "leaky"]
    assert all(item["machine"] for item in document["items"])
    assert document["summary"] == json.loads(serial.read_text())["summary"]
    assert "<title>pytest-jsleak: 1 leaked, 0 errors, 1 clean</title>" in page.read_text()
    # A baseline updated from the merged report, as a final job of a sharded run does it.
    baseline = baseline_file(pytester)
    pytester.runpytest_subprocess("--jsleak", *FAST, "-k", "leaky", f"--jsleak-baseline={baseline}",
                                  "--jsleak-baseline-update")
    leaks = json.loads(baseline.read_text())["leaks"]
    leaks["app.leak.mjs::clean"] = leaks["app.leak.mjs::leaky"]  # pretend clean leaked once: now fixed
    del leaks["app.leak.mjs::leaky"]  # and leaky is new
    baseline.write_text(json.dumps({"schema": 1, "leaks": leaks}))
    for shard, selection in ((one, "leaky"), (two, "not leaky")):
        pytester.runpytest_subprocess("--jsleak", *FAST, "-k", selection, f"--jsleak-baseline={baseline}",
                                      f"--jsleak-report={shard}")
    assert jsleak_main(["merge", "--json", str(merged), str(one), str(two), "--update-baseline", str(baseline)]) == 0
    assert "1 added, 0 updated, 1 removed, 0 kept" in capsys.readouterr().out
    assert list(json.loads(baseline.read_text())["leaks"]) == ["app.leak.mjs::leaky"]
    # The same shard twice: the shards overlapped.
    assert jsleak_main(["merge", "--json", str(merged), str(one), str(one)]) == 2
    assert "is in both" in capsys.readouterr().err
    assert jsleak_main(["merge", "--json", str(merged), str(pytester.path / "nope.json")]) == 2
    assert "nope.json: cannot read" in capsys.readouterr().err


# -- GitHub Actions -------------------------------------------------------------------------------------------


def test_annotations_and_job_summary_under_github_actions(pytester: pytest.Pytester, monkeypatch) -> None:
    faked(pytester)
    pytester.makepyfile(
        test_api="""
        def test_handler(jsleak):
            jsleak.check("app.leak.mjs", "leaky")
        """
    )
    summary = pytester.path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(pytester.path))
    monkeypatch.setenv("JSLEAK_MACHINE", "shard-1")
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--jsleak", f"--jsleak-report={report}")
    out = result.stdout.str()
    assert ("::error file=app.leak.mjs,line=1,title=app.leak.mjs%3A%3Aleaky::jsleak: leak (node 20.20.2): "
            "100 B retained per iteration, top: Leaked") in out
    assert ("::error file=test_api.py,line=1,title=test_api.py%3A%3Atest_handler [leaky]::jsleak: leak") in out
    assert (f"::warning file=app.leak.mjs,line=3,title=app.leak.mjs%3A%3Aunsure::jsleak: inconclusive "
            f"(node 20.20.2): {REASON}%0Awhat to change: {ADVICE}") in out
    assert out.count("::error ") == 2 and out.count("::warning ") == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n## pytest-jsleak\n")  # appended, not overwritten
    assert "4 checked: 2 leak, 1 inconclusive, 1 clean" in text
    assert "| `app.leak.mjs::leaky` | node | 100 B | Leaked |" in text
    assert f"| `app.leak.mjs::unsure` | node | {REASON} | {ADVICE} |" in text
    assert {item["machine"] for item in json.loads(report.read_text())["items"]} == {"shard-1"}

    summary.write_text("")
    off = pytester.runpytest_subprocess("--jsleak", "--jsleak-annotations=off")
    assert "::error" not in off.stdout.str() and "::warning" not in off.stdout.str()
    assert summary.read_text() == ""
    bad = pytester.runpytest_subprocess("--jsleak", "--jsleak-annotations=maybe")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR and "--jsleak-annotations='maybe'" in bad.stderr.str()


def test_no_annotations_outside_github_actions(pytester: pytest.Pytester) -> None:
    faked(pytester)
    result = pytester.runpytest_subprocess("--jsleak")
    assert "::error" not in result.stdout.str() and "::warning" not in result.stdout.str()
    forced = pytester.runpytest_subprocess("--jsleak", "--jsleak-annotations=on")
    assert "::error file=app.leak.mjs,line=1," in forced.stdout.str()


def test_under_xdist_workers_judge_and_the_controller_writes_the_baseline(pytester: pytest.Pytester) -> None:
    faked(pytester, fakes=dict(FAKES, unsure=FAKES["leaky"]))
    baseline = baseline_file(pytester)
    args = ("--jsleak", "-p", "xdist", "-n", "2", f"--jsleak-baseline={baseline}")
    created = pytester.runpytest_subprocess(*args, "--jsleak-baseline-update")
    created.stdout.fnmatch_lines([f"baseline {baseline} written: 2 added, 0 updated, 0 removed, 0 kept"])
    assert sorted(json.loads(baseline.read_text())["leaks"]) == ["app.leak.mjs::leaky", "app.leak.mjs::unsure"]
    known = pytester.runpytest_subprocess(*args)
    assert known.ret == pytest.ExitCode.OK
    assert known.parseoutcomes().get("known") == 2 and known.parseoutcomes().get("passed") == 1

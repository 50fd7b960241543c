"""The gate from hand-made results: outcomes, statuses, baselines, the reports of every status, merge, GitHub."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pytest_jsleak.baseline import Baseline, BaselineError, baseline_key, compare, leaking_classes, record_of, update
from pytest_jsleak.collect import export_line
from pytest_jsleak.gate import item_status, known_reason, leak_word, outcome_of
from pytest_jsleak.model import LeakResult, MemorySample, PathStep, RetainerPath, Suspect
from pytest_jsleak.options import DEFAULTS, OptionError, parse_option, resolve
from pytest_jsleak.report.github import annotation_lines, escape_data, escape_property, job_summary
from pytest_jsleak.report.html import render_page
from pytest_jsleak.report.json_report import build_document, schema
from pytest_jsleak.report.merge import MergeError, merge_documents
from pytest_jsleak.report.summary import baseline_lines, summary_lines
from pytest_jsleak.report.text import headline, render

STRICT = resolve({"strict": True})
REASON = "memory rose in the sampling rounds but no object in the snapshots accounts for it"
ADVICE = "raise warmup to 500 or iterations to 1000"


def result(verdict: str = "leak", *, scenario: str = "leaky", growth: float = 100.0, classes=("RequestRecord",),
           runtime: str = "node", **fields) -> LeakResult:
    path = RetainerPath((
        PathStep(None, None, "synthetic", "(GC roots)", "(GC roots)", 3, 0),
        PathStep("internal", "1", "object", "system / Context", "system / Context", 5, 40),
        PathStep("context", "requestLog", "array", "Array", "Array", 101, 32),
        PathStep("element", "17", "object", "RequestRecord", "RequestRecord", 2001, 40),
    ))
    suspects = [Suspect(name, 200, 1.0, 8000, 14800, path, 2001) for name in classes] if verdict == "leak" else []
    return LeakResult(
        target="app.leak.mjs", scenario=scenario, runtime=runtime, verdict=verdict, runtime_version="20.20.2",
        iterations=200, round_iterations=200, warmup=50, growth_per_iteration=growth if verdict == "leak" else 0.0,
        total_growth=int(growth * 400), method="ids", suspects=suspects,
        samples=[MemorySample(i * 20, 1_000_000 + i * 2000) for i in range(10)], **fields,
    )


def inconclusive() -> LeakResult:
    return result("inconclusive", scenario="unsure", reason=REASON, advice=ADVICE, measured_growth_per_iteration=64.0)


def entry(res: LeakResult, nodeid: str | None = None, **extra) -> dict:
    return {"nodeid": nodeid or f"app.leak.mjs::{res.scenario}", **res.to_dict(), **extra}


# -- options ---------------------------------------------------------------------------------------------


def test_strict_and_tolerance_are_options_with_defaults_and_parsers():
    assert DEFAULTS.strict is False and DEFAULTS.baseline_tolerance == 50.0
    assert parse_option("strict", "true", source="ini") is True
    assert parse_option("strict", "off", source="ini") is False
    assert parse_option("baseline_tolerance", "25%", source="ini") == 25.0
    assert parse_option("baseline_tolerance", 10, source="marker") == 10.0
    with pytest.raises(OptionError, match="strict='maybe'"):
        parse_option("strict", "maybe", source="ini jsleak_strict")
    with pytest.raises(OptionError, match="non-negative"):
        parse_option("baseline_tolerance", "-5", source="--jsleak-baseline-tolerance")


# -- outcomes and statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "default", "strict"),
    [("leak", "fail", "fail"), ("error", "fail", "fail"), ("inconclusive", "warn", "fail"),
     ("clean", "pass", "pass"), ("known", "pass", "pass"), ("fixed", "pass", "pass")],
)
def test_outcome_of_every_verdict(verdict, default, strict):
    checked = result(verdict)
    assert outcome_of(checked, DEFAULTS) == default
    assert outcome_of(checked, STRICT) == strict


def test_item_status_picks_the_status_that_asks_most_of_the_reader():
    leak, unsure = entry(result("leak")), entry(inconclusive(), outcome="warn")
    known, fixed = entry(result("known")), entry(result("fixed"))
    assert item_status([entry(result("clean")), leak], failed=True) == "leak"
    assert item_status([dict(unsure, outcome="fail")], failed=True) == "inconclusive"
    assert item_status([entry(result("error"))], failed=True) is None  # pytest's own FAILED
    assert item_status([known, unsure, fixed], failed=False) == "inconclusive"
    assert item_status([fixed, known], failed=False) == "known"
    assert item_status([fixed], failed=False) == "fixed"
    assert item_status([entry(result("clean"))], failed=False) is None


def test_leak_word_and_known_reason_carry_the_baseline():
    grew = entry(result("leak"), baseline={"status": "regressed", "changes": ["grew"]})
    assert leak_word([grew]) == "LEAKED (grew)"
    assert leak_word([entry(result("leak"))]) == "LEAKED"
    known = entry(result("known", growth=120.0), growth_per_iteration=120.0,
                  baseline={"status": "known", "recorded": {"growth_per_iteration": 100.0}, "tolerance": 50.0})
    assert known_reason([known]) == "known leak: 120 B/iteration (baseline 100 B/iteration, tolerance 50%)"


# -- baselines ---------------------------------------------------------------------------------------------


def baseline_of(tmp_path: Path, leaks: dict) -> Baseline:
    return Baseline(tmp_path / "jsleak-baseline.json", leaks)


RECORDED = {"growth_per_iteration": 100.0, "classes": ["RequestRecord"], "grown": [], "runtime_version": "20.20.2",
            "recorded": "2026-01-01"}


def test_a_leak_not_in_the_baseline_is_new_and_stays_a_leak(tmp_path):
    checked = result("leak")
    compare(checked, "app.leak.mjs::leaky", baseline_of(tmp_path, {}), 50.0)
    assert checked.verdict == "leak"
    assert checked.baseline["status"] == "new" and "a new leak" in checked.baseline["changes"][0]


def test_a_leak_within_tolerance_is_known(tmp_path):
    checked = result("leak", growth=149.0)
    compare(checked, "app.leak.mjs::leaky", baseline_of(tmp_path, {"app.leak.mjs::leaky": {"node": RECORDED}}), 50.0)
    assert checked.verdict == "known"
    assert checked.baseline["status"] == "known" and checked.baseline["recorded"] == RECORDED


def test_a_known_leak_that_grew_past_the_tolerance_regressed(tmp_path):
    checked = result("leak", growth=151.0)
    compare(checked, "app.leak.mjs::leaky", baseline_of(tmp_path, {"app.leak.mjs::leaky": {"node": RECORDED}}), 50.0)
    assert checked.verdict == "leak" and checked.baseline["status"] == "regressed"
    assert checked.baseline["changes"] == ["grew from 100 B to 151 B/iteration (+51%, tolerance 50%)"]


def test_a_known_leak_that_leaks_a_new_class_regressed(tmp_path):
    checked = result("leak", classes=("RequestRecord", "Session", "(string)"))
    compare(checked, "app.leak.mjs::leaky", baseline_of(tmp_path, {"app.leak.mjs::leaky": {"node": RECORDED}}), 50.0)
    assert checked.verdict == "leak"
    # The engine's generic classes come and go with the runtime: only Session is new.
    assert checked.baseline["changes"] == ["leaks a class the baseline does not list: Session"]


def test_a_baseline_entry_of_another_runtime_does_not_cover_this_one(tmp_path):
    checked = result("leak", runtime="bun")
    compare(checked, "app.leak.mjs::leaky", baseline_of(tmp_path, {"app.leak.mjs::leaky": {"node": RECORDED}}), 50.0)
    assert checked.verdict == "leak" and checked.baseline["status"] == "new"


def test_a_baseline_entry_that_ran_clean_is_fixed_with_the_hint(tmp_path):
    checked = result("clean")
    compare(checked, "app.leak.mjs::leaky", baseline_of(tmp_path, {"app.leak.mjs::leaky": {"node": RECORDED}}), 50.0)
    assert checked.verdict == "fixed" and checked.baseline["status"] == "fixed"
    assert "--jsleak-baseline-update" in checked.notes[-1]
    assert outcome_of(checked, DEFAULTS) == "pass"


def test_inconclusive_and_errors_keep_their_entry_and_clean_checks_without_one_are_left_alone(tmp_path):
    base = baseline_of(tmp_path, {"app.leak.mjs::unsure": {"node": RECORDED}})
    unsure = inconclusive()
    compare(unsure, "app.leak.mjs::unsure", base, 50.0)
    assert unsure.verdict == "inconclusive" and unsure.baseline["status"] == "kept"
    clean = result("clean", scenario="other")
    compare(clean, "app.leak.mjs::other", base, 50.0)
    assert clean.verdict == "clean" and clean.baseline is None


def test_with_update_new_and_grown_leaks_are_recorded_and_pass_as_known(tmp_path):
    base = baseline_of(tmp_path, {"app.leak.mjs::leaky": {"node": RECORDED}})
    new, grew = result("leak", scenario="fresh"), result("leak", growth=500.0)
    compare(new, "app.leak.mjs::fresh", base, 50.0, update=True)
    compare(grew, "app.leak.mjs::leaky", base, 50.0, update=True)
    assert (new.verdict, new.baseline["status"]) == ("known", "added")
    assert (grew.verdict, grew.baseline["status"]) == ("known", "updated")


def test_update_adds_updates_removes_and_keeps_what_did_not_run(tmp_path):
    leaks = {
        "app.leak.mjs::leaky": {"node": RECORDED, "bun": dict(RECORDED, growth_per_iteration=80.0)},
        "app.leak.mjs::gone": {"node": RECORDED},
        "app.leak.mjs::steady": {"node": RECORDED},
        "elsewhere.leak.mjs::notrun": {"node": RECORDED},
    }
    base = baseline_of(tmp_path, json.loads(json.dumps(leaks)))
    checks = [result("leak", growth=300.0), result("clean", scenario="gone"), result("leak", scenario="steady"),
              result("leak", scenario="fresh", growth=42.0), inconclusive()]
    for checked in checks:
        compare(checked, baseline_key(f"app.leak.mjs::{checked.scenario}", checked.scenario), base, 50.0,
                update=True)
    summary = update(base, [entry(c) for c in checks], today="2026-12-02")
    assert summary.added == ["app.leak.mjs::fresh (node)"]
    assert summary.updated == ["app.leak.mjs::leaky (node)"]
    assert summary.removed == ["app.leak.mjs::gone (node)"]
    assert summary.kept == 3  # leaky on bun, steady (within tolerance), notrun; unsure was never in it
    assert base.leaks["app.leak.mjs::leaky"]["node"]["growth_per_iteration"] == 300.0
    assert base.leaks["app.leak.mjs::leaky"]["bun"]["growth_per_iteration"] == 80.0  # another runtime: kept
    assert base.leaks["app.leak.mjs::steady"]["node"] == RECORDED  # known within tolerance: as recorded
    assert base.leaks["elsewhere.leak.mjs::notrun"]["node"] == RECORDED
    assert "app.leak.mjs::gone" not in base.leaks
    assert base.leaks["app.leak.mjs::fresh"]["node"] == {
        "growth_per_iteration": 42.0, "classes": ["RequestRecord"], "grown": [], "runtime_version": "20.20.2",
        "recorded": "2026-12-02",
    }


def test_the_file_is_sorted_stable_and_reads_back(tmp_path):
    base = baseline_of(tmp_path, {"b::x": {"node": RECORDED}, "a::y": {"node": RECORDED, "bun": RECORDED}})
    base.write()
    text = base.path.read_text()
    assert text.index('"a::y"') < text.index('"b::x"') and text.index('"bun"') < text.index('"node"')
    assert text.endswith("}\n")
    again = Baseline.load(base.path)
    assert again.leaks == base.leaks and again.dumps() == text


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "does not exist: create it with --jsleak-baseline-update"), ("{", "is not JSON"),
     ('{"schema": 1}', 'expected an object with "leaks"'), ('{"schema": 9, "leaks": {}}', "schema 9"),
     ('{"schema": 1, "leaks": {"a": {"node": {"growth_per_iteration": "lots"}}}}', "needs a number")],
)
def test_a_bad_baseline_file_is_an_error_naming_it(tmp_path, content, words):
    path = tmp_path / "b.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BaselineError, match=r"b\.json") as raised:
        Baseline.load(path)
    assert words in str(raised.value)
    if content is None:
        assert Baseline.load(path, missing_ok=True).leaks == {}


def test_keys_and_classes():
    assert baseline_key("app.leak.mjs::leaky", "leaky") == "app.leak.mjs::leaky"
    assert baseline_key("tests/test_api.py::test_it", "handle") == "tests/test_api.py::test_it [handle]"
    assert leaking_classes([("Record", 1.0), ("Rare", 0.2), ("(string)", 3.0), ("system / Context", 1.0)]) == [
        "Record"]
    assert record_of(entry(result("leak")), today="2026-12-02")["classes"] == ["RequestRecord"]


# -- the reports of every status ------------------------------------------------------------------------


def test_text_report_of_an_inconclusive_check():
    text = render(inconclusive(), label="app.leak.mjs::unsure")
    lines = text.splitlines()
    assert lines[0] == f"INCONCLUSIVE: app.leak.mjs::unsure (node 20.20.2), 2 rounds of 200 iterations: {REASON}"
    assert lines[1] == f"what to change: {ADVICE}"
    assert "measured: 64 B/iteration over the rounds" in text
    assert "--jsleak-strict" in text
    assert "memory after GC (heap + external): ▁" in text  # the samples' sparkline


def test_text_headlines_of_known_fixed_and_grown_leaks(tmp_path):
    base = baseline_of(tmp_path, {"app.leak.mjs::leaky": {"node": RECORDED}})
    known, grew, fixed = result("leak", growth=120.0), result("leak", growth=400.0), result("clean")
    for checked in (known, grew, fixed):
        compare(checked, "app.leak.mjs::leaky", base, 50.0)
    assert headline(known).startswith("KNOWN LEAK: app.leak.mjs::leaky (node 20.20.2)")
    assert headline(known).endswith("(baseline 100 B/iteration, tolerance 50%)")
    assert headline(fixed).startswith("FIXED: ") and "(baseline 100 B/iteration)" in headline(fixed)
    grown = render(grew)
    assert grown.startswith("LEAK: ")
    assert "against the baseline:\n  grew from 100 B to 400 B/iteration (+300%, tolerance 50%)" in grown


def test_summary_counts_every_status_and_says_reason_and_advice(tmp_path):
    known = result("known", growth=120.0)
    known.growth_per_iteration = 120.0
    known.baseline = {"status": "known", "recorded": RECORDED, "tolerance": 50.0, "changes": []}
    entries = [entry(result("leak")), entry(inconclusive(), outcome="warn"), entry(known),
               entry(result("fixed", scenario="was")), entry(result("clean", scenario="ok"))]
    lines = summary_lines(entries)
    assert f"INCONCLUSIVE  app.leak.mjs::unsure (node 20.20.2): {REASON}" in lines
    assert f"  what to change: {ADVICE}" in lines
    assert any(line.startswith("KNOWN  app.leak.mjs::leaky") and "(baseline: 100 B/iteration)" in line
               for line in lines)
    assert any(line.startswith("FIXED  app.leak.mjs::was") for line in lines)
    assert lines[-1] == "5 checked: 1 leaked, 1 clean, 0 errors, 1 inconclusive, 1 known, 1 fixed"
    strict = summary_lines([entry(inconclusive(), outcome="fail")])
    assert "(strict: failed)" in strict[0]
    info = baseline_lines(entries, Path("b.json"))
    assert info[0] == "baseline b.json: 1 known"


def test_json_document_with_every_status_validates_against_schema_3(tmp_path):
    base = baseline_of(tmp_path, {"app.leak.mjs::leaky": {"node": RECORDED}})
    checks = [result("leak", growth=400.0), inconclusive(), result("clean", scenario="ok"), result("error")]
    compare(checks[0], "app.leak.mjs::leaky", base, 50.0)
    known = result("leak", scenario="leaky2")
    compare(known, "app.leak.mjs::leaky", base, 50.0)
    checks.append(known)
    entries = [entry(c, outcome="fail", machine="ci-1", source_file="app.leak.mjs", source_line=3) for c in checks]
    document = build_document(entries, complete=True)
    jsonschema.validate(document, schema())
    assert document["schema"] == 3
    assert document["summary"] == {"clean": 1, "leak": 1, "inconclusive": 1, "error": 1, "known": 1, "fixed": 0}
    bad = json.loads(json.dumps(document))
    bad["items"][0]["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema())


def test_html_has_a_badge_per_status_and_the_reason_and_advice():
    known = result("known", growth=120.0)
    known.growth_per_iteration = 120.0
    known.baseline = {"status": "known", "recorded": RECORDED, "tolerance": 50.0, "changes": [], "key": "k"}
    page = render_page([entry(result("leak")), entry(inconclusive(), outcome="warn"), entry(known),
                        entry(result("fixed", scenario="was")), entry(result("clean", scenario="ok"))])
    for verdict, word in (("leak", "LEAK"), ("inconclusive", "INCONCLUSIVE"), ("known", "KNOWN LEAK"),
                          ("fixed", "FIXED"), ("clean", "clean")):
        assert f'<span class="badge {verdict}">{word}</span>' in page
        assert f'<div class="count {verdict}">' in page
        assert f'name="show" value="{verdict}"' in page
    assert REASON in page and f"what to change: {ADVICE}" in page
    assert "baseline: a known leak" in page and "recorded 100 B/iteration on 2026-01-01" in page
    assert "<title>pytest-jsleak: 1 leaked, 0 errors, 1 clean, 1 inconclusive, 1 known, 1 fixed</title>" in page
    # The order: leaks, errors, inconclusive, known, fixed, clean.
    positions = [page.index(f'<section class="item {v}"') for v in ("leak", "inconclusive", "known", "fixed", "clean")]
    assert positions == sorted(positions)


# -- merge ------------------------------------------------------------------------------------------------


def document_of(*entries, complete=True, duration=5.0):
    doc = build_document(entries, complete=complete)
    doc["duration"] = duration
    return doc


def test_merge_sorts_items_keeps_machines_and_recounts():
    one = document_of(entry(result("leak", scenario="b"), machine="shard-1"),
                      entry(result("clean", scenario="a"), machine="shard-1"), duration=7.0)
    two = document_of(entry(inconclusive(), machine="shard-2"), duration=9.5)
    merged = merge_documents([(Path("one.json"), one), (Path("two.json"), two)])
    jsonschema.validate(merged, schema())
    assert [item["scenario"] for item in merged["items"]] == ["a", "b", "unsure"]
    assert [item["machine"] for item in merged["items"]] == ["shard-1", "shard-1", "shard-2"]
    assert merged["summary"]["leak"] == 1 and merged["summary"]["inconclusive"] == 1
    assert merged["duration"] == 9.5 and merged["complete"] is True
    assert [source["path"] for source in merged["merged_from"]] == ["one.json", "two.json"]
    incomplete = merge_documents([(Path("one.json"), one), (Path("x.json"), document_of(complete=False))])
    assert incomplete["complete"] is False


def test_merge_refuses_a_check_found_in_two_inputs_unless_told_to_keep_both():
    one = document_of(entry(result("leak"), machine="linux"))
    two = document_of(entry(result("leak"), machine="macos"))
    with pytest.raises(MergeError, match=r"app.leak.mjs::leaky \[leaky\] \(node\) is in both one.json and two.json"):
        merge_documents([(Path("one.json"), one), (Path("two.json"), two)])
    kept = merge_documents([(Path("one.json"), one), (Path("two.json"), two)], allow_duplicates=True)
    assert [item["machine"] for item in kept["items"]] == ["linux", "macos"]
    # The same scenario on another runtime, or twice within one run, is no duplicate.
    bun = document_of(entry(result("leak", runtime="bun")))
    assert len(merge_documents([(Path("one.json"), one), (Path("bun.json"), bun)])["items"]) == 2
    twice = document_of(entry(result("leak")), entry(result("leak")))
    assert len(merge_documents([(Path("twice.json"), twice)])["items"]) == 2


# -- GitHub ------------------------------------------------------------------------------------------------


def test_workflow_command_escaping():
    assert escape_data("50% of a\nb\r") == "50%25 of a%0Ab%0D"
    assert escape_property("a::b, c") == "a%3A%3Ab%2C c"


def test_annotations_levels_places_and_messages(tmp_path):
    leak = entry(result("leak"), outcome="fail", source_file="src/app.leak.mjs", source_line=12)
    unsure = entry(inconclusive(), outcome="warn", source_file="src/app.leak.mjs", source_line=20)
    strict = entry(inconclusive(), "app.leak.mjs::strict", outcome="fail", source_file="src/app.leak.mjs",
                   source_line=30)
    known = entry(result("known"), "tests/test_api.py::test_it", outcome="pass",
                  source_file="tests/test_api.py", source_line=7, baseline={"status": "known", "recorded": RECORDED})
    clean = entry(result("clean", scenario="ok"), outcome="pass", source_file="src/app.leak.mjs", source_line=2)
    root = tmp_path / "repo" / "sub"
    lines = annotation_lines([clean, unsure, known, leak, strict], root=root, workspace=tmp_path / "repo")
    assert len(lines) == 4 and [line.split(" ", 1)[0] for line in lines] == ["::error", "::error", "::warning",
                                                                             "::warning"]
    first = lines[0]
    assert first.startswith("::error file=sub/src/app.leak.mjs,line=12,title=app.leak.mjs%3A%3Aleaky::jsleak: leak "
                            "(node 20.20.2): 100 B retained per iteration, top: RequestRecord")
    assert "%0Aheld by: requestLog (variable) → Array → [17] → RequestRecord" in first
    assert lines[1].startswith("::error file=sub/src/app.leak.mjs,line=30,") and REASON in lines[1]
    assert lines[2].startswith("::warning file=sub/src/app.leak.mjs,line=20,")
    assert f"%0Awhat to change: {ADVICE}" in lines[2]
    assert lines[3].startswith("::warning file=sub/tests/test_api.py,line=7,title=tests/test_api.py%3A%3Atest_it "
                               "[leaky]::jsleak: known leak (node 20.20.2)")
    assert "(baseline 100 B/iteration)" in lines[3]
    outside = annotation_lines([leak], root=root, workspace=tmp_path / "elsewhere")
    assert outside[0].startswith("::error file=src/app.leak.mjs,line=12,")


def test_annotations_stop_at_githubs_limit_and_say_so(tmp_path):
    leaks = [entry(result("leak", scenario=f"s{i}"), f"app.leak.mjs::s{i}", outcome="fail") for i in range(12)]
    lines = annotation_lines(leaks, root=tmp_path)
    assert len(lines) == 11 and "2 more errors: see the job summary" in lines[-1]


def test_job_summary_counts_tables_and_baseline_changes():
    grew = entry(result("leak", growth=400.0), outcome="fail",
                 baseline={"status": "regressed", "changes": ["grew from 100 B to 400 B/iteration"]})
    text = job_summary([grew, entry(inconclusive(), outcome="warn"), entry(result("clean", scenario="ok"))],
                       baseline=["baseline b.json: 1 grew"])
    assert text.startswith("## pytest-jsleak\n\n3 checked: 1 leak, 1 inconclusive, 1 clean\n")
    assert ("| `app.leak.mjs::leaky` | node | 400 B | RequestRecord | `requestLog (variable) → Array → [17] → "
            "RequestRecord` | grew from 100 B to 400 B/iteration |") in text
    assert f"| `app.leak.mjs::unsure` | node | {REASON} | {ADVICE} |" in text
    assert "### Baseline\n\n- baseline b.json: 1 grew" in text


# -- where a scenario is written ------------------------------------------------------------------------------


def test_export_line_finds_each_kind_of_export(tmp_path):
    target = tmp_path / "t.leak.mjs"
    target.write_text(
        "// header\n"
        "export function plain() {}\n"
        "export async function later() {}\n"
        "export const arrow = () => {};\n"
        "function listed() {}\n"
        "export { listed, other as renamed };\n"
        "export default function () {}\n"
    )
    assert [export_line(target, name) for name in ("plain", "later", "arrow", "listed", "renamed", "default",
                                                   "missing")] == [2, 3, 4, 6, 6, 7, 1]
    cjs = tmp_path / "t.leak.cjs"
    cjs.write_text("'use strict';\nexports.leaky = function leaky() {};\n")
    assert export_line(cjs, "leaky") == 2


def test_the_page_of_a_merged_report_says_where_each_check_ran():
    one = entry(result("leak"), machine="shard-1")
    two = entry(result("clean", scenario="ok"), machine="shard-2")
    page = render_page([one, two])
    assert '<span class="muted">shard-1</span>' in page and '<span class="muted">shard-2</span>' in page
    assert "<dt>machine</dt><dd>shard-2</dd>" in page
    single = render_page([one, dict(two, machine="shard-1")])
    assert '<span class="muted">shard-1</span>' not in single  # one machine: the index does not repeat it

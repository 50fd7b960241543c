"""Text and JSON reports from hand-made results: sparkline, units, table, schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from pytest_jsleak.model import (
    HandleGrowth,
    HandleSite,
    LeakResult,
    MemorySample,
    PathStep,
    RetainerPath,
    StackFrame,
    Suspect,
)
from pytest_jsleak.report.html_item import handles_html
from pytest_jsleak.report.json_report import build_document, schema, write_report
from pytest_jsleak.report.summary import summary_lines
from pytest_jsleak.report.text import headline, sparkline, survivors_table
from pytest_jsleak.units import format_bytes


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (73, "73 B"), (1023, "1023 B"), (1024, "1.0 KB"), (1536, "1.5 KB"), (3 * 1024**2, "3.0 MB"),
     (-2048, "-2.0 KB")],
)
def test_format_bytes(value, text):
    assert format_bytes(value) == text


def test_sparkline_spans_lowest_to_highest():
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5]) == "▁▁▁"
    assert sparkline([]) == ""
    assert len(sparkline(list(range(500)))) == 60


def leak_result():
    path = RetainerPath((
        PathStep(None, None, "synthetic", "(GC roots)", "(GC roots)", 3, 0),
        PathStep("property", "requestLog", "array", "Array", "Array", 101, 32),
        PathStep("element", "17", "object", "RequestRecord", "RequestRecord", 2001, 40),
    ))
    return LeakResult(
        target="examples/global-array.leak.mjs", scenario="leaky", runtime="node", verdict="leak",
        runtime_version="20.20.2", iterations=200, warmup=50, growth_per_iteration=74.0, total_growth=29600,
        samples=[MemorySample(0, 100), MemorySample(10, 200), MemorySample(20, 300)], method="ids",
        suspects=[Suspect("RequestRecord", 200, 1.0, 8000, 14800, path, 2001)],
        snapshot_paths=["/x/s1.heapsnapshot", "/x/s2.heapsnapshot", "/x/s3.heapsnapshot"], snapshot_dir="/x",
    )


def test_headline_and_table():
    result = leak_result()
    line = headline(result, "global-array.leak.mjs::leaky")
    assert line.startswith("LEAK: global-array.leak.mjs::leaky (node 20.20.2), 2 rounds of 200 iterations")
    assert "74 B retained per iteration" in line
    table = survivors_table(result)
    assert "RequestRecord" in table and "14.5 KB" in table and "1.00" in table


def test_json_document_validates_against_the_shipped_schema(tmp_path):
    entry = {"nodeid": "examples/global-array.leak.mjs::leaky", **leak_result().to_dict()}
    error = {"nodeid": "x.leak.mjs::(load)", **LeakResult("x.leak.mjs", "(load)", "bun", "error",
                                                          error="SyntaxError").to_dict()}
    target = tmp_path / "out" / "report.json"
    write_report(target, [entry, error], complete=True, started=0.0)
    document = json.loads(target.read_text())
    jsonschema.validate(document, schema())
    assert document["summary"] == {"clean": 0, "leak": 1, "inconclusive": 0, "error": 1, "known": 0, "fixed": 0}
    assert document["items"][0]["suspects"][0]["path"][1]["edge_name"] == "requestLog"
    assert list(tmp_path.joinpath("out").iterdir()) == [target]  # no temp file left


def handle_leak_result():
    frames = (StackFrame("schedulePoll", "lib/poller.mjs", 4, 10), StackFrame("leaky", "poller.leak.mjs", 7, 3),
              StackFrame("setInterval", "node:timers", 233, 19, kind="runtime"))
    result = leak_result()
    result.samples = [MemorySample(0, 100, handles={"Timeout": 3}), MemorySample(10, 100, handles={"Timeout": 13})]
    result.handles = [HandleGrowth("Timeout", 1.0, (200, 200), 403, (HandleSite("Timeout", frames, 200),))]
    return result


def test_active_resources_in_the_headline_json_and_html():
    result = handle_leak_result()
    assert "1.00 Timeout per iteration, 74 B retained per iteration" in headline(result)
    document = build_document([{"nodeid": "a", **result.to_dict()}], complete=True)
    jsonschema.validate(document, schema())
    item = document["items"][0]
    assert item["samples"][1]["handles"] == {"Timeout": 13}
    assert item["handles"][0]["sites"][0]["frames"][0]["file"] == "lib/poller.mjs"
    html = handles_html(item["handles"][0])
    assert "Timeout: 1.00 more active per iteration (+200 in round A, +200 in round B; 403 active" in html
    assert "schedulePoll (lib/poller.mjs:4:10)" in html and "×200" in html


def test_schema_rejects_a_wrong_verdict():
    document = build_document([{"nodeid": "a", **leak_result().to_dict()}], complete=True)
    document["items"][0]["verdict"] = "leaky"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema())


def test_summary_lines_count_and_name_leaks():
    entries = [{"nodeid": "a.leak.mjs::leaky", **leak_result().to_dict()}]
    lines = summary_lines(entries)
    assert lines[0].startswith("LEAK   a.leak.mjs::leaky (node 20.20.2): 74 B/iteration, top: RequestRecord")
    assert "1 checked: 1 leaked, 0 clean, 0 errors" in lines

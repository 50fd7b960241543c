"""`pytest -n 2 --jsleak` gives the verdicts of a serial run; one JSON document, one page, one summary."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from jsleak_targets import FAST, LEAKY_AND_CLEAN

from pytest_jsleak.report.json_report import schema


def test_xdist_matches_serial(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", a=LEAKY_AND_CLEAN, b=LEAKY_AND_CLEAN)
    serial, parallel = pytester.path / "serial.json", pytester.path / "parallel.json"
    first = pytester.runpytest_subprocess("--jsleak", *FAST, f"--jsleak-report={serial}")
    page = pytester.path / "parallel.html"
    second = pytester.runpytest_subprocess("--jsleak", *FAST, "-n", "2", f"--jsleak-report={parallel}",
                                           f"--jsleak-html={page}")
    first.assert_outcomes(passed=2, failed=2)
    second.assert_outcomes(passed=2, failed=2)

    def verdicts(path):
        document = json.loads(path.read_text())
        jsonschema.validate(document, schema())
        assert document["complete"] is True
        return {item["nodeid"]: item["verdict"] for item in document["items"]}

    assert verdicts(serial) == verdicts(parallel)
    assert len(verdicts(parallel)) == 4
    assert second.stdout.str().count("== jsleak ==") <= 1
    second.stdout.fnmatch_lines(["*4 checked: 2 leaked, 2 clean, 0 errors*"])
    # The controller writes the page from the workers' results: every item once, leaks first.
    html = page.read_text(encoding="utf-8")
    assert re.findall(r'<section class="item (\w+)"', html) == ["leak", "leak", "clean", "clean"]
    assert html.count('<svg class="chart"') == 4
    # Each item wrote its own folder: no two workers share a path.
    folders = sorted(p.name for p in (pytester.path / ".jsleak").iterdir())
    assert folders == ["a.leak.mjs__leaky", "b.leak.mjs__leaky"]

"""The `redact` option (default from CI) and what the reports print of a redacted result."""

from __future__ import annotations

import json

import jsonschema
import pytest

from pytest_jsleak.errors import OptionError
from pytest_jsleak.model import (
    InPlaceGrowth,
    LeakResult,
    PathStep,
    RetainerPath,
    Suspect,
    redact_path,
    redacted_string,
)
from pytest_jsleak.options import parse_layer, redact_default, resolve
from pytest_jsleak.report.html import render_page
from pytest_jsleak.report.json_report import build_document, schema
from pytest_jsleak.report.text import render

SECRET = "sk_live_51Hq8Zb2eZvKYlo2C"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "off"), ("", "off"), ("false", "off"), ("FALSE", "off"), ("0", "off"), (" False ", "off"),
     ("true", "on"), ("1", "on"), ("yes", "on"), ("gitlab", "on")],
)
def test_default_is_on_when_ci_is_set_to_anything_but_false_or_0(value, expected):
    assert redact_default({} if value is None else {"CI": value}) == expected


def test_resolve_reads_ci_each_time_and_layers_override_it(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert resolve().redact == "on"
    assert resolve(parse_layer({"redact": "off"}, source="--jsleak-redact")).redact == "off"
    monkeypatch.setenv("CI", "false")
    assert resolve().redact == "off"
    monkeypatch.delenv("CI")
    assert resolve().redact == "off"
    assert resolve(parse_layer({"redact": True}, source="marker")).redact == "on"


def test_a_bad_value_names_the_option():
    with pytest.raises(OptionError, match=r"redact='maybe' \(ini jsleak_redact\): expected one of on, off"):
        parse_layer({"redact": "maybe"}, source="ini jsleak_redact")


def string_path(text: str) -> RetainerPath:
    return RetainerPath((
        PathStep(None, None, "synthetic", "(GC roots)", "(GC roots)", 3, 0),
        PathStep("element", "1", "object", "system / Context", "system / Context", 5, 40),
        PathStep("context", "vault", "object", "Array", "Array", 101, 32),
        PathStep("element", "3", "object", "Credential", "Credential", 201, 40),
        PathStep("property", "password", "string", text, "(string)", 301, 48),
        PathStep("property", "joined", "concatenated string", "(concatenated string)", "(string)", 303, 32),
    ))


def test_redact_path_replaces_only_the_text_of_strings():
    path = string_path(SECRET + "é😀")
    redacted = redact_path(path)
    assert redacted is not None
    assert redacted.steps[4].node_name == redacted_string(len(SECRET) + 3)  # é: 1, the emoji: 2 UTF-16 units
    assert redacted.steps[:4] == path.steps[:4] and redacted.steps[5] == path.steps[5]
    assert redact_path(redacted) == redacted  # twice changes nothing
    assert redact_path(None) is None


def redacted_result() -> LeakResult:
    result = LeakResult(
        target="t/vault.leak.mjs", scenario="leaky", runtime="node", verdict="leak", runtime_version="20.20.2",
        iterations=40, growth_per_iteration=120.0, total_growth=4800, method="ids",
        suspects=[Suspect("Credential", 40, 1.0, 1600, 4000, string_path(SECRET), 201),
                  Suspect("(string)", 40, 1.0, 1920, 1920, string_path(SECRET), 301)],
        grown_in_place=[InPlaceGrowth("Array", 101, (100, 200, 300), 2.5, string_path(SECRET))],
        snapshot_paths=["/ci/.jsleak/v/s1.heapsnapshot", "/ci/.jsleak/v/s3.heapsnapshot"], snapshot_dir="/ci/.jsleak/v",
    )
    result.redact_strings()
    return result


def test_reports_of_a_redacted_result_print_no_string_contents():
    result = redacted_result()
    assert result.redacted
    text = render(result, "t/vault.leak.mjs::leaky")
    assert SECRET not in text
    assert f'held by: vault (variable) → Array → [3] → Credential → password → "…" (string, {len(SECRET)} chars)' \
        in text
    assert "snapshots kept in /ci/.jsleak/v (string values redacted: --jsleak-redact=off keeps them)" in text
    entry = {"nodeid": "t/vault.leak.mjs::leaky", **result.to_dict()}
    document = build_document([entry], complete=True)
    jsonschema.validate(document, schema())
    assert SECRET not in json.dumps(document) and document["items"][0]["redacted"] is True
    page = render_page([entry])
    assert SECRET not in page and "(string, 25 chars)" in page
    assert "The text of string values is redacted in these snapshots" in page


def test_without_redaction_the_reports_do_show_the_text():
    """The check above can fail: the same result, not redacted, prints the secret everywhere."""
    result = LeakResult(
        target="t/vault.leak.mjs", scenario="leaky", runtime="node", verdict="leak", method="ids",
        suspects=[Suspect("Credential", 40, 1.0, 1600, 4000, string_path(SECRET), 201)],
    )
    entry = {"nodeid": "t/vault.leak.mjs::leaky", **result.to_dict()}
    assert SECRET in render(result) and SECRET in json.dumps(entry) and SECRET in render_page([entry])
    assert entry["redacted"] is False and "redacted" not in render(result)

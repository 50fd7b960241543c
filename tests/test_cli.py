"""`jsleak diff`: exit codes, golden text and JSON output, one-line errors for bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from heap.snapshot_builder import SnapshotBuilder, module_array  # tests/ is on sys.path (rootdir-relative)

from pytest_jsleak.cli import main

DATA = Path(__file__).parent / "data"
UPDATE = os.environ.get("JSLEAK_UPDATE_GOLDEN") == "1"


def build_step(records: int, *, with_closures: bool = True) -> SnapshotBuilder:
    """A tiny heap: a module context holds `requestLog` (an Array of RequestRecords) and a
    `listeners` array of closures, one per record. Ids stay the same across steps, as in V8."""
    builder, context, backing = module_array("requestLog", records)
    listeners = builder.add("object", "Array", self_size=32, id=11)
    builder.edge(context, listeners, "listeners", type="context")
    script = builder.add("hidden", "system / Script", self_size=80, id=13)
    url = builder.add("string", "file:///app/handler.mjs", self_size=40, id=15)
    builder.edge(script, url, "name", type="internal")
    shared = builder.add("code", "(shared function info)", self_size=56, id=17)
    builder.edge(shared, script, "script_or_debug_info", type="internal")
    builder.edge(context, shared, "shared", type="internal")
    for n in range(records):
        record = builder.add("object", "RequestRecord", self_size=40, id=101 + 4 * n)
        text = builder.add("string", f"/api/orders/{n}", self_size=32, id=103 + 4 * n)
        builder.edge(backing, record, n, type="element")
        builder.edge(record, text, "url")
        if with_closures:
            closure = builder.add("closure", "onRequest", self_size=64, id=1001 + 2 * n)
            builder.edge(listeners, closure, n, type="element")
            builder.edge(closure, record, "record", type="context")
            builder.edge(closure, shared, "shared", type="internal")
            builder.location(closure, 42, 9, 17)
    return builder


@pytest.fixture
def snapshot_set(tmp_path):
    return [build_step(n).write(tmp_path / f"s{i}.heapsnapshot") for i, n in enumerate((2, 5, 8), start=1)]


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def golden(name: str, text: str) -> None:
    path = DATA / name
    if UPDATE or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"output differs from {path} (JSLEAK_UPDATE_GOLDEN=1 rewrites)"


def test_three_snapshots_text_golden(snapshot_set, capsys):
    code, out, err = run(["diff", *snapshot_set], capsys)
    assert code == 0 and err == ""
    assert (
        "RequestRecord @109 is retained by:  (GC roots) → [1] → system / Context → requestLog → Array → (array)"
        " → [2] → RequestRecord"
    ) in out
    assert "onRequest() @1005" in out and "at /app/handler.mjs:10:18" in out
    golden("diff3.txt", out)


def test_three_snapshots_json_golden(snapshot_set, capsys):
    code, out, _ = run(["diff", *snapshot_set, "--json"], capsys)
    assert code == 0
    document = json.loads(out)
    rows = {row["class_name"]: row for row in document["classes"]}
    assert rows["RequestRecord"]["survivors"] == 3 and rows["RequestRecord"]["fresh"] == 3
    assert rows["RequestRecord"]["survivor_bytes"] == 120
    assert rows["RequestRecord"]["retained_bytes"] == 120 + 3 * 32
    assert rows["onRequest()"]["path"][-1]["location"] == "/app/handler.mjs:10:18"
    assert document["method"] == "ids"
    golden("diff3.json", out)


def test_two_snapshots_text_and_json_golden(snapshot_set, capsys):
    code, out, _ = run(["diff", snapshot_set[0], snapshot_set[1]], capsys)
    assert code == 0
    golden("diff2.txt", out)
    code, out, _ = run(["diff", snapshot_set[0], snapshot_set[1], "--json"], capsys)
    rows = {row["class_name"]: row for row in json.loads(out)["classes"]}
    assert rows["RequestRecord"]["new"] == 3 and rows["RequestRecord"]["count_delta"] == 3
    assert rows["RequestRecord"]["deleted"] == 0 and rows["RequestRecord"]["size_delta"] == 120
    golden("diff2.json", out)


def test_threshold_sets_the_exit_status(snapshot_set, capsys):
    assert run(["diff", *snapshot_set, "--threshold", "2"], capsys)[0] == 1
    assert run(["diff", *snapshot_set, "--threshold", "3"], capsys)[0] == 0
    assert run(["diff", *snapshot_set, "--threshold", "2", "--ignore", "RequestRecord", "--ignore", "onRequest()",
                "--ignore", "(string)"], capsys)[0] == 0


def test_top_limits_rows(snapshot_set, capsys):
    _, out, _ = run(["diff", *snapshot_set, "--top", "1", "--paths", "0"], capsys)
    assert "… and 2 more classes (--top)" in out
    assert "is retained by" not in out


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "the file is empty"), (b"{not json", "not a V8 heap snapshot"), (b"\x00\x01binary", "not JSON")],
)
def test_bad_input_exits_2_with_one_line(snapshot_set, tmp_path, capsys, content, words):
    bad = tmp_path / "bad.heapsnapshot"
    bad.write_bytes(content)
    code, out, err = run(["diff", snapshot_set[0], bad, snapshot_set[2]], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(bad) in err and words in err, err


def test_truncated_and_missing_files_exit_2(snapshot_set, tmp_path, capsys):
    data = snapshot_set[2].read_bytes()
    cut = tmp_path / "cut.heapsnapshot"
    cut.write_bytes(data[: len(data) // 2])
    code, _, err = run(["diff", *snapshot_set[:2], cut], capsys)
    assert code == 2 and "truncated" in err and str(cut) in err
    code, _, err = run(["diff", snapshot_set[0], tmp_path / "missing.heapsnapshot"], capsys)
    assert code == 2 and "missing.heapsnapshot: cannot read" in err


def test_usage_errors_exit_2(snapshot_set, capsys):
    assert run(["diff", snapshot_set[0]], capsys)[0] == 2
    with pytest.raises(SystemExit) as raised:
        main(["diff", str(snapshot_set[0]), str(snapshot_set[1]), "--top", "zero"])
    assert raised.value.code == 2


def test_console_script_module_entry(snapshot_set):
    done = subprocess.run(
        [sys.executable, "-m", "pytest_jsleak", "diff", *map(str, snapshot_set), "--threshold", "0"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "leak candidates: " in done.stdout


def test_real_node_snapshots(capsys, tmp_path):
    """On snapshots from node itself: the leaked class, its count and the variable holding it."""
    from heap.conftest import LEAKS, _write_snapshots

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    files = _write_snapshots([node, "--expose-gc"], tmp_path / "node")
    code, out, _ = run(["diff", *files, "--json"], capsys)
    assert code == 0
    rows = {row["class_name"]: row for row in json.loads(out)["classes"]}
    assert rows["RequestRecord"]["survivors"] == LEAKS
    assert "requestLog → Array → [" in rows["RequestRecord"]["path_text"]
    code, out, _ = run(["diff", *files, "--threshold", str(LEAKS - 1)], capsys)
    assert code == 1 and "RequestRecord" in out

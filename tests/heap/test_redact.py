"""heap/redact.py on hand-built snapshots: string values go, names, graph and diff results stay."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from heap.snapshot_builder import SnapshotBuilder, module_array
from pytest_jsleak import heap
from pytest_jsleak.cli import main
from pytest_jsleak.errors import SnapshotFormatError
from pytest_jsleak.heap.redact import redact_snapshot

SECRET = "hunter2-Sup3rSecret"
ESCAPED = 'quote " and \\ and\nnewline'


def strings_of(path: Path) -> list[str]:
    return json.loads(path.read_text(encoding="utf-8"))["strings"]


def names_of(path: Path) -> dict[int, str]:
    """Node id → its name, as read back."""
    snap = heap.read_snapshot(path)
    return {int(i): snap.strings[int(n)] for i, n in zip(snap.node_id, snap.node_name, strict=True)}


def rich_snapshot(path: Path) -> Path:
    """One of each case of the rule (the module docstring of heap/redact.py)."""
    b = SnapshotBuilder()
    roots = b.add("synthetic", "(GC roots)", self_size=0, id=3)
    b.edge(0, roots, 1, type="element")
    holder = b.add("object", "Holder", self_size=48, id=5)
    b.edge(roots, holder, 1, type="element")
    b.edge(holder, b.add("string", SECRET, id=7), "password")
    # A value whose text is also a class, a property name and a trace function: all stay.
    b.edge(holder, b.add("string", "Holder", id=9), "kind")
    b.edge(holder, b.add("string", "password", id=11), "field")
    b.edge(holder, b.add("string", "buildThing", id=13), "maker")
    # Strings that need escaping or count UTF-16 units.
    b.edge(holder, b.add("string", ESCAPED, id=15), "escaped")
    b.edge(holder, b.add("string", "pässwörd😀", id=17), "unicode")
    b.edge(holder, b.add("string", "", id=19), "empty")
    # V8's cons string (a fixed name, parts are strings of their own) and Bun's (named by its text).
    cons = b.add("concatenated string", "(concatenated string)", id=21)
    b.edge(holder, cons, "joined")
    b.edge(cons, b.add("string", "first-part-xyz", id=23), "first", type="internal")
    b.edge(cons, b.add("string", "second-part-xyz", id=25), "second", type="internal")
    b.edge(holder, b.add("concatenated string", "bun-cons-secret", id=27), "bunJoined")
    b.edge(holder, b.add("sliced string", "sliced-secret", id=29), "sliced")
    # Code: a regexp's source and a closure with a location stay.
    b.edge(holder, b.add("regexp", "^token=(\\w+)$", id=31), "pattern")
    closure = b.add("closure", "buildThing", id=33)
    b.edge(holder, closure, "make")
    b.location(closure, 1, 9, 4)
    # A Script named as Deno names it; its `name` is the URL closure locations are read from.
    script = b.add("code", "system / Script / file:///app/a.mjs", id=35)
    url = b.add("string", "file:///app/a.mjs", id=37)
    b.edge(script, url, "name", type="internal")
    b.edge(script, b.add("string", "const key = 'in-source-secret';", id=39), "source", type="internal")
    shared = b.add("code", "(shared function info)", id=41)
    b.edge(closure, shared, "shared", type="internal")
    b.edge(shared, script, "script_or_debug_info", type="internal")
    b.edge(roots, script, 2, type="element")
    # An allocation trace that names a function and a script.
    trace = b.call([("buildThing", "file:///app/a.mjs", 9, 4)])
    b.nodes[holder].trace_node_id = trace
    return b.write(path)


def test_values_are_replaced_and_names_stay(tmp_path: Path) -> None:
    source = rich_snapshot(tmp_path / "in.heapsnapshot")
    out = tmp_path / "out.heapsnapshot"
    stats = redact_snapshot(source, out)
    names = names_of(out)
    assert names[7] == "<redacted: 19 chars>"  # len(SECRET)
    assert names[15] == f"<redacted: {len(ESCAPED)} chars>" and len(json.dumps(ESCAPED)) - 2 > len(ESCAPED)
    assert names[17] == "<redacted: 10 chars>"  # ä, ö: 1 each; the emoji: 2 UTF-16 units
    assert names[23] == "<redacted: 14 chars>" and names[25] == "<redacted: 15 chars>"
    assert names[27] == "<redacted: 15 chars>" and names[29] == "<redacted: 13 chars>"  # Bun-style names
    assert names[39] == "<redacted: 31 chars>"  # a script's source is a string value too
    # Kept: the same text is a class / an edge name / a trace function; fixed names; the empty string.
    assert (names[9], names[11], names[13]) == ("Holder", "password", "buildThing")
    assert (names[19], names[21]) == ("", "(concatenated string)")
    assert names[31] == "^token=(\\w+)$" and names[33] == "buildThing" and names[37] == "file:///app/a.mjs"
    # Kept because also names: Holder, password, buildThing, the script URL, "" (the root's name).
    assert stats.redacted == 8 and stats.kept_values == 5
    text = out.read_text(encoding="utf-8")
    for secret in (SECRET, "first-part", "bun-cons", "sliced-secret", "in-source-secret", "pässwörd"):
        assert secret not in text
    assert SECRET in source.read_text(encoding="utf-8")  # the input is untouched


def test_everything_but_the_strings_is_byte_for_byte_the_same(tmp_path: Path) -> None:
    source = rich_snapshot(tmp_path / "in.heapsnapshot")
    out = tmp_path / "out.heapsnapshot"
    redact_snapshot(source, out)
    before, after = json.loads(source.read_text()), json.loads(out.read_text())
    assert set(before) == set(after)
    for key in before:
        if key != "strings":
            assert before[key] == after[key], key
    assert len(before["strings"]) == len(after["strings"])
    a, b = heap.read_snapshot(source), heap.read_snapshot(out)
    from pytest_jsleak.heap.paths import ClosureLocations

    closure = int(next(i for i, n in enumerate(a.node_id) if n == 33))
    assert ClosureLocations(heap.HeapGraph(b)).of(closure) == ClosureLocations(heap.HeapGraph(a)).of(closure) == (
        "/app/a.mjs:10:5")


def test_in_place_keeps_the_mode_and_twice_changes_nothing(tmp_path: Path) -> None:
    path = rich_snapshot(tmp_path / "s.heapsnapshot")
    os.chmod(path, 0o640)
    redact_snapshot(path)
    once = path.read_bytes()
    assert SECRET.encode() not in once
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    again = redact_snapshot(path)
    assert path.read_bytes() == once and again.redacted == 0
    assert [p.name for p in tmp_path.iterdir()] == ["s.heapsnapshot"]  # no temp file left


def leak_step(records: int) -> SnapshotBuilder:
    """A module scope holds `sessions`, an Array of Session objects, each with a secret token and a
    user name; ids are stable across steps, as in V8."""
    b, _, backing = module_array("sessions", records)
    for n in range(records):
        session = b.add("object", "Session", self_size=40, id=101 + 6 * n)
        b.edge(backing, session, n, type="element")
        b.edge(session, b.add("string", f"tok_{n:04d}_{SECRET}", self_size=48, id=103 + 6 * n), "token")
        b.edge(session, b.add("string", f"user-{n}@example.com", self_size=32, id=105 + 6 * n), "user")
    return b


def without_string_text(document: object) -> object:
    """The diff's JSON with the text of string path steps blanked (what redaction may change)."""
    if isinstance(document, dict):
        if document.get("node_type") in ("string", "concatenated string", "sliced string"):
            return {**document, "node_name": "…", "label": "…"}
        return {key: value.split('"', 1)[0] if key == "path_text" and value else without_string_text(value)
                for key, value in document.items() if key != "snapshots"}
    if isinstance(document, list):
        return [without_string_text(item) for item in document]
    return document


def test_jsleak_diff_gives_the_same_classes_counts_and_paths(tmp_path: Path, capsys) -> None:
    originals = [leak_step(n).write(tmp_path / f"s{i}.heapsnapshot") for i, n in enumerate((2, 5, 8), 1)]
    redacted = []
    for path in originals:
        target = tmp_path / f"r{path.name}"
        redact_snapshot(path, target)
        redacted.append(target)
    outputs = []
    for files in (originals, redacted):
        assert main(["diff", *map(str, files), "--json", "--paths", "5"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    before, after = outputs
    assert [c["class_name"] for c in before["classes"]] == [c["class_name"] for c in after["classes"]]
    assert {c["class_name"] for c in before["classes"]} >= {"Session", "(string)"}
    assert without_string_text(before) == without_string_text(after)
    text = json.dumps(after)
    assert SECRET not in text and "@example.com" not in text
    assert SECRET in json.dumps(before)  # the comparison above did compare string steps
    # The text output prints a redacted string as its length.
    assert main(["diff", *map(str, redacted), "--paths", "5"]) == 0
    out = capsys.readouterr().out
    assert '"…" (string, 28 chars)' in out and "sessions" in out and "Session" in out


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "the file is empty"),
        (b"not json", "not a heap snapshot"),
        (b'{"snapshot": {"meta": {}}}', "snapshot.meta.node_fields"),
    ],
)
def test_malformed_input_is_an_error_naming_the_file(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.heapsnapshot"
    path.write_bytes(content)
    with pytest.raises(SnapshotFormatError, match=words) as caught:
        redact_snapshot(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == content


def test_truncated_missing_strings_and_bad_indices_leave_the_file_as_it_was(tmp_path: Path) -> None:
    good = rich_snapshot(tmp_path / "good.heapsnapshot").read_text()
    document = json.loads(good)
    cases = {
        "truncated": good[: len(good) // 2],
        "no-strings": json.dumps({k: v for k, v in document.items() if k != "strings"}),
        "name-past-end": json.dumps({**document, "strings": document["strings"][:5]}),
        "short-nodes": json.dumps({**document, "nodes": document["nodes"][:-3]}),
    }
    expected = {
        "truncated": "truncated",
        "no-strings": "section 'strings' is missing",
        "name-past-end": "points past the 5 strings",
        "short-nodes": "section 'nodes' has",
    }
    for name, text in cases.items():
        path = tmp_path / f"{name}.heapsnapshot"
        path.write_text(text)
        with pytest.raises(SnapshotFormatError, match=expected[name]):
            redact_snapshot(path)
        assert path.read_text() == text, name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_cli_writes_beside_the_input_and_never_overwrites_silently(tmp_path: Path, capsys) -> None:
    source = rich_snapshot(tmp_path / "s3.heapsnapshot")
    target = tmp_path / "s3.redacted.heapsnapshot"
    assert main(["redact", str(source)]) == 0
    assert "8 of" in capsys.readouterr().out and SECRET not in target.read_text()
    # A second run refuses, and names the file; --force overwrites.
    target.write_text("keep me")
    assert main(["redact", str(source)]) == 2
    assert f"{target} exists: give --force" in capsys.readouterr().err
    assert target.read_text() == "keep me"
    assert main(["redact", str(source), "--force"]) == 0
    assert SECRET not in target.read_text()
    # -o names the output; -o equal to the input asks for --in-place.
    other = tmp_path / "shared.heapsnapshot"
    assert main(["redact", str(source), "-o", str(other)]) == 0 and other.is_file()
    assert main(["redact", str(source), "-o", str(source)]) == 2
    assert "use --in-place" in capsys.readouterr().err
    assert main(["redact", str(source), str(other), "-o", str(tmp_path / "x")]) == 2
    assert SECRET in source.read_text()
    assert main(["redact", "--in-place", str(source)]) == 0
    assert SECRET not in source.read_text()


def test_cli_bad_input_exits_2_naming_the_file(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    assert main(["redact", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: not a heap snapshot" in err and "Traceback" not in err
    assert not (tmp_path / "notes.txt.redacted").exists()
    assert main(["redact", str(tmp_path / "missing.heapsnapshot")]) == 2
    assert "missing.heapsnapshot: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("runtime", ["node", pytest.param("bun", marks=pytest.mark.bun)])
def test_real_runtime_snapshots_keep_their_diff(runtime: str, request, tmp_path: Path, capsys) -> None:
    """Real heaps: every class, count and path the same, closure locations included (Node)."""
    snapshots = request.getfixturevalue(f"{runtime}_snapshots")
    redacted = []
    for path in snapshots:
        redacted.append(tmp_path / path.name)
        stats = redact_snapshot(path, redacted[-1])
        assert stats.redacted > 100 and stats.kept_values > 100
    outputs = []
    for files in (snapshots, redacted):
        assert main(["diff", *map(str, files), "--json", "--paths", "6"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert without_string_text(outputs[0]) == without_string_text(outputs[1])
    assert "RequestRecord" in [c["class_name"] for c in outputs[1]["classes"]]
    if runtime == "node":
        steps = [step for cls in outputs[1]["classes"] for step in (cls.get("path") or [])]
        assert any(step.get("location") for step in steps)  # closure locations survived

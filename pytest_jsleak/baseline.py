"""Baselines of known leaks (DESIGN §15): the file, the comparison of one check with its entry, the update.

The file is keyed by what a test *is*, never by where it ran: the check's key (its node id, with the
scenario in brackets when a Python test checked one) and then the runtime, since the same test leaks
differently on Node and on Bun and a matrix over runtimes shares one file. A shard or a partial run
only ever touches the entries of the checks it ran.

    {"schema": 1, "leaks": {"examples/audit-log.leak.mjs::leaky": {"node": {
        "growth_per_iteration": 127.2, "classes": ["Object"], "grown": [],
        "runtime_version": "20.20.2", "recorded": "2026-12-02"}}}}
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_jsleak.errors import JsLeakError
from pytest_jsleak.model import LeakResult
from pytest_jsleak.units import format_bytes

BASELINE_SCHEMA = 1
# A class counts as one the check leaks when at least one object of it survives per two calls: rarer
# survivors are incidental (a lazily made cache entry, a string of the harness) and differ between runs.
CLASS_PER_ITERATION = 0.5
# The engine's generic classes (strings, closures, scopes, arrays' storage) come with the user's
# leaked objects and change with the runtime's version; a new one is not a new leak.
GENERIC_CLASS_PREFIXES = ("(", "system /")
UPDATE_HINT = "run with --jsleak-baseline-update to record it"


class BaselineError(JsLeakError):
    """The baseline file cannot be read or is not a baseline (the message names the file)."""


def baseline_key(nodeid: str, scenario: str) -> str:
    """`app.leak.mjs::leaky`, or `tests/test_api.py::test_it [handleRequest]` for a fixture's check:
    the same words the terminal summary and the reports use for a check."""
    if not scenario or nodeid.endswith("::" + scenario):
        return nodeid
    return f"{nodeid} [{scenario}]"


def leaking_classes(suspects: Iterable[tuple[str, float]]) -> list[str]:
    """The user-level classes a leak keeps, sorted: (class name, survivors per call) pairs."""
    return sorted({
        name for name, per_iteration in suspects
        if per_iteration >= CLASS_PER_ITERATION and not name.startswith(GENERIC_CLASS_PREFIXES)
    })


def _result_classes(result: LeakResult) -> list[str]:
    return leaking_classes((s.class_name, s.per_iteration) for s in result.suspects)


def _entry_classes(entry: Mapping[str, Any]) -> list[str]:
    return leaking_classes(
        (str(s.get("class_name", "")), float(s.get("per_iteration") or 0)) for s in entry.get("suspects") or []
    )


@dataclass
class Baseline:
    """The known leaks of one baseline file: key → runtime → recorded entry."""

    path: Path
    leaks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, *, missing_ok: bool = False) -> Baseline:
        """Read `path`; a missing file is an empty baseline only when `missing_ok` (an update creates it)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if missing_ok:
                return cls(path)
            raise BaselineError(
                f"baseline file {path} does not exist: create it with --jsleak-baseline-update"
            ) from None
        except OSError as exc:
            raise BaselineError(f"cannot read the baseline file {path}: {exc.strerror or exc}") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"baseline file {path} is not JSON: {exc}") from None
        return cls(path, _validated_leaks(document, path))

    def entry(self, key: str, runtime: str) -> dict[str, Any] | None:
        return self.leaks.get(key, {}).get(runtime)

    def dumps(self) -> str:
        """The file's text: sorted keys and a stable layout, so that a change reads well in review."""
        document = {"schema": BASELINE_SCHEMA, "leaks": self.leaks}
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def write(self) -> None:
        from pytest_jsleak.report.json_report import write_text_atomically

        write_text_atomically(self.path, self.dumps(), suffix=".json")


def _validated_leaks(document: object, path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    def bad(why: str) -> BaselineError:
        return BaselineError(f"baseline file {path} is not a pytest-jsleak baseline: {why}")

    if not isinstance(document, dict) or not isinstance(document.get("leaks"), dict):
        raise bad('expected an object with "leaks"')
    if document.get("schema") != BASELINE_SCHEMA:
        raise bad(f"schema {document.get('schema')!r}, this version reads schema {BASELINE_SCHEMA}")
    leaks: dict[str, dict[str, dict[str, Any]]] = {}
    for key, runtimes in document["leaks"].items():
        if not isinstance(runtimes, dict):
            raise bad(f"{key!r} must map runtimes to entries")
        for runtime, entry in runtimes.items():
            growth = entry.get("growth_per_iteration") if isinstance(entry, dict) else None
            if isinstance(growth, bool) or not isinstance(growth, (int, float)):
                raise bad(f"{key!r} ({runtime}) needs a number growth_per_iteration")
        leaks[key] = {runtime: dict(entry) for runtime, entry in runtimes.items()}
    return leaks


# -- one check against its entry (on whichever process ran it) -----------------------------------------


def compare(result: LeakResult, key: str, baseline: Baseline, tolerance: float, *, update: bool = False) -> None:
    """Judge `result` against its baseline entry: set `result.baseline`, and `known` / `fixed` verdicts.

    A leak without an entry is `new`; one within `tolerance` percent of its entry's growth and with no
    class the entry lacks is `known`; otherwise it `regressed`, and `changes` says what changed. With
    `update`, new and regressed leaks are recorded by this run (`added`, `updated`) and pass as known,
    as a snapshot update passes the tests it rewrites. A clean check with an entry is `fixed`.
    Inconclusive and errored checks keep their entry (`kept`): they did not show whether it still leaks.
    """
    recorded = baseline.entry(key, result.runtime)
    info: dict[str, Any] = {"key": key, "recorded": recorded, "tolerance": tolerance, "changes": []}
    if result.verdict == "leak":
        if recorded is None:
            info["status"] = "added" if update else "new"
            info["changes"] = [f"not in the baseline {baseline.path.name}: a new leak"]
        else:
            info["changes"] = changes_against(result, recorded, tolerance)
            if not info["changes"]:
                info["status"] = "known"
            else:
                info["status"] = "updated" if update else "regressed"
        if info["status"] in ("known", "added", "updated"):
            result.verdict = "known"
    elif result.verdict == "clean":
        if recorded is None:
            return
        info["status"] = "fixed"
        result.verdict = "fixed"
        hint = "the baseline entry is removed by this update" if update else \
            "run with --jsleak-baseline-update to remove its entry"
        result.notes.append(
            f"fixed: {key} was a known leak of {format_bytes(recorded.get('growth_per_iteration') or 0)}"
            f"/iteration in {baseline.path.name}; {hint}"
        )
    else:
        if recorded is None:
            return
        info["status"] = "kept"
    result.baseline = info


def changes_against(result: LeakResult, recorded: Mapping[str, Any], tolerance: float) -> list[str]:
    """What makes a leak more than its entry: growth past the tolerance, or a class the entry lacks."""
    changes = []
    was = float(recorded.get("growth_per_iteration") or 0)
    now = result.growth_per_iteration
    if now > was * (1 + tolerance / 100):
        grew = f"+{(now / was - 1) * 100:.0f}%" if was > 0 else "from nothing"
        changes.append(
            f"grew from {format_bytes(was)} to {format_bytes(now)}/iteration ({grew}, tolerance {tolerance:g}%)"
        )
    new_classes = [name for name in _result_classes(result) if name not in set(recorded.get("classes") or ())]
    if new_classes:
        changes.append("leaks a class the baseline does not list: " + ", ".join(new_classes))
    return changes


# -- the update (on the controller, from every check's JSON-ready entry) ----------------------------------


@dataclass
class UpdateSummary:
    """What `--jsleak-baseline-update` did to the file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: int = 0
    """Entries left as they were: known leaks within tolerance, inconclusive checks, tests that did not run."""

    def line(self, path: Path) -> str:
        return (f"baseline {path} written: {len(self.added)} added, {len(self.updated)} updated, "
                f"{len(self.removed)} removed, {self.kept} kept")


def record_of(entry: Mapping[str, Any], *, today: str | None = None) -> dict[str, Any]:
    """The baseline entry a leak's JSON-ready entry becomes."""
    return {
        "growth_per_iteration": round(float(entry.get("growth_per_iteration") or 0), 1),
        "classes": _entry_classes(entry),
        "grown": sorted({str(g.get("class_name")) for g in entry.get("grown_in_place") or []}),
        "runtime_version": str(entry.get("runtime_version") or ""),
        "recorded": today or time.strftime("%Y-%m-%d", time.gmtime()),
    }


def update(baseline: Baseline, entries: Sequence[Mapping[str, Any]], *, today: str | None = None) -> UpdateSummary:
    """Rewrite `baseline.leaks` from a run: record its new and grown leaks, drop the entries that ran
    clean, keep everything else as it was (known leaks within tolerance keep their recorded numbers, so
    the file changes only when something did and a slow creep cannot raise the entry one run at a time)."""
    summary = UpdateSummary()
    before = sum(len(runtimes) for runtimes in baseline.leaks.values())
    for entry in entries:
        info = entry.get("baseline") or {}
        status, key, runtime = info.get("status"), info.get("key"), str(entry.get("runtime") or "")
        if not key:
            continue
        label = f"{key} ({runtime})"
        if status in ("added", "new", "updated", "regressed"):
            existed = baseline.entry(key, runtime) is not None
            baseline.leaks.setdefault(key, {})[runtime] = record_of(entry, today=today)
            (summary.updated if existed else summary.added).append(label)
        elif status == "fixed" and baseline.entry(key, runtime) is not None:
            del baseline.leaks[key][runtime]
            if not baseline.leaks[key]:
                del baseline.leaks[key]
            summary.removed.append(label)
    summary.kept = before - len(summary.updated) - len(summary.removed)
    return summary


__all__ = [
    "BASELINE_SCHEMA", "Baseline", "BaselineError", "UpdateSummary", "baseline_key", "changes_against", "compare",
    "leaking_classes", "record_of", "update",
]

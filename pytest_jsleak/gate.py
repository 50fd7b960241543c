"""How a check's verdict becomes its test's outcome and status (DESIGN §5, §7, §15); no pytest here.

One place decides, for every call site (collected scenarios, `jsleak.check`, `svc.check`,
`jsleak.page(...).check`), whether a verdict fails the test, passes it with a warning, or passes it;
and, for the progress line, which status a test shows when its checks ended differently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import pytest

from pytest_jsleak.model import LeakResult
from pytest_jsleak.options import Options
from pytest_jsleak.units import format_bytes

Outcome = Literal["pass", "fail", "warn"]


def outcome_of(result: LeakResult, options: Options) -> Outcome:
    """`fail` for a leak or an error; `warn` for an inconclusive verdict (`fail` under `strict`);
    `pass` for clean, a known leak (within its baseline entry) and a fixed one."""
    if result.verdict in ("leak", "error"):
        return "fail"
    if result.verdict == "inconclusive":
        return "fail" if options.strict else "warn"
    return "pass"


# Progress letter, verbose word and colour of each status a test can show (pytest_report_teststatus).
STATUS_LETTER = {"leak": "L", "inconclusive": "I", "known": "K", "fixed": "."}
STATUS_WORD = {
    "leak": "LEAKED",
    "inconclusive": "INCONCLUSIVE",
    "known": "KNOWN LEAK",
    "fixed": "PASSED (leak fixed)",
}
# The word after LEAKED when a baseline is in use: what the baseline says about the leak.
LEAK_BASELINE_WORD = {"new": "LEAKED (new)", "regressed": "LEAKED (grew)"}


def item_status(entries: Iterable[Mapping[str, Any]], *, failed: bool) -> str | None:
    """The status a test shows for its checks (JSON-ready entries), or None for pytest's own.

    A failed test shows LEAKED when a check leaked, else INCONCLUSIVE when a strict inconclusive check
    failed it (an error is pytest's FAILED). A test that passed shows INCONCLUSIVE before KNOWN LEAK
    before "leak fixed": the status that asks most of the reader wins.
    """
    entries = list(entries)
    verdicts = {entry.get("verdict") for entry in entries}
    if failed:
        if "leak" in verdicts:
            return "leak"
        if any(entry.get("verdict") == "inconclusive" and entry.get("outcome") == "fail" for entry in entries):
            return "inconclusive"
        return None
    for status in ("inconclusive", "known", "fixed"):
        if status in verdicts:
            return status
    return None


def leak_word(entries: Iterable[Mapping[str, Any]]) -> str:
    """LEAKED, or LEAKED (new) / LEAKED (grew) when the baseline says which."""
    for entry in entries:
        if entry.get("verdict") == "leak":
            status = (entry.get("baseline") or {}).get("status")
            if status in LEAK_BASELINE_WORD:
                return LEAK_BASELINE_WORD[status]
    return STATUS_WORD["leak"]


def known_reason(entries: Iterable[Mapping[str, Any]]) -> str:
    """The junit `<skipped type="pytest.xfail" message=...>` of a test whose leaks are all known:
    the numbers, so that the CI's test view says how big the accepted leak is."""
    parts = []
    for entry in entries:
        if entry.get("verdict") != "known":
            continue
        recorded = (entry.get("baseline") or {}).get("recorded") or {}
        tolerance = (entry.get("baseline") or {}).get("tolerance")
        text = f"known leak: {format_bytes(entry.get('growth_per_iteration') or 0)}/iteration"
        if recorded:
            text += f" (baseline {format_bytes(recorded.get('growth_per_iteration') or 0)}/iteration"
            text += f", tolerance {tolerance:g}%)" if isinstance(tolerance, (int, float)) else ")"
        parts.append(text)
    return "; ".join(parts)




class JsLeakInconclusiveWarning(pytest.PytestWarning):
    """An inconclusive leak check that passed: its node id, why the evidence did not settle, what to change.

    `--jsleak-strict` (ini `jsleak_strict`, marker `strict=True`) fails such a check instead; a filter
    (`-W "ignore::pytest_jsleak.gate.JsLeakInconclusiveWarning"`) silences the warning.
    """


def inconclusive_message(where: str, result: LeakResult) -> str:
    """`app.leak.mjs::leaky: inconclusive: <reason>; <advice> (or --jsleak-strict to fail it)`."""
    reason = result.reason or "the evidence did not settle"
    advice = f"; {result.advice}" if result.advice else ""
    return f"{where}: leak check inconclusive: {reason}{advice} (--jsleak-strict makes this a failure)"


__all__ = [
    "STATUS_LETTER", "STATUS_WORD", "JsLeakInconclusiveWarning", "Outcome", "inconclusive_message", "item_status",
    "known_reason", "leak_word", "outcome_of",
]

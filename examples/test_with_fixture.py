"""Leak checks from Python tests: the `jsleak` fixture and the `jsleak` marker."""

from __future__ import annotations

from pathlib import Path

import pytest

STORE = Path(__file__).parent / "lib" / "session-store.mjs"


@pytest.mark.jsleak(iterations=200, warmup=20)
def test_sessions_are_released(jsleak):
    result = jsleak.check(STORE, "createAndDestroy")
    assert result.verdict == "clean"


@pytest.mark.jsleak(max_growth_per_iteration="1KB")
def test_audit_trail_growth_is_within_budget(jsleak):
    # The audit trail grows by design; the budget says how much per login is acceptable.
    result = jsleak.check(STORE, "loginWithAudit")
    assert result.growth_per_iteration < 1024

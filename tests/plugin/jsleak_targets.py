"""Small JS targets shared by the end-to-end tests."""

from __future__ import annotations

LEAKY_AND_CLEAN = """
class Leaked { constructor(i) { this.i = i; this.label = "leaked-" + i; } }
const keep = [];
let calls = 0;
export function leaky() { keep.push(new Leaked(calls++)); }
export function clean() { const t = new Leaked(calls++); return t.label.length; }
"""

# Fast settings for tests: the defaults (200 iterations, 50 warm-up) are for real use.
FAST = ("--jsleak-iterations=40", "--jsleak-warmup=5")

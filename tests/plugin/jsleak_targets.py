"""Small JS targets and helpers shared by the end-to-end tests."""

from __future__ import annotations

import sys

LEAKY_AND_CLEAN = """
class Leaked { constructor(i) { this.i = i; this.label = "leaked-" + i; } }
const keep = [];
let calls = 0;
export function leaky() { keep.push(new Leaked(calls++)); }
export function clean() { const t = new Leaked(calls++); return t.label.length; }
"""

# Fast settings for tests: the defaults (200 iterations, 50 warm-up) are for real use.
FAST = ("--jsleak-iterations=40", "--jsleak-warmup=5")


def interruptible(argv: list[str]) -> list[str]:
    """`argv` started with SIGINT unblocked and at its default, whatever the spawning worker passes on.

    An ignored or blocked signal survives exec: twice in loaded full runs, a child pytest started from
    an xdist worker ran on after its Ctrl-C as if it never came (no KeyboardInterrupt, exit code 1),
    while the same tests alone, in xdist or not, under load or not, were interrupted every time. What
    left the worker so was not found; a test of what Ctrl-C does to a run starts from a plain terminal's
    state. The process keeps its pid through the exec, so signals sent to it reach `argv`.
    """
    prelude = ("import os, signal, sys; signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
               "signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-c", prelude, *argv]

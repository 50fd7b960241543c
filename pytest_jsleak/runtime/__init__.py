"""The runtime layer: one Node, Bun or Deno process per target, driven through harness.mjs.

`find_runtime` locates an executable, `HarnessProcess` runs scenarios in it and samples its heap,
`list_scenarios` loads a target once to see what it exports. Nothing here reads heap snapshots.
"""

from __future__ import annotations

from pytest_jsleak.runtime.process import HarnessProcess, Hello, Sample, list_scenarios
from pytest_jsleak.runtime.protocol import HarnessProtocolError
from pytest_jsleak.runtime.runtimes import SUPPORTED, RuntimeInfo, find_runtime, harness_path

__all__ = [
    "SUPPORTED",
    "HarnessProcess",
    "HarnessProtocolError",
    "Hello",
    "RuntimeInfo",
    "Sample",
    "find_runtime",
    "harness_path",
    "list_scenarios",
]

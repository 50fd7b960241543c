"""README's test command installs the Bun and Deno that CI pins: the verdict is tested on their heap accounting."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_installs_the_runtime_versions_ci_pins() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    pins = {name: re.search(rf"^{name.upper()}_VERSION=(\S+)$", ci, re.MULTILINE) for name in ("bun", "deno")}
    assert all(pins.values()), pins
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.startswith('pip install -e ".[test]"'))
    installed = dict(re.findall(r"\b(bun|deno)@(\S+)", command))
    assert installed == {name: match.group(1) for name, match in pins.items()}, command

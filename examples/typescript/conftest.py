"""These examples are TypeScript: Bun, Deno and Node >= 22.6 (type stripping) run them.

On an older Node, `pytest --jsleak examples/` skips them here and says why; without this file
the plugin fails each one with "Node 20.x cannot run TypeScript" and the runtime_args loader that
would load it. Run them with `--jsleak-runtime=deno`, `--jsleak-runtime=bun`, or a newer Node:
`--jsleak-runtime-path=/opt/node22/bin/node`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_jsleak.errors import JsLeakError
from pytest_jsleak.runtime import find_runtime

HERE = Path(__file__).parent


def _configured(config: pytest.Config, name: str) -> str | None:
    return config.getoption(f"jsleak_{name}") or config.getini(f"jsleak_{name}") or None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if (_configured(config, "runtime") or "node") != "node" or _configured(config, "runtime_args"):
        return
    try:
        node = find_runtime("node", _configured(config, "runtime_path"), cwd=config.rootpath)
    except JsLeakError:
        return  # the plugin reports a missing runtime itself
    if node.runs_typescript:
        return
    skip = pytest.mark.skip(
        reason=f"Node {node.version} cannot run TypeScript: run these with --jsleak-runtime=deno, "
        "--jsleak-runtime=bun or --jsleak-runtime-path=<a Node >= 22.6>"
    )
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)

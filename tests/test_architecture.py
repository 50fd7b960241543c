"""The package's imports keep the shape docs/architecture.md draws: no cycle, and layers that import downwards only.

Every import counts: at the top of a file, inside a function, under `if TYPE_CHECKING:`. A new module
must be given a layer in `LAYERS` below (the test names any that has none).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "pytest_jsleak"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

# The layers, lowest first: module names, a trailing ".*" for everything below a package.
LAYERS: dict[str, tuple[str, ...]] = {
    # Value types, options, errors: the standard library only.
    "foundation": ("pytest_jsleak", "pytest_jsleak.errors", "pytest_jsleak.units", "pytest_jsleak.model",
                   "pytest_jsleak.options"),
    # The three cores: independent of each other and of everything above.
    "heap": ("pytest_jsleak.heap", "pytest_jsleak.heap.*"),
    "runtime": ("pytest_jsleak.runtime", "pytest_jsleak.runtime.*"),
    "report": ("pytest_jsleak.report", "pytest_jsleak.report.*"),
    # The check: plan, analysis, verdict, explanation, drivers. No pytest.
    "check": ("pytest_jsleak.profiles", "pytest_jsleak.evidence", "pytest_jsleak.plan", "pytest_jsleak.analysis",
              "pytest_jsleak.trend", "pytest_jsleak.handles", "pytest_jsleak.verdict", "pytest_jsleak.explain",
              "pytest_jsleak.check",
              "pytest_jsleak.drivers", "pytest_jsleak.drivers.*", "pytest_jsleak.baseline"),
    # What pytest loads: hooks, the fixture's objects, collected files, the session.
    "pytest": ("pytest_jsleak.plugin", "pytest_jsleak.api", "pytest_jsleak.collect", "pytest_jsleak.session",
               "pytest_jsleak.gate", "pytest_jsleak.selfcheck"),
    # The `jsleak` console script.
    "cli": ("pytest_jsleak.cli", "pytest_jsleak.__main__"),
}
# What each layer may import of the package (its own layer always).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "foundation": frozenset(),
    "heap": frozenset({"foundation"}),
    "runtime": frozenset({"foundation"}),
    "report": frozenset({"foundation"}),
    "check": frozenset({"foundation", "heap", "runtime", "report"}),
    "pytest": frozenset({"foundation", "heap", "runtime", "report", "check"}),
    "cli": frozenset({"foundation", "heap", "runtime", "report", "check"}),
}
# Layers whose modules may import pytest.
PYTEST_LAYERS = frozenset({"pytest"})
# Layers that may import the standard library only (and the package's modules MAY_IMPORT allows).
STDLIB_ONLY_LAYERS = frozenset({"foundation"})


@dataclass(frozen=True)
class Import:
    """One import statement of a module: what it names, and where."""

    target: str
    """The imported module: a module of the package resolved to its file, else the top-level name."""
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def module_files(package_dir: Path) -> dict[str, Path]:
    """Module name → file, for every .py file of the package."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: Path, modules: Iterable[str]) -> list[Import]:
    """Every import in the file, at any depth (functions, `if TYPE_CHECKING:`, try blocks)."""
    known = set(modules)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from package import submodule` imports the submodule; `from module import name`, the module.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            found.append(Import(_module_of(name, known), path, node.lineno))
    return found


def _module_of(name: str, known: set[str]) -> str:
    """The package's module that `name` names (`a.b.c` → `a.b` when c is no module), else its top level."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return name.split(".")[0]


def import_graph(package_dir: Path) -> dict[str, list[Import]]:
    """Module → its imports (of the package's modules and of everything else), for the whole package."""
    modules = module_files(package_dir)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: Mapping[str, list[Import]]) -> list[list[Import]]:
    """One import cycle per strongly connected component of the package's modules (Tarjan), as the
    imports that close it; empty when the graph has none."""
    edges = {module: sorted({i.target for i in found if i.target in graph and i.target != module})
             for module, found in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(edges):
        if start in index:
            continue
        # Iterative Tarjan: (node, position in its edge list).
        work = [(start, 0)]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, position = work[-1]
            if position < len(edges[node]):
                work[-1] = (node, position + 1)
                target = edges[node][position]
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(set(component))
    return [_cycle_in(component, graph) for component in components]


def _cycle_in(component: set[str], graph: Mapping[str, list[Import]]) -> list[Import]:
    """The imports of one shortest cycle through the component's first module (breadth-first)."""
    start = min(component)
    came_from: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for found in graph[module]:
                if found.target not in component or found.target in came_from:
                    continue
                came_from[found.target] = found
                if found.target == start:
                    chain = [found]
                    while _module_at(chain[0], graph) != start:
                        chain.insert(0, came_from[_module_at(chain[0], graph)])
                    return chain
                following.append(found.target)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def _module_at(found: Import, graph: Mapping[str, list[Import]]) -> str:
    return next(module for module, imports in graph.items() if found in imports)


def describe(cycle: list[Import], graph: Mapping[str, list[Import]]) -> str:
    steps = [f"{_module_at(found, graph)} ({found.where()})" for found in cycle]
    return " → ".join([*steps, cycle[-1].target])


def layer_of(module: str, layers: Mapping[str, tuple[str, ...]] = LAYERS) -> str | None:
    for layer, patterns in layers.items():
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and module.startswith(pattern[:-1])):
                return layer
    return None


def layer_violations(
    graph: Mapping[str, list[Import]],
    layers: Mapping[str, tuple[str, ...]] = LAYERS,
    may_import: Mapping[str, frozenset[str]] = MAY_IMPORT,
) -> list[str]:
    """Imports of the package's modules that go sideways or upwards, one line each."""
    found = []
    for module, imports in sorted(graph.items()):
        layer = layer_of(module, layers)
        for item in imports:
            if item.target not in graph:
                continue
            target = layer_of(item.target, layers)
            if layer is None or target is None or target == layer or target in may_import[layer]:
                continue
            found.append(f"{module} ({layer}) imports {item.target} ({target}) at {item.where()}")
    return found


def third_party_violations(
    graph: Mapping[str, list[Import]],
    layers: Mapping[str, tuple[str, ...]] = LAYERS,
    pytest_layers: frozenset[str] = PYTEST_LAYERS,
    stdlib_only: frozenset[str] = STDLIB_ONLY_LAYERS,
) -> list[str]:
    """Imports of pytest outside the pytest layers, and of anything but the stdlib in the stdlib-only ones."""
    found = []
    for module, imports in sorted(graph.items()):
        layer = layer_of(module, layers)
        for item in imports:
            if item.target in graph or item.target == "__future__":
                continue
            what = f"{module} ({layer}) imports {item.target} at {item.where()}"
            if item.target in ("pytest", "_pytest") and layer not in pytest_layers:
                found.append(f"{what}: only {sorted(pytest_layers)}")
            elif layer in stdlib_only and item.target not in sys.stdlib_module_names:
                found.append(f"{what}: the stdlib only")
    return found


# --- the package --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> dict[str, list[Import]]:
    return import_graph(PACKAGE_DIR)


def test_every_module_has_a_layer(graph):
    missing = [module for module in graph if layer_of(module) is None]
    assert not missing, f"give these modules a layer in LAYERS ({__file__}): {missing}"


def test_no_import_cycle(graph):
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(describe(cycle, graph) for cycle in found)


def test_layers_import_downwards_only(graph):
    found = layer_violations(graph)
    assert not found, "\n".join(found)


def test_pytest_only_in_the_pytest_layer_and_the_foundation_on_the_stdlib(graph):
    found = third_party_violations(graph)
    assert not found, "\n".join(found)


def test_the_graph_sees_function_level_imports(graph):
    """The plugin imports collect.py only inside a hook (start-up cost): that is an edge too."""
    assert "pytest_jsleak.collect" in {i.target for i in graph["pytest_jsleak.plugin"]}


# --- the checks themselves, on a planted package --------------------------------------------------


def _fake_package(root: Path, files: Mapping[str, str]) -> Path:
    package = root / "fakepkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_a_cycle_through_a_function_level_and_a_type_checking_import_is_found(tmp_path):
    package = _fake_package(tmp_path, {
        "core/__init__.py": "",
        "core/graph.py": "from typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n    from fakepkg.core.paths import Tree\n",
        "core/paths.py": "def tree():\n    from fakepkg.core import dominators\n",
        "core/dominators.py": "from .graph import Graph\n",
        "leaf.py": "import fakepkg.core.graph\n",
    })
    graph = import_graph(package)
    found = cycles(graph)
    assert len(found) == 1
    text = describe(found[0], graph)
    assert text == ("fakepkg.core.dominators (dominators.py:1) → fakepkg.core.graph (graph.py:3) → "
                    "fakepkg.core.paths (paths.py:2) → fakepkg.core.dominators"), text
    assert "leaf" not in text


def test_no_cycle_in_a_package_that_imports_downwards(tmp_path):
    package = _fake_package(tmp_path, {
        "a.py": "import fakepkg.b\n", "b.py": "from fakepkg import c\n", "c.py": "import os\n",
    })
    assert cycles(import_graph(package)) == []


def test_sideways_imports_and_pytest_outside_its_layer_are_found(tmp_path):
    package = _fake_package(tmp_path, {
        "base.py": "import numpy\n",
        "heap/__init__.py": "",
        "heap/x.py": "def f():\n    from fakepkg.runtime import y\n",
        "runtime/__init__.py": "",
        "runtime/y.py": "import pytest\nfrom fakepkg import base\n",
    })
    layers = {"foundation": ("fakepkg", "fakepkg.base"), "heap": ("fakepkg.heap", "fakepkg.heap.*"),
              "runtime": ("fakepkg.runtime", "fakepkg.runtime.*")}
    may = {"foundation": frozenset(), "heap": frozenset({"foundation"}), "runtime": frozenset({"foundation"})}
    graph = import_graph(package)
    assert layer_violations(graph, layers, may) == [
        "fakepkg.heap.x (heap) imports fakepkg.runtime.y (runtime) at x.py:2"]
    assert third_party_violations(graph, layers, frozenset(), frozenset({"foundation"})) == [
        "fakepkg.base (foundation) imports numpy at base.py:1: the stdlib only",
        "fakepkg.runtime.y (runtime) imports pytest at y.py:1: only []",
    ]

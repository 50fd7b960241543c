"""Name the variable that holds a leak when the shortest path does not.

JSC (Bun) roots module-level values through the compiled code that uses them, so the shortest
path reads `(GC roots) → (compiled code) → Array → [649] → RequestRecord`: true, but it hides
`requestLog`. When no step of a path is a named variable of a scope, look for a scope object that
retains a node of the path under a name, and splice that scope's own path and the named edge in.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pytest_jsleak.heap.allocations import display_path, frame_kind, package_of
from pytest_jsleak.heap.classes import class_name
from pytest_jsleak.heap.exclusions import HARNESS_PREFIX, harness_scopes
from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.paths import ClosureLocations, follow_named
from pytest_jsleak.heap.retainers import retainer_path
from pytest_jsleak.model import MODULE_SCOPE, RetainerPath
from pytest_jsleak.model import VARIABLE_EDGE_TYPES as NAMED_EDGE_TYPES
from pytest_jsleak.model import is_scope_class as is_scope


def first_variable(path: RetainerPath) -> int:
    """Position of the first step entered through a named edge out of a scope, or len(steps)."""
    steps = path.steps
    for position in range(1, len(steps)):
        step = steps[position]
        if step.edge_type in NAMED_EDGE_TYPES and step.edge_name and is_scope(steps[position - 1].class_name):
            return position
    return len(steps)


def with_named_holder(graph: HeapGraph, path: RetainerPath) -> RetainerPath:
    """The path, or one through the nearest-to-root node of it that a scope holds by name.

    Only nodes before the path's first variable are tried: a path that already starts
    `requestLog → Array → ...` is left as it is, one that starts `(compiled code) → Array → ...`
    and names a variable only deeper down (a closure's) gets the holder of the Array.
    """
    harness = set(harness_scopes(graph).tolist())
    for position in range(1, first_variable(path)):
        index = graph.find_by_id(path.steps[position].node_id)
        if index is None:
            continue
        for edge in graph.node(index).retainers:
            name = edge.name
            if edge.type not in NAMED_EDGE_TYPES or not isinstance(name, str) or not name:
                continue
            source = edge.source_index
            if not is_scope(class_name(graph, source)) or name.startswith(HARNESS_PREFIX) or source in harness:
                continue  # the harness's variables are not the user's
            prefix = retainer_path(graph, source)
            if prefix is None:
                continue
            held = replace(path.steps[position], edge_type=edge.type, edge_name=name)
            return RetainerPath((*prefix.steps, held, *path.steps[position + 1:]))
    return path


def module_scope_name(graph: HeapGraph, context: int) -> str | None:
    """The file whose top-level scope `context` is, or None when it is no module's scope.

    A module's scope (ESM, or the function a CommonJS module is wrapped in) is a context whose
    `previous` is the native context; its file is the script of a function created in it.
    """
    view = graph.node(context)
    if view.name != "system / Context":
        return None
    outer = follow_named(graph, context, ("previous",))
    if outer is None or graph.node(outer).name != "system / NativeContext":
        return None
    locations = ClosureLocations.of_graph(graph)
    for edge in view.retainers:
        if edge.type == "internal" and edge.name == "context" and edge.source.type == "closure":
            script = locations.script_name(edge.source_index)
            if script:
                return script
    return None


def module_variable(graph: HeapGraph, context: int, retained: np.ndarray) -> int | None:
    """What a program's module scope holds in the variable that retains the most, or None.

    A module variable replaced by a larger copy on every call (`buf = grow(buf)`) is a new object in
    every snapshot, so only the scope is alive in all three and grows in place. Its shortest path
    is the loader's (`Node / Environment → … → ModuleWrap → Generator → system / Context`); the
    variable is what the user's code names. `retained`: retained sizes of `graph`'s nodes.
    None for a scope that is no module's, or a runtime's or the harness's module.
    """
    name = module_scope_name(graph, context)
    if name is None or frame_kind(name) not in ("user", "library"):
        return None
    best, best_size = None, -1
    for edge in graph.node(context).edges:
        if edge.type != "context" or not isinstance(edge.name, str) or edge.name.startswith(HARNESS_PREFIX):
            continue
        size = int(retained[edge.target_index])
        if size > best_size:
            best, best_size = edge.target_index, size
    return best


def module_url(graph: HeapGraph, module: int) -> str | None:
    """The file of a `system / SourceTextModule` node, from the `url` of Node's ModuleWrap for it."""
    for edge in graph.node(module).retainers:
        if edge.source.name == "ModuleWrap":
            url = follow_named(graph, edge.source_index, ("url",))
            if url is not None:
                text = graph.node(url).name
                return text[len("file://"):] if text.startswith("file://") else text
    return None


def through_import(graph: HeapGraph, path: RetainerPath, root: str | None = None) -> RetainerPath | None:
    """`(module scope) app.mjs → axios (import) → interceptors → …` for a path through a library's export.

    An ES module's imports are cells it shares with the exporting module; the shortest path often
    reaches the cell from the library's side (`ModuleWrap → SourceTextModule → … → Cell → value`).
    When a module of the user's imports that cell, the path reads from the user's import instead,
    named after the package. None when the path passes no such cell.
    """
    steps = path.steps
    for position in range(1, len(steps) - 1):
        step, after = steps[position], steps[position + 1]
        if step.class_name != "system / Cell" or after.edge_name != "value":
            continue
        exporter = next((s for s in reversed(steps[:position]) if s.class_name == "system / SourceTextModule"), None)
        cell = graph.find_by_id(step.node_id)
        if exporter is None or cell is None:
            continue
        exporter_url = module_url(graph, graph.find_by_id(exporter.node_id) or 0) or ""
        if frame_kind(exporter_url) == "user":
            continue  # an export of the user's own module: its scope says it better
        for holder in graph.node(cell).retainers:
            for edge in holder.source.retainers:
                module = edge.source
                if module.name != "system / SourceTextModule" or module.id == exporter.node_id:
                    continue
                url = module_url(graph, module.index)
                if not url or frame_kind(url) != "user":
                    continue
                package = package_of(exporter_url) or exporter_url.rsplit("/", 1)[-1] or "(module)"
                head = replace(
                    step, edge_type=None, edge_name=None, node_type="synthetic",
                    node_name=f"{MODULE_SCOPE} {display_path(url, root)}", class_name="system / Context",
                    node_id=module.id, self_size=module.self_size, location=None,
                )
                imported = replace(after, edge_type="import", edge_name=package)
                return _relative_locations(RetainerPath((head, imported, *steps[position + 2:])), root)
    return None


def start_at_module(graph: HeapGraph, path: RetainerPath, root: str | None = None) -> RetainerPath:
    """The path from the module scope that holds it: `(module scope) src/log.mjs → requestLog → ...`.

    How the GC roots reach a module's scope (the module map, the loader's records) is the
    runtime's business; the path reads like the code from the module's variable on. A path that
    passes no module scope with a variable after it is left as it is.
    """
    imported = through_import(graph, path, root)
    if imported is not None:
        return imported
    steps = path.steps
    scopes: list[tuple[int, str]] = []
    for position in range(1, len(steps) - 1):
        step = steps[position]
        if step.class_name != "system / Context" or steps[position + 1].edge_type not in NAMED_EDGE_TYPES:
            continue
        index = graph.find_by_id(step.node_id)
        name = module_scope_name(graph, index) if index is not None else None
        if name is not None:
            scopes.append((position, name))
    if not scopes:
        return _relative_locations(path, root)
    # The user's module if the path passes one; else the runtime's or library's module nearest the
    # object (node:timers' timer list, not the node:v8 scope the search happened to come through).
    position, name = next(((p, n) for p, n in scopes if frame_kind(n) == "user"), scopes[-1])
    if root and name.startswith(root.rstrip("/") + "/"):
        name = name[len(root.rstrip("/")) + 1:]
    head = replace(steps[position], edge_type=None, edge_name=None, node_type="synthetic",
                   node_name=f"{MODULE_SCOPE} {name}", location=None)
    return _relative_locations(RetainerPath((head, *steps[position + 1:])), root)


def _relative_locations(path: RetainerPath, root: str | None) -> RetainerPath:
    """Closure locations relative to `root`, as the node ids and allocation sites spell files."""
    if not root:
        return path
    prefix = root.rstrip("/") + "/"
    return RetainerPath(tuple(
        replace(step, location=step.location[len(prefix):])
        if step.location and step.location.startswith(prefix) else step
        for step in path.steps
    ))


__all__ = ["MODULE_SCOPE", "first_variable", "module_scope_name", "module_url", "module_variable",
           "start_at_module", "through_import", "with_named_holder"]

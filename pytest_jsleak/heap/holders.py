"""Name the variable that holds a leak when the shortest path does not.

JSC (Bun) roots module-level values through the compiled code that uses them, so the shortest
path reads `(GC roots) → (compiled code) → Array → [649] → RequestRecord`: true, but it hides
`requestLog`. When no step of a path is a named variable of a scope, look for a scope object that
retains a node of the path under a name, and splice that scope's own path and the named edge in.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from pytest_jsleak.model import VARIABLE_EDGE_TYPES as NAMED_EDGE_TYPES
from pytest_jsleak.model import PathStep, RetainerPath
from pytest_jsleak.model import is_scope_class as is_scope

if TYPE_CHECKING:
    from pytest_jsleak.heap.graph import HeapGraph

def names_a_variable(path: RetainerPath) -> bool:
    """Some step is entered through a named edge out of a scope (a `let`, `const` or `var`)."""
    steps = path.steps
    return any(
        step.edge_type in NAMED_EDGE_TYPES and step.edge_name and is_scope(previous.class_name)
        for previous, step in itertools.pairwise(steps)
    )


def with_named_holder(graph: HeapGraph, path: RetainerPath) -> RetainerPath:
    """The path itself, or one through the nearest-to-root node that a scope holds by name."""
    from pytest_jsleak.heap.paths import retainer_path

    if names_a_variable(path):
        return path
    for position in range(1, len(path.steps)):
        index = graph.find_by_id(path.steps[position].node_id)
        if index is None:
            continue
        for edge in graph.node(index).retainers:
            source = edge.source
            name = edge.name
            if edge.type not in NAMED_EDGE_TYPES or not isinstance(name, str) or not name:
                continue
            if not is_scope(source.class_name):
                continue
            prefix = retainer_path(graph, edge.source_index)
            if prefix is None:
                continue
            step = path.steps[position]
            held = PathStep(edge.type, name, step.node_type, step.node_name, step.class_name, step.node_id,
                            step.self_size, step.location)
            return RetainerPath((*prefix.steps, held, *path.steps[position + 1:]))
    return path


__all__ = ["names_a_variable", "with_named_holder"]

"""Hand-built tiny V8-format heap snapshots for unit tests (no runtime needed)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NODE_FIELDS = ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"]
NODE_TYPES = [
    "hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native",
    "synthetic", "concatenated string", "sliced string", "symbol", "bigint", "object shape",
]
EDGE_FIELDS = ["type", "name_or_index", "to_node"]
EDGE_TYPES = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"]
LOCATION_FIELDS = ["object_index", "script_id", "line", "column"]


@dataclass
class Node:
    type: str
    name: str
    id: int
    self_size: int
    edges: list[tuple[str, str | int, int]] = field(default_factory=list)
    detachedness: int = 0
    trace_node_id: int = 0


class SnapshotBuilder:
    """Add nodes and edges, then `write(path)` a `.heapsnapshot` that V8 tools accept.

    Node 0 is the synthetic root; `add` returns node indices; ids are odd by default, as V8's.
    """

    def __init__(self, *, root_name: str = "") -> None:
        self.nodes: list[Node] = []
        self.locations: list[tuple[int, int, int, int]] = []
        # Allocation tracking: (name, script, line, column) per function; trace node id ->
        # (parent trace id, function index), the root being trace node 1, "(root)".
        self.functions: list[tuple[str, str, int, int]] = []
        self.trace_nodes: dict[int, tuple[int, int]] = {}
        self._next_id = 1
        self.add("synthetic", root_name, self_size=0)

    def add(
        self,
        type: str,
        name: str,
        *,
        self_size: int = 16,
        id: int | None = None,
        detachedness: int = 0,
        trace: int = 0,
    ) -> int:
        """A node; `detachedness` as Chromium writes it for DOM nodes (1 attached, 2 detached);
        `trace` the allocation trace node that made it (0: none)."""
        if id is None:
            id = self._next_id
            self._next_id += 2
        self.nodes.append(Node(type, name, id, self_size, detachedness=detachedness, trace_node_id=trace))
        return len(self.nodes) - 1

    def call(self, stack: list[tuple[str, str, int, int]]) -> int:
        """The trace node id of a call stack (outermost first), made on first use."""
        if not self.trace_nodes:
            self.functions.append(("(root)", "", 0, 0))
            self.trace_nodes[1] = (0, 0)
        parent = 1
        for frame in stack:
            if frame not in self.functions:
                self.functions.append(frame)
            function = self.functions.index(frame)
            child = next((tid for tid, (up, fn) in self.trace_nodes.items() if up == parent and fn == function), None)
            if child is None:
                child = max(self.trace_nodes) + 1
                self.trace_nodes[child] = (parent, function)
            parent = child
        return parent

    def edge(self, source: int, target: int, name: str | int, type: str = "property") -> None:
        self.nodes[source].edges.append((type, name, target))

    def location(self, node: int, script_id: int, line: int, column: int) -> None:
        self.locations.append((node, script_id, line, column))

    def document(self) -> dict[str, Any]:
        strings: list[str] = ["<dummy>"]
        index: dict[str, int] = {}

        def intern(text: str) -> int:
            if text not in index:
                index[text] = len(strings)
                strings.append(text)
            return index[text]

        width = len(NODE_FIELDS)
        nodes: list[int] = []
        edges: list[int] = []
        for node in self.nodes:
            nodes += [NODE_TYPES.index(node.type), intern(node.name), node.id, node.self_size,
                      len(node.edges), node.trace_node_id, node.detachedness]
            for type, name, target in node.edges:
                name_value = name if type in ("element", "hidden") else intern(str(name))
                edges += [EDGE_TYPES.index(type), int(name_value), target * width]
        locations: list[int] = []
        for node, script, line, column in self.locations:
            locations += [node * width, script, line, column]
        infos: list[int] = []
        for position, (name, script, line, column) in enumerate(self.functions):
            infos += [position, intern(name), intern(script), position, line, column]

        def subtree(trace_id: int) -> list:
            children: list = []
            for child, (up, _) in self.trace_nodes.items():
                if up == trace_id and child != trace_id:
                    children += subtree(child)
            return [trace_id, self.trace_nodes[trace_id][1], 0, 0, children]

        tree = subtree(1) if self.trace_nodes else []
        return {
            "snapshot": {
                "meta": {
                    "node_fields": NODE_FIELDS,
                    "node_types": [NODE_TYPES, "string", "number", "number", "number", "number", "number"],
                    "edge_fields": EDGE_FIELDS,
                    "edge_types": [EDGE_TYPES, "string_or_number", "node"],
                    "trace_function_info_fields": ["function_id", "name", "script_name", "script_id",
                                                   "line", "column"],
                    "trace_node_fields": ["id", "function_info_index", "count", "size", "children"],
                    "sample_fields": ["timestamp_us", "last_assigned_id"],
                    "location_fields": LOCATION_FIELDS,
                },
                "node_count": len(self.nodes),
                "edge_count": len(edges) // len(EDGE_FIELDS),
                "trace_function_count": len(self.functions),
            },
            "nodes": nodes,
            "edges": edges,
            "trace_function_infos": infos,
            "trace_tree": tree,
            "samples": [],
            "locations": locations,
            "strings": strings,
        }

    def write(self, path: str | Path) -> Path:
        """Write in V8's own layout: one node / edge per line, comma first."""
        doc = self.document()
        path = Path(path)
        parts = ['{"snapshot":', json.dumps(doc["snapshot"], separators=(",", ":")), ",\n"]
        for key, width in (("nodes", len(NODE_FIELDS)), ("edges", len(EDGE_FIELDS))):
            values = doc[key]
            rows = [",".join(map(str, values[i : i + width])) for i in range(0, len(values), width)]
            parts.append(f'"{key}":[' + "\n,".join(rows) + "],\n")
        for key in ("trace_function_infos", "trace_tree", "samples", "locations"):
            parts.append(f'"{key}":' + json.dumps(doc[key], separators=(",", ":")) + ",\n")
        parts.append('"strings":[' + ",\n".join(json.dumps(s) for s in doc["strings"]) + "]}\n")
        path.write_text("".join(parts), encoding="utf-8")
        return path


def module_array(name: str, slots: int) -> tuple[SnapshotBuilder, int, int]:
    """A heap whose module scope holds one Array called `name` with `slots` element slots:
    (GC roots) -> [1] -> system / Context -> name -> Array -> (array). Returns the builder, the
    context and the Array's backing store (ids 3, 5, 7, 9: stable across steps, as in V8)."""
    builder = SnapshotBuilder()
    roots = builder.add("synthetic", "(GC roots)", self_size=0, id=3)
    builder.edge(0, roots, 1, type="element")
    context = builder.add("object", "system / Context", self_size=40, id=5)
    builder.edge(roots, context, 1, type="element")
    array = builder.add("object", "Array", self_size=32, id=7)
    backing = builder.add("array", "", self_size=16 + 8 * slots, id=9)
    builder.edge(context, array, name, type="context")
    builder.edge(array, backing, "elements", type="internal")
    return builder, context, backing

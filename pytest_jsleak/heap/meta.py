"""The `snapshot.meta` header of a V8 heap snapshot: field layouts and type names, checked."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from pytest_jsleak.errors import SnapshotFormatError

Fail = Callable[[str], NoReturn]
"""Raises a SnapshotFormatError naming the file."""

# Field names the core needs. Everything else in `meta` is kept but optional: runtimes differ
# (Deno has no `trace_node_id` unless allocation tracking is on, Bun's `locations` are empty,
# Deno's `location_fields` carry an extra `script_object_index`; see research/runtimes.md §3).
REQUIRED_NODE_FIELDS = ("type", "name", "id", "self_size", "edge_count")
REQUIRED_EDGE_FIELDS = ("type", "name_or_index", "to_node")


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    """The layout of one snapshot: which column holds what, and the names of the type codes."""

    node_fields: tuple[str, ...]
    node_types: tuple[str, ...]
    edge_fields: tuple[str, ...]
    edge_types: tuple[str, ...]
    location_fields: tuple[str, ...]
    trace_function_info_fields: tuple[str, ...]
    trace_node_fields: tuple[str, ...]
    sample_fields: tuple[str, ...]
    node_count: int
    edge_count: int
    trace_function_count: int
    raw: dict[str, Any]
    """The whole `snapshot` object as read (meta plus counts and any extra keys)."""

    @property
    def node_field_count(self) -> int:
        return len(self.node_fields)

    @property
    def edge_field_count(self) -> int:
        return len(self.edge_fields)

    def node_field(self, name: str) -> int:
        return self.node_fields.index(name)

    def edge_field(self, name: str) -> int:
        return self.edge_fields.index(name)

    def node_type_code(self, name: str) -> int:
        """The code of a node type, or -1 when this runtime has no such type."""
        return self.node_types.index(name) if name in self.node_types else -1

    def node_type_mask(self, names: Iterable[str]) -> np.ndarray:
        """A bool per node type code: whether it is one of `names` (types this runtime lacks are skipped).

        Index it with a node-type column to get a mask over nodes: `mask[snap.node_type]`.
        """
        mask = np.zeros(len(self.node_types), np.bool_)
        for name in names:
            code = self.node_type_code(name)
            if code >= 0:
                mask[code] = True
        return mask

    def edge_type_code(self, name: str) -> int:
        """The code of an edge type, or -1 when this runtime has no such type."""
        return self.edge_types.index(name) if name in self.edge_types else -1


def _string_list(value: Any, what: str, fail: Fail) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        fail(f"snapshot.meta.{what} is missing or not a list of strings")
    return tuple(value)


def _type_names(value: Any, what: str, fail: Fail) -> tuple[str, ...]:
    # `node_types` / `edge_types` are lists aligned with the fields; the entry for the `type`
    # field is itself the list of type names.
    if not isinstance(value, list) or not value or not isinstance(value[0], list):
        fail(f"snapshot.meta.{what} has no list of type names")
    return _string_list(value[0], f"{what}[0]", fail)


def _count(snapshot: dict[str, Any], key: str, fail: Fail, *, required: bool = True) -> int:
    value = snapshot.get(key, None if required else 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        fail(f"snapshot.{key} is missing or not a non-negative integer")
    return value


def parse_meta(snapshot: Any, filename: str) -> SnapshotMeta:
    """Check the decoded `snapshot` header object and return its layout.

    Raises SnapshotFormatError naming `filename` and the field that is wrong.
    """

    def fail(message: str) -> NoReturn:
        raise SnapshotFormatError(f"{filename}: {message}")

    if not isinstance(snapshot, dict):
        fail("'snapshot' is not an object")
    meta = snapshot.get("meta")
    if not isinstance(meta, dict):
        fail("snapshot.meta is missing")
    node_fields = _string_list(meta.get("node_fields"), "node_fields", fail)
    for name in REQUIRED_NODE_FIELDS:
        if name not in node_fields:
            fail(f"snapshot.meta.node_fields has no '{name}' field")
    edge_fields = _string_list(meta.get("edge_fields"), "edge_fields", fail)
    for name in REQUIRED_EDGE_FIELDS:
        if name not in edge_fields:
            fail(f"snapshot.meta.edge_fields has no '{name}' field")
    node_types_all: Any = meta.get("node_types")  # JSON, checked by _type_names
    edge_types_all: Any = meta.get("edge_types")
    node_types = _type_names(node_types_all, "node_types", fail)
    edge_types = _type_names(edge_types_all, "edge_types", fail)
    if len(node_types_all) != len(node_fields) or len(edge_types_all) != len(edge_fields):
        fail("snapshot.meta: node_types/edge_types do not match node_fields/edge_fields")
    if node_fields.index("type") != 0 or edge_fields.index("type") != 0:
        # The type names sit in node_types[0] / edge_types[0] only when `type` is field 0.
        fail("snapshot.meta: 'type' is not the first node/edge field")

    def optional_fields(key: str) -> tuple[str, ...]:
        return _string_list(meta.get(key, []), key, fail)

    return SnapshotMeta(
        node_fields=node_fields,
        node_types=node_types,
        edge_fields=edge_fields,
        edge_types=edge_types,
        location_fields=optional_fields("location_fields"),
        trace_function_info_fields=optional_fields("trace_function_info_fields"),
        trace_node_fields=optional_fields("trace_node_fields"),
        sample_fields=optional_fields("sample_fields"),
        node_count=_count(snapshot, "node_count", fail),
        edge_count=_count(snapshot, "edge_count", fail),
        trace_function_count=_count(snapshot, "trace_function_count", fail, required=False),
        raw=snapshot,
    )

"""DevTools class keys: how a node is grouped in the Summary view (`Array`, `onRequest()`, `(string)`).

Objects and natives by name (constructor name, `Node / ...`, `system / Context`), closures by
function name with `()` (anonymous: `(closure)`), hidden nodes by their `system / ...` name (else
`(system)`), and bracketed names per type (`(string)`, `(array)`, `(compiled code)` ...). Chromium's
DOM nodes by their interface, `Detached ` when detached (dom.py).
"""

from __future__ import annotations

import numpy as np

from pytest_jsleak.heap.dom import dom_class_labels
from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.paths import nearest_to_roots, shortest_paths

# Node types whose class key is a fixed bracketed name, as in DevTools' Summary view
# (HeapSnapshot.ts, JSHeapSnapshotNode.className: `(type)` for everything but objects and
# natives; `code` is shown as `(compiled code)`). The string types are merged into `(string)`.
_TYPE_KEYS = {
    "array": "(array)",
    "string": "(string)",
    "concatenated string": "(string)",
    "sliced string": "(string)",
    "code": "(compiled code)",
    "number": "(number)",
    "regexp": "(regexp)",
    "symbol": "(symbol)",
    "bigint": "(bigint)",
    "object shape": "(object shape)",
}
# Types keyed by their name: objects by constructor name, natives (`Node / ...`), synthetic roots.
_NAMED_TYPES = ("object", "native", "synthetic", "wasm object")


def key_for(type_name: str, name: str) -> str:
    """The DevTools-style class key of one node from its type and name."""
    if type_name in _NAMED_TYPES:
        return name or f"({type_name})"
    if type_name == "closure":
        return f"{name}()" if name else "(closure)"
    if type_name == "hidden":
        return name if name.startswith("system / ") else "(system)"
    return _TYPE_KEYS.get(type_name, f"({type_name})")


def class_keys(graph: HeapGraph, nodes: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Class key per node as DevTools groups them: (codes into names, names).

    `nodes` limits the work to some node indices. Every node's keys are built once per graph: the
    census, `instances_of` and the Bun path all ask for them.
    """
    if nodes is not None and not graph.memo(dom_class_labels)[0].size:
        return _keys_of(graph, nodes)
    # DOM labels are computed for the whole snapshot at once (the state spreads along edges).
    keys, names = graph.memo(_all_class_keys)
    return (keys if nodes is None else keys[nodes]), list(names)


def _all_class_keys(graph: HeapGraph) -> tuple[np.ndarray, tuple[str, ...]]:
    keys, names = _keys_of(graph, None)
    return keys, tuple(names)


def _keys_of(graph: HeapGraph, nodes: np.ndarray | None) -> tuple[np.ndarray, list[str]]:
    """`class_keys` of `nodes` (None: of every node, with the DOM labels), built afresh."""
    snap = graph.snapshot
    if nodes is None:
        types = snap.node_type
        names = snap.node_name
    else:
        types = snap.node_type[nodes]
        names = snap.node_name[nodes]
    meta = snap.meta
    type_count = len(meta.node_types)
    # One integer per key candidate: per-type keys are [0, type_count); named keys are
    # type_count + type * len(distinct) + the name's place among the distinct names, so equal names
    # of different types stay apart until their text is decoded below (and the codes' range stays
    # small enough for `unique_inverse`'s table).
    named = np.zeros(type_count, np.bool_)
    for position, type_name in enumerate(meta.node_types):
        if type_name in _NAMED_TYPES or type_name in ("closure", "hidden"):
            named[position] = True
    is_named = named[types]
    codes = types.astype(np.int64)
    distinct, name_at = unique_inverse(names[is_named])
    codes[is_named] = type_count + codes[is_named] * max(1, distinct.size) + name_at
    unique, inverse = unique_inverse(codes)
    labels = [_key_label(graph, int(code), type_count, distinct) for code in unique]
    # Merge labels that decode to the same text (e.g. `(string)` for three string types).
    merged: dict[str, int] = {}
    remap = np.empty(len(labels), np.int32)
    for position, label in enumerate(labels):
        remap[position] = merged.setdefault(label, len(merged))
    keys = remap[inverse.reshape(-1)]
    dom_nodes, dom_codes, dom_names = graph.memo(dom_class_labels)
    if nodes is None and dom_nodes.size:
        dom_remap = np.array([merged.setdefault(label, len(merged)) for label in dom_names], np.int32)
        keys = keys.astype(np.int32, copy=True)
        keys[dom_nodes] = dom_remap[dom_codes]
    return keys, list(merged)


#: `unique_inverse` uses a table over the values' range when it is at most this many times the
#: number of values (a table costs a byte and an int32 per slot, sorting ~40 ns per value); past
#: that, sorting. Class keys stay far below: names span the strings (~half a slot per node on real
#: heaps), the (type, name) codes the types times the distinct names.
DENSE_RANGE_FACTOR = 16


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(values, return_inverse=True)` for non-negative integers, without sorting them when
    their range is small: a presence table and its running count (20 ms instead of 0.3 s for the
    1.6 M class codes of a 122 MB snapshot)."""
    if not values.size:
        return values[:0], np.zeros(0, np.intp)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= DENSE_RANGE_FACTOR * values.size + 1024:
        unique, inverse = np.unique(values, return_inverse=True)
        return unique, inverse.reshape(-1)
    present = np.zeros(high + 1, np.bool_)
    present[values] = True
    unique = np.flatnonzero(present).astype(values.dtype, copy=False)
    position = np.cumsum(present, dtype=np.int32 if unique.size < (1 << 31) else np.intp)
    position -= 1
    return unique, position[values].astype(np.intp, copy=False)


def _key_label(graph: HeapGraph, code: int, type_count: int, distinct: np.ndarray) -> str:
    node_types = graph.snapshot.meta.node_types
    if code < type_count:
        type_name = node_types[code]
        return _TYPE_KEYS.get(type_name, f"({type_name})")
    type_code, place = divmod(code - type_count, max(1, distinct.size))
    return key_for(node_types[type_code], graph.snapshot.strings[int(distinct[place])])


def class_name(graph: HeapGraph, index: int) -> str:
    """The class key of one node."""
    snap = graph.snapshot
    dom_nodes, dom_codes, dom_names = graph.memo(dom_class_labels)
    if dom_nodes.size:
        position = int(np.searchsorted(dom_nodes, index))
        if position < dom_nodes.size and dom_nodes[position] == index:
            return dom_names[int(dom_codes[position])]
    return key_for(snap.type_name(snap.node_type[index]), snap.strings[snap.node_name[index]])


def instances_of(graph: HeapGraph, class_name: str, limit: int | None = None) -> list[int]:
    """Node indices whose class key is `class_name` (nearest to the roots first), up to `limit`."""
    codes, names = class_keys(graph)
    if class_name not in names:
        return []
    nodes = np.flatnonzero(codes == names.index(class_name))
    if limit is None:
        return [int(n) for n in nodes]
    return list(nearest_to_roots(nodes, shortest_paths(graph).rank, limit))


__all__ = ["class_keys", "class_name", "instances_of", "key_for"]

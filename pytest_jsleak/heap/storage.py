"""Where a snapshot's reachable heap lies, in the engine's own categories: bytes per node type, and the
engines' own natives (Blink's objects in a page) by name. The verdict reads them to tell a rise of the
engine's storage (the JIT compiling, Blink's caches) from the program's, and a leak's Blink share."""

from __future__ import annotations

import numpy as np

from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.snapshot import HeapSnapshot

#: Native nodes of the engines' own C++ classes: Blink's (`blink::ShapeCache…`, layout, style, the
#: backings of its weak tables) and V8's objects outside the JS heap (`system / SharedFunctionInfoWrapper`).
#: A page's DOM is named by its interfaces (`HTMLDivElement`, `Text`), never so.
ENGINE_NATIVE_PREFIXES = ("blink::", "system / ")
#: The key under which `bytes_by_type` counts those natives apart from the rest.
NATIVE_INTERNALS = "native internals"


def bytes_by_type(snapshot: HeapSnapshot | HeapGraph) -> dict[str, int]:
    """The self sizes of a snapshot's nodes summed per node type (`code`, `object shape`, `object`, ...):
    where the reachable heap lies, in the engine's own categories (one bincount). Natives of the engines'
    own classes (`ENGINE_NATIVE_PREFIXES`) count under `NATIVE_INTERNALS`, apart from `native`."""
    snapshot = snapshot.snapshot if isinstance(snapshot, HeapGraph) else snapshot
    types = list(snapshot.meta.node_types)
    codes = snapshot.node_type.astype(np.int64)
    if "native" in types:
        native = types.index("native")
        is_native = codes == native
        names = np.unique(snapshot.node_name[is_native])
        internal = [int(n) for n in names.tolist() if snapshot.strings[int(n)].startswith(ENGINE_NATIVE_PREFIXES)]
        if internal:
            codes = codes.copy()
            codes[is_native & np.isin(snapshot.node_name, internal)] = len(types)
    types.append(NATIVE_INTERNALS)
    sizes = np.bincount(codes, weights=snapshot.node_self_size, minlength=len(types))
    return {name: int(size) for name, size in zip(types, sizes.tolist(), strict=True) if size}


def engine_natives(snapshot: HeapSnapshot | HeapGraph) -> dict[str, tuple[int, int]]:
    """The engines' own natives (`ENGINE_NATIVE_PREFIXES`: Blink's objects in a page's snapshot) by
    name: (count, bytes). Counted apart from the program's classes, which leave them out."""
    snapshot = snapshot.snapshot if isinstance(snapshot, HeapGraph) else snapshot
    types = list(snapshot.meta.node_types)
    if "native" not in types:
        return {}
    is_native = snapshot.node_type == types.index("native")
    names = snapshot.node_name[is_native].astype(np.int64)
    codes, inverse = np.unique(names, return_inverse=True)
    counts = np.bincount(inverse, minlength=codes.size)
    sizes = np.bincount(inverse, weights=snapshot.node_self_size[is_native], minlength=codes.size)
    return {
        name: (int(count), int(size))
        for code, count, size in zip(codes.tolist(), counts.tolist(), sizes.tolist(), strict=True)
        if (name := snapshot.strings[int(code)]).startswith(ENGINE_NATIVE_PREFIXES)
    }


__all__ = ["ENGINE_NATIVE_PREFIXES", "NATIVE_INTERNALS", "bytes_by_type", "engine_natives"]

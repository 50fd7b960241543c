"""What in a snapshot is not the program's: the runtime's own objects, the harness's, Playwright's.

Each rule is one function of the graph returning node indices or a bool mask over its nodes, applied
where the heap core counts or ranks the program's objects (diff.py, growth.py, holders.py):

- `noise_nodes`: compiled code, shapes, hidden system objects (the JIT's, not the program's);
- `owned_by_noise`: what only those keep alive (literals embedded in optimised code);
- `dom_wrappers`: a DOM node's JS wrapper, counted with its node;
- `harness_scopes`, `harness_owned`: runtime/harness.mjs's scopes and what only they hold;
- `automation_owned`: what only Playwright's injected scripts keep alive on a page.

The harness's naming (its variables' prefix, its file) is defined here once; the prefix itself is
`model.HARNESS_PREFIX`, which the reports read too.
"""

from __future__ import annotations

import numpy as np

from pytest_jsleak.heap.classes import class_keys
from pytest_jsleak.heap.dom import has_dom_state
from pytest_jsleak.heap.dominators import dominators
from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.heap.paths import shortest_paths
from pytest_jsleak.heap.snapshot import HeapSnapshot
from pytest_jsleak.heap.treewalk import inherit_down
from pytest_jsleak.model import HARNESS_PREFIX

# --- the runtime's own objects -----------------------------------------------------------------

NOISE_NODE_TYPES = ("code", "hidden", "object shape")
"""Node types left out of the 3-snapshot diff. V8 compiles, optimises and re-shapes lazily, so
between two snapshots new compiled code (bytecode, feedback cells, scope infos), hidden system
objects and object shapes (maps) appear for reasons unrelated to the code under test; both
research/runtimes.md (§4, "ignore code, hidden, object shape") and memlab's trivial filter
(hidden nodes) drop them."""

#: Natives that stand for memory the leak may hold (ArrayBuffer backing stores): never noise.
KEPT_SYSTEM_NATIVES = frozenset({"system / JSArrayBufferData"})
"""V8 15 (Deno 2.9) reports the internal objects that V8 11-12 (Node 20, 22) call `hidden`
(`system / PropertyArray`, `system / Cell`, and the code metadata of optimised functions:
`system / ProtectedFixedArray`, `system / SharedFunctionInfoWrapper`) as `native`, named
`system / ...`; on Node the only such natives are these backing stores. The rest count as
hidden: noise, as above."""
NOISE_CLASS_NAMES = (
    "system / ProtectedFixedArray",
    "system / ProtectedWeakFixedArray",
    "system / SharedFunctionInfoWrapper",
    "system / TrustedFixedArray",
    "system / TrustedWeakFixedArray",
    "system / TrustedByteArray",
    "system / InterpreterData",
)
"""Compiled-code metadata that newer V8 (Deno 2.x: V8 15) keeps in its trusted space and files under
node types other than `code` (`native` for the first ones): the deoptimisation data of a function
optimised during a round is such an object, new and alive, yet no part of the code under test. Left
out of the 3-snapshot diff like the NOISE_NODE_TYPES."""


def noise_nodes(snap: HeapSnapshot) -> np.ndarray:
    """Per node: whether it is the runtime's compiled code, a shape or a hidden system object
    (NOISE_NODE_TYPES, V8 15's internals filed as `native` but for KEPT_SYSTEM_NATIVES, and
    NOISE_CLASS_NAMES)."""
    mask = snap.meta.node_type_mask(NOISE_NODE_TYPES)[snap.node_type]
    native = snap.meta.node_type_code("native")
    if native >= 0:
        # V8 15's internals reported as native `system / …` (KEPT_SYSTEM_NATIVES: backing stores stay).
        natives = snap.node_type == native
        internal = [
            index for index in np.unique(snap.node_name[natives]).tolist()
            if (text := snap.strings[index]).startswith("system / ") and text not in KEPT_SYSTEM_NATIVES
        ]
        if internal:
            mask |= natives & np.isin(snap.node_name, np.asarray(internal, dtype=snap.node_name.dtype))
    names = [index for name in NOISE_CLASS_NAMES for index in snap.strings.indices_of(name)]
    if names:
        mask |= np.isin(snap.node_name, names)
    return mask


def owned_by_noise(graph: HeapGraph) -> np.ndarray:
    """Per node: whether its immediate dominator is a noise node (`noise_nodes`).

    Such objects belong to the JIT: a heap number or a string embedded in optimised code, the
    literals of its deoptimisation data. V8 re-optimises a busy program's functions for thousands
    of calls (a server's HTTP stack), so a few new ones survive every round; none is the program's.
    """
    noise = noise_nodes(graph.snapshot)
    idom = dominators(graph).idom
    owned = idom >= 0
    owned[owned] = noise[idom[owned]]
    return owned


# --- the harness's objects ---------------------------------------------------------------------

HARNESS_EXPORTS = HARNESS_PREFIX + "Exports"
"""The harness's table of the target's exports: the one way from its scope to the target's."""
HARNESS_SCRIPTS = ("pytest_jsleak/runtime/harness.mjs",)
"""Scripts whose frames are the harness's (and end a scenario's allocation stack)."""


def harness_scopes(graph: HeapGraph) -> np.ndarray:
    """Node indices of the harness's scopes: its module context and every context nested in it.

    Found from the harness's own variable (`__jsleakExports`, a `context` edge) and then the
    contexts whose `previous` chain reaches that one (its functions' contexts, their frames).
    Empty for a snapshot of anything else, and for Bun's: JSC roots a module's values through the
    harness's table of exports, so closing it would leave only the runtime's odd routes (there the
    `held by` line skips the harness instead). Built once per graph; the retainer path search
    (retainers.py) goes around them.
    """
    return graph.memo(_harness_scopes)


def _harness_scopes(graph: HeapGraph) -> np.ndarray:
    snap = graph.snapshot
    if snap.runtime_guess == "bun":
        return np.zeros(0, np.int64)
    meta = snap.meta
    context = meta.edge_type_code("context")
    internal = meta.edge_type_code("internal")
    names = snap.strings.indices_of(HARNESS_EXPORTS)
    if context < 0 or not names:
        return np.zeros(0, np.int64)
    edge_type = snap.edge_type
    edge_name = snap.edge_name
    holders = np.flatnonzero((edge_type == context) & np.isin(edge_name, names))
    if not holders.size:
        return np.zeros(0, np.int64)
    sources = graph.edge_from
    scopes = np.zeros(graph.node_count, np.bool_)
    scopes[sources[holders]] = True
    previous = snap.strings.indices_of("previous")
    if previous and internal >= 0:
        links = np.flatnonzero((edge_type == internal) & np.isin(edge_name, previous))
        inner, outer = sources[links], snap.edge_to[links]
        while True:
            new = inner[scopes[outer] & ~scopes[inner]]
            if not new.size:
                break
            scopes[new] = True
    return np.flatnonzero(scopes)


def harness_module_scopes(graph: HeapGraph) -> np.ndarray:
    """Node indices of the harness's own module scope(s): those with a `__jsleak…` variable.

    On every runtime, for what the harness owns (`harness_owned`). Not `harness_scopes`, which also
    takes the contexts nested in it, on V8 only, for the retainer path search.
    """
    snap = graph.snapshot
    marker = snap.strings.indices_with_prefix(HARNESS_PREFIX)
    if not marker:
        return np.zeros(0, np.int64)
    meta = snap.meta
    named = np.zeros(len(meta.edge_types), np.bool_)
    for position, type_name in enumerate(meta.edge_types):
        named[position] = type_name not in ("element", "hidden")
    edges = np.flatnonzero(np.isin(snap.edge_name, marker) & named[snap.edge_type])
    return np.unique(graph.edge_from[edges]).astype(np.int64)


def dominated_by(graph: HeapGraph, owners: np.ndarray) -> np.ndarray:
    """Bool mask: the nodes that `owners` dominate (themselves included): what only they keep alive."""
    tree = shortest_paths(graph)
    idom = dominators(graph).idom
    flag = np.zeros(graph.node_count, np.bool_)
    owners = np.asarray(owners, dtype=np.int64)
    if not owners.size:
        return flag
    flag[owners] = True
    inherit_down(tree, idom, flag, flag.copy())
    return flag


def harness_owned(graph: HeapGraph) -> np.ndarray:
    """Bool mask: the harness's own objects, never the target's (built once per graph; read only).

    Those only the harness's scope keeps alive (dominated by it), and those whose shortest path
    leaves that scope through one of its own variables (`commandStream`, `HANDLERS`); the path
    through `__jsleakExports` leads to the target's module and stays the target's.
    """
    return graph.memo(_harness_owned)


def _harness_owned(graph: HeapGraph) -> np.ndarray:
    scopes = harness_module_scopes(graph)
    owned = dominated_by(graph, scopes)
    if not scopes.size:
        return owned
    snap = graph.snapshot
    tree = shortest_paths(graph)
    marker = set(snap.strings.indices_of(HARNESS_EXPORTS))
    seeds = []
    for scope in scopes.tolist():
        for edge in range(int(graph.first_edge[scope]), int(graph.first_edge[scope + 1])):
            child = int(snap.edge_to[edge])
            if tree.parent[child] == scope and int(snap.edge_name[edge]) not in marker:
                seeds.append(child)
    through = np.zeros(graph.node_count, np.bool_)
    through[np.asarray(seeds, dtype=np.int64)] = True
    inherit_down(tree, tree.parent, through, through.copy())
    return owned | through


# --- the browser's and Playwright's objects ----------------------------------------------------


def dom_wrappers(graph: HeapGraph) -> np.ndarray:
    """Mask of the JS wrapper objects of DOM nodes (an `HTMLDivElement` object of 16 bytes).

    Chromium's snapshots merge a wrapper's edges into its Blink node, whose class key (and
    `Detached ...`) tells the story; the wrapper hangs off the node through an ephemeron and
    points back at it through an internal `cppgc_object` edge. Counted apart, every detached
    element would show twice, once as a nameless wrapper without a retainer path.
    """
    snap = graph.snapshot
    mask = np.zeros(graph.node_count, np.bool_)
    if not has_dom_state(graph):
        return mask
    names = snap.strings.indices_of("cppgc_object")
    internal = snap.meta.edge_type_code("internal")
    if not names or internal < 0:
        return mask
    edges = np.flatnonzero((snap.edge_type == internal) & np.isin(snap.edge_name, names))
    if not edges.size:
        return mask
    sources = np.searchsorted(graph.first_edge, edges, side="right") - 1
    targets = snap.edge_to[edges]
    native = snap.meta.node_type_code("native")
    obj = snap.meta.node_type_code("object")
    keep = (snap.node_type[sources] == obj) & (snap.node_type[targets] == native)
    mask[sources[keep]] = True
    return mask


#: Class keys of Playwright's scripts injected into every page (its main-world and utility-world
#: `InjectedScript`, and the `UtilityScript` that evaluates for it).
AUTOMATION_CLASSES = ("InjectedScript", "UtilityScript")
_NATIVE_CONTEXT = "system / NativeContext"


def automation_owned(graph: HeapGraph) -> np.ndarray:
    """Mask of what only Playwright's scripts and the page's other JS worlds keep alive.

    Playwright evaluates selectors in a world of its own (the utility world) and keeps an
    `InjectedScript` per world; its selector caches grow in place for hundreds of clicks on a page
    that does nothing new. They are the test tool's, as the harness's own objects are for a module
    target: never the page's leak. The page's own world is the one Blink's `Window` names as its
    `native_context`; the objects that no path from the GC roots reaches without passing through
    another world's context, one of Playwright's objects or its bundle's scope are the tool's.
    Only on Chromium pages (a snapshot with DOM state); built once per graph.
    """
    if not has_dom_state(graph):
        return np.zeros(graph.node_count, np.bool_)
    return graph.memo(_automation_owned)


def _automation_owned(graph: HeapGraph) -> np.ndarray:
    snap = graph.snapshot
    codes, names = class_keys(graph)
    object_code = snap.meta.node_type_code("object")
    wanted = [names.index(name) for name in AUTOMATION_CLASSES if name in names]
    blocked = np.isin(codes, wanted) & (snap.node_type == object_code)
    # The scope of Playwright's injected bundle (a variable `InjectedScript`): its listeners on the
    # page's window (`handleCustomEvent`) reach the bundle through it.
    variable_names = [index for name in AUTOMATION_CLASSES for index in snap.strings.indices_of(name)]
    context_code = snap.meta.edge_type_code("context")
    if variable_names and context_code >= 0:
        edges = np.flatnonzero((snap.edge_type == context_code) & np.isin(snap.edge_name, variable_names))
        blocked[graph.edge_from[edges]] = True
    contexts = np.array([position for position, name in enumerate(names) if name.startswith(_NATIVE_CONTEXT)])
    pages = _page_contexts(graph)
    if contexts.size and pages.size:
        # Without a page context to keep (a snapshot that does not say), every world stays.
        blocked |= np.isin(codes, contexts)
        blocked[pages] = False
    if not blocked.any():
        return np.zeros(graph.node_count, np.bool_)
    return _reachable(graph, np.zeros(graph.node_count, np.bool_)) & ~_reachable(graph, blocked)


def _page_contexts(graph: HeapGraph) -> np.ndarray:
    """Node indices of the pages' own native contexts: targets of a Blink `Window`'s `native_context`."""
    snap = graph.snapshot
    names = snap.strings.indices_of("native_context")
    if not names:
        return np.zeros(0, np.int64)
    native = snap.meta.node_type_code("native")
    edges = np.flatnonzero(np.isin(snap.edge_name, names))
    sources = graph.edge_from[edges]
    window = np.array([snap.strings[int(n)].startswith("Window") for n in snap.node_name[sources]], np.bool_)
    keep = window & (snap.node_type[sources] == native) if edges.size else np.zeros(0, np.bool_)
    return np.unique(snap.edge_to[edges[keep]]).astype(np.int64)


def _reachable(graph: HeapGraph, blocked: np.ndarray) -> np.ndarray:
    """Nodes reached from the root over non-weak edges without entering a `blocked` node."""
    snap = graph.snapshot
    weak = snap.meta.edge_type_code("weak")
    seen = np.zeros(graph.node_count, np.bool_)
    seen[0] = True
    frontier = np.zeros(1, np.int64)
    first = graph.first_edge
    while frontier.size:
        starts = first[frontier].astype(np.int64)
        lengths = first[frontier + 1].astype(np.int64) - starts
        total = int(lengths.sum())
        if not total:
            break
        edges = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
        if weak >= 0:
            edges = edges[snap.edge_type[edges] != weak]
        targets = np.unique(snap.edge_to[edges])
        targets = targets[~seen[targets] & ~blocked[targets]]
        seen[targets] = True
        frontier = targets.astype(np.int64)
    return seen


__all__ = [
    "AUTOMATION_CLASSES",
    "HARNESS_EXPORTS",
    "HARNESS_PREFIX",
    "HARNESS_SCRIPTS",
    "KEPT_SYSTEM_NATIVES",
    "NOISE_CLASS_NAMES",
    "NOISE_NODE_TYPES",
    "automation_owned",
    "dom_wrappers",
    "dominated_by",
    "harness_module_scopes",
    "harness_owned",
    "harness_scopes",
    "noise_nodes",
    "owned_by_noise",
]

"""DOM nodes in Chromium snapshots: detachedness as DevTools propagates it, and element class keys.

Chromium's snapshots carry Blink's C++ objects as `native` nodes. A DOM element is named by its
tag and attributes (`<div class="modal">`), and the `detachedness` node field says what Blink knew
when it wrote the snapshot: 0 unknown, 1 attached, 2 detached. Only the roots of a detached tree
are marked; DevTools (HeapSnapshot.ts, `propagateDOMState`) spreads the state to the native nodes
below them and names every detached one `Detached <name>`:

1. every node with a known state keeps it;
2. a native node reachable from an attached native node (over edges that are not hidden,
   invisible or weak, through native nodes only) is attached;
3. a native node reachable likewise from a detached one, and not attached by (2), is detached.

Class keys group elements by their DOM interface, not by their attributes (which may be unique per
element: `<li data-id="17">`): `HTMLDivElement`, and `Detached HTMLDivElement` for a detached one.
The interface is read from the element's JS wrapper (its `__proto__` is `HTMLDivElement
(prototype)`) and, for elements JS never touched (no wrapper), from the tag. classes.py applies
these labels; what the page's counts leave out (the wrappers, Playwright's objects) is in exclusions.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from pytest_jsleak.heap.graph import HeapGraph
from pytest_jsleak.model import RetainerPath

UNKNOWN, ATTACHED, DETACHED = 0, 1, 2
DETACHED_PREFIX = "Detached "

_TAG_RE = re.compile(r"^<([A-Za-z][\w:.-]*)[\s>/]")
_PROTOTYPE_RE = re.compile(r"^([A-Za-z_$][\w$]*) \(prototype\)")

# HTML tags whose DOM interface is not simply HTMLElement (HTML Living Standard, "Elements").
_HTML_INTERFACES = {
    "a": "HTMLAnchorElement", "area": "HTMLAreaElement", "audio": "HTMLAudioElement",
    "base": "HTMLBaseElement", "blockquote": "HTMLQuoteElement", "body": "HTMLBodyElement",
    "br": "HTMLBRElement", "button": "HTMLButtonElement", "canvas": "HTMLCanvasElement",
    "caption": "HTMLTableCaptionElement", "col": "HTMLTableColElement", "colgroup": "HTMLTableColElement",
    "data": "HTMLDataElement", "datalist": "HTMLDataListElement", "del": "HTMLModElement",
    "details": "HTMLDetailsElement", "dialog": "HTMLDialogElement", "div": "HTMLDivElement",
    "dl": "HTMLDListElement", "embed": "HTMLEmbedElement", "fieldset": "HTMLFieldSetElement",
    "form": "HTMLFormElement", "h1": "HTMLHeadingElement", "h2": "HTMLHeadingElement",
    "h3": "HTMLHeadingElement", "h4": "HTMLHeadingElement", "h5": "HTMLHeadingElement",
    "h6": "HTMLHeadingElement", "head": "HTMLHeadElement", "hr": "HTMLHRElement",
    "html": "HTMLHtmlElement", "iframe": "HTMLIFrameElement", "img": "HTMLImageElement",
    "input": "HTMLInputElement", "ins": "HTMLModElement", "label": "HTMLLabelElement",
    "legend": "HTMLLegendElement", "li": "HTMLLIElement", "link": "HTMLLinkElement",
    "map": "HTMLMapElement", "menu": "HTMLMenuElement", "meta": "HTMLMetaElement",
    "meter": "HTMLMeterElement", "object": "HTMLObjectElement", "ol": "HTMLOListElement",
    "optgroup": "HTMLOptGroupElement", "option": "HTMLOptionElement", "output": "HTMLOutputElement",
    "p": "HTMLParagraphElement", "picture": "HTMLPictureElement", "pre": "HTMLPreElement",
    "progress": "HTMLProgressElement", "q": "HTMLQuoteElement", "script": "HTMLScriptElement",
    "select": "HTMLSelectElement", "slot": "HTMLSlotElement", "source": "HTMLSourceElement",
    "span": "HTMLSpanElement", "style": "HTMLStyleElement", "table": "HTMLTableElement",
    "tbody": "HTMLTableSectionElement", "td": "HTMLTableCellElement", "template": "HTMLTemplateElement",
    "textarea": "HTMLTextAreaElement", "tfoot": "HTMLTableSectionElement", "th": "HTMLTableCellElement",
    "thead": "HTMLTableSectionElement", "time": "HTMLTimeElement", "title": "HTMLTitleElement",
    "tr": "HTMLTableRowElement", "track": "HTMLTrackElement", "ul": "HTMLUListElement",
    "video": "HTMLVideoElement",
}
# Tags whose interface is HTMLElement itself.
_HTML_ELEMENT_TAGS = frozenset(
    "abbr address article aside b bdi bdo cite code dd dfn dt em figcaption figure footer header "
    "hgroup i kbd main mark nav noscript rp rt ruby s samp search section small strong sub summary "
    "sup u var wbr".split()
)


def has_dom_state(graph: HeapGraph) -> bool:
    """Whether the snapshot marks any node attached or detached (Chromium pages do; Node does not)."""
    column = graph.snapshot.node_columns.get("detachedness")
    return column is not None and bool(column.any())


def propagate_dom_state(graph: HeapGraph) -> np.ndarray:
    """Per node: 0 unknown, 1 attached, 2 detached, spread over native nodes as DevTools does."""
    snap = graph.snapshot
    column = snap.node_columns.get("detachedness")
    if column is None:
        return np.zeros(graph.node_count, np.uint8)
    state = column.astype(np.uint8, copy=True)
    native_code = snap.meta.node_type_code("native")
    native = snap.node_type == native_code
    visited = state != UNKNOWN
    skipped = [snap.meta.edge_type_code(name) for name in ("hidden", "invisible", "weak")]
    followed = ~np.isin(snap.edge_type, [code for code in skipped if code >= 0])
    first = graph.first_edge
    for value in (ATTACHED, DETACHED):
        # Known non-native nodes stop the spread (DevTools marks them visited and goes no further).
        frontier = np.flatnonzero(native & (state == value) & (column == value))
        while frontier.size:
            starts = first[frontier].astype(np.int64)
            lengths = first[frontier + 1].astype(np.int64) - starts
            total = int(lengths.sum())
            if not total:
                break
            offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
            offsets = offsets[followed[offsets]]
            targets = np.unique(snap.edge_to[offsets])
            targets = targets[~visited[targets]]
            visited[targets] = True
            targets = targets[native[targets]]
            state[targets] = value
            frontier = targets
    return state


def element_label(graph: HeapGraph, name: str, examples: np.ndarray) -> str | None:
    """The DOM interface of native nodes named `name` (`<div class="x">` → `HTMLDivElement`).

    None for a native node that is not an element (`#text`, `HTMLDocument`, Blink internals).
    `examples` are node indices with that name, tried for a JS wrapper's prototype when the tag
    alone does not tell (custom elements, SVG).
    """
    match = _TAG_RE.match(name)
    if match is None:
        return None
    tag = match.group(1)
    lower = tag.lower()
    if lower in _HTML_INTERFACES:
        return _HTML_INTERFACES[lower]
    if lower in _HTML_ELEMENT_TAGS:
        return "HTMLElement"
    prototype = _prototype_name(graph, examples)
    return prototype or f"<{tag}>"


def _prototype_name(graph: HeapGraph, examples: np.ndarray) -> str | None:
    snap = graph.snapshot
    property_code = snap.meta.edge_type_code("property")
    first = graph.first_edge
    for index in examples[:8]:
        for edge in range(int(first[index]), int(first[index + 1])):
            if snap.edge_type[edge] != property_code or snap.strings[int(snap.edge_name[edge])] != "__proto__":
                continue
            target = int(snap.edge_to[edge])
            match = _PROTOTYPE_RE.match(snap.strings[int(snap.node_name[target])])
            if match:
                return match.group(1)
    return None


def dom_class_labels(graph: HeapGraph) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Native nodes whose class key DOM rules change: (node indices, label codes, labels).

    Elements get their interface name, detached native nodes the `Detached ` prefix
    (`Detached HTMLDivElement`, `Detached #text`). Empty arrays for a snapshot without DOM state.
    """
    empty = np.zeros(0, np.int64)
    if not has_dom_state(graph):
        return empty, empty, []
    snap = graph.snapshot
    state = propagate_dom_state(graph)
    native = np.flatnonzero(snap.node_type == snap.meta.node_type_code("native"))
    names = snap.node_name[native]
    unique_names, inverse = np.unique(names, return_inverse=True)
    inverse = inverse.reshape(-1)
    base: list[str | None] = []
    for position, name_code in enumerate(unique_names):
        name = snap.strings[int(name_code)]
        if name.startswith("<"):
            examples = native[inverse == position]
            base.append(element_label(graph, name, examples))
        else:
            base.append(None)
    detached = state[native] == DETACHED
    is_element = np.array([label is not None for label in base], np.bool_)[inverse]
    chosen = is_element | detached
    nodes = native[chosen]
    # One label per (name, detached) pair, decoded once.
    pairs, pair_codes = np.unique(inverse[chosen] * 2 + detached[chosen], return_inverse=True)
    labels: dict[str, int] = {}
    remap = np.empty(pairs.size, np.int64)
    for position, pair in enumerate(pairs):
        name_position, gone = divmod(int(pair), 2)
        label = base[name_position] or snap.strings[int(unique_names[name_position])]
        if gone:
            label = DETACHED_PREFIX + label
        remap[position] = labels.setdefault(label, len(labels))
    codes = remap[pair_codes.reshape(-1)]
    return nodes, codes, list(labels)


LISTENER_EDGE = "listener"
"""Edge type of a collapsed listener step: from the event target to the listener function."""
# Blink's objects between an event target and the JS function of one of its listeners:
# EventTargetData → vector backings → RegisteredEventListener → EventListener → V8EventListener.
_LISTENER_CHAIN_START = "blink::EventTargetData"
_LISTENER_CHAIN_END = "V8EventListener"


def collapse_listeners(path: RetainerPath) -> RetainerPath:
    """`Window → EventTargetData → … → V8EventListener → onKeydown()` becomes `Window → (listener) onKeydown()`.

    The collapsed step has edge type `listener` and no name; `name_listener_events` adds the event
    type when the live page can tell it (the snapshot does not carry it).
    """
    steps = list(path.steps)
    position = 0
    changed = False
    while position < len(steps):
        step = steps[position]
        if step.node_name == _LISTENER_CHAIN_END and position + 1 < len(steps) and position > 0:
            start = position
            while start > 0 and steps[start].node_name != _LISTENER_CHAIN_START:
                start -= 1
            if steps[start].node_name == _LISTENER_CHAIN_START and start > 0:
                handler = replace(steps[position + 1], edge_type=LISTENER_EDGE, edge_name=None)
                steps[start:position + 2] = [handler]
                position = start
                changed = True
        position += 1
    return RetainerPath(tuple(steps)) if changed else path


def listener_handlers(path: RetainerPath) -> list[tuple[int, int]]:
    """(event target node id, listener function node id) of each collapsed listener step."""
    steps = path.steps
    return [
        (steps[position - 1].node_id, steps[position].node_id)
        for position in range(1, len(steps))
        if steps[position].edge_type == LISTENER_EDGE
    ]


def name_listener_events(path: RetainerPath, event_types: Mapping[int, str]) -> RetainerPath:
    """The path with each listener step named by its event type (`keydown`), by function node id."""
    steps = tuple(
        replace(step, edge_name=event_types[step.node_id])
        if step.edge_type == LISTENER_EDGE and step.node_id in event_types
        else step
        for step in path.steps
    )
    return RetainerPath(steps)


__all__ = [
    "ATTACHED",
    "DETACHED",
    "DETACHED_PREFIX",
    "LISTENER_EDGE",
    "UNKNOWN",
    "collapse_listeners",
    "dom_class_labels",
    "element_label",
    "has_dom_state",
    "listener_handlers",
    "name_listener_events",
    "propagate_dom_state",
]

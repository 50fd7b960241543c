"""Detached DOM nodes are named as DevTools names them (hand-built Chromium-like snapshots)."""

from __future__ import annotations

import numpy as np

from pytest_jsleak import heap
from pytest_jsleak.heap.classes import class_keys, class_name
from pytest_jsleak.heap.dom import ATTACHED, DETACHED, UNKNOWN, propagate_dom_state

from .snapshot_builder import SnapshotBuilder


def _page_snapshot(tmp_path):
    """A window holding a `kept` array of one detached <div class="modal"> (with a <p> and a text
    node below it), and a document with an attached <div id="root"> whose child has no state."""
    b = SnapshotBuilder()
    roots = b.add("synthetic", "(GC roots)")
    b.edge(0, roots, 1, "element")
    window = b.add("native", "Window / file://")
    b.edge(roots, window, 1, "element")
    kept = b.add("object", "Array")
    b.edge(window, kept, "kept")
    modal = b.add("native", '<div class="modal">', self_size=104, detachedness=DETACHED)
    b.edge(kept, modal, 0, "element")
    paragraph = b.add("native", "<p>", self_size=96)
    b.edge(modal, paragraph, 1, "element")
    text = b.add("native", "Text", self_size=64)
    b.edge(paragraph, text, 1, "element")
    weak_only = b.add("native", "<span>", self_size=96)
    b.edge(modal, weak_only, 2, "weak")
    document = b.add("native", "HTMLDocument", detachedness=ATTACHED)
    b.edge(window, document, "document")
    b.edge(modal, document, 3, "element")  # a detached node still points at its document
    root = b.add("native", '<div id="root">', self_size=104, detachedness=ATTACHED)
    b.edge(document, root, 1, "element")
    child = b.add("native", '<li data-id="7">', self_size=96)
    b.edge(root, child, 1, "element")
    wrapper_proto = b.add("object", "MyWidget (prototype) / file://")
    widget = b.add("native", '<my-widget data-x="1">', self_size=96, detachedness=DETACHED)
    b.edge(kept, widget, 1, "element")
    b.edge(widget, wrapper_proto, "__proto__")
    wrapper = b.add("object", "HTMLDivElement")  # the modal's JS wrapper, hanging off its Blink node
    b.edge(modal, wrapper, "part of key -> value pair in ephemeron table", "internal")
    b.edge(wrapper, modal, "cppgc_object", "internal")
    path = b.write(tmp_path / "page.heapsnapshot")
    nodes = {"wrapper": wrapper, "modal": modal, "paragraph": paragraph, "text": text, "weak_only": weak_only,
             "document": document, "root": root, "child": child, "widget": widget, "kept": kept}
    return heap.read_snapshot(path), nodes


def test_state_spreads_as_devtools_spreads_it(tmp_path):
    snap, nodes = _page_snapshot(tmp_path)
    state = propagate_dom_state(heap.HeapGraph(snap))
    assert state[nodes["modal"]] == DETACHED
    assert state[nodes["paragraph"]] == DETACHED  # below a detached root
    assert state[nodes["text"]] == DETACHED  # natives all the way down
    assert state[nodes["weak_only"]] == UNKNOWN  # weak edges do not carry the state
    assert state[nodes["document"]] == ATTACHED  # its own state wins over the detached parent's
    assert state[nodes["child"]] == ATTACHED  # below an attached node
    assert state[nodes["kept"]] == UNKNOWN  # JS objects are never marked


def test_detached_elements_are_keyed_by_interface(tmp_path):
    snap, nodes = _page_snapshot(tmp_path)
    graph = heap.HeapGraph(snap)
    assert class_name(graph, nodes["modal"]) == "Detached HTMLDivElement"
    assert class_name(graph, nodes["paragraph"]) == "Detached HTMLParagraphElement"
    assert class_name(graph, nodes["text"]) == "Detached Text"
    assert class_name(graph, nodes["root"]) == "HTMLDivElement"
    assert class_name(graph, nodes["child"]) == "HTMLLIElement"  # attributes do not split the class
    assert class_name(graph, nodes["widget"]) == "Detached MyWidget"  # a custom element: its prototype
    assert class_name(graph, nodes["document"]) == "HTMLDocument"
    assert class_name(graph, nodes["weak_only"]) == "HTMLSpanElement"
    codes, names = class_keys(graph)
    assert names[codes[nodes["modal"]]] == "Detached HTMLDivElement"
    subset, subset_names = class_keys(graph, np.array([nodes["paragraph"], nodes["root"]]))
    assert [subset_names[c] for c in subset] == ["Detached HTMLParagraphElement", "HTMLDivElement"]
    census = heap.class_census(snap)
    assert census.count("Detached HTMLDivElement") == 1
    assert census.size("Detached HTMLDivElement") == 104


def test_snapshots_without_dom_state_are_unchanged(tmp_path):
    b = SnapshotBuilder()
    node = b.add("native", '<div class="modal">')
    b.edge(0, node, 1, "element")
    snap = heap.read_snapshot(b.write(tmp_path / "plain.heapsnapshot"))
    assert class_name(heap.HeapGraph(snap), node) == '<div class="modal">'


def _listener_snapshot(tmp_path):
    """window → (Blink's listener chain) → onDialogKeydown() → context → box → detached <section>."""
    b = SnapshotBuilder()
    roots = b.add("synthetic", "(GC roots)")
    b.edge(0, roots, 1, "element")
    window = b.add("native", "Window / file://")
    b.edge(roots, window, 1, "element")
    chain = window
    for name in ("blink::EventTargetData", "blink::HeapVectorBacking<std::pair<blink::AtomicString, …>>",
                 "blink::RegisteredEventListener", "EventListener", "V8EventListener"):
        node = b.add("native", name)
        b.edge(chain, node, 1, "element")
        chain = node
    handler = b.add("closure", "onDialogKeydown", self_size=32)
    b.edge(chain, handler, 1, "element")
    scope = b.add("object", "system / Context")
    b.edge(handler, scope, "context", "internal")
    box = b.add("native", '<section class="dialog">', self_size=104, detachedness=DETACHED)
    b.edge(scope, box, "box", "context")
    snap = heap.read_snapshot(b.write(tmp_path / "listener.heapsnapshot"))
    return snap, window, handler, box


def test_listener_chain_collapses_to_one_named_step(tmp_path):
    from pytest_jsleak.heap.dom import collapse_listeners, listener_handlers, name_listener_events
    from pytest_jsleak.report.paths import format_path_inline
    from pytest_jsleak.report.text import held_by

    snap, window, handler, box = _listener_snapshot(tmp_path)
    graph = heap.HeapGraph(snap)
    path = heap.retainer_path(graph, box)
    assert any(step.node_name == "V8EventListener" for step in path.steps)
    short = collapse_listeners(path)
    assert [step.class_name for step in short.steps[-4:]] == [
        "Window / file://", "onDialogKeydown()", "system / Context", "Detached HTMLElement"]
    assert listener_handlers(short) == [(graph.node(window).id, graph.node(handler).id)]
    named = name_listener_events(short, {graph.node(handler).id: "keydown"})
    assert "Window / file:// → keydown listener → onDialogKeydown()" in format_path_inline(named)
    assert held_by(named) == "Window / file:// keydown listener onDialogKeydown() → box → Detached HTMLElement"
    assert held_by(short).startswith("Window / file:// event listener onDialogKeydown()")
    assert collapse_listeners(short) is short  # nothing left to collapse


def test_wrappers_count_with_their_dom_node(tmp_path):
    from pytest_jsleak.heap.exclusions import dom_wrappers

    snap, nodes = _page_snapshot(tmp_path)
    graph = heap.HeapGraph(snap)
    assert np.flatnonzero(dom_wrappers(graph)).tolist() == [nodes["wrapper"]]
    assert class_name(graph, nodes["wrapper"]) == "HTMLDivElement"  # its own key is unchanged
    everything = np.array([], np.int64)
    all_ids = np.sort(snap.node_id.astype(np.int64))
    found = heap.leak_candidates(everything, all_ids, graph)  # all nodes "allocated in round A"
    assert nodes["modal"] in found.survivors
    assert nodes["wrapper"] not in found.survivors


def test_what_only_playwright_keeps_is_the_tools(tmp_path):
    from pytest_jsleak.heap.exclusions import automation_owned

    b = SnapshotBuilder()
    roots = b.add("synthetic", "(GC roots)")
    b.edge(0, roots, 1, "element")
    handles = b.add("synthetic", "(Global handles)")
    b.edge(roots, handles, 10, "element")
    injected = b.add("object", "InjectedScript")
    b.edge(handles, injected, 1, "element")
    evaluator = b.add("object", "SelectorEvaluatorImpl")
    b.edge(injected, evaluator, "_evaluator")
    cache = b.add("object", "Map")
    b.edge(evaluator, cache, "_cache")
    window = b.add("native", "Window / file://")
    b.edge(roots, window, 1, "element")
    shared = b.add("object", "AppState")  # the page's, seen by Playwright too
    b.edge(window, shared, "state")
    b.edge(injected, shared, "_lastResult")
    body = b.add("native", "<body>", detachedness=ATTACHED)
    b.edge(window, body, "body")
    # Playwright's bundle scope, reached from the page's window through a listener of Playwright's.
    handler = b.add("closure", "handleCustomEvent")
    b.edge(window, handler, "listener")
    bundle = b.add("object", "system / Context")
    b.edge(handler, bundle, "context", "internal")
    injected_class = b.add("closure", "InjectedScript")
    b.edge(bundle, injected_class, "InjectedScript", "context")
    prototype = b.add("object", "Object")
    b.edge(injected_class, prototype, "prototype")
    b.edge(injected, prototype, "__proto__")
    page_world = b.add("native", "system / NativeContext / file://")
    b.edge(window, page_world, "native_context", "shortcut")
    other_world = b.add("native", "system / NativeContext / file://")
    b.edge(handles, other_world, 2, "element")
    utility_only = b.add("object", "Array")
    b.edge(other_world, utility_only, "cache")
    snap = heap.read_snapshot(b.write(tmp_path / "tools.heapsnapshot"))
    owned = automation_owned(heap.HeapGraph(snap))
    assert owned[[injected, evaluator, cache, injected_class, prototype, utility_only]].all()
    assert not owned[[window, shared, body, handler, page_world]].any()

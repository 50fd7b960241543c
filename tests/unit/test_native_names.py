"""Blink's C++ names on retainer paths read short (pages: DESIGN §12)."""

from __future__ import annotations

from pytest_jsleak.model import PathStep
from pytest_jsleak.report.paths import edge_label, node_label, short_native

BACKING = (
    "blink::HeapVectorBacking<std::pair<blink::AtomicString, cppgc::internal::BasicMember<"
    "blink::BasicHeapVector<blink::internal::HeapCollectionType::kGCed>>>>"
)
CONSTRUCTOR = (
    "blink::WebLocalFrameImpl::WebLocalFrameImpl(base::PassKey<WebLocalFrameImpl>, const LocalFrameToken &)"
    "@../../third_party/blink/renderer/core/frame/web_local_frame_impl.cc:2384"
)


def test_template_arguments_and_source_locations_are_dropped():
    assert short_native(BACKING) == "blink::HeapVectorBacking<…>"
    assert short_native(CONSTRUCTOR) == "blink::WebLocalFrameImpl::WebLocalFrameImpl(…)"
    assert short_native("Detached HTMLDivElement") == "Detached HTMLDivElement"
    assert short_native("system / Context / scope @12") == "system / Context / scope @12"


def test_path_steps_use_the_short_names():
    step = PathStep("internal", CONSTRUCTOR, "native", BACKING, BACKING, 9, 40)
    assert node_label(step) == "blink::HeapVectorBacking<…>"
    assert edge_label(step) == "(internal) blink::WebLocalFrameImpl::WebLocalFrameImpl(…)"
    js = PathStep("property", "cache", "object", "Map<string, Thing>" * 5, "Map<string, Thing>" * 5, 11, 16)
    assert node_label(js) == js.class_name  # JS class names are never cut

"""Folding repeated runs of retainer paths."""

from __future__ import annotations

from pytest_jsleak.model import PathStep
from pytest_jsleak.report.fold import Repeat, fold_repeats


def step(edge_type, name, cls, node_id=1):
    return PathStep(edge_type, name, "object", cls, cls, node_id, 8)


def test_a_chain_folds_into_one_block():
    head = [step(None, None, "(GC roots)"), step("property", "current", "BigThing")]
    link = [step("property", "keepAlive", "(closure)"), step("context", "previous", "BigThing")]
    tail = [step("property", "payload", "Array")]
    folded = fold_repeats(head + link * 50 + tail)
    assert folded[:2] == head
    assert isinstance(folded[2], Repeat) and folded[2].times == 50 and list(folded[2].steps) == link
    assert folded[3:] == tail


def test_element_indices_do_not_break_a_run():
    steps = [step("element", str(i), "Node", i) for i in range(5)]
    (only,) = fold_repeats(steps)
    assert isinstance(only, Repeat) and only.times == 5


def test_short_paths_stay_as_they_are():
    steps = [step(None, None, "(GC roots)"), step("property", "a", "A"), step("property", "a", "A")]
    assert fold_repeats(steps) == steps

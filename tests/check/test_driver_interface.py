"""Every driver offers the whole `Driver` interface, with the same signatures (a Protocol checks
neither at run time: this does)."""

from __future__ import annotations

import inspect

import pytest
from fake_driver import FakeDriver

from pytest_jsleak.drivers.base import Driver
from pytest_jsleak.drivers.harness import HarnessDriver
from pytest_jsleak.drivers.inspector import InspectorDriver
from pytest_jsleak.drivers.page import PageDriver

METHODS = ["run", "sample", "snapshot", "track_allocations", "teardown", "annotate", "close"]
ATTRIBUTES = ["profile", "runtime_version", "timings"]


def test_the_protocol_lists_what_the_plan_uses() -> None:
    declared = {name for name in vars(Driver) if not name.startswith("_")}
    assert set(METHODS) <= declared
    assert set(ATTRIBUTES) <= set(Driver.__annotations__)


def parameters(function: object) -> list[tuple[str, object, object]]:
    signature = inspect.signature(function)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("driver", [HarnessDriver, InspectorDriver, PageDriver, FakeDriver], ids=lambda d: d.__name__)
@pytest.mark.parametrize("method", METHODS)
def test_each_driver_has_the_method_with_the_protocols_signature(driver: type, method: str) -> None:
    assert callable(getattr(driver, method, None)), f"{driver.__name__} has no {method}()"
    assert parameters(getattr(driver, method)) == parameters(getattr(Driver, method))


@pytest.mark.parametrize("driver", [HarnessDriver, InspectorDriver, PageDriver], ids=lambda d: d.__name__)
def test_each_driver_sets_the_attributes(driver: type) -> None:
    source = inspect.getsource(driver)
    for name in ATTRIBUTES:
        assert f"self.{name}" in source or f"    {name}:" in source, f"{driver.__name__} never sets {name}"

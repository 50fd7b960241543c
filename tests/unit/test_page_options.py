"""Page checks: page defaults sit under every option layer (DESIGN §12, §3.3)."""

from __future__ import annotations

import pytest

from pytest_jsleak.drivers.page import action_name, page_options
from pytest_jsleak.options import DEFAULTS
from pytest_jsleak.profiles import CHROMIUM
from pytest_jsleak.runtime.page import PageError, check_page


def test_page_defaults_are_shorter_than_module_defaults():
    options = page_options()
    assert (options.iterations, options.warmup) == (CHROMIUM.defaults["iterations"], CHROMIUM.defaults["warmup"])
    assert options.iterations < DEFAULTS.iterations
    assert options.snapshots == DEFAULTS.snapshots


def test_layers_override_page_defaults_in_order():
    ini, cli, marker, keywords = {"iterations": 100}, {"warmup": 7}, {"iterations": 12}, {"ignore": ("Foo",)}
    options = page_options(ini, cli, marker, keywords)
    assert (options.iterations, options.warmup, options.ignore) == (12, 7, ("Foo",))


def test_action_names():
    def open_and_close():
        pass

    assert action_name(open_and_close) == "open_and_close"
    assert action_name(lambda: None) == "action"


@pytest.mark.parametrize("thing", [object(), "page", None])
def test_anything_but_a_playwright_page_is_refused_by_name(thing):
    with pytest.raises(PageError, match=r"takes a Playwright Page \(playwright.sync_api.Page\), got builtins\."):
        check_page(thing)

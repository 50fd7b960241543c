"""Leak checks of web pages: `jsleak.page(page).check(action)` with a Playwright page.

Each leaky page fails, naming what survived (`Detached HTMLDivElement` ...) and what holds it
(a variable, a listener on window, a Map); its fixed twin passes. The `page` fixture is in
conftest.py here; pytest-playwright's `page` fixture works the same way.
"""

from __future__ import annotations


def open_and_close(page):
    def action():
        page.click("#open")
        page.click("#close")

    return action


def next_item(page):
    def action():
        page.click("#next")

    return action


def test_modal_kept_in_an_array(jsleak, page, example_url):
    page.goto(example_url("modal-kept.html"))
    jsleak.page(page).check(open_and_close(page))


def test_modal_dropped_on_close(jsleak, page, example_url):
    page.goto(example_url("modal-kept-fixed.html"))
    jsleak.page(page).check(open_and_close(page))


def test_listener_never_removed(jsleak, page, example_url):
    page.goto(example_url("modal-listener.html"))
    jsleak.page(page).check(open_and_close(page))


def test_listener_removed_on_close(jsleak, page, example_url):
    page.goto(example_url("modal-listener-fixed.html"))
    jsleak.page(page).check(open_and_close(page))


def test_route_cache_with_unique_keys(jsleak, page, example_url):
    page.goto(example_url("route-cache.html"))
    jsleak.page(page).check(next_item(page))


def test_route_cache_bounded(jsleak, page, example_url):
    page.goto(example_url("route-cache-fixed.html"))
    jsleak.page(page).check(next_item(page))

"""What a test holds: the `jsleak` fixture's objects (`JsLeakChecker`, `JsLeakService`, `PageChecker`)
and the options of the `@pytest.mark.jsleak` markers (`marker_layer`), for the fixture and collected files alike."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_jsleak.drivers.page import action_name
from pytest_jsleak.errors import JsLeakError, OptionError
from pytest_jsleak.model import LeakResult
from pytest_jsleak.options import parse_layer
from pytest_jsleak.report.text import render
from pytest_jsleak.runtime.page import PageError, check_page
from pytest_jsleak.runtime.service import ServiceProcess
from pytest_jsleak.session import JsLeakSession


def marker_layer(node: pytest.Item) -> dict[str, Any]:
    """The options of the `@pytest.mark.jsleak` markers on `node`, the nearest one last (it wins).

    Keyword options only: a positional argument is a usage error naming the test.
    """
    layer: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers("jsleak"))):
        if mark.args:
            raise pytest.UsageError(f"{node.nodeid}: @pytest.mark.jsleak takes keyword options only")
        layer.update(_parse_or_usage(mark.kwargs, f"@pytest.mark.jsleak on {node.nodeid}"))
    return layer


def _parse_or_usage(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    try:
        return parse_layer(raw, source=source)
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None


class JsLeakChecker:
    """The `jsleak` fixture: runs scenarios in fresh runtimes and fails the test on a leak."""

    def __init__(self, session: JsLeakSession, item: pytest.Item, marker_layer: dict[str, Any]) -> None:
        self._session = session
        self._item = item
        self._marker_layer = marker_layer
        self._services: list[JsLeakService] = []
        self.results: list[LeakResult] = []

    def check(self, path: str | os.PathLike[str], scenario: str = "default", **options: Any) -> LeakResult:
        """Run `scenario` of the JS module at `path` (relative to the rootdir) and judge it.

        Fails the test with the leak report when it leaks or cannot run; returns the result otherwise.
        """
        kwargs_layer = _parse_or_usage(options, f"jsleak.check() in {self._item.nodeid}")
        target = Path(path)
        if not target.is_absolute():
            target = self._session.rootpath / target
        index = len(self.results)
        result = self._session.run(
            self._item,
            target,
            scenario,
            override_layers=(self._marker_layer, kwargs_layer),
            folder_suffix=f"{scenario}-{index}" if index else scenario,
        )
        label = f"{_relative(target, self._session.rootpath)}::{scenario}"
        return self._record(result, label, (self._marker_layer, kwargs_layer))

    def _record(self, result: LeakResult, label: str, layers: tuple[Mapping[str, Any], ...] = ()) -> LeakResult:
        """Judge the result for this test (baseline, strict: `session.conclude`), fail the test on a leak."""
        self.results.append(result)
        if self._session.conclude(self._item, result, layers) == "fail":
            pytest.fail(render(result, label=label), pytrace=False)
        return result

    def page(self, page: Any) -> PageChecker:
        """Leak checks of a Playwright page (sync API, Chromium): `jsleak.page(page).check(action)`."""
        try:
            check_page(page)
        except PageError as exc:
            pytest.fail(str(exc), pytrace=False)
        return PageChecker(self, page)

    def service(
        self,
        command: Sequence[str] | str,
        *,
        ready: str | None = None,
        port_env: str = "PORT",
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        **options: Any,
    ) -> JsLeakService:
        """A Node or Deno server to check route by route; use it as a context manager (DESIGN §11).

        `command` runs `node` or `deno` (`deno run`); jsleak adds `--expose-gc` and an inspector on
        a free loopback port, and passes a free port for the server in `port_env`. The block waits
        until `ready` (a path) answers below 500, or else the port accepts connections. `options`
        apply to every `check` on this service (above the marker, below the check's own keywords).
        `cwd` is relative to the rootdir; `env` is added to this process's environment.
        """
        layer = _parse_or_usage(options, f"jsleak.service() in {self._item.nodeid}")
        if cwd is not None and not Path(cwd).is_absolute():
            cwd = self._session.rootpath / cwd
        try:
            process = ServiceProcess(
                command, ready=ready, port_env=port_env, env=env, cwd=cwd, startup_timeout=startup_timeout
            )
        except OptionError as exc:
            raise pytest.UsageError(f"{self._item.nodeid}: {exc}") from None
        except JsLeakError as exc:
            pytest.fail(str(exc), pytrace=False)
        service = JsLeakService(self, process, layer)
        self._services.append(service)
        return service

    def close_services(self) -> None:
        for service in self._services:
            service.close()
        self._services.clear()


class JsLeakService:
    """A running server from `jsleak.service(...)`: `url`, `port`, `pid`, and `check(action)`."""

    def __init__(self, checker: JsLeakChecker, process: ServiceProcess, layer: dict[str, Any]) -> None:
        self._checker = checker
        self.process = process
        self._layer = layer

    def __enter__(self) -> JsLeakService:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> JsLeakService:
        """Start the server and wait until it is ready (`with` does this); fails the test if it cannot."""
        if self.process.pid is not None:
            return self
        try:
            self.process.start()
        except OptionError as exc:
            raise pytest.UsageError(f"{self._checker._item.nodeid}: {exc}") from None
        except JsLeakError as exc:  # it exited or missed startup_timeout: the message has its output
            pytest.fail(str(exc), pytrace=False)
        return self

    def close(self) -> None:
        """Stop the server's whole process tree (idempotent)."""
        self.process.close()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return self.process.url

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def output(self, limit: int = 4000) -> str:
        """The last `limit` bytes the server wrote to stdout and stderr."""
        return self.process.output_tail(limit)

    def check(self, action: Callable[[], object], *, name: str | None = None, **options: Any) -> LeakResult:
        """Check that repeating `action` (one iteration; e.g. one HTTP request) leaves nothing behind.

        The same plan, verdict and report as `jsleak.check`, with GC, heap samples and snapshots
        taken through the inspector. Fails the test on a leak or an error; returns the result.
        `name` names the check in reports (default: the action's function name).
        """
        checker = self._checker
        item = checker._item
        if not callable(action):
            raise pytest.UsageError(f"{item.nodeid}: svc.check() needs a callable action, got {action!r}")
        kwargs_layer = _parse_or_usage(options, f"svc.check() in {item.nodeid}")
        if self.process.pid is None:
            self.start()
        index = len(checker.results)
        label = name or _action_name(action, index)
        result = checker._session.run_service_check(
            item,
            self.process,
            action,
            label,
            override_layers=(checker._marker_layer, self._layer, kwargs_layer),
            folder_suffix=f"service-{label}-{index}",
        )
        layers = (checker._marker_layer, self._layer, kwargs_layer)
        return checker._record(result, f"{self.process.command} :: {label}", layers)


def _action_name(action: Callable[[], object], index: int) -> str:
    name = getattr(action, "__name__", "") or ""
    return name if name and name != "<lambda>" else f"check-{index + 1}"


class PageChecker:
    """`jsleak.page(page)`: repeats an action on the page and fails the test on a leak (DESIGN §12)."""

    def __init__(self, checker: JsLeakChecker, page: Any) -> None:
        self._checker = checker
        self.page = page

    def check(self, action: Any, **options: Any) -> LeakResult:
        """Call `action()` (clicks, typing) as one iteration of warm-up, sampling and confirming rounds.

        Options as for `jsleak.check` (marker, then keywords), over page defaults (fewer iterations:
        a click costs milliseconds). Fails the test with the leak report when the page keeps what
        the action leaves behind; returns the result otherwise.
        """
        checker = self._checker
        if not callable(action):
            pytest.fail(
                f"jsleak.page(...).check() takes a callable (one iteration), got {type(action).__name__}",
                pytrace=False,
            )
        kwargs_layer = _parse_or_usage(options, f"jsleak.page(...).check() in {checker._item.nodeid}")
        index = len(checker.results)
        name = f"page-{action_name(action)}"
        result = checker._session.run_page(
            checker._item,
            self.page,
            action,
            override_layers=(checker._marker_layer, kwargs_layer),
            folder_suffix=f"{name}-{index}" if index else name,
        )
        label = f"{result.target} ({result.scenario})"
        return checker._record(result, label, (checker._marker_layer, kwargs_layer))


def _relative(path: Path, root: Path) -> str:
    """The target as the node ids spell paths: relative to the rootdir when under it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


__all__ = ["JsLeakChecker", "JsLeakService", "PageChecker", "marker_layer"]

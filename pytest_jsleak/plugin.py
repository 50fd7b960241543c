"""pytest hooks: options, ini keys, the marker, the fixture, the LEAKED status, summary and JSON."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_jsleak.errors import JsLeakError, OptionError
from pytest_jsleak.options import FLAG_OPTIONS, OPTION_HELP, OPTION_NAMES, parse_layer

if TYPE_CHECKING:
    from pytest_jsleak.model import LeakResult

DEFAULT_FILES = ("*.leak.js", "*.leak.mjs", "*.leak.cjs", "*.leak.ts", "*.leak.mts", "*.leak.cts")
DEFAULT_DIR = ".jsleak"
MARKER_HELP = (
    "jsleak(runtime=, runtime_path=, runtime_args=, iterations=, warmup=, max_growth_per_iteration=, ignore=, "
    "timeout=, snapshots=, allocation_sites=, strict=, baseline_tolerance=, redact=): "
    "options for every jsleak.check in this test (keyword arguments of check override them)."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jsleak", "memory leak checks of JavaScript code (pytest-jsleak)")
    group.addoption(
        "--jsleak",
        action="store_true",
        default=False,
        help="collect JS leak targets (the jsleak_files patterns) and check each exported scenario.",
    )
    for name in OPTION_NAMES:
        flag = "--jsleak-" + name.replace("_", "-")
        if name in FLAG_OPTIONS:  # a flag takes no value: `--jsleak-strict tests/` must not eat `tests/`
            group.addoption(flag, dest=f"jsleak_{name}", action="store_const", const=True, default=None,
                            help=OPTION_HELP[name])
        else:
            group.addoption(
                flag, dest=f"jsleak_{name}", default=None, metavar=name.upper(), help=OPTION_HELP[name]
            )
        parser.addini(f"jsleak_{name}", OPTION_HELP[name], default=None)
    group.addoption(
        "--jsleak-dir",
        dest="jsleak_dir",
        default=None,
        metavar="DIR",
        help=f"where heap snapshots are kept, one folder per test (default: {DEFAULT_DIR}/ under the rootdir).",
    )
    group.addoption(
        "--jsleak-report",
        dest="jsleak_report",
        default=None,
        metavar="PATH",
        help="write the run's results as one JSON document (schema 3) to PATH.",
    )
    group.addoption(
        "--jsleak-baseline",
        dest="jsleak_baseline",
        default=None,
        metavar="PATH",
        help="a JSON file of known leaks: a leak in it that has not grown passes as known (DESIGN §15).",
    )
    group.addoption(
        "--jsleak-baseline-update",
        dest="jsleak_baseline_update",
        action="store_true",
        default=False,
        help="write the baseline from this run: add and update the leaks that ran, remove the entries that "
        "ran clean, keep the entries of tests that did not run.",
    )
    group.addoption(
        "--jsleak-annotations",
        dest="jsleak_annotations",
        default=None,
        metavar="auto|on|off",
        help="GitHub annotations (::error per leak) and the job summary: auto (default: under GitHub Actions), "
        "on, off.",
    )
    group.addoption(
        "--jsleak-html",
        dest="jsleak_html",
        default=None,
        metavar="PATH",
        help="write the run's results as one self-contained HTML page to PATH (charts, suspects, paths).",
    )
    from pytest_jsleak import selfcheck

    group.addoption(
        "--jsleak-self-check",
        dest="jsleak_self_check",
        nargs="?",
        const="modules",
        default=None,
        type=selfcheck.parse_scope,
        metavar="modules|all|off",
        help=selfcheck.HELP,
    )
    parser.addini("jsleak_self_check", "the --jsleak-self-check scope: modules (or true), all, off.", default=None)
    parser.addini(
        "jsleak_dir", "where heap snapshots are kept (default: .jsleak/ under the rootdir).", default=None
    )
    parser.addini("jsleak_baseline", "the baseline file of known leaks (see --jsleak-baseline).", default=None)
    parser.addini(
        "jsleak_annotations", "GitHub annotations and job summary: auto, on, off (default: auto).", default=None
    )
    parser.addini(
        "jsleak_files",
        "glob patterns of JS leak targets collected with --jsleak.",
        type="args",
        default=list(DEFAULT_FILES),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    try:
        ini_layer = _layer_from(config, lambda name: config.getini(f"jsleak_{name}"), "ini jsleak_")
        cli_layer = _layer_from(config, lambda name: config.getoption(f"jsleak_{name}"), "--jsleak-")
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None
    _check_configured_runtime(config, ini_layer, cli_layer)
    from pytest_jsleak.session import JsLeakSession

    config.pluginmanager.register(JsLeakSession(config, ini_layer, cli_layer), JsLeakSession.name)


def _check_configured_runtime(config: pytest.Config, *layers: dict[str, Any]) -> None:
    """A runtime chosen in the ini file or on the command line that is missing or too old stops the
    run at once (a usage error naming what was tried), rather than failing every test one by one."""
    if not any(key in layer for layer in layers for key in ("runtime", "runtime_path")):
        return
    from pytest_jsleak.errors import JsLeakError
    from pytest_jsleak.options import resolve
    from pytest_jsleak.runtime.runtimes import find_runtime

    options = resolve(*layers)
    try:
        find_runtime(options.runtime, options.runtime_path, cwd=config.rootpath)
    except JsLeakError as exc:
        raise pytest.UsageError(f"pytest-jsleak: {exc}") from None


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    # A wrapper: xdist's controller loop answers first among plain implementations.
    from pytest_jsleak.selfcheck import run_self_check

    run_self_check(session)  # a pytest.UsageError stops the session before any test
    return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    from pytest_jsleak.session import JsLeakSession

    session = config.pluginmanager.get_plugin(JsLeakSession.name)
    if session is not None:
        config.pluginmanager.unregister(session)


def _layer_from(config: pytest.Config, get: Any, prefix: str) -> dict[str, Any]:
    raw = {}
    for name in OPTION_NAMES:
        value = get(name)
        if value not in (None, "", []):
            raw[name] = value
    layer = {}
    for name, value in raw.items():
        where = f"{prefix}{name}" if prefix.startswith("ini") else f"{prefix}{name.replace('_', '-')}"
        layer.update(parse_layer({name: value}, source=where))
    return layer


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    if not config.getoption("jsleak"):
        return None
    patterns = config.getini("jsleak_files")
    if not any(file_path.match(pattern) for pattern in patterns):
        return None
    from pytest_jsleak.collect import JsLeakFile

    return JsLeakFile.from_parent(parent, path=file_path)


@pytest.fixture
def jsleak(request: pytest.FixtureRequest) -> Generator[JsLeakChecker, None, None]:
    """Check JS scenarios for leaks from a Python test: `jsleak.check("src/app.mjs", "handle")`,
    or a running server: `with jsleak.service(["node", "server.mjs"]) as svc: svc.check(action)`."""
    from pytest_jsleak.session import JsLeakSession

    session = request.config.pluginmanager.get_plugin(JsLeakSession.name)
    marker_layer: dict[str, Any] = {}
    for mark in reversed(list(request.node.iter_markers("jsleak"))):
        if mark.args:
            raise pytest.UsageError(f"{request.node.nodeid}: @pytest.mark.jsleak takes keyword options only")
        marker_layer.update(_parse_or_usage(mark.kwargs, f"@pytest.mark.jsleak on {request.node.nodeid}"))
    checker = JsLeakChecker(session, request.node, marker_layer)
    try:
        yield checker
    finally:
        checker.close_services()  # a service started without `with` still ends with the test


def _parse_or_usage(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    try:
        return parse_layer(raw, source=source)
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None


class JsLeakChecker:
    """The `jsleak` fixture: runs scenarios in fresh runtimes and fails the test on a leak."""

    def __init__(self, session: Any, item: pytest.Item, marker_layer: dict[str, Any]) -> None:
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
        from pytest_jsleak.report.text import render

        self.results.append(result)
        if self._session.conclude(self._item, result, layers) == "fail":
            pytest.fail(render(result, label=label), pytrace=False)
        return result

    def page(self, page: Any) -> PageChecker:
        """Leak checks of a Playwright page (sync API, Chromium): `jsleak.page(page).check(action)`."""
        from pytest_jsleak.runtime.page import PageError, check_page

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
        from pytest_jsleak.runtime.service import ServiceProcess

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

    def __init__(self, checker: JsLeakChecker, process: Any, layer: dict[str, Any]) -> None:
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
        from pytest_jsleak.drivers.page import action_name

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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    from pytest_jsleak.collect import JsLeakItem
    from pytest_jsleak.session import results_key

    if isinstance(item, JsLeakItem) and report.failed and report.location is not None:
        # The failure's header is the location's domain: the whole node id, since two files may
        # export the same scenario name. The trailing space keeps pytest's verbose line from
        # rewriting the id's dots as "::" (it does so to a domain that ends the node id).
        fspath, lineno, _ = report.location
        report.location = (fspath, lineno, f"{item.nodeid} ")

    results = item.stash.get(results_key, None)
    if results and report.when == "call":
        from pytest_jsleak.gate import item_status, known_reason

        # A JSON-serialisable attribute travels to the xdist controller with the report.
        report.jsleak = [r.to_dict() for r in results]
        if report.failed and any(r.verdict == "leak" for r in results):
            report.jsleak_leaked = True
        status = item_status(report.jsleak, failed=report.failed)
        if status is not None:
            report.jsleak_status = status
        if status == "known" and report.passed:
            # junit reads a known leak as an expected failure: <skipped type="pytest.xfail" message=numbers>.
            report.outcome = "skipped"
            report.wasxfail = known_reason(report.jsleak)
        # junit <properties> of the test (pytest copies the item's user_properties to its teardown report).
        item.user_properties.extend(_junit_properties(report.jsleak))
    return report


def _junit_properties(entries: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """`jsleak_verdict` and the growth of every check; the reason and advice of an inconclusive one; what
    the baseline says of a leak it knows or that grew."""
    properties = []
    for entry in entries:
        properties.append(("jsleak_verdict", str(entry.get("verdict"))))
        properties.append(("jsleak_growth_per_iteration", f"{float(entry.get('growth_per_iteration') or 0):.1f}"))
        if entry.get("reason"):
            properties.append(("jsleak_reason", str(entry["reason"])))
        if entry.get("advice"):
            properties.append(("jsleak_advice", str(entry["advice"])))
        baseline = entry.get("baseline") or {}
        if baseline.get("status"):
            properties.append(("jsleak_baseline", str(baseline["status"])))
        for change in baseline.get("changes") or []:
            properties.append(("jsleak_baseline_change", str(change)))
    return properties


@pytest.hookimpl(tryfirst=True)  # before pytest's own: a known leak's report carries `wasxfail` for junit
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    if report.when != "call":
        return None
    from pytest_jsleak.gate import STATUS_LETTER, STATUS_WORD, leak_word

    status = getattr(report, "jsleak_status", None)
    if status is None and report.failed and getattr(report, "jsleak_leaked", False):
        status = "leak"  # a report from a worker of an older version
    if status == "leak" and report.failed:
        return "failed", "L", (leak_word(getattr(report, "jsleak", ())), {"red": True})
    if status == "inconclusive":
        if report.failed:  # strict
            return "failed", "I", (STATUS_WORD["inconclusive"], {"red": True})
        return "inconclusive", "I", (STATUS_WORD["inconclusive"], {"yellow": True})
    if status == "known" and not report.failed:
        return "known", STATUS_LETTER["known"], (STATUS_WORD["known"], {"yellow": True})
    if status == "fixed" and report.passed:
        return "passed", STATUS_LETTER["fixed"], (STATUS_WORD["fixed"], {"green": True})
    return None

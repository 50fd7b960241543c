"""pytest hooks: options, ini keys, the marker, the fixture, the LEAKED status, summary and JSON.

pytest imports this module in every run of a project that has the plugin installed, leak checks or
not: what only a leak check needs (api.py, collect.py and with them numpy) is imported when one starts.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_jsleak.errors import JsLeakError, OptionError
from pytest_jsleak.options import FLAG_OPTIONS, OPTION_HELP, OPTION_NAMES, parse_layer, resolve
from pytest_jsleak.runtime.runtimes import find_runtime
from pytest_jsleak.session import JsLeakSession, results_key

if TYPE_CHECKING:
    from pytest_jsleak.api import JsLeakChecker

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
    config.pluginmanager.register(JsLeakSession(config, ini_layer, cli_layer), JsLeakSession.name)


def _check_configured_runtime(config: pytest.Config, *layers: dict[str, Any]) -> None:
    """A runtime chosen in the ini file or on the command line that is missing or too old stops the
    run at once (a usage error naming what was tried), rather than failing every test one by one."""
    if not any(key in layer for layer in layers for key in ("runtime", "runtime_path")):
        return
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
    from pytest_jsleak.collect import JsLeakFile  # a leak file is collected: the check's modules load now

    return JsLeakFile.from_parent(parent, path=file_path)


@pytest.fixture
def jsleak(request: pytest.FixtureRequest) -> Generator[JsLeakChecker, None, None]:
    """Check JS scenarios for leaks from a Python test: `jsleak.check("src/app.mjs", "handle")`,
    or a running server: `with jsleak.service(["node", "server.mjs"]) as svc: svc.check(action)`."""
    from pytest_jsleak.api import JsLeakChecker, marker_layer  # a test asks for a check: its modules load now

    checker = JsLeakChecker(JsLeakSession.of(request.config), request.node, marker_layer(request.node))
    try:
        yield checker
    finally:
        checker.close_services()  # a service started without `with` still ends with the test


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    # Before a leak file is collected, collect.py is not loaded and no item is a JsLeakItem: importing it
    # here would load the check's modules (numpy) into every run.
    collect = sys.modules.get("pytest_jsleak.collect")
    if collect is not None and isinstance(item, collect.JsLeakItem) and report.failed and report.location is not None:
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

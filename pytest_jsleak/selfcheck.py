"""`--jsleak-self-check`: a positive control before the tests, so a green run means something here.

Per runtime the session's checks use, a planted leak of one small object per call must fail and its
clean twin must pass, checked through the session's own machinery (`JsLeakSession.run`,
`run_service_check`) with the session's option layers (ini, command line). If either comes out
otherwise, or errors, the session stops with a usage error: on this machine, with these options,
the gate cannot vouch for a clean verdict. `all` also runs the pair as routes of a node:http server
through the service machinery (whether a test uses `jsleak.service` is only known once it runs).
Pages are not checked: a browser is the test's own fixture.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import time
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_jsleak.errors import JsLeakError, OptionError
from pytest_jsleak.options import DEFAULTS, Options, parse_layer, resolve
from pytest_jsleak.units import format_bytes

if TYPE_CHECKING:
    from pytest_jsleak.model import LeakResult
    from pytest_jsleak.session import JsLeakSession

TARGETS = Path(__file__).with_name("selfcheck_targets")
#: Exports `leaky` (one small object kept per call) and `clean` (the same object, dropped).
PLANTED = TARGETS / "planted.mjs"
#: A node:http server with the same pair as routes `/leaky` and `/clean` (and `/health`).
PLANTED_SERVER = TARGETS / "planted_server.mjs"
#: The node ids the controls are reported and kept under (`.jsleak/jsleak-self-check__node/...`).
NODEID = "jsleak-self-check"
SCOPES = ("modules", "all", "off")
HELP = (
    "before the tests, prove that a planted one-small-object-per-call leak fails and its clean twin "
    "passes, per runtime the session uses, with the session's options; stop the session otherwise. "
    "'all' also checks the pair as routes of a node:http server (service checks). Bare flag: modules; "
    "write --jsleak-self-check=all (or =modules) when a path follows it."
)
_INI_ON = {"modules": "modules", "on": "modules", "true": "modules", "yes": "modules", "1": "modules", "all": "all"}
_INI_OFF = {"off", "false", "no", "0", ""}


def parse_scope(value: str) -> str:
    """The command line's value (`type=` of the option): modules, all or off."""
    if value in SCOPES:
        return value
    raise argparse.ArgumentTypeError(
        f"expected modules, all or off, got {value!r} (a path right after the bare flag? write "
        "--jsleak-self-check=modules, or put the flag after the paths)"
    )


def scope(config: pytest.Config) -> str:
    """What the session asked for: `modules`, `all` or `off` (the command line over the ini key)."""
    cli = config.getoption("jsleak_self_check", None)
    if cli is not None:
        return str(cli)
    raw = str(config.getini("jsleak_self_check") or "").strip().lower()
    if raw in _INI_OFF:
        return "off"
    if raw not in _INI_ON:
        raise pytest.UsageError(f"invalid ini jsleak_self_check={raw!r}: expected modules (or true), all or off")
    return _INI_ON[raw]


class ControlItem(pytest.Item):
    """The item a control's results belong to (its node id names the artefact folder): never collected."""

    def runtest(self) -> None:  # pragma: no cover - never run
        raise NotImplementedError("a self-check control is not a test")


def runtimes_used(js: JsLeakSession, items: Iterable[pytest.Item]) -> list[tuple[str, str | None]]:
    """(runtime, runtime_path) of every check the collected items will run, in a stable order.

    A collected scenario runs under the file's and the marker's runtime; a test using the `jsleak`
    fixture under the marker's (node by default). Items whose options cannot be read are left to
    fail on their own.
    """
    from pytest_jsleak.collect import JsLeakItem

    found: dict[tuple[str, str | None], None] = {}
    for item in items:
        if isinstance(item, JsLeakItem):
            if item.load_error is not None:
                continue
            file_layer = item.file_layer
        elif "jsleak" in getattr(item, "fixturenames", ()):
            file_layer = {}
        else:
            continue
        try:
            marker: dict[str, Any] = {}
            for mark in reversed(list(item.iter_markers("jsleak"))):
                marker.update(parse_layer(mark.kwargs, source=f"@pytest.mark.jsleak on {item.nodeid}"))
            options = resolve(*js.base_layers, file_layer, marker)
        except OptionError:
            continue
        found[(options.runtime, options.runtime_path)] = None
    return list(found)


def run_self_check(session: pytest.Session) -> None:
    """The control, before the tests (a no-op unless asked for, on an xdist worker or a collect-only run)."""
    from pytest_jsleak.session import JsLeakSession

    config = session.config
    wanted = scope(config)
    js: JsLeakSession | None = config.pluginmanager.get_plugin(JsLeakSession.name)
    if wanted == "off" or js is None or js.is_worker or config.option.collectonly:
        return
    if session.testsfailed and not config.option.continue_on_collection_errors:
        return  # collection failed: pytest stops before any test anyway
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    say = reporter.write_line if reporter is not None else (lambda line: None)
    if config.pluginmanager.hasplugin("dsession"):
        # Under xdist the workers collect, not the controller: it vouches for the configured runtime.
        configured = resolve(*js.base_layers)
        runtimes = [(configured.runtime, configured.runtime_path)]
    else:
        runtimes = runtimes_used(js, session.items)
    if not runtimes and wanted != "all":
        say("jsleak self-check: no leak check among the collected tests, nothing to vouch for")
        return
    for runtime, runtime_path in runtimes:
        say(_check_module_pair(js, session, runtime, runtime_path))
    if wanted == "all":
        say(_check_service_pair(js, session))


def _check_module_pair(js: JsLeakSession, session: pytest.Session, runtime: str, runtime_path: str | None) -> str:
    started = time.perf_counter()
    item = ControlItem.from_parent(session, name=f"{NODEID}::{runtime}")
    layer = {"runtime": runtime, "runtime_path": runtime_path}
    results = {
        scenario: js.run(item, PLANTED, scenario, override_layers=(layer,), file_layer={}, folder_suffix=scenario)
        for scenario in ("leaky", "clean")
    }
    what = f"{runtime} {results['leaky'].runtime_version or results['clean'].runtime_version}".strip()
    _judge(js, item, results, what, f"{PLANTED.name} ({PLANTED})", resolve(*js.base_layers, layer))
    return _passed(what, results["leaky"], time.perf_counter() - started)


def _check_service_pair(js: JsLeakSession, session: pytest.Session) -> str:
    import urllib.request

    from pytest_jsleak.runtime.service import ServiceProcess

    started = time.perf_counter()
    item = ControlItem.from_parent(session, name=f"{NODEID}::service")
    where = f"the node:http server {PLANTED_SERVER.name} ({PLANTED_SERVER})"
    try:
        service = ServiceProcess(["node", str(PLANTED_SERVER)], ready="/health").start()
    except JsLeakError as exc:
        raise _cannot_vouch(f"service (node), {where}: it did not start: {exc}") from None
    try:
        results = {}
        for route in ("leaky", "clean"):
            url = f"{service.url}/{route}"

            def action(url: str = url) -> None:
                with urllib.request.urlopen(url, timeout=10) as response:
                    response.read()

            results[route] = js.run_service_check(
                item, service, action, route, folder_suffix=f"service-{route}"
            )
        what = f"service (node {service.runtime_version})"
    finally:
        service.close()
    _judge(js, item, results, what, where, resolve(*js.base_layers))
    return _passed(what, results["leaky"], time.perf_counter() - started)


def _judge(
    js: JsLeakSession, item: ControlItem, results: dict[str, LeakResult], what: str, where: str, options: Options
) -> None:
    leaky, clean = results["leaky"], results["clean"]
    folder = js.artefact_root / _folder(item.nodeid)
    if leaky.verdict == "leak" and clean.verdict == "clean":
        shutil.rmtree(folder, ignore_errors=True)  # a control that passed leaves nothing to look at
        with contextlib.suppress(OSError):
            js.artefact_root.rmdir()  # nor an empty .jsleak/ (a folder a test wrote into stays)
        return
    wrong = []
    if leaky.verdict != "leak":
        wrong.append(f"scenario 'leaky' (one small object kept per call) was {_seen(leaky)}, not a leak")
    if clean.verdict != "clean":
        wrong.append(f"scenario 'clean' (its twin, which keeps nothing) was {_seen(clean)}, not clean")
    kept = f"; snapshots kept in {folder}" if folder.exists() else ""
    raise _cannot_vouch(f"{what}, {where}: {'; '.join(wrong)}; options: {_options_text(options)}{kept}")


def _cannot_vouch(detail: str) -> pytest.UsageError:
    return pytest.UsageError(
        "pytest-jsleak self-check failed: the gate cannot vouch for its verdicts on this machine with "
        f"these options: {detail}. Fix the options (or the machine), or run without --jsleak-self-check."
    )


def _seen(result: LeakResult) -> str:
    if result.verdict == "error":
        first = (result.error or "").strip().splitlines()
        return f"an error ({result.error_kind}: {first[0][:300] if first else 'no message'})"
    return f"{result.verdict} at {format_bytes(result.growth_per_iteration)}/iteration"


def _options_text(options: Options) -> str:
    """The options that differ from the defaults, as the ini spells them, or `the defaults`."""
    changed = [
        f"{f.name}={_value(f.name, getattr(options, f.name))}"
        for f in fields(Options)
        if getattr(options, f.name) != getattr(DEFAULTS, f.name)
    ]
    return ", ".join(changed) or "the defaults"


def _value(name: str, value: Any) -> str:
    if name == "max_growth_per_iteration":
        return format_bytes(value).replace(" ", "")
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    return str(value)


def _passed(what: str, leaky: LeakResult, seconds: float) -> str:
    caught = format_bytes(leaky.growth_per_iteration)
    return f"jsleak self-check: {what} ok (leak caught at {caught}/call, twin clean) in {seconds:.1f} s"


def _folder(nodeid: str) -> str:
    from pytest_jsleak.session import artefact_folder_name

    return artefact_folder_name(nodeid)


__all__ = ["HELP", "PLANTED", "PLANTED_SERVER", "SCOPES", "parse_scope", "run_self_check", "runtimes_used", "scope"]

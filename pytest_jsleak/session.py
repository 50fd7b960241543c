"""The session object registered as a plugin: runs checks, gathers results, writes the summary and JSON."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_jsleak.errors import JsLeakError
from pytest_jsleak.model import LeakResult
from pytest_jsleak.options import Options, resolve
from pytest_jsleak.report.json_report import write_report
from pytest_jsleak.report.summary import summary_lines
from pytest_jsleak.runtime.runtimes import find_runtime, is_typescript

results_key = pytest.StashKey[list[LeakResult]]()


class JsLeakSession:
    """State of one pytest run; lives on the plugin manager between configure and unconfigure."""

    name = "jsleak-session"

    def __init__(self, config: pytest.Config, ini_layer: dict[str, Any], cli_layer: dict[str, Any]) -> None:
        self.config = config
        self.rootpath = Path(config.rootpath)
        self.base_layers = (ini_layer, cli_layer)
        folder = config.getoption("jsleak_dir") or config.getini("jsleak_dir") or ".jsleak"
        self.artefact_root = (self.rootpath / folder).resolve()
        report = config.getoption("jsleak_report")
        self.report_path = (Path(config.invocation_params.dir) / report).resolve() if report else None
        html = config.getoption("jsleak_html")
        self.html_path = (Path(config.invocation_params.dir) / html).resolve() if html else None
        # Only the xdist controller (or a plain run) writes the summary, the JSON document and the page.
        self.is_worker = hasattr(config, "workerinput")
        self.entries: list[dict[str, Any]] = []
        self.started = time.time()

    @classmethod
    def of(cls, config: pytest.Config) -> JsLeakSession:
        """The run's session, registered by the plugin's pytest_configure."""
        session = config.pluginmanager.get_plugin(cls.name)
        if not isinstance(session, cls):
            raise RuntimeError("pytest-jsleak: the session is not registered (the plugin was not configured)")
        return session

    # -- running checks (on whichever process runs the test) --

    def listing_options(self, path: Path) -> Options:
        """The options that load a file to list its scenarios: the configured runtime, except for
        TypeScript on a Node too old to strip types (and no loader in runtime_args): then bun, or
        deno, whichever is on PATH. Running it under that Node later fails with a message that
        names the runtime_args that would load it.
        """
        options = resolve(*self.base_layers)
        if not is_typescript(path) or options.runtime != "node" or options.runtime_args:
            return options
        try:
            if find_runtime("node", options.runtime_path, cwd=self.rootpath).runs_typescript:
                return options
        except JsLeakError:
            return options  # the listing fails and says why
        for name in ("bun", "deno"):
            if shutil.which(name):
                return replace(options, runtime=name, runtime_path=None)
        return options

    def listing_runtime(self, path: Path) -> str:
        """The name of the runtime `listing_options` lists `path` under."""
        return self.listing_options(path).runtime

    def run(
        self,
        item: pytest.Item,
        target: Path,
        scenario: str,
        *,
        override_layers: tuple[Mapping[str, Any], ...] = (),
        file_layer: Mapping[str, Any] | None = None,
        folder_suffix: str | None = None,
    ) -> LeakResult:
        from pytest_jsleak.measure import CheckRequest, artefact_folder_name, run_check

        folder = self.artefact_root / artefact_folder_name(item.nodeid)
        if folder_suffix:
            folder = folder / artefact_folder_name(folder_suffix)
        request = CheckRequest(
            target=target,
            scenario=scenario,
            artefact_dir=folder,
            cwd=self.rootpath,
            base_layers=self.base_layers,
            override_layers=override_layers,
            file_layer=file_layer,
            label=item.nodeid,
        )
        return run_check(request)

    def run_page(
        self,
        item: pytest.Item,
        page: Any,
        action: Any,
        *,
        override_layers: tuple[Mapping[str, Any], ...] = (),
        folder_suffix: str | None = None,
    ) -> LeakResult:
        """Check a Playwright page (DESIGN §12): page defaults under ini, CLI, marker and keywords."""
        from pytest_jsleak.browser import page_options, run_page_check
        from pytest_jsleak.measure import artefact_folder_name

        folder = self.artefact_root / artefact_folder_name(item.nodeid)
        if folder_suffix:
            folder = folder / artefact_folder_name(folder_suffix)
        options = page_options(*self.base_layers, *override_layers)
        return run_page_check(page, action, options, folder)

    def run_service_check(
        self,
        item: pytest.Item,
        service: Any,
        action: Any,
        name: str,
        *,
        override_layers: tuple[Mapping[str, Any], ...] = (),
        folder_suffix: str,
    ) -> LeakResult:
        """One `svc.check(action)`: the same plan and verdict as a module scenario, over the inspector."""
        from pytest_jsleak.errors import JsLeakError
        from pytest_jsleak.measure import artefact_folder_name, error_kind, run_driver_check
        from pytest_jsleak.runtime.service import InspectorDriver

        folder = self.artefact_root / artefact_folder_name(item.nodeid) / artefact_folder_name(folder_suffix)
        options = resolve(*self.base_layers, *override_layers)
        result = LeakResult(
            target=service.command,
            scenario=name,
            runtime=service.runtime,
            verdict="clean",
            runtime_version=service.runtime_version,
        )
        try:
            driver = InspectorDriver(service, action, timeout=options.timeout)
        except JsLeakError as exc:
            result.verdict, result.error, result.error_kind = "error", str(exc), error_kind(exc)
            return result
        try:
            return run_driver_check(driver, options, folder, result, root=self.rootpath)
        finally:
            driver.close()

    def attach(self, item: pytest.Item, result: LeakResult) -> None:
        item.stash.setdefault(results_key, []).append(result)

    # -- gathering results (on the controller) --

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        results = getattr(report, "jsleak", None)
        if self.is_worker or not results:
            return
        for result in results:
            self.entries.append({"nodeid": report.nodeid, **result})
        self._write_report(complete=False)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.is_worker:
            complete = exitstatus != pytest.ExitCode.INTERRUPTED
            self._write_report(complete=complete)
            self._write_html(complete=complete)

    def _write_report(self, *, complete: bool) -> None:
        if self.report_path is None:
            return
        write_report(self.report_path, self.entries, complete=complete, started=self.started)

    def _write_html(self, *, complete: bool) -> None:
        # Once per run, at the end: unlike the JSON document, nobody polls the page while tests run.
        if self.html_path is None:
            return
        # Only for --jsleak-html: session.py loads in every pytest run, the page's renderer (tabulate) need not.
        from pytest_jsleak.report.html import write_html_report

        write_html_report(self.html_path, self.entries, complete=complete, started=self.started)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.is_worker:
            return
        if not self.entries:
            if self.html_path is not None:
                terminalreporter.write_line(f"jsleak HTML report: {self.html_path}")
            return
        terminalreporter.section("jsleak")
        for line in summary_lines(self.entries, verbose=config.get_verbosity() > 0):
            terminalreporter.write_line(line)
        if self.report_path is not None:
            terminalreporter.write_line(f"JSON report: {self.report_path}")
        if self.html_path is not None:
            terminalreporter.write_line(f"HTML report: {self.html_path}")

"""The session object registered as a plugin: runs checks, gathers results, writes the summary and JSON."""

from __future__ import annotations

import os
import platform
import re
import shutil
import time
import warnings
from collections import Counter
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
# How many checks of a test had each baseline key so far: a second check of the same scenario gets `#2`.
baseline_keys_key = pytest.StashKey[Counter]()
ANNOTATION_SETTINGS = ("auto", "on", "off")


def artefact_folder_name(text: str) -> str:
    """A folder name for a node id: readable, one level, safe on every file system."""
    name = re.sub(r"[^\w.\-]+", "_", text.replace("::", "__")).strip("_.")
    return name[:150] or "check"


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
        # The name each entry carries, so that a merged report says where every check ran (DESIGN §7).
        self.machine = os.environ.get("JSLEAK_MACHINE") or platform.node() or "unknown"
        self.baseline_update = bool(config.getoption("jsleak_baseline_update"))
        self.baseline = self._load_baseline(config)
        self.baseline_summary: Any = None
        annotations = config.getoption("jsleak_annotations") or config.getini("jsleak_annotations") or "auto"
        if annotations not in ANNOTATION_SETTINGS:
            raise pytest.UsageError(
                f"invalid --jsleak-annotations={annotations!r}: expected one of {', '.join(ANNOTATION_SETTINGS)}"
            )
        self.annotations = annotations == "on" or (
            annotations == "auto" and os.environ.get("GITHUB_ACTIONS", "").lower() == "true"
        )

    def _load_baseline(self, config: pytest.Config) -> Any:
        """The baseline of known leaks (DESIGN §15), or None; a bad file or flag is a usage error."""
        from pytest_jsleak.baseline import Baseline, BaselineError

        given = config.getoption("jsleak_baseline")
        if given:
            path = Path(config.invocation_params.dir) / given
        elif config.getini("jsleak_baseline"):
            base = config.inipath.parent if config.inipath else self.rootpath
            path = base / config.getini("jsleak_baseline")
        else:
            if self.baseline_update:
                raise pytest.UsageError(
                    "--jsleak-baseline-update needs a baseline file: --jsleak-baseline=PATH or ini jsleak_baseline"
                )
            return None
        try:
            return Baseline.load(path.resolve(), missing_ok=self.baseline_update)
        except BaselineError as exc:
            raise pytest.UsageError(f"pytest-jsleak: {exc}") from None

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

    def folder_for(self, item: pytest.Item, suffix: str | None = None) -> Path:
        """The artefact folder of one check of a test: `.jsleak/<node id>[/<suffix>]`."""
        folder = self.artefact_root / artefact_folder_name(item.nodeid)
        return folder / artefact_folder_name(suffix) if suffix else folder

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
        # The check (and numpy with it) loads when a check runs: pytest loads this module in every run.
        from pytest_jsleak.check import CheckRequest, run_check

        request = CheckRequest(
            target=target,
            scenario=scenario,
            artefact_dir=self.folder_for(item, folder_suffix),
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
        from pytest_jsleak.check import run_driver_check
        from pytest_jsleak.drivers.page import PageDriver, action_name, page_options

        options = page_options(*self.base_layers, *override_layers)
        result = LeakResult(target=str(page.url), scenario=action_name(action), runtime="chromium", verdict="clean")
        return run_driver_check(
            lambda: PageDriver(page, action, timeout=options.timeout), options,
            self.folder_for(item, folder_suffix), result,
        )

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
        from pytest_jsleak.check import run_driver_check
        from pytest_jsleak.drivers.inspector import InspectorDriver

        options = resolve(*self.base_layers, *override_layers)
        result = LeakResult(
            target=service.command,
            scenario=name,
            runtime=service.runtime,
            verdict="clean",
            runtime_version=service.runtime_version,
        )

        def open_driver() -> InspectorDriver:
            # One inspector session per check, closed with it: between checks no session of ours is
            # open (V8 keeps no console messages for it, and no other local process finds one).
            service.open_session()
            return InspectorDriver(service, action, timeout=options.timeout)

        try:
            return run_driver_check(open_driver, options, self.folder_for(item, folder_suffix), result,
                                    root=self.rootpath)
        finally:
            service.close_session()

    def attach(self, item: pytest.Item, result: LeakResult) -> None:
        item.stash.setdefault(results_key, []).append(result)

    def conclude(self, item: pytest.Item, result: LeakResult, layers: tuple[Mapping[str, Any], ...] = ()) -> str:
        """Judge a finished check for its test, the same way at every call site: compare it with the
        baseline (`known`, `fixed`), decide the outcome (`strict` makes an inconclusive one fail), note
        where the scenario is written, attach it to the test, and warn when it passes inconclusive.

        `layers` are the check's option layers above the ini and the command line (the file's export,
        the marker, keyword arguments). Returns `pass`, `fail` or `warn`; the caller fails the test.
        """
        from pytest_jsleak.baseline import baseline_key, compare
        from pytest_jsleak.gate import JsLeakInconclusiveWarning, inconclusive_message, outcome_of

        options = resolve(*self.base_layers, *layers)
        if self.baseline is not None:
            key = baseline_key(item.nodeid, result.scenario)
            seen = item.stash.setdefault(baseline_keys_key, Counter())
            seen[(key, result.runtime)] += 1
            if seen[(key, result.runtime)] > 1:
                key = f"{key} #{seen[(key, result.runtime)]}"
            compare(result, key, self.baseline, options.baseline_tolerance, update=self.baseline_update)
            if result.verdict == "known" and options.snapshots == "on-failure" and result.snapshot_dir:
                # A known leak passes: `on-failure` keeps no snapshots of it (`always` does).
                shutil.rmtree(result.snapshot_dir, ignore_errors=True)
                result.snapshot_paths, result.snapshot_dir = [], None
        result.outcome = outcome_of(result, options)
        result.source_file, result.source_line = self._source_of(item)
        self.attach(item, result)
        if result.outcome == "warn":
            where = baseline_key(item.nodeid, result.scenario)
            # Attributed to the scenario's line, so pytest's warnings summary points at what to change.
            warnings.warn_explicit(
                JsLeakInconclusiveWarning(inconclusive_message(where, result)),
                JsLeakInconclusiveWarning,
                filename=str(self.rootpath / result.source_file) if result.source_file else item.nodeid,
                lineno=result.source_line or 1,
            )
        return result.outcome

    def _source_of(self, item: pytest.Item) -> tuple[str | None, int]:
        """Where the check's scenario is written: its `export` in a collected target (the item says), or the
        Python test."""
        scenario_source = getattr(item, "scenario_source", None)
        if callable(scenario_source):
            relative, line = scenario_source()
            return str(relative), int(line)
        relative, lineno, _ = item.location
        return relative, (lineno + 1) if lineno is not None else 0

    # -- gathering results (on the controller) --

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        results = getattr(report, "jsleak", None)
        if self.is_worker or not results:
            return
        for result in results:
            self.entries.append({"nodeid": report.nodeid, **result, "machine": self.machine})
        self._write_report(complete=False)

    @pytest.hookimpl
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.is_worker:
            complete = exitstatus != pytest.ExitCode.INTERRUPTED
            self._update_baseline(complete=complete)
            self._write_report(complete=complete)
            self._write_html(complete=complete)
            self._write_job_summary()

    def _update_baseline(self, *, complete: bool) -> None:
        """`--jsleak-baseline-update`: rewrite the file from the checks that ran (entries that did not run
        stay). An interrupted run writes nothing: half a run is not what anyone means to record."""
        if self.baseline is None or not self.baseline_update or not complete:
            return
        from pytest_jsleak.baseline import update

        self.baseline_summary = update(self.baseline, self.entries)
        self.baseline.write()

    def _write_job_summary(self) -> None:
        """Append the run's Markdown summary to `$GITHUB_STEP_SUMMARY` (GitHub Actions' job summary)."""
        target = os.environ.get("GITHUB_STEP_SUMMARY")
        if not self.annotations or not target or not self.entries:
            return
        from pytest_jsleak.report.github import job_summary

        text = job_summary(self.entries, baseline=self._baseline_lines())
        try:
            with open(target, "a", encoding="utf-8") as stream:
                stream.write(text)
        except OSError as exc:  # the job goes on: the terminal has everything the summary has
            warnings.warn(pytest.PytestWarning(f"pytest-jsleak: cannot append to GITHUB_STEP_SUMMARY {target}: {exc}"),
                          stacklevel=1)

    def _baseline_lines(self) -> list[str]:
        if self.baseline is None:
            return []
        from pytest_jsleak.report.summary import baseline_lines

        return baseline_lines(self.entries, self.baseline.path, self.baseline_summary)

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
        for line in self._baseline_lines():
            terminalreporter.write_line(line)
        if self.annotations:
            from pytest_jsleak.report.github import annotation_lines

            workspace = os.environ.get("GITHUB_WORKSPACE")
            where = Path(workspace) if workspace else None
            for line in annotation_lines(self.entries, root=self.rootpath, workspace=where):
                terminalreporter.write_line(line)
        if self.report_path is not None:
            terminalreporter.write_line(f"JSON report: {self.report_path}")
        if self.html_path is not None:
            terminalreporter.write_line(f"HTML report: {self.html_path}")

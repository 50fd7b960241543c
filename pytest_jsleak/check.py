"""One leak check, start to result: the one place where the stages meet and a `LeakResult` is built.

```
driver  →  plan.measure  →  Measurement
Measurement (S1..S3)  →  analysis.analyse  →  Evidence
Evidence + samples + profile  →  verdict.judge  →  Decision   (⇄ plan.extra_round when the verdict asks)
Decision + Evidence  →  explain.explain  →  Explanation
everything  →  LeakResult
```

Module targets (`run_check`), running services and browser pages (`run_driver_check`) all go
through `run_pipeline`; errors of the driven process become an `error` result classified once
(`error_kind`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_jsleak import analysis, plan, verdict
from pytest_jsleak.drivers.base import Driver
from pytest_jsleak.drivers.harness import HarnessLauncher
from pytest_jsleak.errors import (
    ActionError,
    InspectorError,
    JsLeakError,
    OptionError,
    RuntimeCrashError,
    RuntimeNotFoundError,
    ScenarioTimeoutError,
    SnapshotFormatError,
    TargetError,
)
from pytest_jsleak.evidence import Evidence
from pytest_jsleak.explain import explain
from pytest_jsleak.heap import HeapGraph
from pytest_jsleak.heap.redact import redact_result
from pytest_jsleak.model import LeakResult
from pytest_jsleak.options import Options, file_options, resolve
from pytest_jsleak.plan import EXTRA_SNAPSHOT_NAME, SNAPSHOT_NAMES, Measurement
from pytest_jsleak.profiles import RuntimeProfile


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """One module check: which scenario of which file, with which option layers, keeping files where.

    Options resolve as DESIGN §3.3 orders them: `base_layers` (ini, command line), then the file's
    own `export const jsleak` (`file_layer`, read from the loaded target when None), then
    `override_layers` (marker, keyword arguments).
    """

    target: Path
    scenario: str
    artefact_dir: Path
    """The folder for this check's snapshots (emptied first; removed when nothing is kept)."""
    cwd: Path
    base_layers: tuple[Mapping[str, Any], ...] = ()
    override_layers: tuple[Mapping[str, Any], ...] = ()
    file_layer: Mapping[str, Any] | None = None
    label: str = ""

    def options(self, file_layer: Mapping[str, Any] | None = None) -> Options:
        layer = self.file_layer if file_layer is None else file_layer
        return resolve(*self.base_layers, layer or {}, *self.override_layers)


def run_check(request: CheckRequest) -> LeakResult:
    """Check one scenario of a module target in a fresh runtime process."""
    options = request.options()
    result = LeakResult(target=str(request.target), scenario=request.scenario, runtime=options.runtime,
                        verdict="clean")
    started = time.perf_counter()
    folder = request.artefact_dir
    plan.clear_folder(folder)

    def with_file_options(raw: Any) -> Options:
        return request.options(file_options(raw, request.target))

    launcher = HarnessLauncher(request.target, request.scenario, options, cwd=request.cwd, writable=folder,
                               with_file_options=with_file_options if request.file_layer is None else None)
    try:
        with launcher.open() as driver:
            result.timings["start"] = launcher.start_seconds
            result.runtime_executable = launcher.runtime.executable if launcher.runtime else ""
            run_pipeline(driver, launcher.options, folder, result, root=request.cwd, started=launcher.started)
    except JsLeakError as exc:
        if launcher.runtime is not None:  # an error report names the runtime too
            result.runtime_version = result.runtime_version or launcher.runtime.version
            result.runtime_executable = launcher.runtime.executable
        fail(result, exc, folder)
    result.duration = time.perf_counter() - started
    return result


def run_driver_check(
    open_driver: Callable[[], Driver], options: Options, artefact_dir: Path, result: LeakResult,
    *, root: Path | None = None,
) -> LeakResult:
    """A check on a driver over a target its caller owns (a running service, a browser page).

    `result` names the check (target, scenario, runtime); this fills in the rest. The driver is
    closed afterwards, whatever happened; errors opening it are an `error` result like any other.
    """
    started = time.perf_counter()
    began = time.monotonic()
    plan.clear_folder(artefact_dir)
    try:
        driver = open_driver()
    except JsLeakError as exc:
        fail(result, exc, artefact_dir)
        return result
    try:
        run_pipeline(driver, options, artefact_dir, result, root=root, started=began)
    except JsLeakError as exc:
        fail(result, exc, artefact_dir)
    finally:
        driver.close()
    result.duration = time.perf_counter() - started
    return result


def run_pipeline(
    driver: Driver, options: Options, artefact_dir: Path, result: LeakResult, *, root: Path | None = None,
    started: float | None = None,
) -> LeakResult:
    """Plan, analysis, verdict, explanation, for any driver; fills in `result`.

    Errors of the driven process (`JsLeakError`) propagate after the snapshots taken so far are
    kept or dropped by the policy. `root`: files in allocation stacks and closure locations are
    shown relative to it (the rootdir). `started`: when the check's `timeout` began to run
    (`time.monotonic()`; now by default), which sizes the rounds that still fit (`plan.Clock`).
    """
    clock = plan.Clock.for_timeout(options.timeout, started)
    began = time.perf_counter()
    profile = driver.profile
    result.runtime = profile.name
    result.runtime_version = driver.runtime_version
    result.iterations = options.iterations
    result.warmup = options.warmup
    result.max_growth_per_iteration = options.max_growth_per_iteration
    reader = analysis.ReadAhead(profile)
    m = Measurement(timings=result.timings, written=reader.written if profile.reads_ahead else None)
    evidence: Evidence | None = None
    decision: verdict.Decision | None = None
    try:
        plan.measure(driver, options, artefact_dir, m, clock)
        if m.confirmed:
            mark, driven = time.perf_counter(), m.timings.get("snapshots", 0.0)
            try:
                evidence, decision = _judge(driver, m, options, artefact_dir, clock, reader.graph)
            except SnapshotFormatError as exc:
                result.verdict, result.error, result.error_kind = "error", str(exc), "snapshot"
            # An extra round's calls and S4 are the target's time (under `snapshots`), not the analysis's.
            m.timings["analysis"] = time.perf_counter() - mark - (m.timings.get("snapshots", 0.0) - driven)
        try:
            driver.teardown()
        except ScenarioTimeoutError:
            if decision is None:
                raise
            # The verdict is in; only the target's own clean-up found the timeout passed (the analysis
            # of a large heap took the rest of it). The process is stopped all the same.
            m.cut_short = m.cut_short or "teardown"
    except JsLeakError:
        _fill(result, m, evidence, decision, profile, options, root)
        retain_snapshots(result, artefact_dir, options, failed=True)
        raise
    finally:
        reader.close()
    _fill(result, m, evidence, decision, profile, options, root)
    if result.suspects:
        # What only the live target can add (a page names the events its listeners listen to).
        result = driver.annotate(result)
    retain_snapshots(result, artefact_dir, options)
    m.timings["plan"] = time.perf_counter() - began
    return result


def _judge(
    driver: Driver, m: Measurement, options: Options, folder: Path, clock: plan.Clock,
    read: Callable[[Path], HeapGraph] = analysis.read_graph,
) -> tuple[Evidence, verdict.Decision]:
    """Analyse the confirming rounds, judge, and take the extra round when the verdict asks for it
    and the clock allows (without it, a verdict that needed it is `inconclusive`)."""
    profile = driver.profile
    evidence = analysis.analyse(m.snapshots, profile=profile, round_calls=m.round_calls, tracked=m.tracked,
                                read=read)
    rounds = _rounds(m)
    decision = verdict.judge(evidence, rounds, profile=profile, options=options)
    if not verdict.needs_extra_round(decision, evidence, rounds, sampling_jump=m.sampling_jump, profile=profile):
        return evidence, decision
    # Storage that grows by a factor (an array by half, a hash table doubling; found in one round or
    # both) grows again only after as many calls again as made so far: the extra round is that long.
    # Memory that rose with no object to show for it only needs a longer round: twice a round.
    pace_only = decision.wants_extra_round and not decision.grown
    wanted = plan.pace_round_calls(m) if pace_only else plan.extra_round_calls(m, profile)
    calls = plan.fitting_calls(clock, wanted, at_least=m.round_calls)
    if not calls:
        m.cut_short = "extra round"
        return evidence, verdict.judge(evidence, rounds, profile=profile, options=options, can_extend=False)
    look_for_jump = (
        m.sampling_jump
        if not evidence.one_round and verdict.sampling_jump_unrepeated(evidence, rounds, m.sampling_jump, profile)
        else 0
    )
    snapshot = plan.extra_round(driver, m, folder, calls)
    evidence = analysis.add_round(evidence, snapshot, m.extra_calls, profile=profile, look_for_jump=look_for_jump)
    return evidence, verdict.judge(evidence, _rounds(m), profile=profile, options=options)


def _rounds(m: Measurement) -> verdict.Rounds:
    return verdict.Rounds(tuple(m.samples), m.confirm_from, m.round_calls, m.extra_calls, m.tracked)


def _fill(
    result: LeakResult, m: Measurement, evidence: Evidence | None, decision: verdict.Decision | None,
    profile: RuntimeProfile, options: Options, root: Path | None,
) -> None:
    """The result from what the stages produced (as far as they got)."""
    result.warmup_calls = m.warmup_calls
    result.samples = list(m.samples)
    result.round_iterations = m.round_calls
    if m.trend is not None:
        # A heap that does not rise consistently grew by nothing; jitter is not growth.
        result.growth_per_iteration = max(0.0, m.trend.growth_per_iteration) if m.trend.rising else 0.0
        result.total_growth = m.trend.total_growth
    result.method = "samples" if not m.confirmed else evidence.method if evidence is not None else ""
    if m.cut_short == "confirming rounds":
        result.verdict = "inconclusive"
    if decision is not None and evidence is not None:
        result.verdict = "leak" if decision.verdict == "leak" else (
            "inconclusive" if decision.verdict == "inconclusive" else "clean")
        result.growth_per_iteration = decision.growth_per_iteration
        result.total_growth = int(decision.growth_per_iteration * evidence.calls)
        result.measured_growth_per_iteration = decision.measured_per_iteration
        result.attributed_growth_per_iteration = decision.attributed_per_iteration
        result.external_growth_per_iteration = decision.external_per_iteration
    told = explain(decision, evidence, m, profile=profile, options=options, root=root)
    result.suspects = list(told.suspects)
    result.grown_in_place = list(told.grown_in_place)
    result.handles = list(told.handles)
    result.notes = list(told.notes)
    result.reason, result.advice = told.reason, told.advice


def retain_snapshots(result: LeakResult, folder: Path, options: Options, *, failed: bool = False) -> None:
    """Keep the snapshots as `snapshots` says (`on-failure`: for a leak or an error), or drop the folder."""
    failing = failed or result.verdict != "clean"
    keep = options.snapshots == "always" or (options.snapshots == "on-failure" and failing)
    written = [str(path) for path in (folder / name for name in (*SNAPSHOT_NAMES, EXTRA_SNAPSHOT_NAME))
               if path.exists()]
    if keep and written:
        result.snapshot_paths = written
        result.snapshot_dir = str(folder)
    else:
        result.snapshot_paths = []
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
    if options.redact == "on":
        # Once the snapshots are kept or dropped and the paths are final: the kept files and the
        # paths' string steps lose their text (DESIGN §16).
        redact_result(result)


def error_kind(exc: JsLeakError) -> str:
    """The `error_kind` of the JSON report: which party is at fault, most specific class first."""
    for kind, cls in (
        ("action", ActionError),
        ("inspector", InspectorError),
        ("timeout", ScenarioTimeoutError),
        ("crash", RuntimeCrashError),
        ("runtime-not-found", RuntimeNotFoundError),
        ("target", TargetError),
        ("options", OptionError),
    ):
        if isinstance(exc, cls):
            return kind
    return "internal"


def fail(result: LeakResult, exc: JsLeakError, folder: Path) -> None:
    """Turn an error of the driven process into the result's `error` verdict (snapshots already handled)."""
    result.verdict = "error"
    result.error = str(exc)
    result.error_kind = error_kind(exc)
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()


__all__ = [
    "CheckRequest",
    "error_kind",
    "fail",
    "retain_snapshots",
    "run_check",
    "run_driver_check",
    "run_pipeline",
]

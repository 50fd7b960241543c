"""Run one scenario: warm-up, a sampling round, and when the heap keeps rising, three snapshots.

The plan, for `iterations` = N:

1. start the runtime, load the target, `setup`, `warmup` calls;
2. the sampling round: N calls with a heap sample after a forced full GC every N/20 calls. A heap
   that is flat over the round's second half is clean, with no snapshot at all (the fast path);
3. otherwise the confirming rounds: snapshot S1, N calls (round A), S2, N calls (round B), S3;
4. the verdict from what survived (see `verdict.py`), retainer paths from S3.

`snapshots="always"` takes the confirming rounds even for a flat heap, so there is something to keep.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_jsleak import verdict as verdict_mod
from pytest_jsleak.errors import (
    JsLeakError,
    OptionError,
    RuntimeCrashError,
    RuntimeNotFoundError,
    ScenarioTimeoutError,
    TargetError,
)
from pytest_jsleak.model import LeakResult, Suspect
from pytest_jsleak.options import Options, parse_layer, resolve
from pytest_jsleak.units import format_bytes

if TYPE_CHECKING:
    from pytest_jsleak.drive import Driver

SAMPLES_PER_ROUND = 20
WARMUP_SAMPLES = 25
TOP_SUSPECTS = 3
SNAPSHOT_NAMES = ("s1-after-warmup.heapsnapshot", "s2-after-round-a.heapsnapshot", "s3-final.heapsnapshot")


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """One leak check: which scenario of which file, with which option layers, keeping files where.

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


def file_options(raw: Any, target: Path) -> dict[str, Any]:
    """The validated `export const jsleak = {...}` of a target (camelCase keys accepted)."""
    if raw is None:
        return {}
    return parse_layer(raw, source=f"export const jsleak in {target}", camel_case=True)


def artefact_folder_name(text: str) -> str:
    """A folder name for a node id: readable, one level, safe on every file system."""
    name = re.sub(r"[^\w.\-]+", "_", text.replace("::", "__")).strip("_.")
    return name[:150] or "check"


def run_check(request: CheckRequest) -> LeakResult:
    """Check one scenario in a fresh runtime process; errors of the target become an `error` result."""
    from pytest_jsleak.drive import HarnessDriver
    from pytest_jsleak.runtime import HarnessProcess, find_runtime

    options = request.options()
    result = LeakResult(
        target=str(request.target),
        scenario=request.scenario,
        runtime=options.runtime,
        verdict="clean",
    )
    started = time.perf_counter()
    folder = request.artefact_dir
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    try:
        for _attempt in range(2):
            runtime = find_runtime(options.runtime)
            mark = time.perf_counter()
            proc = HarnessProcess(runtime, request.target, timeout=options.timeout, cwd=request.cwd)
            try:
                hello = proc.start()
                if request.file_layer is None:
                    options = request.options(file_options(hello.options, request.target))
            except BaseException:
                proc.close()
                raise
            if options.runtime == runtime.name:
                break
            # The file's own export asks for another runtime: load it again there.
            proc.close()
        with proc:
            proc.check_scenario(request.scenario)  # before `setup`, which may be costly
            proc.setup()
            result.timings["start"] = time.perf_counter() - mark
            run_plan(HarnessDriver(proc, request.scenario), options, folder, result)
    except JsLeakError as exc:
        _fail(result, exc, options, folder)
    result.duration = time.perf_counter() - started
    return result


def run_plan(driver: Driver, options: Options, artefact_dir: Path, result: LeakResult) -> LeakResult:
    """The plan for any driver: warm-up, sampling round, confirming rounds, verdict, kept snapshots.

    `result` names the check (target, scenario); this fills in the rest. Errors of the driven process
    (`JsLeakError`) propagate after the snapshots taken so far are kept or dropped by the policy;
    the caller turns them into an `error` result (`error_result`) or a failed test.
    """
    started = time.perf_counter()
    timings = result.timings
    folder = artefact_dir
    if folder.exists():
        shutil.rmtree(folder, ignore_errors=True)
    result.runtime = driver.runtime
    result.runtime_version = driver.runtime_version
    result.iterations = options.iterations
    result.warmup = options.warmup
    result.max_growth_per_iteration = options.max_growth_per_iteration
    snapshots: list[Path] = []
    try:
        mark = time.perf_counter()
        if options.warmup:
            # Sample during warm-up too: the harness's own GC-and-sample path settles only after
            # some twenty rounds, and would otherwise add kilobytes to the measured round.
            warm_step = max(1, options.warmup // WARMUP_SAMPLES)
            warm = driver.run(options.warmup, sample_every=warm_step, start=0, phase="warmup")
            base = replace(warm[-1], iteration=0) if warm else driver.sample()
        else:
            base = driver.sample()
        timings["warmup"] = time.perf_counter() - mark

        mark = time.perf_counter()
        step = max(1, options.iterations // SAMPLES_PER_ROUND)
        round_samples = driver.run(options.iterations, sample_every=step, start=0, phase="measured")
        result.samples = [base, *round_samples]
        timings["sampling"] = time.perf_counter() - mark

        trend = verdict_mod.sample_trend(result.samples, tolerated_per_iteration=options.max_growth_per_iteration)
        # A heap that does not rise consistently grew by nothing; jitter is not growth.
        result.growth_per_iteration = max(0.0, trend.growth_per_iteration) if trend.rising else 0.0
        result.total_growth = trend.total_growth
        if trend.plateaued:
            result.notes.append(
                f"memory grew by {format_bytes(trend.early_growth)} early in the round, then stayed flat: "
                "not a leak (a cache filling up, lazy set-up)"
            )
        if not trend.suspicious and options.snapshots != "always":
            result.method = "samples"
            driver.teardown()
        else:
            mark = time.perf_counter()
            folder.mkdir(parents=True, exist_ok=True)
            snapshots = [folder / name for name in SNAPSHOT_NAMES]
            offset = options.iterations
            driver.snapshot(snapshots[0])
            for round_index in (1, 2):
                more = driver.run(options.iterations, sample_every=step, start=offset, phase="measured")
                result.samples += more
                offset += options.iterations
                driver.snapshot(snapshots[round_index])
            timings["snapshots"] = time.perf_counter() - mark
            driver.teardown()
    except JsLeakError:
        _keep_or_drop_snapshots(result, snapshots, folder, options, failed=True)
        raise

    if snapshots:
        mark = time.perf_counter()
        try:
            _judge_snapshots(result, snapshots, options, stable_ids=driver.stable_ids)
        except JsLeakError as exc:
            result.verdict = "error"
            result.error = str(exc)
            result.error_kind = "snapshot"
        timings["analysis"] = time.perf_counter() - mark
    _keep_or_drop_snapshots(result, snapshots, folder, options)
    timings["plan"] = time.perf_counter() - started
    return result


def _fail(result: LeakResult, exc: JsLeakError, options: Options, folder: Path) -> None:
    """Turn an error of the driven process into the result's `error` verdict (snapshots already handled)."""
    result.verdict = "error"
    result.error = str(exc)
    result.error_kind = error_kind(exc)
    if folder.exists() and not any(folder.iterdir()):
        folder.rmdir()


def _judge_snapshots(result: LeakResult, snapshots: list[Path], options: Options, *, stable_ids: bool) -> None:
    from pytest_jsleak import heap

    final = heap.read_snapshot(snapshots[2])
    graph = heap.HeapGraph(final)
    if stable_ids:
        result.method = "ids"
        diff = heap.three_snapshot_diff(heap.read_node_ids(snapshots[0]), heap.read_node_ids(snapshots[1]), graph)
    else:
        # Bun renumbers every object in every snapshot: per-class count growth in each round
        # stands in for survival by id (research/runtimes.md §4).
        result.method = "counts"
        result.notes.append(
            "bun renumbers objects in every snapshot: survivors are judged by per-class counts, "
            "and bun's snapshots carry no closure source locations"
        )
        censuses = [heap.class_census(heap.read_snapshot(path)) for path in snapshots[:2]]
        diff = heap.three_snapshot_counts(*censuses, heap.class_census(final), graph)
    classes = [
        verdict_mod.ClassGrowth(
            class_name=row.class_name,
            round_a=row.survivors,
            round_b=row.fresh,
            bytes_a=row.survivor_bytes,
            bytes_b=row.fresh_bytes,
            retained_bytes=row.retained_bytes,
            examples=tuple(row.example_nodes),
        )
        for row in diff
    ]

    if not stable_ids:
        # Counts alone are noisy on Bun: its conservative stack scan keeps a few dead objects alive,
        # now in one class, now in another. A leak also raises the GC'd heap steadily through
        # rounds A and B; a few stray objects do not.
        confirming = [s for s in result.samples if s.iteration > options.iterations]
        if confirming:
            trend = verdict_mod.sample_trend(confirming, tolerated_per_iteration=options.max_growth_per_iteration)
            if not trend.suspicious:
                if any(verdict_mod.is_leaking_class(growth) for growth in classes):
                    result.notes.append("per-class counts grew, but the heap stayed flat over round B: not a leak")
                classes = []
    decision = verdict_mod.decide(
        classes,
        iterations=options.iterations,
        max_growth_per_iteration=options.max_growth_per_iteration,
        ignore=options.ignore,
    )
    result.verdict = "leak" if decision.verdict == "leak" else "clean"
    result.growth_per_iteration = decision.growth_per_iteration
    result.total_growth = int(decision.growth_per_iteration * options.iterations * 2)
    if decision.tolerated:
        names = ", ".join(g.class_name for g in decision.tolerated)
        result.notes.append(f"ignored by the `ignore` option: {names}")
    if decision.leaking and result.verdict == "clean":
        result.notes.append(
            f"{format_bytes(decision.growth_per_iteration)} per iteration survived, within "
            f"max_growth_per_iteration={format_bytes(options.max_growth_per_iteration)}"
        )
    result.suspects = [
        _suspect(graph, growth, options.iterations, with_path=rank < TOP_SUSPECTS)
        for rank, growth in enumerate(decision.leaking)
    ]
    unreachable = [s.class_name for s in result.suspects[:TOP_SUSPECTS] if s.path is None]
    if unreachable:
        why = (
            "bun's snapshots carry no edges into the storage of Map and Set, among others"
            if not stable_ids
            else "they are held only by edges a retainer path does not follow (weak or internal)"
        )
        result.notes.append(f"no retainer path from the GC roots to {', '.join(unreachable)}: {why}")


def _suspect(graph: Any, growth: verdict_mod.ClassGrowth, iterations: int, *, with_path: bool) -> Suspect:
    from pytest_jsleak import heap

    path = None
    example = None
    if with_path and growth.examples:
        from pytest_jsleak.heap.holders import with_named_holder

        path, example = heap.representative_path(graph, growth.examples)
        if path is not None:
            path = with_named_holder(graph, path)
    return Suspect(
        class_name=growth.class_name,
        new_alive=growth.round_a,
        per_iteration=growth.round_a / max(1, iterations),
        self_bytes=growth.bytes_a,
        retained_bytes=growth.retained_bytes or growth.bytes_a,
        path=path,
        example_node_id=example,
    )


def _keep_or_drop_snapshots(
    result: LeakResult, snapshots: list[Path], folder: Path, options: Options, *, failed: bool = False
) -> None:
    failing = failed or result.verdict != "clean"
    keep = options.snapshots == "always" or (options.snapshots == "on-failure" and failing)
    written = [str(path) for path in snapshots if path.exists()]
    if keep and written:
        result.snapshot_paths = written
        result.snapshot_dir = str(folder)
    else:
        result.snapshot_paths = []
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)


def error_kind(exc: JsLeakError) -> str:
    """The `error_kind` of the JSON report: which party is at fault, most specific class first."""
    for kind, cls in (
        ("timeout", ScenarioTimeoutError),
        ("crash", RuntimeCrashError),
        ("runtime-not-found", RuntimeNotFoundError),
        ("target", TargetError),
        ("options", OptionError),
    ):
        if isinstance(exc, cls):
            return kind
    return "internal"


__all__ = ["SNAPSHOT_NAMES", "CheckRequest", "artefact_folder_name", "error_kind", "run_check", "run_plan"]

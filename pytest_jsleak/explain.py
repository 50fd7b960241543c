"""The explanation: a decision and its evidence → what the report shows (suspects, paths, sites, notes).

Every sentence a check adds to its report is written here, from the fields of the decision, the
evidence and the measurement: the verdict decides, this module says why in words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pytest_jsleak import heap
from pytest_jsleak.analysis import held_by_program
from pytest_jsleak.evidence import ClassGrowth, Evidence, GrowthInPlace
from pytest_jsleak.heap.allocations import allocation_sites, display_path
from pytest_jsleak.heap.holders import start_at_module, with_named_holder
from pytest_jsleak.model import AllocationSite, HandleGrowth, HandleSite, InPlaceGrowth, RetainerPath, Suspect
from pytest_jsleak.options import Options
from pytest_jsleak.plan import Measurement
from pytest_jsleak.profiles import RuntimeProfile
from pytest_jsleak.units import format_bytes
from pytest_jsleak.verdict import Decision, is_runtime_internal

#: Suspects (and objects grown in place) that get a retainer path and allocation sites.
TOP_SUSPECTS = 3


@dataclass(frozen=True, slots=True)
class Explanation:
    """What the report shows beside the verdict."""

    suspects: tuple[Suspect, ...]
    grown_in_place: tuple[InPlaceGrowth, ...]
    notes: tuple[str, ...]
    reason: str | None = None
    """Why the verdict is `inconclusive`."""
    advice: str | None = None
    """What to change to settle it."""
    handles: tuple[HandleGrowth, ...] = ()
    """Active resources that piled up, each with where they were created."""


def explain(
    decision: Decision | None,
    evidence: Evidence | None,
    m: Measurement,
    *,
    profile: RuntimeProfile,
    options: Options,
    root: Path | None = None,
) -> Explanation:
    """Suspects with their paths and allocation sites, objects grown in place, and the notes."""
    notes: list[str] = []
    suspects: list[Suspect] = []
    grown: list[InPlaceGrowth] = []
    leak = decision is not None and decision.verdict == "leak"
    if evidence is not None and evidence.method == "counts" and "counts" in profile.notes:
        notes.append(profile.notes["counts"])
    if evidence is not None and evidence.regrown:
        notes.append(
            f"{', '.join(evidence.regrown)} grew by jumps (storage that doubles): seen over "
            f"{evidence.calls} calls, one more round than usual"
        )
    if evidence is not None and evidence.unheld:
        notes.append(
            f"{_names(evidence.unheld)} grew in place, but only the runtime's own roots hold it (no variable or "
            "property of the program is on its path): set aside, not a leak"
        )
    if evidence is not None and evidence.slowed:
        notes.append(
            f"{_names(evidence.slowed)} grew in place in rounds A and B, then fell behind over a longer round of "
            f"{m.extra_calls} calls (a warm-up settling, not a leak): set aside"
        )
    if decision is not None and evidence is not None:
        notes += _decision_notes(decision, profile, options)
        if not decision.internal_only:
            # The runtime's own classes stand beside a leak in the decision, but explain nothing.
            shown = [g for g in decision.leaking if not is_runtime_internal(g.class_name)]
            suspects = [
                _suspect(evidence, growth, m.round_calls, top=rank < TOP_SUSPECTS, root=root)
                for rank, growth in enumerate(shown)
            ]
            # Objects found by their entries are S3's; the others the last snapshot's (S4 after an extra round).
            grown = [_grown(evidence.final if g.entries else evidence.grown_graph, g, root)
                     for g in decision.grown[:TOP_SUSPECTS]]
            unreachable = [s.class_name for s in suspects[:TOP_SUSPECTS] if s.path is None]
            unreachable += [g.class_name for g in grown if g.path is None and g.entries]
            if unreachable:
                if "no-path" in profile.notes:
                    notes.append(f"no path could be tied to the growth of {', '.join(unreachable)}: "
                                 + profile.notes["no-path"])
                else:
                    notes.append(
                        f"no retainer path from the GC roots to {', '.join(unreachable)}: they are held only by "
                        "edges a retainer path does not follow (weak or internal)"
                    )
    if m.tracked and leak:
        # The tracker (an inspector session, recompiled code) raises every later sample.
        notes.append(
            "allocation tracking was on in round A (for the allocation sites): its own memory "
            f"raises the samples from iteration {m.confirm_from} on"
        )
    if m.cut_short == "allocation tracking" and leak:
        notes.append(
            f"no allocation sites: with allocation tracking on, the calls were too slow for timeout="
            f"{options.timeout:g} s, and the verdict came first (raise `timeout` to see them)"
        )
    if m.cut_short == "teardown":
        notes.append("the target's `teardown` did not run: the timeout passed while the snapshots were analysed")
    if m.trend is not None and m.trend.plateaued and not leak:
        # Only beside a clean verdict: a leak found by the rounds after it would contradict it.
        notes.insert(0, f"memory grew by {format_bytes(m.trend.early_growth)} early in the sampling round, "
                        "then stayed flat: not a leak (a cache filling up, lazy set-up)")
    reason, advice = _unsettled(decision, m, options)
    handles = tuple(_with_sites(growth, m.handle_sites, root) for growth in decision.handles) if decision else ()
    unsited = tuple(growth.kind for growth in handles if not growth.sites)
    if unsited:
        why = ("none was made in round A and still active after round B" if m.handles_tracked else
               "this target's creation stacks are not recorded (a server over the inspector, or a runtime "
               "without async_hooks)")
        notes.append(f"no creation sites for {_names(unsited)}: {why}")
    return Explanation(tuple(suspects), tuple(grown), tuple(notes), reason, advice, handles)


def _with_sites(growth: HandleGrowth, sites: list[HandleSite], root: Path | None) -> HandleGrowth:
    """The creation sites of one kind, most resources first, files relative to the rootdir."""
    mine = sorted((site for site in sites if site.kind == growth.kind), key=lambda site: -site.count)
    shown = tuple(
        replace(site, frames=tuple(replace(frame, file=display_path(frame.file, root)) for frame in site.frames))
        for site in mine[:TOP_SUSPECTS]
    )
    return replace(growth, sites=shown)


def _names(classes: tuple[str, ...]) -> str:
    unique = list(dict.fromkeys(classes))
    return ", ".join(unique[:4]) + (f" and {len(unique) - 4} more" if len(unique) > 4 else "")


def _unsettled(decision: Decision | None, m: Measurement, options: Options) -> tuple[str | None, str | None]:
    """The reason and the advice of an `inconclusive` verdict (None, None otherwise)."""
    timeout = f"raise `timeout` (it is {options.timeout:g} s) or lower `iterations` ({options.iterations})"
    if m.cut_short == "confirming rounds":
        rate = format_bytes(max(0.0, m.trend.growth_per_iteration)) if m.trend is not None else "memory"
        return (
            f"memory rose by {rate} per iteration in the sampling round, and the timeout left no time for the "
            "snapshots that tell a leak from a warm-up",
            timeout,
        )
    if decision is None or decision.verdict != "inconclusive":
        return None, None
    if decision.unsettled == "unexplained-rise":
        return (
            f"memory rose by {format_bytes(decision.measured_per_iteration)} per iteration over rounds A and B "
            f"and kept rising over a longer round of {m.extra_calls} calls, but no object in the snapshots "
            "accounts for it",
            f"if the runtime is still warming up, raise `warmup` (it is {options.warmup}; try "
            f"{max(4 * options.warmup, m.warmup_calls + m.calls)}); memory outside the program's objects "
            "(a native addon, the runtime's own caches) is not in the snapshots: keep them with "
            "snapshots='always' and compare them with `jsleak diff`",
        )
    if decision.unsettled == "counts-unconfirmed":
        fewest = min(min(g.round_a, g.round_b) for g in decision.leaking) / max(1, m.round_calls)
        return (
            f"{_names(tuple(g.class_name for g in decision.leaking))} gained {fewest:.3g} or more objects per "
            "iteration in rounds A and B while memory did not rise, and the timeout left no time for the longer "
            "round that tells whether they keep their pace",
            timeout,
        )
    if decision.unsettled == "in-place-unconfirmed":
        names = _names(tuple(g.class_name for g in decision.grown))
        return (
            f"{names} grew in place in rounds A and B, and the timeout left no time for the longer round that "
            "tells a leak from a warm-up",
            timeout,
        )
    return (
        f"memory rose by {format_bytes(decision.measured_per_iteration)} per iteration with no object in the "
        "snapshots to show for it, and the timeout left no time for the longer round that tells whether it slows",
        timeout,
    )


def _decision_notes(decision: Decision, profile: RuntimeProfile, options: Options) -> list[str]:
    notes: list[str] = []
    if decision.slowed_rise:
        notes.append(
            f"memory rose by {format_bytes(decision.measured_per_iteration)} per iteration in rounds A and B with "
            "no object in the snapshots to show for it, and slowed over a longer round: the runtime settling, "
            "not a leak"
        )
    if decision.engine_rise:
        notes.append(
            f"memory rose by {format_bytes(decision.measured_per_iteration)} per iteration with no object of the "
            f"program to show for it: the snapshots put it in the engine's own storage (compiled code, object "
            f"shapes and the engines' own natives grew by {format_bytes(decision.engine_rise)} over the last "
            "round): the JIT still compiling, not a leak"
        )
    if decision.counts_without_rise:
        notes.append(
            f"{_names(tuple(g.class_name for g in decision.leaking))} gained an object per iteration or more in "
            "every round, the longer one too, while memory did not rise over them: memory was freed elsewhere "
            "meanwhile (the program's own, or compiled code, which JSC frees in bursts); sized by those objects' "
            "own bytes and the slots of the lists that hold them, a lower bound"
        )
    if decision.counts_gated and decision.verdict != "leak":
        notes.append("per-class counts grew, but memory did not rise over the confirming rounds: not a leak")
    if decision.unexplained:
        notes.append(
            f"memory rose by {format_bytes(decision.measured_per_iteration)} per iteration in every confirming "
            "round while the runtime's own classes stayed put, and no object in the snapshots accounts for it"
            + (f": {profile.notes['unexplained']}" if "unexplained" in profile.notes else "")
        )
    if decision.tolerated:
        notes.append(f"ignored by the `ignore` option: {', '.join(g.class_name for g in decision.tolerated)}")
    if decision.internal_only:
        names = ", ".join(g.class_name for g in decision.leaking)
        notes.append(f"only the runtime's own {names} grew (compiled code, shapes: a JIT settling): not a leak")
    if decision.verdict == "clean" and (decision.grown or (decision.leaking and not decision.internal_only)):
        notes.append(
            f"{format_bytes(decision.growth_per_iteration)} per iteration kept, within "
            f"max_growth_per_iteration={format_bytes(options.max_growth_per_iteration)}"
        )
    # Said when it is a sizeable share of the headline (a quarter, as for memory outside the JS heap).
    if decision.verdict == "leak" and decision.natives_per_iteration >= 0.25 * decision.growth_per_iteration > 0:
        notes.append(
            f"{format_bytes(decision.natives_per_iteration)} per iteration of it are the engine's own objects "
            "(Blink's: layout, text shaping, canvas state) that grew at the calls' pace with the leaked ones"
        )
    external = decision.external_per_iteration
    if decision.verdict == "leak" and external > max(64.0, 0.25 * decision.growth_per_iteration):
        where = "(ArrayBuffer/Buffer backing stores, WebAssembly.Memory, external strings)"
        if external <= decision.growth_per_iteration:
            notes.append(f"{format_bytes(external)} per iteration of it is outside the JS heap {where}")
        else:
            # "Of it" cannot exceed the headline: the rest is dead copies' backing stores, which V8
            # frees after the GC that finds them dead, so they still count in that GC's reading.
            notes.append(
                f"memory outside the JS heap {where} rose by {format_bytes(external)} per iteration, more than "
                "the leak: dead backing stores are freed lazily, after the GC that found them"
            )
    return notes


def holder_path(graph: heap.HeapGraph, path: RetainerPath, root: Path | None) -> RetainerPath:
    """A retainer path as the report shows it: through the variable that holds it, from its module."""
    return start_at_module(graph, with_named_holder(graph, path), str(root) if root else None)


def _grown(graph: heap.HeapGraph, growth: GrowthInPlace, root: Path | None) -> InPlaceGrowth:
    path = heap.retainer_path(graph, growth.node)
    return InPlaceGrowth(
        class_name=growth.class_name,
        node_id=growth.node_id,
        sizes=growth.sizes,
        per_iteration=growth.per_iteration,
        path=holder_path(graph, path, root) if path is not None else None,
        entries=growth.entries,
    )


def _suspect(evidence: Evidence, growth: ClassGrowth, iterations: int, *, top: bool, root: Path | None) -> Suspect:
    path = None
    example = None
    if top and growth.examples:
        path, example = heap.representative_path(evidence.final, growth.examples, prefer=held_by_program)
        if path is not None:
            path = holder_path(evidence.final, path, root)
    return Suspect(
        class_name=growth.class_name,
        new_alive=growth.round_a,
        per_iteration=growth.round_a / max(1, iterations),
        self_bytes=growth.bytes_a,
        retained_bytes=growth.retained_bytes or growth.bytes_a,
        path=path,
        example_node_id=example,
        allocation_sites=_sites(evidence, growth.class_name, root) if top else (),
    )


def _sites(evidence: Evidence, class_name: str, root: Path | None) -> tuple[AllocationSite, ...]:
    """Where round A's surviving objects of a class were allocated (empty without tracking)."""
    if evidence.traces is None or class_name not in evidence.survivors:
        return ()
    ids, sizes = evidence.survivors[class_name]
    return tuple(allocation_sites(evidence.traces, ids, sizes, root=root))


__all__ = ["TOP_SUSPECTS", "Explanation", "explain", "holder_path"]

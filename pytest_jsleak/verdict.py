"""The verdict: heap samples and per-class survivor counts → clean or leak, and growth per iteration.

Two rounds of `iterations` calls each are compared (A: S1→S2, B: S2→S3). A class leaks when
objects of it allocated in round A are still alive after round B *and* round B added about as many
again: growth that keeps pace with the calls. One-off survivors (lazy initialisation, an interned
string, the last result kept in a variable) appear in one round only; a bounded cache or a ring
buffer evicts round A's objects during round B. Both are clean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace

from pytest_jsleak.evidence import ClassGrowth, Decision, Evidence, GrowthInPlace
from pytest_jsleak.handles import leaking_handles
from pytest_jsleak.options import Options
from pytest_jsleak.profiles import NODE, RuntimeProfile
from pytest_jsleak.trend import (
    FLAT_TOLERANCE_BYTES,
    Rounds,
    SampleTrend,
    confirming_slope,
    sample_trend,
    second_sampling_trend,
)

# A class needs at least this many survivors per round: one or two objects are what a runtime
# or a one-time cache leaves behind (interned strings, a feedback cell, the last result).
MIN_SURVIVORS_PER_ROUND = 2
# Round B must add at least this share of round A's survivors (and vice versa): a leak keeps pace
# with the calls, a filling cache does not.
MIN_ROUND_RATIO = 0.5


# Classes of the language, the runtimes and Node's internals. A leak report leads with the user's own
# classes (a `Poller` kept by a `Timeout`), which say more than the containers that hold them.
BUILTIN_CLASSES = frozenset(
    """Object Array Map Set WeakMap WeakSet WeakRef FinalizationRegistry Promise Function Error TypeError
    RangeError RegExp Date ArrayBuffer SharedArrayBuffer DataView Uint8Array Int8Array Uint16Array Int16Array
    Uint32Array Int32Array Float32Array Float64Array BigInt64Array BigUint64Array Uint8ClampedArray Buffer
    Symbol Number String Boolean BigInt Proxy Generator AsyncGenerator Arguments Iterator Timeout Immediate
    Timer TimersList EventEmitter EventTarget Event AbortSignal AbortController Listener PromiseReaction
    Module Script Context Window GlobalObject JSGlobalObject JSGlobalProxy""".split()
)


def is_user_class(name: str) -> bool:
    """A constructor name the target's code probably defined: `RequestRecord`, not `Array` or `(string)`."""
    return name[:1].isalpha() and name.isidentifier() and name not in BUILTIN_CLASSES


# Classes of the runtime's own machinery: compiled code, shapes (V8 maps, JSC structures), system
# cells. A JIT that tiers hot functions up and a cache of compiled `new Function` code add a few of
# them per round for thousands of calls; they may stand beside a leak, never decide one alone.
RUNTIME_INTERNAL_CLASSES = frozenset({"(compiled code)", "(object shape)", "(system)", "(code)", "(hidden)"})
# A rise of both confirming rounds above this, though below the profile's unexplained-growth floor,
# is a creep that a longer round lifts above the heap's jitter (a list growing one slot per call).
CREEP_ROUND_BYTES = 1024
# By counts, a program class that gained at least this many objects per call in both rounds is no
# handful a conservative stack scan kept (the scan keeps what a few stack words point at, whatever the
# number of calls): the counts gate does not set it aside, though memory did not rise.
SCAN_BOUND_PER_CALL = 1.0
# After the extra round, rounds A and B together must have kept at least this share of its rate:
# a leak keeps its pace, a warm-up slows down.
KEPT_PACE_SHARE = 0.25
# The engine's own storage in a V8 snapshot: compiled code with its bytecode and feedback vectors
# (`code`), the hidden classes with their descriptors (`object shape`), the synthetic roots, and the
# engines' own C++ objects (`native internals`: Blink's layout, style and text-shaping caches, V8's
# objects outside the JS heap). The JIT and the renderer fill them as they warm up; the program holds
# none of them itself (a function it keeps is a `closure` with its context, an object an `object`,
# their properties an `array` or `hidden` property array, a DOM node a `native` named by its interface).
ENGINE_STORAGE_TYPES = frozenset({"code", "object shape", "synthetic", "native internals"})
# A rise is the engine's when its storage holds at least this share of what the snapshots grew by over
# the last round (what is left, a few strings and a property array, weighs less than any kept object
# would)...
ENGINE_RISE_SHARE = 0.75
# ... and covers at least this share of the samples' rise over the same rounds (the rest of a rise the
# snapshots do not show at all stays unexplained).
ENGINE_COVER_SHARE = 0.5
# A leak's external share is worth a note when it is at least this many bytes per call, and this
# share of the growth.
EXTERNAL_NOTE_BYTES = 64.0
EXTERNAL_NOTE_SHARE = 0.25


def is_runtime_internal(name: str) -> bool:
    """A class of the runtime's own (compiled code, shapes, system cells), not of the program."""
    return name in RUNTIME_INTERNAL_CLASSES


def is_leaking_class(growth: ClassGrowth, *, iterations: int = 0, profile: RuntimeProfile = NODE) -> bool:
    """Whether a class kept pace with the calls in both rounds.

    At least two survivors per round, the rounds within a factor of two; by counts (Bun), also a
    rate of at least `profile.min_count_rate` objects per call.
    """
    a, b = growth.round_a, growth.round_b
    floor = MIN_SURVIVORS_PER_ROUND
    if profile.min_count_rate:
        floor = max(floor, math.ceil(profile.min_count_rate * iterations))
    if a < floor or b < floor:
        return False
    return min(a, b) >= MIN_ROUND_RATIO * max(a, b)


def decide(
    classes: Iterable[ClassGrowth],
    *,
    iterations: int,
    max_growth_per_iteration: int,
    ignore: Iterable[str] = (),
    grown: Iterable[GrowthInPlace] = (),
    measured_per_iteration: float | None = None,
    held_per_iteration: float = 0.0,
    natives_per_iteration: float = 0.0,
    entries: Iterable[GrowthInPlace] = (),
    profile: RuntimeProfile = NODE,
) -> Decision:
    """Leak when something kept pace with the calls and all the memory kept per call exceeds the limit.

    The evidence is a class whose survivors kept pace (`is_leaking_class`; runtime-internal classes
    only beside another) or an object that grew in place. The amount is the larger of what the
    snapshots tie to objects and `measured_per_iteration`, the slope of heap + external memory over
    the confirming rounds (which also sees memory the snapshots do not show, and is the only honest
    size when survivors are counted by class rather than tracked by id).

    `entries`: long-lived objects whose entries grew at the calls' pace where the snapshots do not size
    storage (`heap.entries`): evidence when no class kept pace (then the survivors are what the list
    holds), and what they cost at least, where the slope alone sizes the leak and may fall between
    the storage's steps.
    """
    ignored = set(ignore)
    leaking: list[ClassGrowth] = []
    tolerated: list[ClassGrowth] = []
    for growth in classes:
        if not is_leaking_class(growth, iterations=iterations, profile=profile):
            continue
        (tolerated if growth.class_name in ignored else leaking).append(growth)
    kept = [g for g in grown if g.class_name not in ignored]
    # Objects of a class that kept pace (ignored or not) are what such a list holds: they tell it.
    if all(is_runtime_internal(g.class_name) for g in (*leaking, *tolerated)):
        kept += [g for g in entries if g.class_name not in ignored]
    leaking.sort(key=lambda g: (is_user_class(g.class_name), g.retained_bytes or g.bytes_a, g.round_a), reverse=True)
    internal_only = bool(leaking) and all(is_runtime_internal(g.class_name) for g in leaking) and not kept
    calls = max(1, iterations)
    # What the survivors cost: what their long-lived holders grew by per call (the survivors with all
    # they retain, and the slots and tables that keep them at their amortised rate: 0.83-1.30x of a
    # plain loop's slope on the corpus's leaks), else their own bytes.
    own = sum(g.bytes_a for g in leaking) / calls
    survivors = (held_per_iteration or own) if leaking else 0.0
    # The engine's own objects that came with them at the calls' pace (Blink's, for a page's leaked
    # DOM and canvases) are part of what they cost; without program survivors they are no evidence.
    natives = natives_per_iteration if leaking and not internal_only else 0.0
    survivors += natives
    in_place = sum(g.per_iteration for g in kept)
    attributed = survivors + in_place
    # By ids the snapshots size what survived: the headline is what that evidence accounts for (the
    # slope is shown beside it, never in its place: it also carries the runtime's own growth). By
    # counts (Bun) the per-class sizes miss strings, closures and storage: only the slope sizes it.
    measured = measured_per_iteration or 0.0
    by_slope = profile.sized_by_samples and measured_per_iteration is not None
    listed = sum(g.per_iteration for g in kept if g.entries)
    per_iteration = max(measured, listed) if by_slope else attributed
    evidence = (bool(leaking) and not internal_only) or bool(kept)
    verdict = "leak" if evidence and per_iteration > max_growth_per_iteration else "clean"
    return Decision(
        verdict, per_iteration if evidence else 0.0, tuple(leaking), tuple(tolerated), tuple(kept), internal_only,
        attributed, natives_per_iteration=natives,
    )


def internal_quiet(evidence: Evidence, rounds: Rounds, profile: RuntimeProfile) -> bool:
    """Whether growth no snapshot object shows may count: only where the snapshots leave storage out,
    and only while the runtime's own classes (its JIT, its cache of compiled code), which would
    explain such growth too, grew by no more than a handful per round."""
    return not profile.snapshots_show_storage and not any(
        is_runtime_internal(g.class_name) and max(g.round_a, g.round_b) >= profile.min_count_rate * rounds.round_calls
        for g in evidence.classes
    )


def sampling_jump_unrepeated(evidence: Evidence, rounds: Rounds, sampling_jump: int, profile: RuntimeProfile) -> bool:
    """The sampling rounds rose by a jump, rounds A and B by no more than the heap's jitter, and nothing
    grew in place (profiles with a `sampling_jump_bytes`: JSC's Set and Map tables grow by 4x, so after
    a step at ~1,000 calls the next is ~3,000 calls away, and one long round looks for what makes it)."""
    if profile.sampling_jump_bytes is None or profile.unexplained_round_bytes is None:
        return False
    return (
        sampling_jump >= profile.sampling_jump_bytes
        and not evidence.grown
        and all(g <= profile.unexplained_round_bytes for g in rounds.growth()[:2])
    )


def judge(
    evidence: Evidence, rounds: Rounds, *, profile: RuntimeProfile, options: Options, can_extend: bool = True
) -> Decision:
    """The verdict from the snapshots' evidence and the confirming rounds' samples (DESIGN §5, §14).

    A decision that `wants_extra_round` is provisional: the check runs one longer round and judges
    again. `can_extend`: whether there is time for that round; without it, what would have settled the
    evidence is missing and the verdict is `inconclusive`.

    Active resources (timers, sockets, watchers, listeners on `process`) that grew with the calls in
    both rounds are a leak whatever the bytes: each holds a slot of the event loop, a descriptor or
    native memory that its JS object does not show (`handles.leaking_handles`).
    """
    decision = _judge_memory(evidence, rounds, profile=profile, options=options, can_extend=can_extend)
    piled = leaking_handles(rounds.split(), rounds.round_calls, ignore=options.ignore)
    if not piled:
        return decision
    if decision.verdict == "leak" and not decision.wants_extra_round:
        return replace(decision, handles=piled)
    # The resources settle it: no longer round, nothing inconclusive left to say about the bytes.
    return replace(decision, verdict="leak", handles=piled, wants_extra_round=False, unsettled=None)


def _judge_memory(
    evidence: Evidence, rounds: Rounds, *, profile: RuntimeProfile, options: Options, can_extend: bool = True
) -> Decision:
    """The verdict on memory: survivors, growth in place, and growth no object shows."""
    # Allocation tracking's own memory raises round A's samples: with it on, round B alone measures.
    slope_from = rounds.confirm_from + (rounds.round_calls if rounds.tracked else 0)
    measured, external = confirming_slope(rounds.samples, slope_from)
    confirming = [s for s in rounds.samples if s.iteration > rounds.confirm_from]
    trend = sample_trend(confirming, tolerated_per_iteration=options.max_growth_per_iteration)
    classes: Sequence[ClassGrowth] = evidence.classes
    grown: Sequence[GrowthInPlace] = evidence.grown
    counts_gated = False
    if profile.counts_need_rise and not trend.rising and measured <= options.max_growth_per_iteration:
        # Counts alone are noisy where a conservative stack scan keeps a few dead objects alive, now in
        # one class, now in another: a leak also raises the GC'd memory.
        counts_gated = any(is_leaking_class(g, iterations=rounds.round_calls, profile=profile) for g in classes)
        classes, grown = [], []
    decision = decide(
        classes,
        iterations=rounds.round_calls,
        max_growth_per_iteration=options.max_growth_per_iteration,
        ignore=options.ignore,
        grown=grown,
        measured_per_iteration=measured,
        held_per_iteration=evidence.holders_growth / max(1, 2 * rounds.round_calls),
        natives_per_iteration=evidence.natives_growth / max(1, 2 * rounds.round_calls),
        # Not set aside with the counts: a list gaining an entry per call is no dead object a
        # conservative stack scan kept.
        entries=evidence.entries,
        profile=profile,
    )
    decision = replace(decision, measured_per_iteration=measured, external_per_iteration=external,
                       counts_gated=counts_gated)
    if counts_gated and not decision.leaking and all(g.entries for g in decision.grown):
        # Clean, or a leak told by lists alone (the list that holds the objects set aside: the
        # objects tell it better, and size it with the list's slots).
        paced = _counts_without_rise(evidence, rounds, decision, profile=profile, options=options,
                                     can_extend=can_extend)
        if paced is not None:
            return replace(paced, external_per_iteration=external)
    if decision.verdict == "clean" and not decision.leaking and not decision.grown:
        growth = unexplained_growth(evidence, rounds, profile=profile, options=options)
        if growth is not None and growth > options.max_growth_per_iteration:
            found = replace(decision, verdict="leak", growth_per_iteration=max(measured, growth), unexplained=True)
            if evidence.extra_rounds:
                return found
            # The samples alone are the evidence here: rounds of increasing length must keep the same
            # per-call slope (memory freed late, as zlib's, rises for a while and comes back down).
            if can_extend:
                return replace(found, wants_extra_round=True)
            return replace(found, verdict="inconclusive", unsettled="timeout", growth_per_iteration=0.0)
    program_classes = [g for g in decision.leaking if not is_runtime_internal(g.class_name)]
    by_size = [g for g in decision.grown if not g.entries]
    if decision.verdict == "leak" and by_size and not program_classes and not evidence.extra_rounds:
        # Growth in place alone: a leak keeps memory in proportion to the calls, a warm-up (the JIT
        # filling a function's feedback, a framework's scope settling) slows down. One longer round
        # tells them apart; the objects that kept pace over it are the evidence.
        if can_extend:
            return replace(decision, wants_extra_round=True)
        return replace(decision, verdict="inconclusive", unsettled="in-place-unconfirmed")
    if decision.verdict == "clean" and not (decision.leaking or decision.grown or decision.tolerated):
        return _unexplained_rise(decision, evidence, rounds, slope_from, profile=profile, options=options,
                                 can_extend=can_extend)
    return decision


def _counts_without_rise(
    evidence: Evidence, rounds: Rounds, gated: Decision, *, profile: RuntimeProfile, options: Options,
    can_extend: bool,
) -> Decision | None:
    """Program classes that gained `SCAN_BOUND_PER_CALL` objects per call or more in both rounds while
    the GC'd memory did not rise (by counts: JSC frees its compiled code in bursts, and one burst can
    hide two rounds of a compile cache's growth). A longer round must show they keep their pace
    (`KEPT_PACE_SHARE`); then they leak, sized by their own bytes and the slots of the lists that
    gained entries (`gated.grown`), a lower bound. None: `gated` stands (the counts gate's verdict, as
    for a handful of objects a stack scan kept, or a leak the lists alone tell)."""
    measured = gated.measured_per_iteration
    calls = max(1, rounds.round_calls)
    ignored = set(options.ignore)
    paced = [
        g for g in evidence.classes
        if not is_runtime_internal(g.class_name) and g.class_name not in ignored
        and is_leaking_class(g, iterations=calls, profile=profile)
        and min(g.round_a, g.round_b) >= SCAN_BOUND_PER_CALL * calls
    ]
    if not paced:
        return None
    provisional = Decision("clean", 0.0, leaking=tuple(paced), measured_per_iteration=measured)
    if not evidence.extra_rounds:
        if can_extend:
            return replace(provisional, wants_extra_round=True)
        if gated.verdict == "leak":
            return None
        return replace(provisional, verdict="inconclusive", unsettled="counts-unconfirmed")
    extra = max(1, rounds.extra_calls)
    kept = [g for g in paced if evidence.counts_again.get(g.class_name, 0) / extra
            >= KEPT_PACE_SHARE * min(g.round_a, g.round_b) / calls]
    if not kept:
        return None
    kept.sort(key=lambda g: (is_user_class(g.class_name), g.bytes_a + g.bytes_b), reverse=True)
    own = sum(g.bytes_a + g.bytes_b for g in kept) / (2 * calls) + sum(g.per_iteration for g in gated.grown)
    per_iteration = max(measured, own)
    return Decision(
        "leak" if per_iteration > options.max_growth_per_iteration else "clean", per_iteration, leaking=tuple(kept),
        attributed_per_iteration=own, measured_per_iteration=measured, counts_without_rise=True,
    )


def _unexplained_rise(
    decision: Decision, evidence: Evidence, rounds: Rounds, slope_from: int, *, profile: RuntimeProfile,
    options: Options, can_extend: bool,
) -> Decision:
    """Memory that kept rising with nothing in the snapshots to show for it, where the snapshots would
    show the program's storage (V8): not a leak the user can act on, not clean either until a longer
    round shows whether it slows down (a warm-up) or keeps its pace (then `inconclusive`)."""
    if not profile.snapshots_show_storage:
        return decision
    tolerated = options.max_growth_per_iteration
    end_ab = rounds.confirm_from + 2 * rounds.round_calls
    ab = [s for s in rounds.samples if slope_from < s.iteration <= end_ab]
    rise = sample_trend(ab, tolerated_per_iteration=tolerated)
    if not (rise.suspicious and rise.rising):
        return decision
    engine = engine_rise(evidence, rounds)
    if engine:
        # The snapshots hold every reachable object: they show where the rise went, and it is not the
        # program's. No longer round is needed to say so.
        return replace(decision, engine_rise=engine)
    if not evidence.extra_rounds:
        if can_extend:
            return replace(decision, wants_extra_round=True)
        return replace(decision, verdict="inconclusive", unsettled="timeout")
    pace, _ = confirming_slope(ab, slope_from)
    extra = rounds.growth("retained")
    grew = extra[2] if len(extra) == 3 else 0
    rate = grew / max(1, rounds.extra_calls)
    if grew > FLAT_TOLERANCE_BYTES and rate > tolerated and rate >= KEPT_PACE_SHARE * pace:
        return replace(decision, verdict="inconclusive", unsettled="unexplained-rise")
    return replace(decision, slowed_rise=True)


def storage_growth(evidence: Evidence) -> tuple[int, int]:
    """What the snapshots' reachable heap grew by over the last round they cover (S2→S3, or S3→S4
    after an extra round): (the engine's own storage, everything else), bytes."""
    if len(evidence.storage) < 2:
        return 0, 0
    first, last = evidence.storage[-2], evidence.storage[-1]
    engine = program = 0
    for node_type in first.keys() | last.keys():
        grew = last.get(node_type, 0) - first.get(node_type, 0)
        if node_type in ENGINE_STORAGE_TYPES:
            engine += grew
        else:
            program += grew
    return engine, program


def engine_rise(evidence: Evidence, rounds: Rounds) -> int:
    """The bytes the engine's own storage grew by over the last round the snapshots cover (round B, or
    the extra round), when that is where the samples' rise went (see `ENGINE_RISE_SHARE`,
    `ENGINE_COVER_SHARE`); else 0. The last round only: a table that doubled once in round B (64 KB of
    `array` on a Vue page) is not a rise that goes on, and what goes on shows in every round."""
    engine, program = storage_growth(evidence)
    if engine <= FLAT_TOLERANCE_BYTES:
        return 0
    # The samples' rise over the same round: the JS heap only (memory outside it, a backing store that
    # no snapshot sizes, is never the engine's storage).
    heap_rounds, external_rounds = rounds.growth(), rounds.growth("external")
    if len(heap_rounds) != len(evidence.storage) - 1:
        return 0
    heap_rise, external_rise = heap_rounds[-1], external_rounds[-1]
    if external_rise > max(FLAT_TOLERANCE_BYTES, ENGINE_COVER_SHARE * heap_rise):
        return 0
    if max(0, program) > (1 - ENGINE_RISE_SHARE) * (engine + max(0, program)):
        return 0
    if engine < ENGINE_COVER_SHARE * heap_rise:
        return 0
    return engine


def unexplained_growth(
    evidence: Evidence, rounds: Rounds, *, profile: RuntimeProfile, options: Options
) -> float | None:
    """Growth per call of the GC'd memory that no snapshot object shows, where the profile lets it
    count (its snapshots leave storage out) and it rose like a leak: above the heap's jitter in every
    round, steadily; or, after the extra round, above it there with rounds A and B keeping pace.
    None when it does not count."""
    floor_bytes = profile.unexplained_round_bytes
    ext_floor_bytes = profile.unexplained_external_bytes
    if floor_bytes is None or ext_floor_bytes is None or not internal_quiet(evidence, rounds, profile):
        return None
    calls = max(1, rounds.round_calls)
    tolerated = options.max_growth_per_iteration
    heap_rounds = rounds.growth()
    external_rounds = rounds.growth("external")
    if len(heap_rounds) == 3 and rounds.extra_calls:
        extra = rounds.extra_calls
        for part_rounds, floor in ((heap_rounds, floor_bytes), (external_rounds, ext_floor_bytes)):
            if len(part_rounds) < 3 or part_rounds[2] <= max(floor, tolerated * extra):
                continue
            rate_extra = part_rounds[2] / extra
            rate_ab = (part_rounds[0] + part_rounds[1]) / (2 * calls)
            # The same pace over the longer round as over A and B, within a factor of four either way.
            if rate_ab > KEPT_PACE_SHARE * rate_extra and rate_extra >= KEPT_PACE_SHARE * rate_ab:
                return rate_extra
        return None
    floor = max(floor_bytes, tolerated * calls)
    if len(heap_rounds) >= 2 and all(g > floor for g in heap_rounds) and rounds.rise_steadily(profile):
        return min(heap_rounds) / calls
    # Backing stores that no snapshot object shows (a Buffer reallocated larger): well above the creep
    # of the runtime's external account, in every round.
    ext_floor = max(ext_floor_bytes, tolerated * calls)
    if len(external_rounds) >= 2 and all(g > ext_floor for g in external_rounds):
        return min(external_rounds) / calls
    return None


def needs_extra_round(
    decision: Decision, evidence: Evidence, rounds: Rounds, *, sampling_jump: int, profile: RuntimeProfile
) -> bool:
    """Whether one more, longer round would settle it: something grew by a jump in one round only (a
    Set or array whose storage doubles, or a cache that filled once), or the sampling rounds' jump
    was not repeated, or memory no object shows crept or jumped in one round only."""
    if evidence.extra_rounds:
        return False
    if decision.wants_extra_round:
        return True
    if decision.verdict != "clean":
        return False
    if evidence.one_round:
        return True
    if sampling_jump_unrepeated(evidence, rounds, sampling_jump, profile):
        return True
    floor, ext_floor = profile.unexplained_round_bytes, profile.unexplained_external_bytes
    if floor is None or ext_floor is None or not internal_quiet(evidence, rounds, profile):
        return False
    heap_rounds = rounds.growth()
    grew = [g > floor for g in heap_rounds]
    # Or the heap rose in both rounds, by less than its jitter: a longer round shows a few bytes per
    # call (a list that grows by one slot per call) above it.
    creeping = len(heap_rounds) == 2 and all(CREEP_ROUND_BYTES < g <= floor for g in heap_rounds)
    # Or it rose above its jitter in both rounds, but not steadily (it gave back more than a jump's
    # noise: Bun's wandering heap between an array's steps, or memory freed late, as zlib's): whether it
    # keeps its pace over a longer round settles it, where calling it clean here let a leak through.
    unsteady = len(heap_rounds) == 2 and all(grew) and not rounds.rise_steadily(profile)
    # Or a backing store that grows by a factor (a Buffer reallocated 1.5x larger) jumped in one round
    # only: its next step may be just past the other round's end.
    external_grew = [g > ext_floor for g in rounds.growth("external")]
    return sum(grew) == 1 or creeping or unsteady or sum(external_grew) == 1


__all__ = [
    "RUNTIME_INTERNAL_CLASSES",
    "ClassGrowth",
    "Decision",
    "GrowthInPlace",
    "Rounds",
    "SampleTrend",
    "confirming_slope",
    "decide",
    "engine_rise",
    "internal_quiet",
    "is_leaking_class",
    "is_runtime_internal",
    "is_user_class",
    "judge",
    "needs_extra_round",
    "sample_trend",
    "second_sampling_trend",
    "storage_growth",
    "unexplained_growth",
]

"""What the analysis found in the snapshots, and what the verdict made of it: the records two stages pass.

Value types only: the analysis builds `Evidence` (`analysis.py`), the verdict weighs it and returns a
`Decision` (`verdict.py`), the explanation reads both (`explain.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_jsleak.model import HandleGrowth


@dataclass(frozen=True, slots=True)
class ClassGrowth:
    """How one class grew over the two confirming rounds."""

    class_name: str
    round_a: int
    """Objects allocated in round A still alive at the end (by id), or the count growth S1→S2."""
    round_b: int
    """Objects allocated in round B alive at the end, or the count growth S2→S3."""
    bytes_a: int
    """Shallow bytes of `round_a`'s objects (or the size growth S1→S2)."""
    bytes_b: int = 0
    retained_bytes: int = 0
    examples: tuple[int, ...] = ()
    """Node indices in the final snapshot of objects that survived (for retainer paths)."""


@dataclass(frozen=True, slots=True)
class GrowthInPlace:
    """A long-lived object whose retained size grew with the calls (see heap/growth.py)."""

    class_name: str
    per_iteration: float
    """Its growth per measured call."""
    node: int = -1
    """Its node index in the last snapshot (for its retainer path)."""
    node_id: int = 0
    sizes: tuple[int, ...] = ()
    """Its retained size in each snapshot compared (for `entries`, what they cost at least)."""
    entries: tuple[int, ...] = ()
    """Its entry count in S1, S2, S3 when it was found by the entries it gained (profiles whose
    snapshots do not size storage: `heap.entries`), not by its retained size; () otherwise."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """The snapshots' account of the confirming rounds (and of the extra round, when there was one)."""

    method: str
    """How survivors were found: `ids` or `counts` (see `profiles.SurvivorMethod`)."""
    classes: tuple[ClassGrowth, ...]
    """Every class that gained objects, with its survivors per round."""
    grown: tuple[GrowthInPlace, ...]
    """Long-lived objects that grew in place in every round, not explained by survivors."""
    one_round: tuple[Any, ...]
    """Long-lived objects that grew by a jump in one round only (`heap.growth.GrownObject`): what an
    extra round looks at again."""
    calls: int
    """Calls the evidence covers: both confirming rounds, and the extra round."""
    final: Any
    """S3's `HeapGraph`: the survivors' examples are node indices in it."""
    grown_graph: Any
    """The graph `grown`'s node indices refer to (S4 after an extra round, else S3)."""
    traces: Any = None
    """S2's allocation stacks (`heap.allocations.AllocationTraces`) when round A was tracked."""
    survivors: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    """Per class, the ids and shallow sizes of round A's survivors in S3 (for allocation sites)."""
    holders_growth: int = 0
    """Bytes the long-lived holders of the leaking classes' new objects grew by over both rounds (those
    objects, and the slots and tables that keep them): what the leak costs, by ids (0 by counts)."""
    natives_growth: int = 0
    """Bytes the engines' own natives grew by over both rounds, of the names whose count kept the calls'
    pace in each round (Blink's objects that came with a page's leaked ones: a canvas context's font
    caches); counted in the leak's size, never its evidence (see `analysis.natives_kept_pace`)."""
    grown_objects: tuple[Any, ...] = ()
    """`grown` as the heap core found them (`heap.growth.GrownObject`, same order): what an extra round
    measures again."""
    extra_rounds: int = 0
    regrown: tuple[str, ...] = ()
    """Classes of the objects that grew again in the extra round."""
    unheld: tuple[str, ...] = ()
    """Classes of objects that grew in place but that no variable or property of the program holds
    (the engine's own roots and tables: `(GC roots) → (Global handles) → Array`): set aside."""
    slowed: tuple[str, ...] = ()
    """Classes of objects that grew in place in rounds A and B but fell behind over the longer extra
    round (the JIT, a warm-up still settling): set aside."""
    entries: tuple[GrowthInPlace, ...] = ()
    """Long-lived objects whose entries grew at the calls' pace in both rounds, where the snapshots do
    not size storage (Bun: the same handler pushed onto a list once per call adds no object). In S3;
    an extra round leaves them as they are."""
    counts_again: Mapping[str, int] = field(default_factory=dict)
    """By counts (Bun), per class of `classes`, the objects its count gained over the extra round (S3 →
    S4): whether a class that gained objects in rounds A and B while memory stayed flat keeps its pace."""
    storage: tuple[Mapping[str, int], ...] = ()
    """Per snapshot compared (S1, S2, S3, and S4 after an extra round), the bytes of its objects by node
    type (`code`, `object shape`, `object`, `array`, ...): where the reachable heap grew, when no single
    object accounts for it."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What the verdict made of the evidence and the samples (`verdict.judge`): `leak`, `clean` or
    `inconclusive`, the growth per call it compared, and the evidence behind it."""

    verdict: str
    growth_per_iteration: float
    """What was compared with the threshold: all the memory the calls keep, per call."""
    leaking: tuple[ClassGrowth, ...] = ()
    """Leaking classes: the user's own classes first, then by retained bytes."""
    tolerated: tuple[ClassGrowth, ...] = ()
    """Classes that grew with the calls but were dropped by `ignore`."""
    grown: tuple[GrowthInPlace, ...] = ()
    """Long-lived objects that grew in place (not explained by survivors)."""
    internal_only: bool = False
    """Only runtime-internal classes grew: not a leak on their own."""
    attributed_per_iteration: float = 0.0
    """Bytes per call the snapshots tie to objects: survivors and growth in place."""
    measured_per_iteration: float = 0.0
    """Slope of heap + external memory over the confirming rounds (round B alone when A was tracked)."""
    external_per_iteration: float = 0.0
    """The same slope of the memory outside the JS heap alone."""
    counts_gated: bool = False
    """Per-class counts grew, but the GC'd memory did not rise: the counts were set aside."""
    unexplained: bool = False
    """The leak rests on growth of the GC'd memory that no snapshot object shows (profiles whose
    snapshots leave storage out)."""
    counts_without_rise: bool = False
    """By counts: program classes gained an object per call or more in every round, the extra round
    included, while the GC'd memory did not rise (JSC frees compiled code in bursts): a leak sized by
    those objects' own bytes and the slots of the lists that hold them."""
    wants_extra_round: bool = False
    """The evidence would settle over one longer round: growth in place that must show it keeps pace,
    or memory that rose with no object to show for it. Provisional until then."""
    unsettled: str | None = None
    """Why the verdict is `inconclusive`: `unexplained-rise` (memory kept rising over a longer round and
    no object accounts for it), `in-place-unconfirmed` (growth in place that no longer round could
    confirm), `counts-unconfirmed` (classes gained objects at the calls' pace while memory stayed flat,
    and no longer round could confirm it), `timeout` (the check neared its timeout before the evidence
    settled)."""
    slowed_rise: bool = False
    """Memory rose over rounds A and B with no object to show for it, and slowed over the longer round."""
    natives_per_iteration: float = 0.0
    """Of `attributed_per_iteration`: the engines' own natives that grew at the calls' pace beside the
    leaking classes (Blink's objects of a page's leaked DOM and canvases)."""
    engine_rise: int = 0
    """Memory rose with no object of the program to show for it, and the snapshots put the rise in the
    engine's own storage (compiled code, object shapes, the engines' natives): its bytes over the last
    round the snapshots cover (see `engine_rise`)."""
    handles: tuple[HandleGrowth, ...] = ()
    """Kinds of active resources that piled up with the calls in both rounds (a leak on their own)."""


__all__ = ["ClassGrowth", "Decision", "Evidence", "GrowthInPlace"]

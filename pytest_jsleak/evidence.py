"""What the analysis found in the snapshots: the evidence the verdict weighs and the explanation shows.

Value types only (the analysis builds them, `analysis.py`; the verdict reads them, `verdict.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
    storage: tuple[Mapping[str, int], ...] = ()
    """Per snapshot compared (S1, S2, S3, and S4 after an extra round), the bytes of its objects by node
    type (`code`, `object shape`, `object`, `array`, ...): where the reachable heap grew, when no single
    object accounts for it."""


__all__ = ["ClassGrowth", "Evidence", "GrowthInPlace"]

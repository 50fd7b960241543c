"""The runtime as a value: what the plan, the analysis and the verdict know about each runtime.

One frozen `RuntimeProfile` per runtime a check can run on (Node, Deno, Bun; Chromium for pages).
Every fact that differs between them lives here, each with its reason, so the stages ask named
questions (`profile.survivors == "counts"`, `profile.unexplained_round_bytes is not None`) instead of
testing a runtime's name. A new runtime, or a newer Bun that keeps object ids, is a new profile.

Launch flags (`--expose-gc`, Deno's permissions) are not here: they are how a process is started
(`runtime/runtimes.py`), not how it is measured or judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

SurvivorMethod = Literal["ids", "ids+net-counts", "counts"]
"""How the objects that survived a round are found in the snapshots:

- `ids`: V8 keeps an object's id across snapshots while the heap profiler is on: survivors of round A
  are the ids new in S2 still in S3;
- `ids+net-counts`: ids, but round B's count per class is its net count growth S2→S3 (Deno re-ids
  some ten thousand strings and numbers in every snapshot, so by id they would all look new);
- `counts`: no stable ids (Bun/JSC renumbers every object): per-class count growth in each round."""


@dataclass(frozen=True, slots=True)
class RuntimeProfile:
    """Facts about one runtime, read by the plan, the analysis and the verdict. Data, not code."""

    name: str
    """`node`, `deno`, `bun`, `chromium`: names the runtime in reports."""
    survivors: SurvivorMethod
    snapshots_show_storage: bool
    """Whether the snapshots show an array's elements and a Set's or Map's table. Bun's do not: growth
    there shows only in the GC'd memory (the unexplained-growth rule of the verdict)."""
    can_track_allocations: bool
    """Whether the runtime records allocation stacks (V8's heap profiler; Bun's inspector has none)."""
    jumps_inconclusive: bool = False
    """A sampling round whose first half rose in a few jumps is inconclusive, not a cache filling: the
    snapshots cannot size a collection's storage, and storage that grows by a factor rises in jumps."""
    min_round_calls: int = 0
    """Rounds are at least this many calls (within the round cap). Bun: storage that grows by a factor
    stays flat for hundreds of calls, its snapshots cannot size it, and its calls cost microseconds."""
    max_round_calls: int = 0
    """A round may take up to this many calls where they fit in `round_seconds` (0: no such widening)."""
    round_seconds: float = 0.0
    """How long a widened round may take at the warm-up's pace."""
    min_count_rate: float = 0.0
    """By counts, a class must grow by at least this many objects per call in both rounds: a rate, not
    the constant handful per round a JIT's code blocks or a pruned cache leave (Bun 0.05)."""
    counts_need_rise: bool = False
    """Per-class count growth counts only when the GC'd memory rose too: JSC's conservative stack scan
    keeps a few dead objects alive, now in one class, now in another."""
    unexplained_round_bytes: int | None = None
    """Growth per round that no snapshot object shows must exceed this to count (None: never counts).
    Bun's GC'd memory wanders by a few KB, its bookkeeping of external memory too."""
    unexplained_external_bytes: int | None = None
    """The same for external memory: Bun's account of it creeps by tens of KB over thousands of calls."""
    sampling_jump_bytes: int | None = None
    """A jump of the sampling rounds this large, with rounds A and B flat, earns a long extra round
    (JSC's Set and Map tables grow by 4x: after a step at ~1,000 calls the next is ~3,000 away)."""
    rounds_span_calls_so_far: bool = True
    """Rounds that must see storage grown by a factor grow again (the sampling rounds, the confirming
    rounds after a jump, the extra round) take at least as many calls as were made before them, within
    the clock but not the round cap: a hash table that doubled at call 512 doubles again at 1,024 (a
    Set of ids on Deno went clean when its second round stopped at 750). False where an action costs
    milliseconds (pages, servers): their rounds stay within the round cap, so a table that doubles
    outside them can be missed (README, "What it does not see")."""
    round_cap_factor: int = 8
    """A round takes at most this many times `iterations` calls (the profile may allow more by time:
    `max_round_calls`)."""
    kept_jumps_fall_share: float = 0.1
    """Growth by jumps is a steady rise while the heap gives back at most this share of what it rose by."""
    samples_per_round: int = 20
    """Samples per round of `iterations` calls (a sample is a full GC and the reads): twenty steps show a
    leak of one small object per call as a rise at nearly every step."""
    reads_ahead: bool = True
    """S1 and S2 are read on a thread while the next round runs (`analysis.ReadAhead`): where the calls
    run in the runtime's own loop and this process waits for them. False where this process makes each
    call (a page's clicks, a server's requests): the thread would hold the interpreter between calls."""
    gc_flushes_code: bool = False
    """A sample's GC also flushes the bytecode of functions not run since the previous one (a page's
    memory-reducing GC): how many calls apart the samples are sets how much code the heap holds, so the
    warm-up never samples more often than the sampling round."""
    confirm_samples_per_round: int = 0
    """Samples per confirming round (0: `samples_per_round`). There the snapshots are the evidence; the
    samples size the growth and say whether it kept rising, for which a round needs four steps
    (`Rounds.rise_steadily`)."""
    sparse_tracked_samples: bool = False
    """The round with allocation tracking on samples once per quarter (at the end of each of its chunks)
    instead of as often as any round. While tracking, the inspector numbers every live object with a
    full GC every 50 ms of event-loop turns, and a sample's commands wait for it: a server's loop turns
    all the time (every other tracked sample of a `node:http` server took 50-260 ms instead of 5-10,
    2 s of a leaky route's 5.6 s check). The verdict reads a tracked round's samples only where it
    starts and ends. Not for modules: the harness's loop does not turn while it calls, and fewer GCs in
    round A changed what V8's code caches hold in round B (handlebars' fixed twin went inconclusive in
    4 of 16 checks, 0 of 12 with twenty samples)."""
    loud_growth_per_call: int = 0
    """A sampling round that rose (suspicious) by at least this many bytes per call gets confirming rounds
    of `loud_round_share` x `iterations` calls (0: rounds are never shortened for it). Where a call costs
    tens of milliseconds, a loud leak needs fewer of them to show in both rounds."""
    loud_round_share: float = 1.0
    """The share of `iterations` a round takes for a loud leak (see `loud_growth_per_call`)."""
    warmup_samples: int = 25
    """Samples taken over the `warmup` calls: a module harness's own GC-and-sample path settles only after
    some twenty rounds of it, and would otherwise add kilobytes to the measured round."""
    settle_chunk_calls: int = 50
    """Calls per chunk of the warm-up's settle loop, at least: enough for a module's JIT to move the heap
    if it is still compiling (a call costs microseconds)."""
    settle_sample_share: float = 0.0
    """The warm-up's settle loop lengthens its chunks so that its samples take at most this share of its
    time, at the pace the driver timed (0: chunks of `settle_chunk_calls` calls). A module's sample is a GC
    in-process and a module that settles ends its warm-up within a hundred calls; a server's sample
    (settle, GC, reads over the inspector: ~20 ms, ten requests) took three quarters of a warm-up that
    a server's JIT, still compiling after thousands of requests, always runs to its time bound."""
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Option defaults of this driver, just above the built-in ones (a page click costs milliseconds)."""
    notes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Fixed remarks for the report, by occasion (`counts`: why survivors are counted by class)."""

    @property
    def matches_by_id(self) -> bool:
        """Whether a long-lived object is found again in a later snapshot by its id (else by its place)."""
        return self.survivors != "counts"

    @property
    def sized_by_samples(self) -> bool:
        """Whether growth per call is the GC'd memory's slope alone: without ids the per-class sizes miss
        strings, closures and storage, so the snapshots cannot size what survived."""
        return self.survivors == "counts"


NODE = RuntimeProfile("node", survivors="ids", snapshots_show_storage=True, can_track_allocations=True)

DENO = replace(NODE, name="deno", survivors="ids+net-counts")

BUN = RuntimeProfile(
    "bun",
    survivors="counts",
    snapshots_show_storage=False,
    can_track_allocations=False,
    jumps_inconclusive=True,
    min_round_calls=1000,
    max_round_calls=8000,
    round_seconds=1.0,
    min_count_rate=0.05,
    counts_need_rise=True,
    unexplained_round_bytes=8 * 1024,
    unexplained_external_bytes=64 * 1024,
    sampling_jump_bytes=16 * 1024,
    # JSC's tables grow by 4x, so the next step is three times the calls so far away: rounds as long
    # as the calls so far miss it as often as not. Bun's rounds are widened by time instead
    # (`max_round_calls`), and a step of the sampling rounds earns a long extra round.
    rounds_span_calls_so_far=False,
    notes=MappingProxyType({
        "counts": (
            "bun renumbers objects in every snapshot: survivors are judged by per-class counts and "
            "sized by the GC'd heap, and bun's snapshots carry no closure source locations"
        ),
        "no-path": (
            "bun renumbers objects, so a path is shown only for an instance held by what grew with its class "
            "since the previous snapshot (the same holder holding half the class's growth more, or objects of "
            "another growing class holding it one way), and bun's snapshots carry no edges into the storage of "
            "Map and Set, among others"
        ),
        "unexplained": (
            "bun's snapshots leave out array storage and what only it holds, and some hash tables "
            "(strings or numbers pushed into an array, ids added to a Set), so the evidence is the "
            "samples: rounds of increasing length that kept the same per-call pace"
        ),
    }),
)

CHROMIUM = replace(
    NODE,
    name="chromium",
    # One Playwright click costs ~35 ms here: 40 two-click iterations per round are ~3 s of clicks.
    # 8 B per action tolerated: one slot per action of an array indexed by an ever-growing id (Chart.js's
    # `Chart.instances`, a holey array whose capacity grows by half whenever the next id passes it) is
    # 4-6 B with Chromium's compressed pointers; that is 8 KB over 1,000 actions, below anything a page
    # gate should fail, and a plain loop of those actions cannot tell it from flat. A detached element
    # or one small object per action is 20 B and up.
    defaults=MappingProxyType({"iterations": 40, "warmup": 10, "timeout": 120.0, "max_growth_per_iteration": 8}),
    # A page's sample (settle, the memory-reducing GC, reads) costs ~100 ms, three clicks: a sample per
    # warm-up call doubled the warm-up; the rounds that settle a module harness's own sampling path
    # have no counterpart in a page, whose samples run no code of ours in it but the settle step.
    warmup_samples=5,
    # Twelve, not twenty: the memory-reducing GC of a page's sample grows with the heap (~0.1 s on a
    # clean page, 0.5 s on a Chart.js page leaking 200 KB per click); twelve still leave the second
    # half of a round the five steps `trend.sample_trend` needs to call a rise steady.
    samples_per_round=12,
    # A page's warm-up sampled every 2 actions and its sampling round every 3: the round's first sample
    # read 4.1-4.6 KB more than the warm-up's last on the examples' clean modal pages (a sample every 3
    # actions throughout, or every 4 then 3: no step), and sent them to a second sampling round.
    gc_flushes_code=True,
    reads_ahead=False,
    # Six in a confirming round: its samples cost as much as its clicks once a leak has grown the heap
    # (the memory-reducing GC took 0.4 s a sample by the end of Chart.js's leak: 19 of its 46 s).
    confirm_samples_per_round=6,
    # A leak of 1 KB or more per action raises a round of 20 actions by 20 KB or more, four times the
    # sample-to-sample wobble of a clean page (+-5 KB on Chart.js and Vue's KeepAlive), and keeps each
    # object it leaks per action 20 times over (the snapshots' counts are exact): rounds of half
    # `iterations` see it as surely as whole ones, with half the clicks, and smaller snapshots. The
    # corpus's page leaks keep 17-215 KB per action.
    loud_growth_per_call=1024,
    loud_round_share=0.5,
    # Chunks of 50 clicks ran a page's settle loop to its time bound in one chunk, every time (~3.5 s
    # of a check that should take five): chunks are paced by what a click and a sample cost instead.
    settle_chunk_calls=10,
    settle_sample_share=0.25,
    # Hundreds of clicks more per jump would double a page check.
    rounds_span_calls_so_far=False,
    # Nor within the round cap: a clean Vue page whose JIT stepped in both sampling rounds got confirming
    # rounds as long as all its actions so far (114 each, 33 s). Storage that doubles further away than
    # two rounds of `iterations` is seen by a check with more `iterations` (README, "What it does not see").
    round_cap_factor=2,
)

PROFILES: Mapping[str, RuntimeProfile] = MappingProxyType({p.name: p for p in (NODE, DENO, BUN, CHROMIUM)})


#: A server's warm-up spends at most this share of its time on samples (`settle_sample_share`): the
#: rest is requests, which the JIT needs.
SERVICE_SETTLE_SAMPLE_SHARE = 0.25


def service_profile(runtime: str) -> RuntimeProfile:
    """The profile of a server checked over the inspector (`jsleak.service`): the runtime's, with the
    facts of driving it by requests."""
    # A server's warm-up runs thousands of requests (to its time bound): rounds as long again would
    # double a route check.
    return replace(profile_for(runtime), settle_sample_share=SERVICE_SETTLE_SAMPLE_SHARE,
                   rounds_span_calls_so_far=False, sparse_tracked_samples=True, reads_ahead=False)


def profile_for(runtime: str) -> RuntimeProfile:
    """The profile of a runtime by name (`node`, `deno`, `bun`, `chromium`)."""
    try:
        return PROFILES[runtime]
    except KeyError:
        raise ValueError(f"no runtime profile for {runtime!r}; known: {', '.join(PROFILES)}") from None


__all__ = [
    "BUN", "CHROMIUM", "DENO", "NODE", "PROFILES", "SERVICE_SETTLE_SAMPLE_SHARE", "RuntimeProfile", "SurvivorMethod",
    "profile_for", "service_profile",
]

"""Value types shared by the heap core, the verdict and the reports (stdlib only)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Verdict = Literal["clean", "leak", "inconclusive", "error", "known", "fixed"]
"""`known` and `fixed` come from a baseline comparison (DESIGN §15): a leak within its baseline entry's
tolerance, and a baseline entry that ran clean."""
VERDICTS: tuple[str, ...] = ("clean", "leak", "inconclusive", "error", "known", "fixed")


# Class keys of the objects that hold a function's or a module's variables (V8; JSC as Bun exports it).
SCOPE_CLASS_PREFIXES = ("system / Context", "system / JSModuleEnvironment", "system / JSLexicalEnvironment",
                        "system / JSGlobalLexicalEnvironment", "system / JSScope")
# Edge types whose name is a variable's when they leave a scope object.
VARIABLE_EDGE_TYPES = ("context", "property", "variable", "import")
"""`import` is pytest-jsleak's own: a path step read from an ES module's import of a library."""


MODULE_SCOPE = "(module scope)"
"""The name of the path step that stands for a module's top-level scope (`(module scope) src/a.mjs`)."""

HARNESS_PREFIX = "__jsleak"
"""Every module-level variable of runtime/harness.mjs starts with this (`__jsleakExports`, its table of
the target's exports): the heap core leaves the harness's objects out by it, the reports its path steps."""


STRING_NODE_TYPES = ("string", "concatenated string", "sliced string")
"""V8 node types whose name is a string's text (V8 names every cons and sliced string by its kind,
Bun's writer by its text)."""
FIXED_STRING_NAMES = ("(concatenated string)", "(sliced string)")
"""The names V8 gives every cons and sliced string: a kind, not contents."""
_REDACTED_RE = re.compile(r"<redacted: (\d+) chars?>")


def redacted_string(length: int) -> str:
    """What a redacted string's text becomes, in kept snapshots and in reports: `<redacted: 32 chars>`."""
    return f"<redacted: {length} char{'' if length == 1 else 's'}>"


def redacted_length(text: str) -> int | None:
    """The length a redaction placeholder stands for, or None when `text` is not one."""
    match = _REDACTED_RE.fullmatch(text)
    return int(match.group(1)) if match else None


def js_length(text: str) -> int:
    """The string's `.length` in JavaScript: UTF-16 code units (an emoji counts 2)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def is_string_value(node_type: str, node_name: str) -> bool:
    """Whether a node's name is the text of a string value (not V8's fixed cons/sliced names, not a placeholder)."""
    return (node_type in STRING_NODE_TYPES and bool(node_name) and node_name not in FIXED_STRING_NAMES
            and redacted_length(node_name) is None)


def is_scope_class(class_name: str) -> bool:
    """Whether objects of this class key hold variables of a scope (a closure's context, a module)."""
    return class_name.startswith(SCOPE_CLASS_PREFIXES)


@dataclass(frozen=True, slots=True)
class PathStep:
    """One node on a retainer path, with the edge that leads *into* it."""

    edge_type: str | None
    """V8 edge type of the edge from the previous step (`property`, `element`, `context`, ...); None for the root."""
    edge_name: str | None
    """The edge's name: a property or variable name, or an element index as text; None for the root."""
    node_type: str
    """V8 node type (`object`, `closure`, `array`, `synthetic`, ...)."""
    node_name: str
    """The node's name string: constructor or function name, or the string's text."""
    class_name: str
    """The class key DevTools groups the node under (`RequestRecord`, `(string)`, `(closure)` ...)."""
    node_id: int
    """The snapshot's id of the node (`@id` in DevTools)."""
    self_size: int
    location: str | None = None
    """`file:line:column` (1-based) of a closure's source, when the snapshot carries it."""


@dataclass(frozen=True, slots=True)
class RetainerPath:
    """The shortest path from the GC roots to a retained object, root first."""

    steps: tuple[PathStep, ...]

    def to_dict(self) -> list[dict[str, Any]]:
        return [asdict(step) for step in self.steps]


def redact_path(path: RetainerPath | None) -> RetainerPath | None:
    """The path with every string's text replaced by `redacted_string(length)`; names, edges, ids stay.

    What the reports show when the `redact` option is on (DESIGN §16): a step that is a string reads
    `"…" (string, 32 chars)` instead of its contents.
    """
    if path is None:
        return None
    steps = tuple(
        replace(step, node_name=redacted_string(js_length(step.node_name)))
        if is_string_value(step.node_type, step.node_name) else step
        for step in path.steps
    )
    return RetainerPath(steps)


@dataclass(frozen=True, slots=True)
class MemorySample:
    """Memory of the driven process after a forced full GC, taken after `iteration` calls."""

    iteration: int
    """The measured iteration after which it was taken (0 = right after warm-up)."""
    heap: int
    """JS heap used, bytes (backing stores excluded on every runtime)."""
    external: int = 0
    """Memory outside the JS heap that JS objects hold: ArrayBuffer/Buffer backing stores, external
    strings, WebAssembly.Memory (0 where the runtime cannot say)."""
    rss: int = 0
    """Resident set size of the process, bytes (0 when unknown)."""
    code: int = 0
    """The JIT's machine code in the heap, with its metadata (V8's `code_and_metadata_size`), bytes;
    0 where the driver cannot read it. Part of `heap`."""
    handles: Mapping[str, int] = field(default_factory=dict)
    """Active async resources by kind (`Timeout`, `TCPSocketWrap`, `FSEventWrap`, `process
    listeners`, …) at the sample; empty where the driver cannot count them (Bun, servers, pages)."""

    @property
    def retained(self) -> int:
        """What the verdict judges: the JS heap and the memory its objects hold outside it."""
        return self.heap + self.external

    @property
    def held(self) -> int:
        """What the sampling rounds judge: `retained` less the JIT's machine code. A server's JIT goes
        on compiling for thousands of requests (fastify: +75 KB of code from request 500 to 2,000,
        two thirds of its heap's rise), and no object of the program ever holds machine code."""
        return self.retained - self.code

    def to_dict(self) -> dict[str, Any]:
        return {"iteration": self.iteration, "heap": self.heap, "external": self.external, "rss": self.rss,
                "code": self.code, "handles": dict(self.handles)}


@dataclass(frozen=True, slots=True)
class StackFrame:
    """One function of an allocation stack."""

    function: str
    file: str
    """The script, relative to the rootdir when under it (`src/audit.mjs`, `node:events`); `""` for builtins."""
    line: int
    """1-based line of the function's start (V8 records functions, not statements); 0 when unknown."""
    column: int
    kind: str = "user"
    """`user` (your code), `library` (under node_modules), `runtime` (node: internals, builtins)."""
    package: str | None = None
    """The npm package of a `library` frame (`axios`, `@scope/name`)."""

    def location(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AllocationSite:
    """A stack that allocated surviving objects of one class: frames innermost first."""

    frames: tuple[StackFrame, ...]
    count: int
    """Surviving objects of the class allocated there."""
    bytes: int
    """Their shallow size."""

    def to_dict(self) -> dict[str, Any]:
        return {"frames": [frame.to_dict() for frame in self.frames], "count": self.count, "bytes": self.bytes}


@dataclass(frozen=True, slots=True)
class HandleSite:
    """A stack that created active resources of one kind still active at the end: frames innermost
    first, from the runtime's own (`setInterval (node:timers)`) to the call the harness made."""

    kind: str
    frames: tuple[StackFrame, ...]
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "frames": [frame.to_dict() for frame in self.frames], "count": self.count}


@dataclass(frozen=True, slots=True)
class HandleGrowth:
    """One kind of active resource (timers, sockets, watchers, listeners on `process`) that grew with
    the calls in every confirming round."""

    kind: str
    per_iteration: float
    """Resources gained per call over the confirming rounds."""
    rounds: tuple[int, ...]
    """Resources gained in each confirming round (A, B)."""
    active: int
    """Active at the last sample of round B."""
    sites: tuple[HandleSite, ...] = ()
    """Where the ones born in round A and still active after round B were created, most first."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "per_iteration": self.per_iteration, "rounds": list(self.rounds),
                "active": self.active, "sites": [site.to_dict() for site in self.sites]}


@dataclass(frozen=True, slots=True)
class Suspect:
    """One class of objects that survived the measured iterations."""

    class_name: str
    new_alive: int
    """Objects of this class allocated during the measured iterations and still alive at the end."""
    per_iteration: float
    """`new_alive` divided by the iterations that allocated them."""
    self_bytes: int
    """Shallow size of the new, still alive objects."""
    retained_bytes: int
    """Retained size (dominator tree) of the new, still alive objects, counted once."""
    path: RetainerPath | None = None
    example_node_id: int | None = None
    allocation_sites: tuple[AllocationSite, ...] = ()
    """The top stacks that allocated the new, still alive objects (Node, with allocation_sites on)."""

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["path"] = self.path.to_dict() if self.path else None
        data["allocation_sites"] = [site.to_dict() for site in self.allocation_sites]
        return data


@dataclass(frozen=True, slots=True)
class InPlaceGrowth:
    """A long-lived object (alive in all three snapshots) whose retained size grew in both rounds."""

    class_name: str
    node_id: int
    """Its id in the last snapshot (`@id` in DevTools)."""
    sizes: tuple[int, ...]
    """Its retained size in S1, S2, S3 (and S4 when an extra round was needed), bytes."""
    per_iteration: float
    """Its growth per measured call from the first snapshot to the last."""
    path: RetainerPath | None = None
    entries: tuple[int, ...] = ()
    """Its entry count in S1, S2, S3 when it was found by the entries it gained (Bun's snapshots do not
    size storage; `sizes` are then what the entries cost at least); () otherwise."""

    def to_dict(self) -> dict[str, Any]:
        found = {
            "class_name": self.class_name,
            "node_id": self.node_id,
            "sizes": list(self.sizes),
            "per_iteration": self.per_iteration,
            "path": self.path.to_dict() if self.path else None,
        }
        return {**found, "entries": list(self.entries)} if self.entries else found


@dataclass(slots=True)
class LeakResult:
    """The outcome of checking one scenario: what the report and the JSON document are made of."""

    target: str
    scenario: str
    runtime: str
    verdict: Verdict
    runtime_version: str = ""
    runtime_executable: str = ""
    """The runtime's executable (from PATH or the `runtime_path` option)."""
    iterations: int = 0
    """Calls per measured round, as configured."""
    round_iterations: int = 0
    """Calls per confirming round: `iterations`, or more when memory grew by jumps (0: no snapshots)."""
    warmup: int = 0
    """The `warmup` option: calls before measuring at least."""
    warmup_calls: int = 0
    """Calls made before measuring: `warmup`, and more while memory was still settling."""
    growth_per_iteration: float = 0.0
    """Retained bytes per measured iteration (0 when clean)."""
    total_growth: int = 0
    max_growth_per_iteration: int = 0
    samples: list[MemorySample] = field(default_factory=list)
    """Memory after a forced full GC, one per sample point (the first right after warm-up)."""
    suspects: list[Suspect] = field(default_factory=list)
    grown_in_place: list[InPlaceGrowth] = field(default_factory=list)
    """Long-lived objects that grew without new survivors (an array's storage, a Set's table)."""
    handles: list[HandleGrowth] = field(default_factory=list)
    """Kinds of active resources (timers, sockets, watchers, listeners on `process`) that piled up."""
    measured_growth_per_iteration: float = 0.0
    """Slope of heap + external memory over the confirming rounds, bytes per call."""
    attributed_growth_per_iteration: float = 0.0
    """Bytes per call the snapshots tie to objects: the survivors of leaking classes and what grew in place."""
    external_growth_per_iteration: float = 0.0
    """Slope of the memory outside the JS heap alone over the confirming rounds, bytes per call."""
    snapshot_paths: list[str] = field(default_factory=list)
    snapshot_dir: str | None = None
    method: str = ""
    """How survivors were found: `ids` (3-snapshot ids), `counts` (per-class counts), `samples` (no snapshots)."""
    notes: list[str] = field(default_factory=list)
    """One-line remarks for the report (what a runtime cannot give, why snapshots were skipped ...)."""
    error: str | None = None
    error_kind: str | None = None
    duration: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    """One line, for `inconclusive`: why the evidence did not settle (e.g. memory rose in the sampling
    rounds but no object in the snapshots accounts for it)."""
    advice: str | None = None
    """One line, for `inconclusive`: what to change (e.g. raise warmup to 500 or iterations to 1000)."""
    baseline: dict[str, Any] | None = None
    """The comparison with the baseline (DESIGN §15), when one is in use and concerns this check:
    `status` (new, known, regressed, fixed, added, updated, kept), `key`, the `recorded` entry,
    `changes` (one line each) and the `tolerance` in percent."""
    outcome: str = ""
    """What the check did to its test: `pass`, `fail` or `warn` (an inconclusive check that passes with
    a warning); empty until the pytest layer has judged it."""
    source_file: str | None = None
    """Where the scenario is written, relative to the rootdir: the target for a collected scenario, the
    Python test's file for a fixture check (GitHub annotations point there)."""
    source_line: int = 0
    """1-based line of the scenario's `export` in the target, or of the Python test; 0 when unknown."""
    redacted: bool = False
    """Whether string contents were removed from the paths and the kept snapshots (the `redact` option)."""

    @property
    def leaked(self) -> bool:
        return self.verdict == "leak"

    def redact_strings(self) -> None:
        """Replace the text of every string on the suspects' and grown objects' paths (`redact_path`)."""
        self.suspects = [replace(suspect, path=redact_path(suspect.path)) for suspect in self.suspects]
        self.grown_in_place = [replace(grown, path=redact_path(grown.path)) for grown in self.grown_in_place]
        self.redacted = True

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["suspects"] = [suspect.to_dict() for suspect in self.suspects]
        data["samples"] = [sample.to_dict() for sample in self.samples]
        data["grown_in_place"] = [grown.to_dict() for grown in self.grown_in_place]
        data["handles"] = [growth.to_dict() for growth in self.handles]
        return data

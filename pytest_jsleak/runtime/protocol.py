"""The wire protocol between Python and harness.mjs: JSON lines, commands in, events out.

Commands are ``{"cmd": name, **kwargs}`` and events ``{"event": name, **fields}``, one JSON object
per line, on two pipes of their own (never the target's stdout/stderr). Both sides reject names
they do not know, as pytest-xdist's controller does with its workers' events.

Commands (Python → harness), each answered by one ``result`` or ``error`` event:

- ``setup`` / ``teardown``: call the reserved export if there is one → ``{"called": bool}``
- ``run`` (scenario, iterations, sample_every, start, phase) → ``{"samples": [[iteration, heap_used,
  external, rss, {kind: active resources}], ...], "call_ms", "sample_ms"}``
- ``gc_sample`` → ``{"heap_used": int, "external": int, "rss": int, "handles": {kind: int}}``
- ``snapshot`` (path) → ``{"path": str}``
- ``track_allocations`` (on: bool) → ``{"supported": bool, "tracking": bool}``: Node's allocation
  tracking through an in-process inspector session (snapshots taken while it is on carry
  allocation stacks); ``supported`` is false on Bun
- ``track_handles`` (on: bool) → ``{"supported": bool}``: record the creation stack of every async
  resource (and listener on ``process``) born while on (Node's async_hooks)
- ``handle_sites`` → ``{"sites": [{"kind", "frames": [[function, script, line, column], ...],
  "count"}]}``: the stacks of those still active, grouped; the record is cleared
- ``exit``: the harness exits with status 0, no answer
- ``status``: answered at once, out of turn, by a ``status`` event (phase, scenario, iteration),
  but only if the event loop is free: a scenario awaiting a promise that never settles.

Events (harness → Python): ``hello`` (sent once, after the target loaded; `Hello` below),
``result``, ``error`` (cmd, phase, scenario, iteration, name, message, stack, origin: ``target`` or
``harness``, and ``uncaught`` for a throw outside any call), ``progress`` (phase, scenario,
iteration; at the first call of a run and then at most once a second), ``status``, ``exiting`` (code,
phase, scenario, iteration; from the runtime's exit hook, so a target's ``process.exit()`` is
located exactly).
Every ``result`` carries ``ms``, the command's duration inside the runtime.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pytest_jsleak.errors import JsLeakError

COMMANDS = frozenset(
    {"setup", "teardown", "run", "gc_sample", "snapshot", "track_allocations", "track_handles", "handle_sites",
     "exit", "status"}
)
EVENTS = frozenset({"hello", "result", "error", "progress", "status", "exiting"})

Event = dict[str, Any]


class HarnessProtocolError(JsLeakError):
    """The harness and Python disagree about the protocol: a bug in pytest-jsleak, not in the target."""


def encode_command(cmd: str, **kwargs: Any) -> bytes:
    """One command line, ready for the command pipe."""
    if cmd not in COMMANDS:
        raise HarnessProtocolError(f"unknown command {cmd!r} (known: {', '.join(sorted(COMMANDS))})")
    # ensure_ascii: paths with non-ASCII characters travel as \\u escapes, immune to locale settings.
    return (json.dumps({"cmd": cmd, **kwargs}, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


class EventDecoder:
    """Splits the event stream into lines and parses each into a checked event dict."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> list[Event]:
        """The complete events in `data` (plus what was left over from the previous call)."""
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return [decode_event(line) for line in lines if line.strip()]

    @property
    def partial(self) -> bytes:
        """Bytes of an event line that has not ended yet."""
        return self._partial


def decode_event(line: bytes) -> Event:
    """Parse one event line; anything but a known event is a `HarnessProtocolError`."""
    try:
        event = json.loads(line)
    except ValueError as exc:
        raise HarnessProtocolError(f"the harness sent a line that is not JSON: {line[:200]!r}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("event"), str):
        raise HarnessProtocolError(f"the harness sent a line that is not an event: {line[:200]!r}")
    if event["event"] not in EVENTS:
        raise HarnessProtocolError(f"unknown event {event['event']!r} from the harness")
    return event


@dataclass(frozen=True, slots=True)
class Hello:
    """What the harness reports once the target has loaded."""

    runtime: str
    """`node`, `bun` or `deno`."""
    version: str
    """The runtime's version, e.g. `20.20.2`."""
    pid: int
    """The runtime's process id."""
    exports: dict[str, str]
    """Scenarios (exported functions, reserved names excluded) → kind: `function`, `async function`, ..."""
    non_functions: list[str]
    """Exports that are neither functions nor reserved names."""
    options: dict[str, Any]
    """The `jsleak` export (`{}` when there is none)."""
    reserved: dict[str, str] = field(default_factory=dict)
    """Reserved exports present (`setup`, `teardown`, `jsleak`) → kind."""
    load_ms: float = 0.0
    """Time the runtime spent importing the target."""

    @property
    def scenarios(self) -> list[str]:
        """Scenario names, in the order the runtime listed them."""
        return list(self.exports)

    @classmethod
    def from_event(cls, event: Event) -> Hello:
        """The `hello` event's fields."""
        return cls(
            runtime=event["runtime"],
            version=event["version"],
            pid=event["pid"],
            exports=dict(event["exports"]),
            non_functions=list(event["non_functions"]),
            options=dict(event["options"]),
            reserved=dict(event.get("reserved", {})),
            load_ms=float(event.get("load_ms", 0.0)),
        )


__all__ = [
    "COMMANDS", "EVENTS", "Event", "EventDecoder", "HarnessProtocolError", "Hello", "decode_event", "encode_command",
]

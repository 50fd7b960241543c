"""What a failure of a harness process says: a throw the harness reported, a missing scenario, a crash.

Functions of what the process knows (the target, the runtime, the last place the harness reported),
so that the wording of every failure is in one place; `HarnessProcess` decides when each applies and
what becomes of the process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_jsleak.errors import TargetError
from pytest_jsleak.runtime import proctree
from pytest_jsleak.runtime.protocol import Event
from pytest_jsleak.runtime.runtimes import RuntimeInfo


def describe_where(target: Path, where: Mapping[str, Any]) -> str:
    phase, scenario, iteration = where.get("phase"), where.get("scenario"), where.get("iteration")
    if phase == "load":
        return f"while loading {target.name}"
    if scenario is None:
        return f"in the {phase} of {target.name}"
    text = f"in scenario {scenario!r}, {phase} phase"
    return text if iteration is None else f"{text}, at iteration {iteration}"


def error_text(event: Event, target: Path, runtime: RuntimeInfo) -> str:
    """The message of a throw the harness reported: at load, outside a call, in a call, setup or teardown.

    Not for a protocol error or a missing scenario, which the process answers before.
    """
    name, message = event.get("name", "Error"), event.get("message", "")
    phase, iteration, scenario = event.get("phase"), event.get("iteration"), event.get("scenario")
    thrown = f"{name}: {message}" if message else name
    if phase == "load":
        if name == "JsleakOptionsError":
            text = f"{target}: {message}"
        else:
            text = f"cannot load {target} with {runtime.name} {runtime.version}: {thrown}"
    elif event.get("uncaught"):
        kind = "promise rejection" if event["uncaught"] == "rejection" else "exception"
        text = (
            f"uncaught {kind} {describe_where(target, event)} (raised outside the call itself: "
            f"a timer, a callback or a promise nobody awaited) in {target.name}: {thrown}"
        )
    elif name == "ReservedExportError":
        text = f"{target.name}: {message}"
    elif event.get("cmd") == "run":
        text = f"scenario {scenario!r} threw at call {iteration} ({phase} phase) in {target.name}: {thrown}"
    elif phase in ("setup", "teardown"):
        text = f"the {phase} export of {target.name} threw: {thrown}"
    else:
        text = f"{phase} failed in the harness ({target.name}): {thrown}"
    if runtime.name == "deno":
        text += _deno_permission_hint(name, message)
    return text


def missing_scenario(target: Path, scenario: str, reason: str, known: Sequence[str]) -> TargetError:
    listing = f"its scenarios: {', '.join(known)}" if known else "it exports no functions"
    return TargetError(f"no scenario {scenario!r} in {target}: {reason}; {listing}", phase="run")


def crash_text(runtime: str, code: int | None, where: str) -> str:
    """How the runtime ended (`code`: its exit status, negative for a signal, None if it lives on) and where."""
    if code is None:
        how = "closed the harness channel"
    elif code < 0:
        how = f"was killed by {proctree.signal_name(-code)}"
    else:
        how = f"exited with code {code}"
    hint = " (does the target call process.exit()?)" if code is not None and code >= 0 else ""
    return f"{runtime} {how} {where}{hint}"


_DENO_FLAG_RE = re.compile(r"--allow-[a-z-]+")


def _deno_permission_hint(name: str, message: str) -> str:
    """What to add when Deno refused a permission (`NotCapable: Requires net access to ...`)."""
    if name not in ("NotCapable", "PermissionDenied") or "Requires" not in message:
        return ""
    found = _DENO_FLAG_RE.search(message)
    flag = found.group(0) if found else "--allow-..."
    return (
        f" [deno denied a permission the target needs: grant it with the runtime_args option, "
        f"e.g. --jsleak-runtime-args={flag} or runtime_args=[{flag!r}]]"
    )


def clean_stack(stack: Any) -> str | None:
    """The JS stack without the harness's own frames, which say nothing about the target."""
    if not isinstance(stack, str):
        return None
    lines = [line for line in stack.splitlines() if not ("harness.mjs" in line and "pytest_jsleak" in line)]
    return "\n".join(lines)


__all__ = ["clean_stack", "crash_text", "describe_where", "error_text", "missing_scenario"]

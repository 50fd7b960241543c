"""The option table of DESIGN §4: defaults, parsing ("2KB"), validation and precedence."""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from pytest_jsleak.errors import OptionError

SnapshotPolicy = Literal["on-failure", "always", "never"]
RUNTIMES = ("node", "bun", "deno")
SNAPSHOT_POLICIES: tuple[SnapshotPolicy, ...] = ("on-failure", "always", "never")
# Repeated runs measure a leak's growth per iteration within 2 %, and storage that grows in reallocation
# steps up to ~1.4-1.5x apart (README, "Adopting the gate"): half again passes, a doubled leak fails.
BASELINE_TOLERANCE = 50.0


def redact_default(environ: Mapping[str, str] | None = None) -> str:
    """`on` when the environment variable CI is set (GitHub, GitLab and most CI services set it),
    to anything but `false` or `0` (any case; an empty value counts as unset); `off` otherwise.

    Read whenever options are resolved, not at import, so a test can set CI for one run.
    """
    value = (os.environ if environ is None else environ).get("CI", "").strip().lower()
    return "on" if value and value not in ("false", "0") else "off"


@dataclass(frozen=True, slots=True)
class Options:
    """Every knob of one leak check, resolved from all layers (DESIGN §3.3)."""

    runtime: str = "node"
    """`node`, `bun` or `deno`; the executable is found on PATH unless `runtime_path` names it."""
    runtime_path: str | None = None
    """The runtime's executable (another version than the one on PATH); relative paths from the rootdir."""
    runtime_args: tuple[str, ...] = ()
    """Extra arguments for the runtime, right before the harness (a loader: `--import tsx`)."""
    iterations: int = 200
    """Measured iterations per round. 200 calls make one leaked 70-byte object per call ~14 KB."""
    warmup: int = 50
    """Calls before measuring, so lazy initialisation, JIT and caches settle."""
    max_growth_per_iteration: int = 0
    """Retained bytes per iteration that are tolerated; 0: any confirmed growth fails."""
    ignore: tuple[str, ...] = ()
    """Class names whose survivors never count as leaks."""
    timeout: float = 60.0
    """Seconds for one scenario, from the runtime's start to the verdict."""
    snapshots: SnapshotPolicy = "on-failure"
    """When heap snapshots are kept on disk."""
    allocation_sites: str = "on"
    """`on`: record where leaked objects were allocated (Node: tracking during round A); `off`: skip it."""
    strict: bool = False
    """An `inconclusive` verdict fails the test (default: it passes with a JsLeakInconclusiveWarning)."""
    baseline_tolerance: float = BASELINE_TOLERANCE
    """Percent by which a known leak may exceed its baseline entry's growth per iteration and still be known."""
    redact: str = field(default_factory=redact_default)
    """`on`: kept snapshots lose the text of string values, reports print no string contents (DESIGN §16);
    default `on` under CI (`redact_default`)."""


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Options))
DEFAULTS = Options()
"""The built-in defaults; its `redact` is the environment's at import (`resolve` reads it afresh)."""

OPTION_HELP: dict[str, str] = {
    "runtime": "JS runtime to run targets under: node, bun or deno (default: node).",
    "runtime_path": "the runtime's executable, for another version than the one on PATH (e.g. /opt/node22/bin/node).",
    "runtime_args": (
        "extra arguments for the runtime before the harness, one shell-quoted string (e.g. '--import tsx')."
    ),
    "iterations": "measured iterations per round (default: 200).",
    "warmup": "iterations before measuring (default: 50).",
    "max_growth_per_iteration": (
        "retained bytes per iteration that are tolerated, e.g. 512B, 2KB, 1MB (default: 0, any growth fails)."
    ),
    "ignore": "class names whose survivors never count as leaks (comma or space separated).",
    "timeout": "seconds for one scenario, start to verdict (default: 60).",
    "snapshots": "when heap snapshots are kept on disk: on-failure, always, never (default: on-failure).",
    "allocation_sites": (
        "on/off: record where leaked objects were allocated, during the confirming round only (default: on; Node)."
    ),
    "strict": "fail the test when the verdict is inconclusive (default: it passes with a warning).",
    "baseline_tolerance": (
        "percent by which a known leak may exceed its baseline entry and still pass as known "
        f"(default: {BASELINE_TOLERANCE:g})."
    ),
    "redact": (
        "on/off: replace the text of string values in kept snapshots and reports (names and paths stay; "
        "default: on when the CI environment variable is set and not false/0, else off)."
    ),
}
# Options that are flags on the command line (`--jsleak-strict`, no value) and true/false elsewhere.
FLAG_OPTIONS = ("strict",)

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?i?[bB]?)\s*$")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
}


def parse_size(value: object) -> int:
    """Bytes from an int or a string like `512`, `512B`, `2KB`, `1.5MB` (1024-based units)."""
    if isinstance(value, bool):
        raise ValueError("a size, not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise ValueError("a size must be a finite, non-negative number")
        return int(value)
    if isinstance(value, str):
        match = _SIZE_RE.match(value)
        if match:
            number, unit = match.groups()
            factor = _SIZE_UNITS.get(unit.lower())
            if factor is not None:
                return int(float(number) * factor)
    raise ValueError("expected bytes as an integer or a size such as 512B, 2KB or 1MB")


def _parse_int(value: object, *, minimum: int) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, not a boolean")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError("expected an integer")
    if value < minimum:
        raise ValueError(f"must be at least {minimum}")
    return value


def _parse_timeout(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("expected seconds, not a boolean")
    try:
        # Any value may come from a marker: float() takes what it can and raises TypeError on the rest.
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("expected a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("must be a positive number of seconds")
    return seconds


def _parse_choice(value: object, choices: tuple[str, ...]) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    for choice in choices:
        if text == choice:
            return choice
    raise ValueError("expected one of " + ", ".join(choices))


def _parse_ignore(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        # ini and command-line values: "Foo, Bar" or "Foo Bar"; class keys like "(string)" have no spaces
        return tuple(part for part in re.split(r"[,\s]+", value) if part)
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        names = tuple(value)
        if all(isinstance(name, str) and name for name in names):
            return names
    raise ValueError("expected a list of class names")


def _parse_on_off(value: object) -> str:
    if value is True or value is False:
        return "on" if value else "off"
    return _parse_choice(value, ("on", "off"))


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("expected true or false")


def _parse_percent(value: object) -> float:
    """Percent from a number (`50`, `12.5`) or a string (`"50"`, `"50%"`)."""
    if isinstance(value, bool):
        raise ValueError("expected a percentage, not a boolean")
    text = value.strip().removesuffix("%").strip() if isinstance(value, str) else value
    try:
        percent = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError("expected a percentage such as 50 or 50%") from None
    if not math.isfinite(percent) or percent < 0:
        raise ValueError("must be a finite, non-negative percentage")
    return percent


def _parse_runtime_path(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected the path of an executable (a non-empty string)")
    return value.strip()


def _parse_runtime_args(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        # ini and command line: one string, split like a shell would ("--import tsx", quotes kept)
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise ValueError(f"cannot split it like a shell would: {exc}") from None
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        args = tuple(value)
        if all(isinstance(arg, str) and arg for arg in args):
            return args
    raise ValueError("expected a list of arguments or one shell-quoted string")


_PARSERS: dict[str, Any] = {
    "runtime": lambda v: _parse_choice(v, RUNTIMES),
    "runtime_path": _parse_runtime_path,
    "runtime_args": _parse_runtime_args,
    "iterations": lambda v: _parse_int(v, minimum=1),
    "warmup": lambda v: _parse_int(v, minimum=0),
    "max_growth_per_iteration": parse_size,
    "ignore": _parse_ignore,
    "timeout": _parse_timeout,
    "snapshots": lambda v: _parse_choice(v, SNAPSHOT_POLICIES),
    "allocation_sites": _parse_on_off,
    "strict": _parse_bool,
    "baseline_tolerance": _parse_percent,
    "redact": _parse_on_off,
}

_CAMEL_RE = re.compile(r"(?<!^)(?=[A-Z])")


def option_name(key: str) -> str:
    """`maxGrowthPerIteration` and `max-growth-per-iteration` → `max_growth_per_iteration`."""
    return _CAMEL_RE.sub("_", key).replace("-", "_").lower()


def parse_option(name: str, value: object, *, source: str) -> Any:
    """One validated value; an `OptionError` naming the option, the value and where it came from."""
    parser = _PARSERS.get(name)
    if parser is None:
        raise OptionError(
            f"unknown jsleak option {name!r} ({source}); known options: {', '.join(OPTION_NAMES)}"
        )
    try:
        return parser(value)
    except ValueError as exc:
        raise OptionError(f"invalid jsleak option {name}={value!r} ({source}): {exc}") from None


def parse_layer(raw: Mapping[str, Any], *, source: str, camel_case: bool = False) -> dict[str, Any]:
    """Validate one layer of options (ini, command line, the file's export, a marker, keywords)."""
    if not isinstance(raw, Mapping):
        raise OptionError(f"jsleak options ({source}) must be a plain object of options, got {raw!r}")
    layer: dict[str, Any] = {}
    for key, value in raw.items():
        name = option_name(key) if camel_case else key
        layer[name] = parse_option(name, value, source=source)
    return layer


def resolve(*layers: Mapping[str, Any]) -> Options:
    """Apply already validated layers over the defaults, lowest precedence first.

    The defaults are made afresh each time: `redact`'s depends on the environment (CI) of the moment.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return Options(**merged)



def file_options(raw: Any, target: object) -> dict[str, Any]:
    """The validated `export const jsleak = {...}` of a target (camelCase keys accepted)."""
    if raw is None:
        return {}
    return parse_layer(raw, source=f"export const jsleak in {target}", camel_case=True)

__all__ = [
    "BASELINE_TOLERANCE",
    "DEFAULTS",
    "FLAG_OPTIONS",
    "OPTION_HELP",
    "OPTION_NAMES",
    "RUNTIMES",
    "SNAPSHOT_POLICIES",
    "Options",
    "file_options",
    "option_name",
    "parse_layer",
    "parse_option",
    "parse_size",
    "redact_default",
    "resolve",
]

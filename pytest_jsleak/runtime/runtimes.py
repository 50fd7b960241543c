"""Which JS runtimes pytest-jsleak can drive, where their executables are and how to start the harness."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pytest_jsleak.errors import OptionError, RuntimeNotFoundError, TargetError

#: How to get each runtime when it is missing from PATH.
INSTALL_HINTS: dict[str, str] = {
    "node": "install Node.js from https://nodejs.org/ or with your distribution's package (e.g. `apt install nodejs`)",
    "bun": "install Bun with `npm install -g bun` (the npm package ships the binary) "
    "or the official installer (https://bun.sh/docs/installation)",
}
SUPPORTED: tuple[str, ...] = tuple(INSTALL_HINTS)

#: Node's flags. --expose-gc defines the bare gc() (the harness has a fallback, but it costs a vm
#: context). --no-concurrent-recompilation: a TurboFan job running on a helper thread while the
#: harness samples holds ~200 KB of heap that is gone at the next sample; compiling on the main
#: thread puts optimised code in the heap at a deterministic point instead. (It has to be on the
#: command line: set at run time, V8 keeps compiling concurrently.)
NODE_FLAGS = ("--expose-gc", "--no-concurrent-recompilation")

#: Suffixes of TypeScript sources: Bun runs them, Node 20 cannot (no --experimental-strip-types).
TYPESCRIPT_SUFFIXES = frozenset({".ts", ".mts", ".cts", ".tsx"})


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """A JS runtime found on PATH."""

    name: str
    """`node` or `bun`."""
    executable: str
    """Absolute path of the executable."""
    version: str
    """Its version without a leading `v`, e.g. `20.20.2`."""


def find_runtime(name: str) -> RuntimeInfo:
    """Locate the runtime `name` on PATH.

    Raises `OptionError` for a name pytest-jsleak does not support and `RuntimeNotFoundError`
    (saying how to install it) when the executable is not on PATH.
    """
    if name not in SUPPORTED:
        raise OptionError(f"option runtime: unknown runtime {name!r} (supported: {', '.join(SUPPORTED)})")
    executable = shutil.which(name)
    if executable is None:
        raise RuntimeNotFoundError(
            f"the {name} executable was not found on PATH (runtime={name!r}); {INSTALL_HINTS[name]}"
        )
    return RuntimeInfo(name, executable, _version(executable))


@functools.lru_cache(maxsize=8)
def _version(executable: str) -> str:
    # Cached: `node --version` costs ~50 ms and every scenario looks its runtime up.
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeNotFoundError(f"{executable} could not be run: {exc}") from exc
    return out.strip().removeprefix("v")


def harness_path() -> Path:
    """The harness script shipped in this package."""
    return Path(str(resources.files("pytest_jsleak.runtime").joinpath("harness.mjs")))


def check_target(runtime: RuntimeInfo, target: Path) -> None:
    """Refuse, before spawning anything, a target the runtime cannot load."""
    if not target.is_file():
        what = "is a directory, not a file" if target.is_dir() else "does not exist"
        raise TargetError(f"cannot load {target}: the file {what}", phase="load")
    if runtime.name == "node" and target.suffix.lower() in TYPESCRIPT_SUFFIXES:
        raise TargetError(
            f"cannot load {target}: Node {runtime.version} cannot run TypeScript; "
            "use runtime bun (jsleak option runtime='bun') or compile the target to JavaScript",
            phase="load",
        )


def harness_command(runtime: RuntimeInfo, target: Path) -> list[str]:
    """The argv that starts the harness on `target` under `runtime`."""
    harness = os.fspath(harness_path())
    if runtime.name == "node":
        return [runtime.executable, *NODE_FLAGS, harness, os.fspath(target)]
    return [runtime.executable, harness, os.fspath(target)]


__all__ = ["SUPPORTED", "RuntimeInfo", "check_target", "find_runtime", "harness_command", "harness_path"]

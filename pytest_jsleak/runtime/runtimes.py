"""Which JS runtimes pytest-jsleak can drive, where their executables are and how to start the harness."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pytest_jsleak.errors import OptionError, RuntimeNotFoundError, TargetError

#: How to get each runtime when it is missing from PATH.
INSTALL_HINTS: dict[str, str] = {
    "node": "install Node.js from https://nodejs.org/ or with your distribution's package (e.g. `apt install nodejs`)",
    "bun": "install Bun with `npm install -g bun` (the npm package ships the binary) "
    "or the official installer (https://bun.sh/docs/installation)",
    "deno": "install Deno with `npm install -g deno` (the npm package ships the binary) "
    "or the official installer (https://docs.deno.com/runtime/getting_started/installation/)",
}
SUPPORTED: tuple[str, ...] = tuple(INSTALL_HINTS)

#: The oldest version of each runtime the harness works on: Node 20 (the oldest maintained line),
#: Bun 1.1 (`Bun.gc(true)`, `v8.writeHeapSnapshot`), Deno 2 (node:v8 heap snapshots, CommonJS).
MINIMUM_VERSIONS: dict[str, tuple[int, ...]] = {"node": (20,), "bun": (1, 1), "deno": (2,)}

#: Node's flags. --expose-gc defines the bare gc() (the harness has a fallback, but it costs a vm
#: context). --no-concurrent-recompilation: a TurboFan job running on a helper thread while the
#: harness samples holds ~200 KB of heap that is gone at the next sample; compiling on the main
#: thread puts optimised code in the heap at a deterministic point instead. (It has to be on the
#: command line: set at run time, V8 keeps compiling concurrently.)
NODE_FLAGS = ("--expose-gc", "--no-concurrent-recompilation")
#: The same V8 flags for Deno, which takes them through one `--v8-flags` list, and --no-maglev: Deno's
#: V8 (14.x) compiles the harness's sampling path and the node:* shims it calls with Maglev at call
#: counts that fall inside the sampling rounds, raising the heap after a full GC by 1-4 KB jumps
#: (machine code, feedback), so every clean check took the snapshots (2.0-2.5 s instead of 0.2-0.4 s
#: on the examples). Node 20 has no Maglev; TurboFan still optimises, and what a call keeps alive
#: does not depend on the tier that ran it.
DENO_V8_FLAGS = "--v8-flags=" + ",".join((*NODE_FLAGS, "--no-maglev"))

#: Suffixes of TypeScript sources: Bun, Deno and Node ≥ 22.6 run them.
TYPESCRIPT_SUFFIXES = frozenset({".ts", ".mts", ".cts", ".tsx"})
#: Node strips types from 22.6 on behind `--experimental-strip-types`, and by default from 22.18
#: and 23.6.
NODE_STRIP_TYPES = (22, 6)
#: What to suggest to a Node too old to strip types.
TS_LOADER_HINT = "--jsleak-runtime-args='--import tsx' (or runtime_args=['--import', 'tsx'])"


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """A JS runtime executable that was found and whose version was read."""

    name: str
    """`node`, `bun` or `deno`."""
    executable: str
    """Absolute path of the executable."""
    version: str
    """Its version without a leading `v`, e.g. `20.20.2`."""

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return parse_version(self.version)

    @property
    def runs_typescript(self) -> bool:
        """Whether the runtime loads `.ts` files on its own (no loader)."""
        return self.name != "node" or self.version_tuple >= NODE_STRIP_TYPES


def parse_version(text: str) -> tuple[int, ...]:
    """`20.20.2` → (20, 20, 2); anything after the numbers (`-canary`, `+a77`) is dropped."""
    numbers = []
    for part in text.split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        numbers.append(int(digits))
        if len(digits) != len(part):
            break
    return tuple(numbers)


def find_runtime(
    name: str, path: str | os.PathLike[str] | None = None, *, cwd: str | os.PathLike[str] | None = None
) -> RuntimeInfo:
    """Locate the runtime `name`: the executable `path` (the `runtime_path` option) or `name` on PATH.

    A relative `path` with a slash is taken from `cwd` (the rootdir), one without from PATH.
    Raises `OptionError` for a name pytest-jsleak does not support, and `RuntimeNotFoundError`
    naming what was tried when the executable is missing, is another runtime, or is too old.
    """
    if name not in SUPPORTED:
        raise OptionError(f"option runtime: unknown runtime {name!r} (supported: {', '.join(SUPPORTED)})")
    if path is None or os.fspath(path) == "":
        executable = shutil.which(name)
        tried = f"{name} on PATH"
        if executable is None:
            raise RuntimeNotFoundError(
                f"the {name} executable was not found on PATH (runtime={name!r}); {INSTALL_HINTS[name]}, "
                "or point the runtime_path option at it"
            )
    else:
        text = os.path.expanduser(os.fspath(path))
        tried = f"runtime_path={os.fspath(path)!r}"
        if os.sep in text and cwd is not None:
            text = os.path.join(os.fspath(cwd), text)
        executable = shutil.which(text)
        if executable is None:
            why = "is not an executable file" if os.path.exists(text) else "does not exist"
            if os.sep not in text:
                why = "was not found on PATH"
            raise RuntimeNotFoundError(f"{tried} (runtime={name!r}): {text} {why}")
        executable = os.path.abspath(executable)
    found, version = _identify(executable)
    if found != name:
        raise RuntimeNotFoundError(
            f"{tried} is {found} {version} ({executable}), not {name}: "
            f"set the runtime option to {found!r}, or runtime_path to a {name} executable"
        )
    minimum = MINIMUM_VERSIONS[name]
    if parse_version(version) < minimum:
        need = ".".join(map(str, minimum))
        raise RuntimeNotFoundError(
            f"{name} {version} ({executable}, from {tried}) is too old: pytest-jsleak needs {name} >= {need}; "
            f"set runtime_path to a newer {name}"
        )
    return RuntimeInfo(name, executable, version)


@functools.lru_cache(maxsize=16)
def _identify(executable: str) -> tuple[str, str]:
    """(runtime name, version) from `executable --version`: `v20.20.2` is node, `deno 2.9.6 ...`
    is deno, a bare `1.4.5` is bun. Cached: `node --version` costs ~50 ms and every scenario looks
    its runtime up."""
    try:
        run = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeNotFoundError(f"{executable} could not be run: {exc}") from exc
    first = run.stdout.strip().splitlines()[0].strip() if run.stdout.strip() else ""
    if first.startswith("deno "):
        return "deno", first.split()[1]
    if first.startswith("v") and first[1:2].isdigit():
        return "node", first[1:]
    if first[:1].isdigit():
        return "bun", first
    shown = (first or run.stderr.strip()[:200]) or f"nothing (exit code {run.returncode})"
    raise RuntimeNotFoundError(f"{executable} is not node, bun or deno: `{executable} --version` printed {shown!r}")


def harness_path() -> Path:
    """The harness script shipped in this package."""
    return Path(str(resources.files("pytest_jsleak.runtime").joinpath("harness.mjs")))


def is_typescript(target: Path) -> bool:
    return target.suffix.lower() in TYPESCRIPT_SUFFIXES


def check_target(runtime: RuntimeInfo, target: Path, runtime_args: Sequence[str] = ()) -> None:
    """Refuse, before spawning anything, a target the runtime cannot load."""
    if not target.is_file():
        what = "is a directory, not a file" if target.is_dir() else "does not exist"
        raise TargetError(f"cannot load {target}: the file {what}", phase="load")
    if is_typescript(target) and not runtime.runs_typescript and not runtime_args:
        raise TargetError(
            f"cannot load {target}: Node {runtime.version} cannot run TypeScript (type stripping needs "
            f"Node >= 22.6); load it with a loader through the runtime_args option, e.g. {TS_LOADER_HINT}, "
            "point runtime_path at a Node >= 22.6, use runtime bun or deno, or compile the target to JavaScript",
            phase="load",
        )


def harness_command(
    runtime: RuntimeInfo,
    target: Path,
    *,
    runtime_args: Sequence[str] = (),
    readable: Sequence[str | os.PathLike[str]] = (),
    writable: Sequence[str | os.PathLike[str]] = (),
) -> list[str]:
    """The argv that starts the harness on `target` under `runtime`.

    `runtime_args` go right before the harness. `readable` and `writable` are the folders Deno is
    allowed to read (the rootdir; the target's folder is added) and write (where snapshots go).
    """
    harness = os.fspath(harness_path())
    if runtime.name == "node":
        flags = list(NODE_FLAGS)
        if is_typescript(target) and _node_needs_strip_flag(runtime.version_tuple):
            flags.append("--experimental-strip-types")
        return [runtime.executable, *flags, *runtime_args, harness, os.fspath(target)]
    if runtime.name == "deno":
        permissions, rest = deno_permissions(target, readable, writable, runtime_args)
        return [runtime.executable, "run", *permissions, DENO_V8_FLAGS, *rest, harness, os.fspath(target)]
    return [runtime.executable, *runtime_args, harness, os.fspath(target)]


def _node_needs_strip_flag(version: tuple[int, ...]) -> bool:
    # Not where Node strips by default: newer Nodes may drop the flag one day.
    return NODE_STRIP_TYPES <= version < (22, 18) or (23,) <= version < (23, 6)


#: Deno's one-letter permission flags.
DENO_SHORT_PERMISSIONS = {"-R": "read", "-W": "write", "-E": "env", "-S": "sys", "-N": "net"}


def deno_permissions(
    target: Path,
    readable: Sequence[str | os.PathLike[str]],
    writable: Sequence[str | os.PathLike[str]],
    runtime_args: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """The permission flags the harness and a local target need under Deno, merged with those of
    `runtime_args`; returns (permission flags, the rest of `runtime_args`).

    Read: the inherited channel (/dev/fd), the target's folder and `readable` (the rootdir). Write:
    the channel and `writable` (the snapshot folder). Environment: the harness reads the channel's
    fd numbers from it, and targets read their configuration there. `sys`: node:inspector's
    Session (allocation tracking) asks for sys access to "inspector", a name `--allow-sys=` does
    not accept (Deno 2.9), so all of sys. `--no-prompt`: a missing permission fails at once, it
    never waits for an answer on a terminal.

    Merged, because Deno keeps the first of two `--allow-write` flags: `--allow-write` alone in
    `runtime_args` widens ours to everything, `--allow-write=/data` adds a folder, and
    `-A`/`--allow-all` replaces them all.
    """
    granted: dict[str, list[str] | None] = {
        "read": ["/dev/fd", os.fspath(target.parent), *(os.fspath(path) for path in readable)],
        "write": ["/dev/fd", *(os.fspath(path) for path in writable)],
        "env": None,
        "sys": None,
    }
    rest: list[str] = []
    allow_all = False
    for arg in runtime_args:
        flag, eq, value = arg.partition("=")
        name = DENO_SHORT_PERMISSIONS.get(flag) or (flag[len("--allow-"):] if flag.startswith("--allow-") else None)
        if flag in ("-A", "--allow-all"):
            allow_all = True
        elif name is None or name == "all":
            rest.append(arg)
        elif name in granted and granted[name] is None:
            continue  # everything already
        elif not eq:
            granted[name] = None
        else:
            granted[name] = [*(granted.get(name) or []), *value.split(",")]
    flags = ["--no-prompt"]
    if allow_all:
        return [*flags, "--allow-all"], rest
    for name, values in granted.items():
        flags.append(f"--allow-{name}" if values is None else f"--allow-{name}=" + ",".join(dict.fromkeys(values)))
    return flags, rest


__all__ = [
    "MINIMUM_VERSIONS",
    "SUPPORTED",
    "RuntimeInfo",
    "check_target",
    "deno_permissions",
    "find_runtime",
    "harness_command",
    "harness_path",
    "is_typescript",
    "parse_version",
]

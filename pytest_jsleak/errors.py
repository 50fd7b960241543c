"""The exception hierarchy: every failure pytest-jsleak can explain to a user."""

from __future__ import annotations


class JsLeakError(Exception):
    """Base class of every error pytest-jsleak raises on purpose."""


class OptionError(JsLeakError, ValueError):
    """A bad option value; the message names the option and the value.

    The plugin turns it into a usage error before any process starts.
    """


class SnapshotFormatError(JsLeakError):
    """A heap snapshot that cannot be read; the message names the file and what is wrong."""


class RuntimeNotFoundError(JsLeakError):
    """The runtime executable (node, bun, deno) is missing, another runtime or too old; the message
    names what was tried and how to get it."""


class TargetError(JsLeakError):
    """The JS target failed on its own: it could not load, a scenario is missing, or it threw.

    Distinct from a leak: the target's code is broken, not leaking.
    """

    def __init__(
        self,
        message: str,
        *,
        phase: str | None = None,
        iteration: int | None = None,
        js_stack: str | None = None,
        output_tail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.phase = phase
        self.iteration = iteration
        self.js_stack = js_stack
        self.output_tail = output_tail

    def __str__(self) -> str:
        parts = [self.message]
        if self.js_stack:
            parts.append(self.js_stack.rstrip())
        if self.output_tail:
            parts.append("--- last output of the runtime ---\n" + self.output_tail.rstrip())
        return "\n".join(parts)


class RuntimeCrashError(TargetError):
    """The runtime process died (exit code or signal) before the verdict."""


class ScenarioTimeoutError(TargetError):
    """The scenario did not reach a verdict within `timeout`; the process tree was killed."""


class ServiceStartError(TargetError):
    """A server started by `jsleak.service()` exited or missed its start-up time; carries its output tail."""


class InspectorError(TargetError):
    """The inspector (Chrome DevTools Protocol) connection failed: it closed, timed out, or CDP
    answered with an error. Raised instead of waiting forever."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        closed: bool = False,
        timed_out: bool = False,
        phase: str | None = None,
        iteration: int | None = None,
        output_tail: str | None = None,
    ) -> None:
        super().__init__(message, phase=phase, iteration=iteration, output_tail=output_tail)
        self.method = method
        self.closed = closed
        self.timed_out = timed_out


class ActionError(TargetError):
    """The Python `action` of a service check raised; the message names the iteration and the
    phase, and the Python traceback follows it."""

    def __init__(
        self, message: str, *, traceback_text: str, phase: str | None = None, iteration: int | None = None
    ) -> None:
        super().__init__(message, phase=phase, iteration=iteration)
        self.traceback_text = traceback_text

    def __str__(self) -> str:
        return f"{self.message}\n{self.traceback_text.rstrip()}"

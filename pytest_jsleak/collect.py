"""`*.leak.*` files → one test item per exported scenario, and how their failures read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_jsleak.api import marker_layer
from pytest_jsleak.errors import JsLeakError, OptionError
from pytest_jsleak.model import LeakResult
from pytest_jsleak.options import file_options
from pytest_jsleak.report.text import render
from pytest_jsleak.runtime import find_runtime, list_scenarios
from pytest_jsleak.session import JsLeakSession

# The item a target gets when it cannot even be loaded: the failure then belongs to one test.
LOAD_ITEM = "(load)"
# How long loading a file to list its scenarios may take.
LIST_TIMEOUT = 30.0


class JsLeakFailure(Exception):
    """A scenario leaked, or could not run; carries the result that explains it."""

    def __init__(self, result: LeakResult) -> None:
        super().__init__(result.error or result.verdict)
        self.result = result


class JsLeakFile(pytest.File):
    """A JS leak target: loading it lists its scenarios and its `jsleak` options export."""

    def collect(self) -> Iterator[pytest.Item]:
        session = JsLeakSession.of(self.config)
        listing = session.listing_options(self.path)
        try:
            runtime = find_runtime(listing.runtime, listing.runtime_path, cwd=session.rootpath)
            hello = list_scenarios(
                runtime, self.path, timeout=LIST_TIMEOUT, cwd=session.rootpath, runtime_args=listing.runtime_args
            )
            file_layer = file_options(hello.options, self.path)
        except JsLeakError as exc:
            yield JsLeakItem.from_parent(self, name=LOAD_ITEM, load_error=exc)
            return
        scenarios = list(hello.exports)
        if not scenarios:
            error = OptionError(
                f"{self.path}: exports no scenario (every exported function other than "
                "setup, teardown and jsleak is one)"
            )
            yield JsLeakItem.from_parent(self, name=LOAD_ITEM, load_error=error)
            return
        for name in scenarios:
            yield JsLeakItem.from_parent(self, name=name, file_layer=file_layer)


class JsLeakItem(pytest.Item):
    """One scenario of a leak target."""

    def __init__(
        self,
        *,
        file_layer: dict[str, Any] | None = None,
        load_error: Exception | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.file_layer = file_layer or {}
        self.load_error = load_error

    def runtest(self) -> None:
        session = JsLeakSession.of(self.config)
        if self.load_error is not None:
            result = LeakResult(
                target=str(self.path),
                scenario=self.name,
                runtime=session.listing_runtime(self.path),
                verdict="error",
                error=str(self.load_error),
                error_kind="target",
            )
            session.conclude(self, result)
            raise JsLeakFailure(result)
        markers = marker_layer(self)
        result = session.run(self, self.path, self.name, override_layers=(markers,), file_layer=self.file_layer)
        if session.conclude(self, result, (self.file_layer, markers)) == "fail":
            raise JsLeakFailure(result)

    def scenario_source(self) -> tuple[str, int]:
        """The target relative to the rootdir, and the 1-based line of the scenario's `export` (GitHub
        annotations point there)."""
        return self.location[0], 1 if self.name == LOAD_ITEM else export_line(self.path, self.name)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, JsLeakFailure):
            return render(excinfo.value.result, label=self.nodeid)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        # pytest turns dots of the domain into "::" in verbose lines: the scenario name has none.
        # Line 0, not None: a skip marker on the item reports its location, which needs a line.
        return self.path, 0, self.name


def export_line(path: Path, name: str) -> int:
    """1-based line where the target exports `name` (`export function name`, `export const name =`,
    `export { name }`, `export default`); 1 when no line says so (a re-export from another module)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 1
    word = re.escape(name)
    if name == "default":
        patterns = [r"^\s*export\s+default\b", r"\bas\s+default\b"]
    else:
        patterns = [
            rf"^\s*export\s+(?:async\s+)?function\s*\*?\s*{word}\b",
            rf"^\s*export\s+(?:const|let|var|class)\s+{word}\b",
            rf"^\s*export\s*\{{[^}}]*\b(?:as\s+)?{word}\b",  # export { a, b as name }
            rf"^\s*(?:module\.)?exports\.{word}\s*=",  # CommonJS
            rf"^\s*(?:async\s+)?function\s*\*?\s*{word}\b",  # declared, exported in a list further down
        ]
    lines = text.splitlines()
    for pattern in patterns:
        compiled = re.compile(pattern)
        for number, line in enumerate(lines, 1):
            if compiled.search(line):
                return number
    return 1

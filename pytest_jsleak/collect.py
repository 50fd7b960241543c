"""`*.leak.*` files → one test item per exported scenario, and how their failures read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_jsleak.api import marker_layer
from pytest_jsleak.errors import JsLeakError, OptionError
from pytest_jsleak.measure import file_options
from pytest_jsleak.model import LeakResult
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
            session.attach(self, result)
            raise JsLeakFailure(result)
        result = session.run(
            self, self.path, self.name, override_layers=(marker_layer(self),), file_layer=self.file_layer
        )
        session.attach(self, result)
        if result.verdict != "clean":
            raise JsLeakFailure(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, JsLeakFailure):
            return render(excinfo.value.result, label=self.nodeid)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        # pytest turns dots of the domain into "::" in verbose lines: the scenario name has none.
        # Line 0, not None: a skip marker on the item reports its location, which needs a line.
        return self.path, 0, self.name

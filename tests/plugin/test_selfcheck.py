"""`--jsleak-self-check`: the planted leak and its twin before the tests, a usage error when the gate cannot vouch."""

from __future__ import annotations

import re

import pytest
from jsleak_targets import FAST

CLEAN_FILE = "export function fine() { return 1; }\n"
PASSED_LINE = re.compile(
    r"^jsleak self-check: (\w+) (\d+\.\d+\.\d+) ok \(leak caught at (\d+(?:\.\d)?) B/call, twin clean\) in [\d.]+ s$",
    re.MULTILINE,
)


def test_the_control_passes_and_says_so_before_the_tests(pytester: pytest.Pytester) -> None:
    pytester.makefile(".leak.mjs", app=CLEAN_FILE)
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "--jsleak-self-check", timeout=300)
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    lines = PASSED_LINE.findall(out)
    assert [(name, float(caught) > 0) for name, _, caught in lines] == [("node", True)], out
    assert out.index("jsleak self-check: node") < out.index("app.leak.mjs .")  # before the tests
    assert not (pytester.path / ".jsleak").exists()  # a control that passed keeps nothing


def test_a_planted_leak_the_options_tolerate_stops_the_session(pytester: pytest.Pytester) -> None:
    # 1 MB per call tolerated: the planted leak (one small object per call) passes, so no verdict
    # of this session could be trusted to catch a small leak.
    pytester.makeini("[pytest]\njsleak_max_growth_per_iteration = 1MB\njsleak_self_check = true\n")
    pytester.makefile(".leak.mjs", app=CLEAN_FILE)
    result = pytester.runpytest_subprocess("--jsleak", *FAST, timeout=300)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    err = result.stderr.str()
    assert "pytest-jsleak self-check failed: the gate cannot vouch for its verdicts on this machine" in err, err
    assert re.search(r"node \d+\.\d+\.\d+, planted\.mjs \(\S+planted\.mjs\): scenario 'leaky' \(one small "
                     r"object kept per call\) was clean at \d+ B/iteration, not a leak", err), err
    assert "options: iterations=40, warmup=5, max_growth_per_iteration=1.0MB" in err, err
    assert "app.leak.mjs" not in result.stdout.str()  # no test ran


@pytest.mark.bun
def test_each_runtime_the_session_uses_is_checked(pytester: pytest.Pytester) -> None:
    # A scenario file that asks for Bun, and a Python test using the fixture (node, the default).
    pytester.makefile(".leak.mjs", app='export const jsleak = { runtime: "bun" };\n' + CLEAN_FILE)
    pytester.makefile(".mjs", lib=CLEAN_FILE)
    pytester.makepyfile(test_lib="def test_lib(jsleak):\n    jsleak.check('lib.mjs', 'fine')\n")
    result = pytester.runpytest_subprocess("--jsleak", *FAST, "--jsleak-self-check", timeout=300)
    result.assert_outcomes(passed=2)
    assert sorted(name for name, _, _ in PASSED_LINE.findall(result.stdout.str())) == ["bun", "node"]


def test_scope_values_off_and_bad_ones(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    pytester.makeini("[pytest]\njsleak_self_check = all\n")
    result = pytester.runpytest_subprocess("--jsleak-self-check=off")  # the command line wins
    result.assert_outcomes(passed=1)
    assert "jsleak self-check" not in result.stdout.str()

    pytester.makeini("[pytest]\njsleak_self_check = sometimes\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "invalid ini jsleak_self_check='sometimes': expected modules (or true), all or off" in result.stderr.str()

    result = pytester.runpytest_subprocess("--jsleak-self-check", "test_plain.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "got 'test_plain.py' (a path right after the bare flag?" in result.stderr.str()

    pytester.makeini("[pytest]\n")
    result = pytester.runpytest_subprocess("--jsleak-self-check")  # no leak check collected
    result.assert_outcomes(passed=1)
    assert "jsleak self-check: no leak check among the collected tests, nothing to vouch for" in result.stdout.str()

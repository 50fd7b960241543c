"""Issue 23's "Done when": under CI=true no secret of a leaked object leaves the machine in a kept
snapshot, the JSON report or the HTML page, while `jsleak diff` on the kept snapshots still names
the leaked class and its holder; with --jsleak-redact=off the same run shows the secrets."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from jsleak_targets import FAST

VAULT = """
class Credential {
  constructor(user, password, token) { this.user = user; this.password = password; this.token = token; }
}
const vault = [];
let calls = 0;
export function leaky() {
  calls += 1;
  // Built at run time: the whole password appears nowhere in this source.
  const password = ["Pa55", "w0rd", "ZQ" + String(calls * 7919)].join("-");
  vault.push(new Credential("alice", password, process.env.JSLEAK_E2E_TOKEN));
}
"""
PASSWORD = b"Pa55-w0rd-ZQ"
"""What every run-time-built password starts with."""


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict, str]:
    report, page = pytester.path / "report.json", pytester.path / "report.html"
    result = pytester.runpytest_subprocess(
        "--jsleak", *FAST, f"--jsleak-report={report}", f"--jsleak-html={page}", "-p", "no:cacheprovider",
        *args, timeout=300,
    )
    document = json.loads(report.read_text())
    return result, document["items"][0], page.read_text(encoding="utf-8")


def kept_bytes(item: dict) -> list[bytes]:
    return [Path(path).read_bytes() for path in item["snapshot_paths"]]


def test_ci_redacts_kept_snapshots_and_reports_and_off_keeps_the_secrets(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "sk_live_" + secrets.token_hex(12)
    monkeypatch.setenv("JSLEAK_E2E_TOKEN", token)  # the runtime inherits it through pytest
    monkeypatch.setenv("CI", "true")
    pytester.makefile(".leak.mjs", vault=VAULT)
    secret_bytes = (token.encode(), PASSWORD)

    result, item, page = run(pytester)
    result.assert_outcomes(failed=1)
    assert item["verdict"] == "leak" and item["redacted"] is True
    assert "Credential" in {s["class_name"] for s in item["suspects"]}
    snapshots = kept_bytes(item)
    assert len(snapshots) == 3
    for data in snapshots:
        assert data.startswith(b'{"snapshot":')
        for secret in secret_bytes:
            assert secret not in data
    everything = [path.read_bytes() for path in (pytester.path / ".jsleak").rglob("*") if path.is_file()]
    assert len(everything) == 3  # no temp file or unredacted copy beside them
    report_text = (pytester.path / "report.json").read_text(encoding="utf-8")
    for text in (report_text, page, result.stdout.str()):
        assert token not in text and PASSWORD.decode() not in text
    assert "(string, " in report_text + page  # a string step is shown by its length
    # The kept snapshots still explain the leak: class and holder.
    diff = subprocess.run([sys.executable, "-m", "pytest_jsleak", "diff", *item["snapshot_paths"]],
                          capture_output=True, text=True, cwd=pytester.path, timeout=120)
    assert diff.returncode == 0, diff.stderr
    assert "Credential" in diff.stdout and "vault" in diff.stdout
    assert token not in diff.stdout and PASSWORD.decode() not in diff.stdout

    # The same run without redaction: the secrets are there to find (so the checks above can fail).
    result, item, page = run(pytester, "--jsleak-redact=off")
    result.assert_outcomes(failed=1)
    assert item["redacted"] is False
    final = kept_bytes(item)[-1]
    assert token.encode() in final and PASSWORD in final
    report_text = (pytester.path / "report.json").read_text(encoding="utf-8")
    assert any(secret in text for text in (report_text, page) for secret in (token, PASSWORD.decode()))


def test_without_ci_the_default_is_off_and_the_ini_turns_it_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("JSLEAK_E2E_TOKEN", "tok_" + secrets.token_hex(8))
    pytester.makefile(".leak.mjs", vault=VAULT)
    _, item, _ = run(pytester)
    assert item["redacted"] is False and PASSWORD in kept_bytes(item)[-1]
    pytester.makeini("[pytest]\njsleak_redact = on\n")
    _, item, _ = run(pytester)
    assert item["redacted"] is True and not any(PASSWORD in data for data in kept_bytes(item))


SERVER = Path(__file__).resolve().parents[2] / "examples" / "service" / "server.mjs"
SERVICE_TEST = """
import os, urllib.request

def test_track(jsleak):
    agent = "agent/" + os.environ["JSLEAK_E2E_TOKEN"]
    with jsleak.service(["node", "server.mjs"], ready="/health") as svc:
        def call():
            request = urllib.request.Request(svc.url + "/track", headers={"User-Agent": agent})
            urllib.request.urlopen(request, timeout=10).read()
        svc.check(call, name="GET /track")
"""


def test_a_service_checks_kept_snapshots_lose_what_requests_carried(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's leaked RequestRecords keep each request's User-Agent: the token sent in it goes."""
    import shutil

    token = "sk_live_" + secrets.token_hex(12)
    monkeypatch.setenv("JSLEAK_E2E_TOKEN", token)
    monkeypatch.setenv("CI", "1")
    shutil.copy(SERVER, pytester.path / "server.mjs")
    pytester.makepyfile(test_svc=SERVICE_TEST)
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--jsleak-iterations=40",
                                           "--jsleak-warmup=10", f"--jsleak-report={report}", timeout=300)
    result.assert_outcomes(failed=1)
    item = json.loads(report.read_text())["items"][0]
    assert item["verdict"] == "leak" and item["redacted"] is True
    snapshots = kept_bytes(item)
    assert len(snapshots) == 3
    # The header is gone, and strings of its length were redacted in the last snapshot: the records'.
    assert not any(token.encode() in data for data in snapshots)
    assert f"<redacted: {len('agent/' + token)} chars>".encode() in snapshots[-1]
    assert token not in report.read_text() and token not in result.stdout.str()
    diff = subprocess.run([sys.executable, "-m", "pytest_jsleak", "diff", *item["snapshot_paths"]],
                          capture_output=True, text=True, cwd=pytester.path, timeout=120)
    assert diff.returncode == 0, diff.stderr
    assert "RequestRecord" in diff.stdout and "requestLog" in diff.stdout

"""Service mode's two speed goals (issue 12).

    python bench/service.py check [--runs 3]        # a route check vs the same module scenario
    python bench/service.py snapshot [--mb 100]     # streaming a big server heap to disk

`check`: the same work (push a RequestRecord / build and drop one) as a module scenario
(`jsleak.check`: spawn, load, plan) and as a route of a running node:http server (`svc.check`: the
plan over the inspector, one HTTP request per iteration), 200 iterations, default warm-up, one
leaky and one clean variant. Prints each check's duration and its phases.

`snapshot`: a server holding ~N MB of JS objects; one heap snapshot streamed through the inspector
to a file, with this Python process's peak memory (ru_maxrss and tracemalloc) before and after.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_jsleak.check import CheckRequest, run_check, run_driver_check  # noqa: E402
from pytest_jsleak.drivers.inspector import InspectorDriver  # noqa: E402
from pytest_jsleak.model import LeakResult  # noqa: E402
from pytest_jsleak.options import resolve  # noqa: E402
from pytest_jsleak.runtime.service import ServiceProcess  # noqa: E402

WORK = """
class RequestRecord { constructor(url) { this.url = url; this.at = Date.now(); } }
const requestLog = [];
export function track() { requestLog.push(new RequestRecord("/track?" + requestLog.length)); }
export function build() { const r = new RequestRecord("/build"); return r.url.length; }
"""

SERVER = """
import http from "node:http";
class RequestRecord { constructor(url) { this.url = url; this.at = Date.now(); } }
const requestLog = [];
http.createServer((req, res) => {
  if (req.url === "/track") requestLog.push(new RequestRecord("/track?" + requestLog.length));
  else if (req.url === "/build") { const r = new RequestRecord("/build"); res.setHeader("x-len", r.url.length); }
  res.end("ok");
}).listen(Number(process.env.PORT), "127.0.0.1");
"""

BIG_SERVER = """
import http from "node:http";
class Row { constructor(i) { this.id = i; this.name = "row-" + i; this.tags = [i & 7, i & 15]; } }
const rows = [];
const target = Number(process.env.HEAP_MB) * 1024 * 1024;
while (process.memoryUsage().heapUsed < target) {
  for (let i = 0; i < 10000; i++) rows.push(new Row(rows.length));
}
http.createServer((req, res) => res.end(String(rows.length))).listen(Number(process.env.PORT), "127.0.0.1");
"""

PHASES = ("warmup", "sampling", "snapshots", "analysis")


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def phases(result: LeakResult) -> str:
    calls = max((sample.iteration for sample in result.samples), default=0)
    return (" / ".join(f"{result.timings.get(name, 0.0):.2f}" for name in PHASES)
            + f" ({result.warmup_calls} warm-up calls, {calls} measured, rounds of {result.round_iterations or '-'})")


def bench_check(runs: int) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="jsleak-bench-service-"))
    (scratch / "work.mjs").write_text(WORK)
    (scratch / "server.mjs").write_text(SERVER)
    options = resolve()
    rows: dict[str, list[tuple[float, float, str, str]]] = {}
    for run in range(runs):
        for scenario, route in (("track", "/track"), ("build", "/build")):
            started = time.perf_counter()
            module = run_check(
                CheckRequest(target=scratch / "work.mjs", scenario=scenario, artefact_dir=scratch / f"m{run}{scenario}",
                             cwd=scratch)
            )
            module_wall = time.perf_counter() - started
            started = time.perf_counter()
            with ServiceProcess(["node", "server.mjs"], cwd=scratch) as svc:
                result = LeakResult(target="node server.mjs", scenario=route, runtime="node", verdict="clean")
                service = run_driver_check(
                    lambda: InspectorDriver(svc, lambda: get(svc.url + route), timeout=options.timeout),  # noqa: B023
                    options, scratch / f"s{run}{scenario}", result,
                )
            service_wall = time.perf_counter() - started
            rows.setdefault(f"module {scenario}", []).append(
                (module.duration, module_wall, module.verdict, phases(module)))
            rows.setdefault(f"service {route}", []).append(
                (service.duration, service_wall, service.verdict, phases(service)))
    print(f"{runs} runs, 200 iterations, warm-up 50; seconds (median); phases: {' / '.join(PHASES)}")
    print("| check | verdict | check, s | with process start, s | phases of the last run |")
    print("|---|---|---|---|---|")
    for name, values in rows.items():
        durations = statistics.median(v[0] for v in values)
        walls = statistics.median(v[1] for v in values)
        print(f"| {name} | {values[-1][2]} | {durations:.2f} | {walls:.2f} | {values[-1][3]} |")
    shutil.rmtree(scratch, ignore_errors=True)


def bench_snapshot(megabytes: int) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="jsleak-bench-snapshot-"))
    (scratch / "big.mjs").write_text(BIG_SERVER)
    with ServiceProcess(["node", "--max-old-space-size=2048", "big.mjs"], cwd=scratch, env={"HEAP_MB": str(megabytes)},
                        startup_timeout=120) as svc:
        driver = InspectorDriver(svc, lambda: None, timeout=600)
        heap = driver.sample().heap
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        tracemalloc.start()
        started, cpu = time.perf_counter(), time.process_time()
        path = driver.snapshot(scratch / "big.heapsnapshot")
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        _current, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        driver.close()
    size = path.stat().st_size
    mb = 1024 * 1024
    print(f"server heap {heap / mb:.0f} MB; snapshot {size / mb:.0f} MB written in {took:.1f} s "
          f"({size / mb / took:.0f} MB/s; Python's CPU time {cpu:.1f} s)")
    print(f"Python peak RSS {rss_before / mb:.0f} → {rss_after / mb:.0f} MB (+{(rss_after - rss_before) / mb:.1f} MB); "
          f"tracemalloc peak during the transfer {traced_peak / mb:.1f} MB")
    shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="what", required=True)
    check = sub.add_parser("check")
    check.add_argument("--runs", type=int, default=3)
    snap = sub.add_parser("snapshot")
    snap.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    if args.what == "check":
        bench_check(args.runs)
    else:
        bench_snapshot(args.mb)


if __name__ == "__main__":
    main()

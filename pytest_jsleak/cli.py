"""The `jsleak` console script: `jsleak diff A B [C]` over heap snapshot files (DESIGN §8), `jsleak merge`
of the JSON reports of several runs (DESIGN §7), and `jsleak redact IN... [-o OUT]`, which makes a
snapshot safe to share (DESIGN §16)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from pytest_jsleak import heap
from pytest_jsleak.errors import SnapshotFormatError
from pytest_jsleak.heap import indexed
from pytest_jsleak.heap.allocations import AllocationTraces, allocation_sites, carries_allocation_traces
from pytest_jsleak.heap.diff import contains
from pytest_jsleak.heap.dominators import dominators
from pytest_jsleak.heap.growth import dominated_ancestors, grown_in_place_from
from pytest_jsleak.heap.paths import shortest_paths
from pytest_jsleak.report import diff as report

EXIT_OK = 0
EXIT_LEAK = 1
EXIT_BAD_INPUT = 2
#: Up to this snapshot size, S1 and S2 are analysed for growth in place while S3 is (medium bench set,
#: 122 MB: 4.9 -> 3.6 s, peak RSS 566 -> 610-690 MB); above it, two snapshots' analyses at once would
#: cost more memory than the time is worth, and they run after S3's.
OVERLAP_GROWTH_MAX_BYTES = 256 << 20


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jsleak",
        description="Tools of pytest-jsleak that work on V8-format heap snapshots.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    diff = commands.add_parser(
        "diff",
        help="compare two snapshots, or find leak candidates in three",
        description=(
            "With two snapshots: per-class comparison (count and size deltas, new and deleted "
            "objects by id), like DevTools' Comparison view. With three (taken before, between "
            "and after two runs of the same work): the objects allocated between A and B that "
            "are still alive in C, grouped by class, with retained sizes and retainer paths, and "
            "the objects alive in all three whose retained size grew in both intervals. "
            "Exit status: 0 done, 1 leak candidates above --threshold, 2 unreadable input."
        ),
    )
    diff.add_argument("snapshots", nargs="+", metavar="SNAPSHOT", help="2 or 3 .heapsnapshot files, oldest first")
    diff.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    diff.add_argument("--top", type=_positive_int, default=20, metavar="N", help="rows to show (default 20)")
    diff.add_argument(
        "--paths", type=_non_negative_int, default=3, metavar="K",
        help="classes to show a retainer path for (3 snapshots; default 3)",
    )
    diff.add_argument(
        "--threshold", type=_non_negative_int, default=None, metavar="N",
        help="with 3 snapshots: exit 1 when a class has more than N leak candidates",
    )
    diff.add_argument(
        "--ignore", action="append", default=[], metavar="CLASS",
        help="leave out a class (repeatable), e.g. --ignore '(string)'",
    )
    diff.add_argument(
        "--no-growth", action="store_true",
        help="with 3 snapshots: skip the objects that grew in place (reads A and B whole; faster without)",
    )
    diff.add_argument(
        "--no-cache", action="store_true",
        help="neither read nor write the processed-snapshot cache (SNAPSHOT.jsleak-index beside each file)",
    )
    diff.add_argument("--timings", action="store_true", help="print where the time went to stderr")
    diff.set_defaults(handler=run_diff)
    merge = commands.add_parser(
        "merge",
        help="merge the JSON reports of several runs (shards, machines) into one report and one page",
        description=(
            "Combine the --jsleak-report documents of several runs (CI shards, the machines of a matrix) into "
            "one document, and optionally one HTML page, each item with the machine it ran on. A check (node "
            "id, scenario, runtime) found in two inputs is an error unless --allow-duplicates keeps both. "
            "Exit status: 0 written, 2 unreadable or conflicting input."
        ),
    )
    merge.add_argument("inputs", nargs="+", metavar="IN.json", help="JSON reports written by --jsleak-report")
    merge.add_argument("--json", dest="json_out", required=True, metavar="OUT.json", help="the merged document")
    merge.add_argument("--html", dest="html_out", default=None, metavar="OUT.html", help="also the merged page")
    merge.add_argument(
        "--allow-duplicates", action="store_true",
        help="keep a check found in several inputs once per input (the same tests on several systems)",
    )
    merge.add_argument(
        "--update-baseline", default=None, metavar="BASELINE.json",
        help="also update this baseline from the merged items, as --jsleak-baseline-update does from one run "
        "(the shards must have run with --jsleak-baseline)",
    )
    merge.set_defaults(handler=run_merge)
    redact = commands.add_parser(
        "redact",
        help="replace the text of string values in snapshots, so they can be shared",
        description=(
            "Write a copy of each snapshot in which the text of every string value is replaced by "
            "'<redacted: N chars>', while class, property, variable and function names, script "
            "locations, allocation stacks and the graph stay: Chrome DevTools loads the copy and "
            "`jsleak diff` gives the same classes, counts and retainer paths. A string whose text is "
            "also a name (a property name, a class, a script's URL) stays. By default IN.heapsnapshot "
            "is written to IN.redacted.heapsnapshot beside it; an existing output is never "
            "overwritten unless --force is given. Exit status: 0 done, 2 unreadable input or an "
            "output that exists."
        ),
    )
    redact.add_argument("inputs", nargs="+", metavar="IN", help=".heapsnapshot file(s) to redact")
    redact.add_argument("-o", "--output", metavar="OUT", default=None,
                        help="where to write the redacted copy (one input only)")
    redact.add_argument("--in-place", action="store_true",
                        help="replace each input with its redacted copy (written to a temp file, then renamed)")
    redact.add_argument("--force", action="store_true", help="overwrite an output that exists")
    redact.set_defaults(handler=run_redact)
    return parser


def run_merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pytest_jsleak.report.html import render_page
    from pytest_jsleak.report.json_report import write_text_atomically
    from pytest_jsleak.report.merge import MergeError, merge_documents, read_report

    try:
        inputs = [(Path(path), read_report(Path(path))) for path in args.inputs]
        merged = merge_documents(inputs, allow_duplicates=args.allow_duplicates)
    except MergeError as error:
        print(f"jsleak merge: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = Path(args.json_out)
    write_text_atomically(out, json.dumps(merged, indent=2, ensure_ascii=False) + "\n", suffix=".json")
    summary = merged["summary"]
    counts = ", ".join(f"{n} {verdict}" for verdict, n in summary.items() if n)
    print(f"jsleak merge: {len(merged['items'])} items from {len(inputs)} reports ({counts or 'none'}) → {out}")
    if args.update_baseline:
        from pytest_jsleak.baseline import Baseline, BaselineError, update

        try:
            baseline = Baseline.load(Path(args.update_baseline), missing_ok=True)
        except BaselineError as error:
            print(f"jsleak merge: error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        summary = update(baseline, merged["items"])
        baseline.write()
        print(f"jsleak merge: {summary.line(baseline.path)}")
    if args.html_out:
        page_path = Path(args.html_out)
        page = render_page(merged["items"], complete=merged["complete"], duration=merged["duration"],
                           base=page_path.parent.resolve())
        write_text_atomically(page_path, page, suffix=".html")
        print(f"jsleak merge: HTML report → {page_path}")
    return EXIT_OK


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _peak_rss_mb() -> int:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


class _Clock:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.mark = time.perf_counter()
        self.start = self.mark

    def lap(self, what: str) -> None:
        if self.enabled:
            now = time.perf_counter()
            print(f"jsleak: {what}: {now - self.mark:.3f} s (peak RSS so far {_peak_rss_mb()} MB)", file=sys.stderr)
            self.mark = now

    def total(self) -> None:
        if self.enabled:
            print(f"jsleak: total: {time.perf_counter() - self.start:.3f} s", file=sys.stderr)


def run_diff(args: argparse.Namespace) -> int:
    files = args.snapshots
    if len(files) not in (2, 3):
        print(f"jsleak diff: error: give 2 or 3 snapshots, not {len(files)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    labels = [os.path.basename(path) or path for path in files]
    if len(set(labels)) < len(labels):
        labels = list(files)
    clock = _Clock(args.timings)
    use_index = not args.no_cache
    if len(files) == 2:
        graphs = [indexed.read_graph(path, use_index=use_index) for path in files]
        before, after = (graph.snapshot for graph in graphs)
        clock.lap(f"read {labels[0]} and {labels[1]}")
        census_before = heap.class_census(graphs[0])
        census_after = heap.class_census(graphs[1])
        rows = [r for r in heap.compare(census_before, census_after) if r.class_name not in set(args.ignore)]
        clock.lap("compare")
        sites = _new_object_sites(before, after, census_after, rows, args.paths)
        notes = []
        if not (before.ids_comparable and after.ids_comparable):
            notes.append(
                "ids are not comparable across these snapshots (bun renumbers every object): "
                "only count and size deltas are shown"
            )
        if args.json:
            _print_json(report.comparison_json(labels[0], labels[1], rows, args.top, notes, sites))
        else:
            print(report.comparison_text(labels[0], labels[1], rows, args.top, notes, sites))
        sys.stdout.flush()
        for graph in graphs:
            indexed.save_graph(graph, use_index=use_index)
        clock.lap("processed-snapshot cache")
        clock.total()
        return EXIT_OK

    # The ids of A and B are read on a second thread while C is parsed: the digit parsing is
    # numpy work that releases the GIL, so on two cores the ids come almost for free.
    with ThreadPoolExecutor(max_workers=1) as pool:
        # uint32 (V8's id type) rather than the default int64: half the memory for the two lists.
        ids_future = pool.submit(
            lambda: (indexed.read_ids(files[0], use_index=use_index), indexed.read_ids(files[1], use_index=use_index))
        )
        graph = indexed.read_graph(files[2], use_index=use_index)
        final = graph.snapshot
        clock.lap(f"read {labels[2]}")
        ids = list(ids_future.result())
        del ids_future
        clock.lap(f"read ids of {labels[0]} and {labels[1]} (rest of)")
        comparable = final.ids_comparable
        keyed_future = None
        if not args.no_growth and comparable and os.path.getsize(files[2]) <= OVERLAP_GROWTH_MAX_BYTES:
            # What growth in place needs of S1 and S2 (each read whole and analysed, one at a time,
            # only their keys and sizes kept) is built on the second thread while this one analyses
            # S3: parsing, the BFS and the dominator rounds are numpy calls that release the GIL.
            keyed_future = pool.submit(
                lambda: [indexed.read_keyed_sizes(path, True, use_index=use_index) for path in files[:2]]
            )
        if comparable:
            candidates = heap.leak_candidates(ids[0], ids[1], graph)
            ids.clear()  # the ids of A and B are not needed past this point: free them before the graph work
            clock.lap("3-snapshot ids diff")
            shortest_paths(graph)  # built now so that the timings say where time goes
            clock.lap("shortest paths")
            dominators(graph)
            clock.lap("dominators and retained sizes")
            result = heap.group_candidates(candidates, graph, ignore_classes=args.ignore)
            clock.lap("grouping by class")
        else:
            ids.clear()
            first = _census(files[0], use_index)
            # S2 whole: which holders grew with a class since then ties instances to its growth (a path).
            second_graph = indexed.read_graph(files[1], use_index=use_index)
            result = heap.three_snapshot_counts(first, heap.class_census(second_graph), heap.class_census(graph), graph,
                                                ignore_classes=args.ignore, graph2=second_graph)
            indexed.save_graph(second_graph, use_index=use_index)
            del second_graph
            clock.lap("per-class counts")
        grown = []
        if not args.no_growth:
            if keyed_future is not None:
                keyed = keyed_future.result()
                del keyed_future
            else:
                keyed = [indexed.read_keyed_sizes(path, comparable, use_index=use_index) for path in files[:2]]
            clock.lap(f"keyed sizes of {labels[0]} and {labels[1]} (rest of)")
            # Holders of survivors grow with them: that growth is the survivors', listed above.
            survivors = [row.survivor_nodes for row in result.rows if row.survivors >= 2 and row.survivor_nodes.size]
            explained = dominated_ancestors(graph, np.concatenate(survivors)) if survivors else None
            in_place = grown_in_place_from(keyed[0], keyed[1], graph, stable_ids=comparable, explained=explained)
            del keyed
    if not args.no_growth:
        grown = [(g, heap.retainer_path(graph, g.node)) for g in in_place.grown[: args.top]]
        clock.lap("growth in place")
    classes = result.rows
    paths = []
    with_paths = _path_classes(classes, args.paths)
    for row in with_paths:
        path, node_id = heap.representative_path(graph, row.example_nodes)
        paths.append((row.class_name, node_id, path))
    clock.lap("retainer paths")
    sites = {}
    traces = AllocationTraces.of_snapshot(final)
    if traces is None and with_paths and final.ids_comparable and carries_allocation_traces(files[1]):
        # pytest-jsleak tracks round A only: B carries the stacks, and the survivors have B's ids.
        traces = AllocationTraces.of_snapshot(heap.read_snapshot(files[1]))
    if traces is not None:
        # The last snapshot was written while allocations were tracked (DevTools' "Allocation
        # instrumentation on timeline", or pytest-jsleak's S2/S3): say where the survivors were made.
        for row in with_paths:
            nodes = row.survivor_nodes
            sites[row.class_name] = allocation_sites(
                traces, final.node_id[nodes], final.node_self_size[nodes], root=os.getcwd()
            )
        clock.lap("allocation stacks")
    if args.json:
        _print_json(report.leaks_json(labels, classes, args.top, paths, result.notes, result.method, sites, grown))
    else:
        print(report.leaks_text(labels, classes, args.top, paths, result.notes, sites, grown))
    # After the report is out: the index only speeds up the next diff of these files.
    sys.stdout.flush()
    indexed.save_graph(graph, use_index=use_index)
    clock.lap("processed-snapshot cache")
    clock.total()
    if args.threshold is not None and any(row.survivors > args.threshold for row in classes):
        return EXIT_LEAK
    return EXIT_OK


def _census(path: str, use_index: bool) -> heap.ClassCensus:
    """The class census of S1 or S2 (Bun's diff by counts), through the processed-snapshot cache."""
    graph = indexed.read_graph(path, use_index=use_index)
    census = heap.class_census(graph)
    indexed.save_graph(graph, use_index=use_index)
    return census


def redacted_name(path: str) -> str:
    """`dir/s3.heapsnapshot` → `dir/s3.redacted.heapsnapshot` (any other name gets `.redacted` appended)."""
    base, extension = os.path.splitext(path)
    return f"{base}.redacted{extension}" if extension == ".heapsnapshot" else f"{path}.redacted"


def run_redact(args: argparse.Namespace) -> int:
    from pytest_jsleak.heap.redact import redact_snapshot
    from pytest_jsleak.units import format_bytes

    inputs = args.inputs
    if args.output is not None and (len(inputs) > 1 or args.in_place):
        problem = "with several inputs" if len(inputs) > 1 else "with --in-place"
        print(f"jsleak redact: error: -o/--output cannot be used {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    jobs = []
    for source in inputs:
        if not os.path.isfile(source):
            print(f"jsleak redact: error: {source}: no such file", file=sys.stderr)
            return EXIT_BAD_INPUT
        target = source if args.in_place else (args.output or redacted_name(source))
        if not args.in_place and os.path.exists(target):
            if os.path.samefile(source, target):
                print(f"jsleak redact: error: {target} is the input: use --in-place to replace it", file=sys.stderr)
                return EXIT_BAD_INPUT
            if not args.force:
                print(f"jsleak redact: error: {target} exists: give --force to overwrite it", file=sys.stderr)
                return EXIT_BAD_INPUT
        jobs.append((source, target))
    for source, target in jobs:
        try:
            stats = redact_snapshot(source, target)
        except OSError as error:  # reading errors are SnapshotFormatError, named by the reader
            print(f"jsleak redact: error: {target}: cannot write: {error.strerror or error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        kept = f", {stats.kept_values} values kept (their text is also a name)" if stats.kept_values else ""
        print(
            f"{source} → {target}: {stats.redacted} of {stats.strings} strings redacted{kept}; "
            f"{format_bytes(stats.bytes_in)} → {format_bytes(stats.bytes_out)} in {stats.seconds:.2f} s"
        )
    return EXIT_OK


def _new_object_sites(before: Any, after: Any, census_after: Any, rows: Sequence, count: int) -> dict[str, list]:
    """Where the new objects of the top classes were allocated, when `after` carries allocation stacks."""
    traces = AllocationTraces.of_snapshot(after)
    if traces is None or not (before.ids_comparable and after.ids_comparable) or count == 0:
        return {}
    before_ids = np.sort(before.node_id.astype(np.int64))
    new = ~contains(before_ids, after.node_id.astype(np.int64))
    codes = census_after.node_class
    index = {name: code for code, name in enumerate(census_after.names)}
    sites = {}
    for row in [row for row in rows if row.new][:count]:
        nodes = np.flatnonzero(new & (codes == index.get(row.class_name, -1)))
        if nodes.size:
            sites[row.class_name] = allocation_sites(
                traces, after.node_id[nodes], after.node_self_size[nodes], root=os.getcwd()
            )
    return {name: found for name, found in sites.items() if found}


def _path_classes(rows: Sequence, count: int) -> list:
    """The classes to explain: the user's own classes before V8's bracketed and system ones."""
    candidates = [row for row in rows if row.survivors and row.example_nodes]
    own = [row for row in candidates if not row.class_name.startswith(("(", "system /"))]
    other = [row for row in candidates if row.class_name.startswith(("(", "system /"))]
    return (own + other)[:count]


def _print_json(document: dict) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of returning big blocks to the kernel.

    By default every allocation above 32 MB is its own mmap, unmapped on free, so the next big
    temporary faults in fresh zeroed pages again; on this kind of VM that costs about 1-3 s per
    GiB touched. Reusing freed heap memory took the large benchmark's parse from 6.5 s to 4.2 s
    at the same peak RSS (bench/README.md). Only the `jsleak` process does this, never pytest.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        libc.mallopt(m_mmap_max, 0)
        libc.mallopt(m_trim_threshold, ctypes.c_int(2**31 - 1))  # an int: 1 << 40 would wrap to 0
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `jsleak` console script; returns the exit status.

    Run as the console script (no `argv`), it ends the process itself once the output is
    flushed: tearing down the interpreter would only free a GiB of arrays page by page.
    """
    status = _run(argv)
    if argv is None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(status)
    return status


def _run(argv: Sequence[str] | None) -> int:
    keep_freed_memory()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except SnapshotFormatError as error:
        print(f"jsleak: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print("jsleak: error: out of memory while reading the snapshots", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`jsleak diff ... | head`): not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout.close()
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

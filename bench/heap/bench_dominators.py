"""Dominators of real snapshots: this checkout's `dominator_tree` against another revision's.

    python bench/heap/bench_dominators.py [--before REV] [--repeat N] SNAPSHOT_OR_DIR...

Per snapshot (a directory: every `*.heapsnapshot` in it), after the BFS: the rounds and the CPU
seconds (`time.process_time`, min of N; a shared machine inflates it far less than wall time) of
`heap/dominators.py` as it is at REV (default e7a3b12, before the chain jumps) and as it is here,
and whether both give the same immediate dominators and retained sizes. Prints Markdown rows.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pytest_jsleak import heap  # noqa: E402
from pytest_jsleak.heap import dominators, paths  # noqa: E402


def module_at(revision: str) -> types.ModuleType:
    source = subprocess.run(["git", "show", f"{revision}:pytest_jsleak/heap/dominators.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f"dominators_{revision}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:dominators.py", "exec"), module.__dict__)
    return module


def snapshots(arguments: list[str]) -> list[Path]:
    found: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        found.extend(sorted(path.glob("*.heapsnapshot")) if path.is_dir() else [path])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", default="e7a3b12")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("paths", nargs="+")
    options = parser.parse_args()
    before = module_at(options.before)
    print(f"| snapshot (nodes, BFS levels) | rounds {options.before} → here | CPU s | idom, retained |")
    print("| --- | --- | --- | --- |")
    for path in snapshots(options.paths):
        graph = heap.HeapGraph(heap.read_snapshot(path))
        tree = paths.shortest_paths(graph)
        paths.followed_edge_filter(graph)
        old_times, new_times = [], []
        for _ in range(options.repeat):  # alternately, so that a change of load hits both
            started = time.process_time()
            old = before.dominator_tree(graph)
            old_times.append(time.process_time() - started)
            started = time.process_time()
            new = dominators.dominator_tree(graph)
            new_times.append(time.process_time() - started)
        same = np.array_equal(old.idom, new.idom) and np.array_equal(old.retained, new.retained)
        name = f"{path.parent.name}/{path.name}"
        print(f"| {name} ({graph.node_count // 1000} k, {tree.levels}) | {old.rounds} → {new.rounds} | "
              f"{min(old_times):.3f} → **{min(new_times):.3f}** | {'same' if same else '**different**'} |", flush=True)


if __name__ == "__main__":
    main()

"""Allocation sites and `held by` lines as text, from hand-made values."""

from __future__ import annotations

import json

import jsonschema

from pytest_jsleak.model import AllocationSite, LeakResult, PathStep, RetainerPath, StackFrame, Suspect
from pytest_jsleak.report.json_report import build_document, schema
from pytest_jsleak.report.sites import site_text
from pytest_jsleak.report.text import held_by, render


def user(name: str, file: str, line: int = 1, column: int = 1) -> StackFrame:
    return StackFrame(name, file, line, column, "user")


def test_a_stack_of_user_frames_reads_innermost_first_and_stops_after_four():
    frames = tuple(user(f"f{i}", "src/a.mjs", i + 1, 3) for i in range(6))
    assert site_text(AllocationSite(frames, 7, 700)) == (
        "allocated at f0 (src/a.mjs:1:3) ← f1 (src/a.mjs:2:3) ← f2 (src/a.mjs:3:3) ← f3 (src/a.mjs:4:3) ← …  ×7"
    )


def test_library_frames_come_after_yours_with_the_entry_and_the_allocating_function():
    inner = StackFrame("forEach", "node_modules/lib/utils.js", 9, 2, "library", "lib")
    middle = StackFrame("helper", "node_modules/lib/core.js", 5, 2, "library", "lib")
    entry = StackFrame("use", "node_modules/lib/index.js", 3, 6, "library", "lib")
    site = AllocationSite((inner, middle, entry, user("addHandler", "app.mjs", 2, 27)), 3, 96)
    assert site_text(site) == (
        "allocated at addHandler (app.mjs:2:27), in lib: forEach (node_modules/lib/utils.js:9:2) ← … "
        "← use (node_modules/lib/index.js:3:6)  ×3"
    )


def test_runtime_only_stacks_and_builtins_without_a_file():
    site = AllocationSite((StackFrame("push", "", 0, 0, "runtime"),
                           StackFrame("emit", "node:events", 517, 28, "runtime")), 4, 64)
    assert site_text(site) == "allocated at push ← emit (node:events:517:28)  ×4"


def step(edge_type, edge_name, node_type, name, class_name=None, location=None):
    return PathStep(edge_type, edge_name, node_type, name, class_name or name, 1, 16, location)


def test_held_by_reads_an_import_and_names_a_runtime_module_variable():
    imported = RetainerPath((
        step(None, None, "synthetic", "(module scope) app.mjs", "system / Context"),
        step("import", "axios", "closure", "wrap", "wrap()"),
        step("property", "interceptors", "object", "Object"),
    ))
    assert held_by(imported) == "axios (import) → wrap() → interceptors → Object"
    timers = RetainerPath((
        step(None, None, "synthetic", "(module scope) node:timers", "system / Context"),
        step("context", "timerListMap", "object", "Object"),
        step("element", "60000", "object", "TimersList"),
    ))
    assert held_by(timers) == "timerListMap (variable in node:timers) → Object → [60000] → TimersList"


def test_a_chain_of_closures_is_folded_with_the_function_and_where_it_is_defined():
    chain = [step(None, None, "synthetic", "(module scope) r.mjs", "system / Context"),
             step("context", "render", "closure", "extended", "extended()", "r.mjs:3:27")]
    for _ in range(5):
        chain += [step("internal", "context", "object", "system / Context"),
                  step("context", "inner", "closure", "extended", "extended()", "r.mjs:3:27")]
    assert held_by(RetainerPath(tuple(chain))) == (
        "render (variable) → extended() → (system / Context → inner → extended()) ×5 at r.mjs:3:27"
    )


def test_sites_in_the_report_and_the_json_document():
    path = RetainerPath((
        step(None, None, "synthetic", "(module scope) src/login.mjs", "system / Context"),
        step("context", "auditLog", "object", "Array"),
        step("element", "3", "object", "Object"),
    ))
    frames = (user("buildAuditEntry", "src/audit.mjs", 12, 10), user("handleLogin", "src/login.mjs", 30, 3))
    site = AllocationSite(frames, 200, 9600)
    result = LeakResult("login.leak.mjs", "leaky", "node", "leak", iterations=200, method="ids",
                        suspects=[Suspect("Object", 200, 1.0, 9600, 9600, path, 5, (site,))])
    text = render(result, "login.leak.mjs::leaky")
    assert (
        "  held by: auditLog (variable) → Array → [3] → Object\n"
        "  allocated at buildAuditEntry (src/audit.mjs:12:10)"
    ) in text
    assert "← handleLogin (src/login.mjs:30:3)  ×200" in text
    document = build_document([{"nodeid": "login.leak.mjs::leaky", **result.to_dict()}], complete=True)
    jsonschema.validate(document, schema())
    sites = json.loads(json.dumps(document))["items"][0]["suspects"][0]["allocation_sites"]
    assert sites == [{"frames": [frame.to_dict() for frame in frames], "count": 200, "bytes": 9600}]
    assert sites[0]["frames"][0] == {"function": "buildAuditEntry", "file": "src/audit.mjs", "line": 12,
                                     "column": 10, "kind": "user", "package": None}


def test_a_suspects_path_is_the_shortest_the_program_holds_when_there_is_one(tmp_path):
    # Bun's conservative stack scan holds one of the objects straight from the roots: the shortest
    # path of all, and the odd one out. The path shown is the shortest through a program's variable.
    from heap.snapshot_builder import module_array

    from pytest_jsleak import heap
    from pytest_jsleak.analysis import held_by_program

    b, _, queue = module_array("queue", 3)  # (GC roots) is node 1, the queue's elements `queue`
    jobs = [b.add("object", "Job", self_size=48, id=101 + 2 * k) for k in range(3)]
    for k, job in enumerate(jobs):
        b.edge(queue, job, k, "element")
    b.edge(1, jobs[2], 2, "element")  # the one on the stack
    graph = heap.HeapGraph(heap.read_snapshot(b.write(tmp_path / "s.heapsnapshot")))
    shortest, _ = heap.representative_path(graph, jobs)
    assert shortest is not None and "queue" not in [s.edge_name for s in shortest.steps]
    path, example = heap.representative_path(graph, jobs, prefer=held_by_program)
    assert path is not None and "queue" in [s.edge_name for s in path.steps] and example == 101

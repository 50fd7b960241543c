"""The HTML report from hand-made entries: escaping, order, charts, folding, links, size, CSP."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

from pytest_jsleak.model import LeakResult, MemorySample, PathStep, RetainerPath, Suspect
from pytest_jsleak.report.html import render_page, write_html_report

HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"


def new_samples(count: int, step: int, *, heap0: int = 3_400_000, growth: int = 96) -> list[dict[str, int]]:
    return [
        MemorySample(i * step, heap0 + i * step * growth, 400_000 + i * 8, 48_000_000 + i * 4096).to_dict()
        for i in range(count)
    ]


def chain_path(links: int, *, to_string: bool = False) -> RetainerPath:
    """A module variable holding a linked list of `links` records: folds to one block × links."""
    steps = [
        PathStep(None, None, "synthetic", "", "(synthetic)", 1, 0),
        PathStep("element", "1", "synthetic", "(GC roots)", "(GC roots)", 3, 0),
        PathStep("internal", "25", "object", "system / Context", "system / Context", 6165, 440),
        PathStep("context", "head", "object", HOSTILE, HOSTILE, 100, 40),
    ]
    for link in range(links):
        steps.append(PathStep("property", "next", "object", HOSTILE, HOSTILE, 1000 + link, 40))
    if to_string:
        steps.append(PathStep("property", "label", "string", SCRIPT, "(string)", 99999, 32))
    return RetainerPath(tuple(steps))


def entry(nodeid: str, verdict: str, **fields) -> dict:
    result = LeakResult(target=nodeid.split("::")[0], scenario=nodeid.split("::")[-1], runtime="node",
                        verdict=verdict, runtime_version="20.20.2", iterations=200, warmup=50)
    data = {"nodeid": nodeid, **result.to_dict()}
    data.update(fields)
    return data


def leak_entry(nodeid: str = "t/a.leak.mjs::leaky", growth: float = 96.0, links: int = 200) -> dict:
    suspects = [
        Suspect(HOSTILE, 200, 1.0, 8000, 14800, chain_path(links), 1000),
        Suspect("(string)", 200, 1.0, 6400, 6400, chain_path(links, to_string=True), 99999),
    ]
    data = entry(nodeid, "leak", growth_per_iteration=growth, total_growth=int(growth * 400), method="ids",
                 samples=new_samples(61, 10), suspects=[s.to_dict() for s in suspects],
                 snapshot_paths=[f"/ci/.jsleak/a/s{n}.heapsnapshot" for n in (1, 2, 3)],
                 snapshot_dir="/ci/.jsleak/a", notes=[f"note {SCRIPT}"])
    data["suspects"][0]["allocation_sites"] = [
        {"frames": [{"function": "get", "file": "node_modules/lru/index.js", "line": 4, "column": 2,
                     "kind": "library", "package": "lru"},
                    {"function": HOSTILE, "file": "src/audit.mjs", "line": 12, "column": 10, "kind": "user"},
                    {"function": "handleLogin", "file": "src/login.mjs", "line": 30, "column": 3, "kind": "user"},
                    {"function": "emit", "file": "node:events", "line": 0, "column": 0, "kind": "runtime"}],
         "count": 200, "bytes": 8000},
    ]
    return data


def clean_entry(nodeid: str = "t/a.leak.mjs::fixed") -> dict:
    return entry(nodeid, "clean", method="samples", samples=new_samples(21, 10, growth=0))


def error_entry(nodeid: str = "t/b.leak.mjs::broken") -> dict:
    message = (f"scenario 'broken' threw at call 1: Error: {SCRIPT}\n    at broken (t/b.leak.mjs:5:34)\n"
               f"--- last output of the runtime ---\nprinted {HOSTILE}")
    return entry(nodeid, "error", error=message, error_kind="target")


class Elements(HTMLParser):
    """Every start tag of a page, and its text outside <style> and <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._raw = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._raw += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._raw -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._raw:
            self.text.append(data)


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def test_target_text_renders_as_text_never_as_markup():
    page = render_page([leak_entry(), clean_entry(), error_entry()])
    parsed = parse(page)
    tags = [tag for tag, _ in parsed.tags]
    assert "img" not in tags
    assert tags.count("script") == 1  # the page's own filter script
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    text = "".join(parsed.text)
    assert HOSTILE in text  # class name, path steps, allocation frame, runtime output
    assert SCRIPT in text   # a string in the snapshot, the error message, a note
    assert f"printed {HOSTILE}" in text


def test_leaks_first_biggest_first_then_errors_then_clean():
    entries = [clean_entry("t/c::one"), leak_entry("t/a::small", 8), error_entry("t/e::bad"),
               leak_entry("t/a::big", 800), clean_entry("t/c::two")]
    page = render_page(entries)
    order = re.findall(r'<section class="item (\w+)" id="item-(\d+)" data-verdict="\w+" data-name="([^"]+)"', page)
    assert [(verdict, name) for verdict, _, name in order] == [
        ("leak", "t/a::big"), ("leak", "t/a::small"), ("error", "t/e::bad"), ("clean", "t/c::one"),
        ("clean", "t/c::two")]
    assert [number for _, number, _ in order] == ["1", "2", "3", "4", "5"]
    # The index links to every item.
    for number in range(1, 6):
        assert f'href="#item-{number}"' in page
    assert "<title>pytest-jsleak: 2 leaked, 1 errors, 2 clean</title>" in page


def test_one_chart_per_item_with_a_line_per_measured_series():
    page = render_page([leak_entry(), clean_entry(), error_entry()])
    charts = re.findall(r'<svg class="chart".*?</svg>', page)
    assert len(charts) == 3
    leak_chart = charts[0]
    assert leak_chart.count("<polyline") == 3  # heap, external, RSS
    assert "S1 @200" in leak_chart and "S2 @400" in leak_chart and "S3 @600" in leak_chart
    assert "3.2 MB → 3.3 MB (+56.2 KB)" in leak_chart  # heap: first → last (growth)
    assert "<polyline" not in charts[1] and "no samples" in charts[1]  # the error stopped before sampling
    assert page.count('<svg class="spark"') == 2  # the index: a heap line for each item that has samples


def test_series_a_runtime_cannot_measure_are_not_drawn():
    heap_only = [MemorySample(i, 100 + i).to_dict() for i in range(0, 30, 10)]
    chart = re.search(r'<svg class="chart".*?</svg>', render_page([entry("t::x", "clean", samples=heap_only)]))
    assert chart.group(0).count("<polyline") == 1 and "resident" not in chart.group(0)


def test_flat_heap_draws_flat_and_a_rising_one_spans_the_panel():
    def ys(page):
        chart = re.search(r'<svg class="chart".*?</svg>', page).group(0)
        points = re.search(r'<polyline points="([^"]+)"', chart).group(1).split()
        return [float(p.split(",")[1]) for p in points]

    noisy = [MemorySample(i, 3_453_080 + (256 if i % 20 else 0)).to_dict() for i in range(0, 210, 10)]
    flat = ys(render_page([entry("t::flat", "clean", samples=noisy)]))
    assert max(flat) - min(flat) < 2  # 256 B of GC noise on 3.3 MB: under 2 px of a 52 px plot
    rising = ys(render_page([leak_entry()]))
    assert rising[0] - rising[-1] > 45


def test_paths_fold_like_the_terminal_and_explained_suspects_get_one_line():
    page = render_page([leak_entry(links=200)])
    assert page.count("200 times:") == 1  # the (string)'s path runs through the first suspect's holder
    assert page.count('class="edge">.next</span>') == 1
    assert "is held by: <code>head (variable)" in page
    assert "allocated</h4>" in page and "src/audit.mjs:12:10" in page and "handleLogin (src/login.mjs:30:3)" in page
    assert "×200, 7.8 KB" in page
    assert '<span class="frame library">[lru] get (node_modules/lru/index.js:4:2)</span>' in page
    assert '<span class="frame user">handleLogin (src/login.mjs:30:3)</span>' in page
    assert '<span class="frame runtime">emit (node:events)</span>' in page


def test_snapshot_links_are_relative_to_the_page(tmp_path):
    data = leak_entry()
    folder = tmp_path / ".jsleak" / "a b"
    data["snapshot_paths"] = [str(folder / f"s{n}.heapsnapshot") for n in (1, 2, 3)]
    target = tmp_path / "reports" / "run.html"
    write_html_report(target, [data], complete=True, started=None)
    page = target.read_text(encoding="utf-8")
    assert 'href="../.jsleak/a%20b/s3-final.heapsnapshot"' not in page
    assert 'href="../.jsleak/a%20b/s3.heapsnapshot"' in page
    assert "Chrome DevTools (Memory tab → Load)" in page
    assert [p.name for p in target.parent.iterdir()] == ["run.html"]  # no temp file left


def test_interrupted_run_and_empty_run_say_so():
    assert "interrupted" in render_page([clean_entry()], complete=False)
    page = render_page([])
    assert "No leak-checked item ran." in page and "<title>pytest-jsleak: no leak checks</title>" in page


def test_two_hundred_items_stay_under_two_megabytes():
    # Realistic worst case: half leaks, each with three suspects on a 600-step chain, 61 samples each.
    leak = leak_entry(links=600)
    leak["suspects"].append(dict(leak["suspects"][0], class_name="Third"))
    clean = clean_entry()
    entries = []
    for n in range(100):
        entries += [dict(leak, nodeid=f"t/leaks.leak.mjs::leak{n}"), dict(clean, nodeid=f"t/c.leak.mjs::clean{n}")]
    page = render_page(entries)
    assert len(page.encode("utf-8")) < 2 * 1024 * 1024, len(page)


def test_the_policy_allows_exactly_the_inline_style_and_script():
    page = render_page([leak_entry()])
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert policy.startswith("default-src 'none';")
    for tag in ("style", "script"):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in policy

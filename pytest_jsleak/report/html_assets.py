"""What every HTML report carries unchanged: its style, script, help text and Content-Security-Policy,
the words of its verdicts, and `esc`, the one escaping rule every text from a target goes through.

The style and script are hashed into the policy here, beside their text, so that editing either keeps
the page's policy true.
"""

from __future__ import annotations

import base64
import hashlib
import html

VERDICT_ORDER = {"leak": 0, "error": 1, "inconclusive": 2, "known": 3, "fixed": 4, "clean": 5}
VERDICT_WORD = {"leak": "LEAK", "error": "ERROR", "inconclusive": "INCONCLUSIVE", "known": "KNOWN LEAK",
                "fixed": "FIXED", "clean": "clean"}
# The count boxes and filters: (verdict, label), in the page's order.
VERDICT_LABELS = (("leak", "leaked"), ("error", "errors"), ("inconclusive", "inconclusive"), ("known", "known"),
                  ("fixed", "fixed"), ("clean", "clean"))


def esc(value: object) -> str:
    """Text or attribute value from anywhere (a target's class names and strings included), made inert."""
    return html.escape("" if value is None else str(value), quote=True)


SCRIPT = """
const items = document.querySelectorAll('[data-verdict]');
const search = document.getElementById('search');
function apply() {
  const show = document.querySelector('input[name=show]:checked').value;
  const text = search.value.trim().toLowerCase();
  for (const el of items) {
    el.hidden = (show !== 'all' && el.dataset.verdict !== show) || (text && !el.dataset.name.includes(text));
  }
}
for (const input of document.querySelectorAll('input[name=show]')) input.addEventListener('change', apply);
search.addEventListener('input', apply);
window.addEventListener('beforeprint', () => { for (const d of document.querySelectorAll('details')) d.open = true; });
"""

STYLE = """
:root { --leak: #b3261e; --error: #9a6700; --clean: #1a7f37; --inconclusive: #bc4c00; --known: #6e7781;
  --fixed: #0969da; --line: #d0d7de; --muted: #57606a; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1f2328; background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 24px 0 8px; }
h3 { font-size: 15px; margin: 0 0 10px; display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
h4 { font-size: 13px; margin: 14px 0 4px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 12.5px; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px;
  white-space: pre-wrap; overflow-wrap: anywhere; max-height: 24em; overflow: auto; margin: 4px 0; }
a { color: #0969da; }
.muted, .hint { color: var(--muted); }
.counts { display: flex; gap: 12px; margin: 12px 0; flex-wrap: wrap; }
.count { border: 1px solid var(--line); border-radius: 8px; padding: 8px 16px; min-width: 120px; }
.count b { display: block; font-size: 24px; }
.count.leak b { color: var(--leak); } .count.error b { color: var(--error); } .count.clean b { color: var(--clean); }
.count.inconclusive b { color: var(--inconclusive); } .count.known b { color: var(--known); }
.count.fixed b { color: var(--fixed); }
.meta { color: var(--muted); margin: 0; } .meta span { white-space: nowrap; }
.badge { display: inline-block; min-width: 52px; text-align: center; border-radius: 4px; padding: 0 6px;
  font-size: 12px; font-weight: 700; color: #fff; }
.badge.leak { background: var(--leak); } .badge.error { background: var(--error); }
.badge.clean { background: var(--clean); } .badge.inconclusive { background: var(--inconclusive); }
.badge.known { background: var(--known); } .badge.fixed { background: var(--fixed); }
.toolbar { position: sticky; top: 0; background: #fff; padding: 8px 0; border-bottom: 1px solid var(--line);
  display: flex; gap: 14px; align-items: center; flex-wrap: wrap; z-index: 1; }
.toolbar label { cursor: pointer; } .toolbar input[type=search] { flex: 1; min-width: 200px; max-width: 360px;
  padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
table { border-collapse: collapse; }
table.index { width: 100%; } table.index td { padding: 3px 8px; border-bottom: 1px solid var(--line);
  vertical-align: middle; }
table.index td.what { color: var(--muted); overflow-wrap: anywhere; width: 42%; }
td.num { text-align: right; white-space: nowrap; }
table.suspects { margin: 8px 0; } table.suspects th, table.suspects td { padding: 3px 12px 3px 0;
  border-bottom: 1px solid var(--line); text-align: right; }
table.suspects th:first-child, table.suspects td:first-child { text-align: left; }
table.suspects th { font-weight: 600; font-size: 12.5px; color: var(--muted); }
.item { border: 1px solid var(--line); border-left: 6px solid var(--clean); border-radius: 8px; padding: 12px 16px;
  margin: 14px 0; break-inside: avoid-page; scroll-margin-top: 52px; }
.item.leak { border-left-color: var(--leak); } .item.error { border-left-color: var(--error); }
.item.inconclusive { border-left-color: var(--inconclusive); } .item.known { border-left-color: var(--known); }
.item.fixed { border-left-color: var(--fixed); }
.why.inconclusive .reason { font-weight: 600; color: var(--inconclusive); } .advice { font-weight: 600; }
.growth.known { color: var(--known); }
.item h3 code { font-size: 14px; overflow-wrap: anywhere; }
.growth { color: var(--leak); font-weight: 700; }
.anchor, .top { color: var(--muted); text-decoration: none; margin-left: auto; }
.top { margin-left: 0; }
.grid { display: grid; grid-template-columns: minmax(0, 660px) minmax(240px, 1fr); gap: 8px 24px; align-items: start; }
.chart { width: 100%; height: auto; display: block; }
.chart text { font: 10.5px system-ui, sans-serif; fill: #1f2328; } .chart .muted, .chart .tick { fill: var(--muted); }
.chart .series { font-weight: 600; } .chart .plot { fill: #fbfcfd; stroke: var(--line); }
.chart .marker { stroke: #8c959f; stroke-dasharray: 3 3; }
.spark { width: 90px; height: 18px; display: block; } .spark polyline { stroke: #0969da; }
tr.leak .spark polyline { stroke: var(--leak); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; font-size: 13px; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
ol.path { list-style: none; padding: 6px 10px; margin: 4px 0; background: var(--bg); border: 1px solid var(--line);
  border-radius: 6px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
ol.path li { padding-left: 16px; overflow-wrap: anywhere; } ol.path li.root { padding-left: 0; }
ol.path li.repeat { border-left: 2px solid #8c959f; margin: 2px 0 2px 16px; padding-left: 6px; }
ol.path li.repeat ol { list-style: none; padding: 0; margin: 0; }
.times { color: var(--muted); font-style: italic; }
.edge { color: #0550ae; } .loc { color: #6e7781; }
.holder code, .also code { background: var(--bg); padding: 1px 4px; border-radius: 4px; overflow-wrap: anywhere; }
.why { margin-top: 10px; } details summary { cursor: pointer; color: var(--muted); }
.help { margin: 0 0 8px; max-width: 900px; } .help ul { margin: 6px 0; padding-left: 20px; }
.help li { margin: 3px 0; }
ul.alloc { margin: 4px 0; padding-left: 20px; } ul.alloc code { overflow-wrap: anywhere; }
.frame.user { font-weight: 700; } .frame.library, .frame.runtime { color: var(--muted); }
ul.inline { list-style: none; padding: 0; margin: 4px 0; display: flex; gap: 14px; flex-wrap: wrap; }
.notes { color: var(--muted); margin: 8px 0 0; padding-left: 20px; }
.errmsg { font-weight: 600; overflow-wrap: anywhere; } .kind { font-weight: 400; color: var(--error);
  border: 1px solid var(--error); border-radius: 4px; padding: 0 4px; font-size: 12px; }
pre.output { max-height: 16em; }
[hidden] { display: none !important; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
@media print {
  main { max-width: none; padding: 0; } .toolbar, .anchor, .top { display: none; }
  .item { break-inside: auto; } .chartbox, .why h4, tr { break-inside: avoid; }
  pre { max-height: none; overflow: visible; } a { color: inherit; text-decoration: none; }
  .badge, .item, .chart { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""


HELP = """<details class="help"><summary>How to read this report</summary><ul>
<li>A <b>leak</b>: objects created by the measured calls that are still alive at the end, in numbers that
keep pace with the calls (checked over two rounds between three heap snapshots), beyond
<code>max_growth_per_iteration</code>. Memory that grows and then stops (a cache filling up) is clean.</li>
<li>The <b>chart</b>: memory after a forced full GC, sampled along the run: the JS heap, external memory
(ArrayBuffers, Buffers) and the process's resident set, each on its own scale; the labels on the right are
the change from the first sample. S1, S2, S3 mark the heap snapshots of the confirming rounds.</li>
<li><b>Surviving class</b>: the leaked objects as Chrome DevTools names them; <i>new objects alive</i> were
allocated between S1 and S2 and are still alive at S3; <i>retained</i> is what releasing them would free.</li>
<li><b>held by</b>: the chain from the first variable of the tested code to a leaked object. The full path
below it starts at the GC roots, one edge per line; a run repeated many times shows once with its count;
<code>@id</code> is the object's id in the snapshot.</li>
<li><b>Snapshots</b>: load one in Chrome DevTools (Memory tab → Load) and search an <code>@id</code>, or run
<code>jsleak diff s1 s2 s3</code> on them.</li></ul></details>"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# Nothing may load: no network, no file, no font. Only this style and this script run (by hash), so even
# markup that slipped through escaping could not execute.
CSP = f"default-src 'none'; style-src {_csp_hash(STYLE)}; script-src {_csp_hash(SCRIPT)}; img-src data:"


__all__ = ["CSP", "HELP", "SCRIPT", "STYLE", "VERDICT_LABELS", "VERDICT_ORDER", "VERDICT_WORD", "esc"]

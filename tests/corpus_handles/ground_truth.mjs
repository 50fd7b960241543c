// The ground truth of one handle scenario, measured WITHOUT pytest-jsleak: a plain loop of CALLS
// calls (setup first), then the resources still active, as the runtime reports them.
//
//   node ground_truth.mjs FILE EXPORT CALLS          → prints {"before": {kind: n}, "after": {kind: n}, "calls": CALLS}
//   deno run -A ground_truth.mjs FILE EXPORT CALLS
//
// Active resources are process.getActiveResourcesInfo() (unref'ed timers left out) plus the
// listeners on `process`; read before the loop after a 50 ms pause, and after it once the count has
// stopped falling (a timer that ends by itself has ended: a fixed 50 ms pause left 129 of 300
// one-millisecond Deno timers pending on a loaded machine).
import path from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";

const [file, name, callsText] = process.argv.slice(2);
const calls = Number(callsText);
const target = await import(pathToFileURL(path.resolve(file)).href);

function active() {
  const counts = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  let listeners = 0;
  for (const event of process.eventNames()) listeners += process.listenerCount(event);
  if (listeners) counts["process listeners"] = listeners;
  return counts;
}

const pause = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));
const total = (counts) => Object.values(counts).reduce((sum, n) => sum + n, 0);

// The resources once their count has not fallen for QUIET_MS (at most LIMIT_MS): a leak's timers,
// minutes out, stay; a twin's that fire by themselves are gone.
const QUIET_MS = 250;
const LIMIT_MS = 15_000;
async function settled() {
  const start = Date.now();
  let counts = active();
  let since = Date.now();
  while (Date.now() - start < LIMIT_MS && Date.now() - since < QUIET_MS) {
    await pause(20);
    const now = active();
    if (total(now) < total(counts)) since = Date.now();
    counts = now;
  }
  return counts;
}

if (typeof target.setup === "function") await target.setup();
await pause();
const before = active();
for (let i = 0; i < calls; i++) await target[name]();
const after = await settled();
process.stdout.write(JSON.stringify({ before, after, calls }) + "\n");
process.exit(0); // the leaks would keep the process alive

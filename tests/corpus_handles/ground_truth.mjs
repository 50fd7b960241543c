// The ground truth of one handle scenario, measured WITHOUT pytest-jsleak: a plain loop of CALLS
// calls (setup first), then the resources still active, as the runtime reports them.
//
//   node ground_truth.mjs FILE EXPORT CALLS          → prints {"before": {kind: n}, "after": {kind: n}, "calls": CALLS}
//   deno run -A ground_truth.mjs FILE EXPORT CALLS
//
// Active resources are process.getActiveResourcesInfo() (unref'ed timers left out) plus the
// listeners on `process`; both read after the loop and a 50 ms pause, so that a timer that ends by
// itself has ended.
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

const pause = () => new Promise((resolve) => setTimeout(resolve, 50));

if (typeof target.setup === "function") await target.setup();
await pause();
const before = active();
for (let i = 0; i < calls; i++) await target[name]();
await pause();
const after = active();
process.stdout.write(JSON.stringify({ before, after, calls }) + "\n");
process.exit(0); // the leaks would keep the process alive

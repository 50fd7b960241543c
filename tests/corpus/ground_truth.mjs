// Ground truth for the corpus, independent of pytest-jsleak: call one scenario in a plain loop and
// read the memory after a full GC at evenly spaced points.
//
//   node --expose-gc tests/corpus/ground_truth.mjs FILE SCENARIO [CALLS] [POINTS]
//   bun tests/corpus/ground_truth.mjs FILE SCENARIO [CALLS] [POINTS]
//
// Prints one JSON line: {runtime, version, calls, ms, samples: [{calls, heap, external, code, total, objects}]}
// (objects: Bun only).
// `total` is what the process holds for JS objects: on Node heapUsed - code + external, where
// external includes the ArrayBuffer backing stores and `code` is V8's machine-code spaces (optimised
// code comes and goes with JIT decisions: 100-250 KB jumps between two reads of a clean loop); on
// Bun heapUsed already counts JSC's extra (external) memory, so total = heapUsed there. tests/corpus/ground_truth.py drives this for every scenario.
import path from "node:path";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";

const IS_BUN = typeof Bun !== "undefined";
const [file, scenario, callsArg = "50000", pointsArg = "20"] = process.argv.slice(2);
const calls = Number(callsArg);
const points = Number(pointsArg);
if (!file || !scenario || !Number.isInteger(calls) || !Number.isInteger(points) || calls % points !== 0) {
  console.error("usage: ground_truth.mjs FILE SCENARIO [CALLS] [POINTS] (CALLS a multiple of POINTS)");
  process.exit(2);
}

const fullGC = IS_BUN ? () => Bun.gc(true) : globalThis.gc;
if (typeof fullGC !== "function") {
  console.error("node needs --expose-gc");
  process.exit(2);
}

// Bun: JSC's live object count, a second view where bytes jump (JSC frees compiled code in bursts).
const jsc = IS_BUN ? await import("bun:jsc") : null;

const macrotask = () => new Promise((resolve) => setImmediate(resolve));

async function read(done) {
  // Two turns and two collections: settle promise jobs and finalizers before reading.
  await macrotask();
  fullGC();
  await macrotask();
  fullGC();
  const m = process.memoryUsage();
  if (IS_BUN) {
    const objects = jsc.heapStats().objectCount;
    return { calls: done, heap: m.heapUsed, external: m.external, code: 0, total: m.heapUsed, objects };
  }
  let code = 0;
  for (const space of v8.getHeapSpaceStatistics()) {
    if (space.space_name.startsWith("code")) code += space.space_used_size;
  }
  return { calls: done, heap: m.heapUsed, external: m.external, code, total: m.heapUsed - code + m.external };
}

const mod = await import(pathToFileURL(path.resolve(file)).href);
const fn = mod[scenario];
if (typeof fn !== "function") {
  console.error(`${file} has no exported function ${scenario}`);
  process.exit(2);
}

const every = calls / points;
const samples = [await read(0)];
const t0 = performance.now();
for (let i = 1; i <= calls; i++) {
  const result = fn();
  if (result !== null && typeof result === "object" && typeof result.then === "function") await result;
  if (i % every === 0) samples.push(await read(i));
}
const ms = performance.now() - t0;
const version = IS_BUN ? Bun.version : process.versions.node;
process.stdout.write(JSON.stringify({ runtime: IS_BUN ? "bun" : "node", version, calls, ms, samples }) + "\n");
process.exit(0);

// Everything a well-behaved ESM target may export. Markers on stdout record the order of calls.
const kept = [];
let calls = 0;
let booms = 0;

export const jsleak = { iterations: 120, ignore: ["Foo"], maxGrowthPerIteration: "1KB" };
export const version = "1.0";

export async function setup() {
  await new Promise((resolve) => setTimeout(resolve, 1));
  console.log("marker:setup");
}

export function teardown() {
  console.log(`marker:teardown after ${calls} calls`);
}

// One small object per call, kept forever (~75-100 B/call).
export function leak() {
  kept.push({ i: kept.length, s: "y" + kept.length });
}

export function clean() {
  calls++;
  const tmp = { a: [1, 2, 3], b: "x" + calls };
  return tmp.a.length + tmp.b.length;
}

export async function asyncClean() {
  calls++;
  await new Promise((resolve) => setImmediate(resolve));
  return calls;
}

export function thenableClean() {
  calls++;
  return { then(resolve) { resolve(calls); } };
}

export function boom() {
  booms++;
  if (booms === 3) throw new TypeError(`boom at call ${booms}`);
}

export async function asyncBoom() {
  await null;
  throw new RangeError("async boom");
}

export function throwsString() {
  throw "a bare string";
}

export function* generator() {}

export class Widget {}

// One object kept per call among garbage, with a turn of the event loop that lasts (a timer): while
// allocations are tracked, the inspector numbers the heap on such turns and the GC then moves things.
class RenderedPage {
  constructor(url) {
    this.url = url;
    this.html = `<main>${url}</main>`;
  }
}
const pages = [];
let pool = [];
// A kept page among ten objects that live a while: once promoted and then dropped (`dropPool`), the
// pages share old-space pages that are mostly empty, which the next full GC compacts.
export function leakAmongGarbage() {
  for (let j = 0; j < 10; j++) pool.push({ j, filler: [j, j, j, j] });
  pages.push(new RenderedPage(`/article/${pages.length}`));
}
export function dropPool() {
  pool = [];
}
export async function pause() {
  await new Promise((resolve) => setTimeout(resolve, 80));
}

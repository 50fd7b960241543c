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

// The pytest-jsleak harness: runs inside node, bun or deno, loads one JS leak target and obeys
// JSON-line commands from Python.
//
// Usage: node --expose-gc harness.mjs TARGET   |   bun harness.mjs TARGET
//        deno run --v8-flags=--expose-gc --allow-read=/dev/fd,... --allow-write=/dev/fd,... harness.mjs TARGET
// The channel is two inherited pipes whose fd numbers come in the environment: commands in
// (JSLEAK_CMD_FD), events out (JSLEAK_EVT_FD). stdout and stderr belong to the target; the harness
// never writes there. Facts this file relies on are in shared/research/runtimes.md.

import asyncHooks from "node:async_hooks";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";

// `typeof Bun` / `typeof Deno`, never process.versions: both report a fake process.versions.node.
const IS_BUN = typeof Bun !== "undefined";
const IS_DENO = typeof Deno !== "undefined";
const RUNTIME = IS_BUN ? "bun" : IS_DENO ? "deno" : "node";
const VERSION = IS_BUN ? Bun.version : IS_DENO ? Deno.version.deno : process.versions.node;
const RESERVED = ["setup", "teardown", "jsleak"];
// A hung scenario is located by the last progress event (a run sends one as it starts, then one
// a second). Not more often: each event runs code (stringify, Buffer.from, fs.writeSync) that V8
// compiles and tiers up as it is called, and that code stays in the heap. Events every 1-3 ms made a
// clean scenario's samples step by 48 B-9 KB at 3-5 of 9 samples (test_runtime_heap.py's flat test
// failed 7 of 7; with the events sent nowhere, or their path warmed by 20,000 sends first: flat), and
// one every 50 ms most likely did so once in a loaded full run, where stalls fired them mid-run.
const PROGRESS_EVERY_MS = 1000;

// Captured before the target loads: a target may patch fs, process.exit or the timers.
const writeSync = fs.writeSync;
const exit = process.exit.bind(process);
const setImmediate_ = globalThis.setImmediate;
const setTimeout_ = globalThis.setTimeout;
const now = performance.now.bind(performance);
const stringify = JSON.stringify;
const processOn = process.on;
const processAddListener = process.addListener;
const processPrependListener = process.prependListener;

const CMD_FD = Number(process.env.JSLEAK_CMD_FD);
const INHERITED_EVT_FD = Number(process.env.JSLEAK_EVT_FD);
// The target (and any process it spawns) has no business with the channel.
delete process.env.JSLEAK_CMD_FD;
delete process.env.JSLEAK_EVT_FD;
// Deno's node:fs takes a number above 2 for one of its own resource ids (EBADF on the inherited
// fd): the pipe is opened again through /dev/fd, which gives a descriptor Deno knows.
const EVT_FD = IS_DENO && Number.isInteger(INHERITED_EVT_FD) ? reopen(INHERITED_EVT_FD, "w") : INHERITED_EVT_FD;

const fullGC = makeFullGC();
// Deno: its own reader costs 7 µs, its node:process shim ~0.1 ms; same heapUsed, external, rss.
const memoryUsage = IS_DENO ? Deno.memoryUsage.bind(Deno) : process.memoryUsage.bind(process);
/** [JS heap used, memory outside the heap held by JS objects, resident set size], bytes. */
const memoryNow = makeMemoryReader();

/** Where the harness is, for progress/status events and error reports. */
const state = { cmd: "load", phase: "load", scenario: null, iteration: null };

function reopen(fd, flags) {
  try {
    return fs.openSync(`/dev/fd/${fd}`, flags);
  } catch (err) {
    // Without the permission nothing can be reported over the channel: stderr is all there is.
    process.stderr.write(`pytest-jsleak harness: cannot open the channel /dev/fd/${fd}: ${err}\n`);
    exit(64);
  }
}

function makeFullGC() {
  if (IS_BUN) return () => Bun.gc(true); // Bun.gc(false) only requests one
  // Node 20: bare gc() is Mark-Compact; gc(true) and gc({type: "major"}) run only a Scavenge.
  // Deno: `--v8-flags=--expose-gc` defines the same bare gc().
  let g = globalThis.gc;
  if (typeof g !== "function") {
    // Started without --expose-gc: the flag still works for functions created afterwards.
    v8.setFlagsFromString("--expose-gc");
    g = vm.runInNewContext("gc");
  }
  return () => g();
}

function makeMemoryReader() {
  // `external` counts ArrayBuffer/Buffer backing stores, external strings and WebAssembly.Memory:
  // a 64 KB Buffer kept per call moves heapUsed by ~200 B and external by 64 KB.
  // Bun: heapUsed already includes the extra memory that `external` reports (JSC's
  // extraMemorySize), so it is taken out to count every byte once. (Bun: v8.getHeapStatistics()
  // costs 9 ms there; process.memoryUsage() reads the same numbers in microseconds.)
  if (IS_BUN) {
    return () => {
      const m = memoryUsage();
      return [m.heapUsed - m.external, m.external, m.rss];
    };
  }
  if (IS_DENO) {
    const wasmBytes = countWasmMemories();
    return () => {
      const m = memoryUsage();
      return [m.heapUsed, m.external + wasmBytes(), m.rss];
    };
  }
  return () => {
    const m = memoryUsage();
    return [m.heapUsed, m.external, m.rss];
  };
}

// Deno's `external` leaves out WebAssembly.Memory (Node's counts it: one page grown per call moves
// Node's external by 64 KB, Deno's by nothing), so an arena that grows forever would look flat. The
// harness counts the memories the target makes itself: `new WebAssembly.Memory`, and the memories
// an instance exports (`new WebAssembly.Instance`, `WebAssembly.instantiate[Streaming]`), each held
// weakly and summed at every sample. Installed before the target loads; `instanceof` and the
// prototype chain are the engine's own.
function countWasmMemories() {
  const W = globalThis.WebAssembly;
  if (typeof W !== "object" || typeof W.Memory !== "function") return () => 0;
  const NativeMemory = W.Memory;
  const NativeInstance = W.Instance;
  const WeakRef_ = globalThis.WeakRef;
  const live = [];
  const seen = new WeakSet();
  const track = (memory) => {
    if (memory instanceof NativeMemory && !seen.has(memory)) {
      seen.add(memory);
      live.push(new WeakRef_(memory));
    }
  };
  const trackExports = (instance) => {
    if (instance && typeof instance.exports === "object") {
      for (const value of Object.values(instance.exports)) track(value);
    }
  };
  class Memory extends NativeMemory {
    constructor(descriptor) {
      super(descriptor);
      track(this);
    }
  }
  class Instance extends NativeInstance {
    constructor(module, imports) {
      super(module, imports);
      trackExports(this);
    }
  }
  const wrapInstantiate = (native) => async function (...args) {
    const result = await native.apply(W, args);
    trackExports(result instanceof NativeInstance ? result : result && result.instance);
    return result;
  };
  Object.defineProperty(Memory, "name", { value: "Memory" });
  Object.defineProperty(Instance, "name", { value: "Instance" });
  W.Memory = Memory;
  W.Instance = Instance;
  for (const name of ["instantiate", "instantiateStreaming"]) {
    if (typeof W[name] === "function") W[name] = wrapInstantiate(W[name]);
  }
  return () => {
    let bytes = 0;
    // Dead memories are dropped in place (the last one moved into the gap): the list stays as long
    // as the most memories alive at once, and a sample allocates nothing but a new buffer's wrapper.
    for (let k = 0; k < live.length; ) {
      const memory = live[k].deref();
      if (memory === undefined) {
        live[k] = live[live.length - 1];
        live.pop();
        continue;
      }
      bytes += memory.buffer.byteLength;
      k++;
    }
    return bytes;
  };
}

// --- the event channel -------------------------------------------------------------------------

const __jsleakSleepCell = new Int32Array(new SharedArrayBuffer(4));

function send(event) {
  const buf = Buffer.from(stringify(event) + "\n", "utf8");
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(EVT_FD, buf, off, buf.length - off); // a pipe may take part of a long line
    } catch (err) {
      if (err && err.code === "EAGAIN") {
        Atomics.wait(__jsleakSleepCell, 0, 0, 1);
        continue;
      }
      exit(71); // EPIPE/EBADF: Python is gone, nobody is left to obey
    }
  }
}

function describeError(err) {
  let name = "Error";
  let message = "";
  let stack = null;
  try {
    if (err instanceof Error || (err !== null && typeof err === "object" && "message" in err)) {
      name = String(err.name ?? (err.constructor && err.constructor.name) ?? "Error");
      message = String(err.message ?? "");
      stack = typeof err.stack === "string" ? err.stack : null;
      // Bun reports a syntax error as an AggregateError of BuildMessages (or one BuildMessage),
      // whose only location is in `position`.
      const parts = Array.isArray(err.errors) ? err.errors : err.position ? [err] : [];
      const located = parts.slice(0, 5).map(describePart).filter((text) => text !== null);
      if (located.length > 0) {
        if (parts !== err.errors || parts.length === 1) message = String(parts[0].message);
        else message = `${message}; first: ${parts[0].message}`;
        stack = located.join("\n");
      }
    } else {
      name = err === null ? "null" : typeof err; // `throw "text"` and friends
      message = String(err);
    }
  } catch (inner) {
    message = `(the thrown value could not be described: ${inner})`;
  }
  return { name, message, stack };
}

function describePart(part) {
  const pos = part && part.position;
  if (!pos || typeof pos.file !== "string") return part && part.message ? String(part.message) : null;
  const caret = " ".repeat(Math.max(0, (pos.column ?? 1) - 1)) + "^";
  return `${pos.file}:${pos.line}:${pos.column}: ${part.message}\n    ${pos.lineText ?? ""}\n    ${caret}`;
}

function sendError(err, extra = {}) {
  send({
    event: "error",
    cmd: state.cmd,
    phase: state.phase,
    scenario: state.scenario,
    iteration: state.iteration,
    ...describeError(err),
    ...extra,
  });
}

function sendProgress() {
  send({ event: "progress", phase: state.phase, scenario: state.scenario, iteration: state.iteration });
}

/** A failure that is not the target's throw: a bad request, a missing scenario. */
class HarnessError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

// --- loading the target ------------------------------------------------------------------------

// Own properties of every function; Bun mirrors them as named exports of a CommonJS module
// whose `module.exports` is a function.
const FUNCTION_OWN = new Set(["length", "name", "prototype", "arguments", "caller"]);

/** name -> value of every export, CommonJS `module.exports` properties included. */
function exportTable(ns) {
  const table = new Map();
  const dflt = ns.default;
  for (const key of Object.keys(ns)) {
    if (key === "default" || key === "module.exports") continue;
    if (typeof dflt === "function" && FUNCTION_OWN.has(key) && ns[key] === dflt[key]) continue;
    table.set(key, ns[key]);
  }
  if (typeof dflt === "function") {
    table.set("default", dflt);
  } else if (dflt !== null && typeof dflt === "object") {
    // CommonJS (`module.exports = {...}`, or exports the lexer could not see) and
    // `export default {...}`: the object's properties are the exports.
    for (const key of Object.keys(dflt)) if (!table.has(key)) table.set(key, dflt[key]);
  } else if (dflt !== undefined) {
    table.set("default", dflt);
  }
  return table;
}

function kindOf(fn) {
  const ctor = fn.constructor && fn.constructor.name;
  if (ctor === "AsyncFunction") return "async function";
  if (ctor === "GeneratorFunction") return "generator function";
  if (ctor === "AsyncGeneratorFunction") return "async generator function";
  try {
    if (/^class\b/.test(Function.prototype.toString.call(fn))) return "class";
  } catch {
    // a Proxy or exotic function: it is still callable
  }
  return "function";
}

function describeValue(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** The `jsleak` export as plain JSON, or a HarnessError saying what is wrong with it. */
function optionsOf(value) {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HarnessError("JsleakOptionsError", `the \`jsleak\` export must be a plain object of options, not ${describeValue(value)}`);
  }
  const text = stringify(value, function replacer(key, v) {
    const where = key === "" ? "jsleak" : `jsleak.${key}`;
    if (typeof v === "function" || typeof v === "symbol" || typeof v === "bigint" || v === undefined) {
      throw new HarnessError("JsleakOptionsError", `the \`jsleak\` export is not serialisable as JSON: ${where} is ${describeValue(v)}`);
    }
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new HarnessError("JsleakOptionsError", `the \`jsleak\` export is not serialisable as JSON: ${where} is ${v}`);
    }
    return v;
  });
  return JSON.parse(text);
}

// Named so that reports can tell the harness's own variable from the target's (it heads many retainer paths);
// every module-level variable that holds objects has the `__jsleak` prefix: a scope with one is the
// harness's (heap/growth.py), and nothing it alone holds is ever reported as the target's.
let __jsleakExports = new Map();

async function load(target) {
  const t0 = now();
  const ns = await import(pathToFileURL(path.resolve(target)).href);
  __jsleakExports = exportTable(ns);
  const scenarios = {};
  const nonFunctions = [];
  const reserved = {};
  for (const [name, value] of __jsleakExports) {
    if (RESERVED.includes(name)) reserved[name] = typeof value === "function" ? kindOf(value) : describeValue(value);
    else if (typeof value === "function") scenarios[name] = kindOf(value);
    else nonFunctions.push(name);
  }
  let options;
  try {
    options = optionsOf(__jsleakExports.get("jsleak"));
  } catch (err) {
    if (err instanceof HarnessError) throw err;
    // a cycle or a throwing toJSON
    throw new HarnessError("JsleakOptionsError", `the \`jsleak\` export is not serialisable as JSON: ${describeError(err).message}`);
  }
  send({
    event: "hello",
    runtime: RUNTIME,
    version: VERSION,
    pid: process.pid,
    exports: scenarios,
    non_functions: nonFunctions,
    reserved,
    options,
    load_ms: now() - t0,
  });
}

// --- running scenarios -------------------------------------------------------------------------

const macrotask = () => new Promise((resolve) => setImmediate_(resolve));

function isThenable(value) {
  return value !== null && (typeof value === "object" || typeof value === "function") && typeof value.then === "function";
}

// One call in its own frame: Bun scans the stack conservatively, so a result held by the loop's
// frame could survive the next GC. Sync results are dropped here; only a thenable goes back.
function callOnce(fn) {
  const result = fn();
  return isThenable(result) ? result : undefined;
}

// V8's allocation tracker records the functions of the *physical* frames: a scenario that
// TurboFan inlined into the harness's loop (a small one, once the loop is hot) is recorded as the
// harness's `run`, whose frames are cut, and its allocation sites are lost. Whether that happened
// depended on when the loop got optimised (none after a 5,000-call warm-up, some after 50). A call
// site that has seen more targets than V8 inlines (4: its feedback goes megamorphic) never
// inlines, so the scenario keeps a frame of its own whatever the tier. Trained before every run:
// feedback is only allocated after a few calls, and a function whose bytecode was flushed starts
// over with none. The targets allocate nothing.
const MEGAMORPHIC_TARGETS = [() => 0, () => 1, () => 2, () => 3, () => 4, () => 5];
const TRAINING_ROUNDS = 16; // > V8's invocation count before a feedback vector is allocated (8)

function keepScenarioFrames() {
  for (let round = 0; round < TRAINING_ROUNDS; round++) {
    for (const target of MEGAMORPHIC_TARGETS) callOnce(target);
  }
}

// The sample: a macrotask first (V8 keeps WeakRef targets until the job ends, and Bun's stack
// scan sees less from a fresh turn of the event loop), then a full GC, then the reader.
async function gcAndRead() {
  await macrotask();
  fullGC();
  return memoryNow();
}

// --- active resources ---------------------------------------------------------------------------
// What a call may leave running: timers, sockets, servers, watchers (Node's
// process.getActiveResourcesInfo(), which leaves unref'ed timers out; Deno's lists timers and
// sockets only; Bun's is always empty), and listeners added to `process`, a kind of their own.
// Counted per sample into a preallocated table (a kind's column is made once, when first seen), so
// that counting leaves nothing behind between samples.
const activeResourcesInfo =
  typeof process.getActiveResourcesInfo === "function" ? process.getActiveResourcesInfo.bind(process) : null;
const PROCESS_LISTENERS = "process listeners";
// Kinds counted per sample; more are folded into the last column.
const HANDLE_COLUMNS = 16;
const OTHER_HANDLES = "other";
const handleColumns = new Map();
const handleKinds = [];
// The harness's own listeners on `process` (uncaught errors, exit): taken off every count.
let ownProcessListeners = 0;

function processListenerCount() {
  let count = 0;
  for (const name of process.eventNames()) count += process.listenerCount(name);
  return count;
}

function handleColumn(kind) {
  let column = handleColumns.get(kind);
  if (column === undefined) {
    column = handleKinds.length < HANDLE_COLUMNS - 1 ? handleKinds.length : HANDLE_COLUMNS - 1;
    if (column === handleKinds.length) handleKinds.push(column === HANDLE_COLUMNS - 1 ? OTHER_HANDLES : kind);
    handleColumns.set(kind, column);
  }
  return column;
}

/** Active resources by kind into `table` from `offset` (HANDLE_COLUMNS counts). */
function countHandles(table, offset) {
  table.fill(0, offset, offset + HANDLE_COLUMNS);
  if (activeResourcesInfo !== null) {
    for (const kind of activeResourcesInfo()) table[offset + handleColumn(kind)]++;
  }
  const listeners = processListenerCount() - ownProcessListeners;
  if (listeners > 0) table[offset + handleColumn(PROCESS_LISTENERS)] += listeners;
}

function handleCounts(table, offset) {
  const counts = {};
  for (let k = 0; k < handleKinds.length; k++) {
    if (table[offset + k] > 0) counts[handleKinds[k]] = table[offset + k];
  }
  return counts;
}

// Creation stacks of the resources a tracked round leaves behind (async_hooks; listeners on
// `process` through its `on`/`addListener`/`prependListener`). Asked for only after the sampling
// rounds saw resources accumulate: the hook runs at every async resource's birth, promises
// included, which slows promise-heavy code down.
const HOOK_KINDS = {
  Timeout: "Timeout", Immediate: "Immediate", TCPWRAP: "TCPSocketWrap", TCPSERVERWRAP: "TCPServerWrap",
  PIPEWRAP: "PipeWrap", PIPESERVERWRAP: "PipeServerWrap", UDPWRAP: "UDPWrap", FSEVENTWRAP: "FSEventWrap",
  STATWATCHER: "StatWatcher", PROCESSWRAP: "ProcessWrap", SIGNALWRAP: "SignalWrap", TTYWRAP: "TTYWrap",
  TLSWRAP: "TLSWrap", ZLIB: "Zlib", HTTPCLIENTREQUEST: "HTTPClientRequest", HTTPINCOMINGMESSAGE: "HTTPIncomingMessage",
};
const HANDLE_STACK_FRAMES = 16;
let handleHook = null;
// Births are recorded while on (round A); ends are seen until the sites are read (after round B).
let recordingHandles = false;
const bornHandles = new Map(); // asyncId or listener → [kind, frames]

function creationFrames(below) {
  const savedPrepare = Error.prepareStackTrace;
  const savedLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = HANDLE_STACK_FRAMES;
  Error.prepareStackTrace = (_, callSites) => callSites;
  const holder = {};
  Error.captureStackTrace(holder, below);
  const callSites = holder.stack;
  Error.prepareStackTrace = savedPrepare;
  Error.stackTraceLimit = savedLimit;
  if (!Array.isArray(callSites)) return [];
  // From the call that made the resource: async_hooks' own frames say nothing.
  let first = 0;
  while (first < callSites.length && /internal\/async_hooks(\.ts)?$/.test(callSites[first].getFileName() ?? "")) first++;
  return callSites.slice(first).map((site) => [
    site.getFunctionName() ?? "", site.getFileName() ?? "", site.getLineNumber() ?? 0, site.getColumnNumber() ?? 0,
  ]);
}

// A server's handle is made in a process.nextTick after listen() returned, so its own stack holds
// only the runtime's frames: the stack of the tick that made it says who called listen().
const DEFERRING_TYPES = new Set(["TickObject"]);
const deferredFrames = new Map(); // asyncId of a pending tick → its creation frames

function isRuntimeFile(file) {
  return file === "" || file.startsWith("node:") || file.startsWith("ext:") || file.startsWith("internal/");
}

function onHandleInit(asyncId, type) {
  if (DEFERRING_TYPES.has(type)) {
    if (recordingHandles) deferredFrames.set(asyncId, creationFrames(onHandleInit));
    return;
  }
  const kind = HOOK_KINDS[type];
  if (kind === undefined || !recordingHandles) return;
  let frames = creationFrames(onHandleInit);
  const caller = deferredFrames.get(asyncHooks.executionAsyncId());
  // The runtime's frame that made it, then who scheduled the tick (a stack is cut at a few frames).
  if (caller !== undefined && frames.every(([, file]) => isRuntimeFile(file))) {
    frames = [...frames.slice(0, 1), ...caller];
  }
  bornHandles.set(asyncId, [kind, frames]);
}

function onHandleDestroy(asyncId) {
  bornHandles.delete(asyncId);
  deferredFrames.delete(asyncId);
}

function trackedListener(original) {
  return function addTracked(event, listener) {
    if (recordingHandles && typeof listener === "function") {
      bornHandles.set(listener, [PROCESS_LISTENERS, creationFrames(addTracked)]);
    }
    return original.call(this, event, listener);
  };
}

function trackHandles(msg) {
  if (typeof msg.on !== "boolean") throw new HarnessError("ProtocolError", "track_handles needs on: true or false");
  if (activeResourcesInfo === null || typeof asyncHooks.createHook !== "function") return { supported: false };
  try {
    if (msg.on && handleHook === null) {
      bornHandles.clear();
      handleHook = asyncHooks.createHook({ init: onHandleInit, destroy: onHandleDestroy });
      handleHook.enable();
      process.on = trackedListener(processOn);
      process.addListener = trackedListener(processAddListener);
      process.prependListener = trackedListener(processPrependListener);
    }
    recordingHandles = msg.on;
  } catch (err) {
    return { supported: false, reason: describeError(err).message };
  }
  return { supported: true, tracking: msg.on };
}

function stopHandleHook() {
  recordingHandles = false;
  if (handleHook === null) return;
  handleHook.disable();
  handleHook = null;
  deferredFrames.clear();
  process.on = processOn;
  process.addListener = processAddListener;
  process.prependListener = processPrependListener;
}

/** The creation stacks of resources born while tracked that are still active, by kind and stack. */
function handleSites() {
  const listeners = new Set();
  for (const name of process.eventNames()) for (const fn of process.rawListeners(name)) listeners.add(fn);
  const groups = new Map();
  for (const [key, [kind, frames]] of bornHandles) {
    if (kind === PROCESS_LISTENERS && !listeners.has(key)) continue; // removed since
    const id = kind + "\u0000" + stringify(frames);
    const group = groups.get(id);
    if (group) group.count++;
    else groups.set(id, { kind, frames, count: 1 });
  }
  bornHandles.clear();
  stopHandleHook();
  return { sites: [...groups.values()] };
}

function scenarioFunction(name) {
  if (typeof name !== "string" || RESERVED.includes(name)) {
    throw new HarnessError("ScenarioNotFound", `${stringify(name)} is not a scenario name`);
  }
  if (!__jsleakExports.has(name)) throw new HarnessError("ScenarioNotFound", `no export named ${stringify(name)}`);
  const fn = __jsleakExports.get(name);
  if (typeof fn !== "function") {
    throw new HarnessError("ScenarioNotFound", `the export ${stringify(name)} is ${describeValue(fn)}, not a function`);
  }
  return fn;
}

function intArg(msg, key, fallback) {
  const value = msg[key] ?? fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new HarnessError("ProtocolError", `${key} must be a non-negative integer, got ${stringify(value)}`);
  }
  return value;
}

// The tables every run writes its samples into, made once (a run with more samples than any before
// makes them anew, larger: one step, once).
let tables = { samples: new Float64Array(3 * 64), handles: new Int32Array(HANDLE_COLUMNS * 64) };

function sampleTables(count) {
  if (3 * count > tables.samples.length) {
    const size = 2 * count;
    tables = { samples: new Float64Array(3 * size), handles: new Int32Array(HANDLE_COLUMNS * size) };
  }
  return tables;
}

async function run(msg) {
  state.scenario = typeof msg.scenario === "string" ? msg.scenario : null;
  const fn = scenarioFunction(msg.scenario);
  const iterations = intArg(msg, "iterations");
  const every = intArg(msg, "sample_every", 0);
  const start = intArg(msg, "start", 0);
  // Preallocated (heap, external, rss per sample; the resource counts): growing an array between
  // samples moves heapUsed by hundreds of bytes, and tables sized per run would move `external`
  // (their backing stores) between runs of different lengths.
  const { samples, handles } = sampleTables(every > 0 ? Math.floor(iterations / every) : 0);
  let nextSample = every > 0 ? every : -1;
  let taken = 0;
  let sampleMs = 0;
  let lastProgress = -Infinity;
  keepScenarioFrames();
  const t0 = now();
  for (let i = 0; i < iterations; i++) {
    state.iteration = start + i + 1;
    const t = now();
    if (t - lastProgress >= PROGRESS_EVERY_MS) {
      sendProgress();
      lastProgress = t;
    }
    // Await only a thenable: a sync scenario never leaves this loop between samples.
    const pending = callOnce(fn);
    if (pending !== undefined) await pending;
    if (i + 1 === nextSample) {
      const ts = now();
      const [heap, external, rss] = await gcAndRead();
      samples[3 * taken] = heap;
      samples[3 * taken + 1] = external;
      samples[3 * taken + 2] = rss;
      countHandles(handles, HANDLE_COLUMNS * taken);
      taken++;
      sampleMs += now() - ts;
      nextSample += every;
    }
  }
  // One more turn of the event loop: a rejection nobody handled, or a timer's throw, surfaces
  // now, in this run's phase, rather than during the next command.
  if (every === 0 || iterations % every !== 0) await macrotask();
  const ms = now() - t0;
  const pairs = new Array(taken);
  for (let j = 0; j < taken; j++) {
    pairs[j] = [
      start + (j + 1) * every, samples[3 * j], samples[3 * j + 1], samples[3 * j + 2],
      handleCounts(handles, HANDLE_COLUMNS * j),
    ];
  }
  return { samples: pairs, ms, sample_ms: sampleMs, call_ms: ms - sampleMs };
}

async function callReserved(name) {
  if (!__jsleakExports.has(name)) return { called: false };
  const fn = __jsleakExports.get(name);
  if (typeof fn !== "function") {
    throw new HarnessError("ReservedExportError", `the \`${name}\` export is ${describeValue(fn)}, not a function`);
  }
  state.scenario = null;
  const pending = callOnce(fn);
  if (pending !== undefined) await pending;
  return { called: true };
}

async function snapshot(msg) {
  if (typeof msg.path !== "string" || msg.path === "") {
    throw new HarnessError("ProtocolError", "snapshot needs a path");
  }
  // While an inspector session is connected (allocation tracking), V8 keeps every console
  // message and its arguments for it: the target's console.log output would look like a leak.
  if (__jsleakInspectorSession !== null) await post("Runtime.discardConsoleEntries");
  await macrotask();
  fullGC();
  // v8.writeHeapSnapshot gives the V8 format in both runtimes (Bun.generateHeapSnapshot() without
  // "v8" gives JSC's own format) and writes from native code, with no multi-MB string in our heap.
  const written = v8.writeHeapSnapshot(msg.path);
  return { path: written };
}


// --- allocation tracking (Node) ---------------------------------------------------------------

// One in-process inspector session, opened on first use and kept connected to the end:
// disconnecting runs HeapProfiler.disable, which clears V8's object id map, and every later
// snapshot would then give old objects new ids (research/runtimes.md §4). While tracking is on,
// a snapshot carries the allocation stack of every object allocated since (trace_node_id).
// `__jsleak`-prefixed like every module-level variable of the harness that holds objects: what
// only it holds (the session, node:inspector's objects) is the harness's, never the target's.
let __jsleakInspectorSession = null;
const SESSION_WARMUP_CALLS = 64;

function post(method, params = {}) {
  return new Promise((resolve, reject) => {
    __jsleakInspectorSession.post(method, params, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

async function trackAllocations(msg) {
  if (typeof msg.on !== "boolean") throw new HarnessError("ProtocolError", "track_allocations needs on: true or false");
  // Bun's inspector has no HeapProfiler domain, and its snapshots no trace_node_id.
  if (IS_BUN) return { supported: false, tracking: false };
  if (__jsleakInspectorSession === null && !msg.on) return { supported: true, tracking: false };
  try {
    if (__jsleakInspectorSession === null) {
      // require, not import(): a dynamic import leaves the ESM loader's job settling after the
      // caller's next snapshot, and that looked like growth in round A.
      const inspector = createRequire(import.meta.url)("node:inspector");
      __jsleakInspectorSession = new inspector.Session();
      __jsleakInspectorSession.connect();
      await post("HeapProfiler.enable");
      // The session's own message handler gets its feedback and code after a few calls; made
      // now, before the caller's next snapshot, that does not look like growth in a later round.
      for (let i = 0; i < SESSION_WARMUP_CALLS; i++) await post("Runtime.discardConsoleEntries");
    }
    if (msg.on) {
      keepTrackedObjectsInPlace(true);
      await post("HeapProfiler.startTrackingHeapObjects", { trackAllocations: true });
    } else {
      await post("HeapProfiler.stopTrackingHeapObjects", { reportProgress: false });
      keepTrackedObjectsInPlace(false);
    }
  } catch (err) {
    // A runtime built without the inspector, or one that refuses it: no allocation sites, but
    // the check goes on (the caller learns it from `supported`). Disconnect only before the
    // snapshots: afterwards it would renumber every object (see above).
    keepTrackedObjectsInPlace(false);
    if (msg.on) closeInspector();
    return { supported: false, tracking: false, reason: describeError(err).message };
  }
  return { supported: true, tracking: msg.on };
}

// While tracking, the inspector numbers every live object at its heap-stats update (a timer, every
// 50 ms of event-loop turns, that runs a full GC first), and Node 20's V8 forgets the allocation
// stack of a numbered object that the GC then moves: an old-space page compacted, and the stacks of
// what lived on it were gone (all 200 leaked objects of a round, in loaded CI runs; 0 of 200 kept in
// a plain script whose calls left garbage and turned the loop, 200 of 200 with the loop still).
// After a stats update everything numbered is in the old space (its GC promotes the young), so
// without compaction nothing numbered moves: compaction is off while tracking, for a round of
// calls (fragmentation, not live bytes, is what it costs). Node 22's V8 keeps the stacks anyway.
function keepTrackedObjectsInPlace(on) {
  if (IS_BUN || IS_DENO) return; // Bun cannot track; Deno's V8 keeps the stacks (and ignores the flag)
  v8.setFlagsFromString(on ? "--no-compact" : "--compact");
}

function closeInspector() {
  if (__jsleakInspectorSession === null) return;
  try {
    __jsleakInspectorSession.disconnect(); // a connected session keeps the process from exiting
  } catch {
    // already gone
  }
  __jsleakInspectorSession = null;
}

const __jsleakHandlers = {
  setup: () => callReserved("setup"),
  teardown: () => callReserved("teardown"),
  run,
  gc_sample: async () => {
    const [heap, external, rss] = await gcAndRead();
    const table = new Int32Array(HANDLE_COLUMNS);
    countHandles(table, 0);
    return { heap_used: heap, external, rss, handles: handleCounts(table, 0) };
  },
  snapshot,
  track_allocations: trackAllocations,
  track_handles: trackHandles,
  handle_sites: handleSites,
  exit: () => shutdown(),
};

async function handle(msg) {
  const cmd = msg.cmd;
  const handler = typeof cmd === "string" && Object.hasOwn(__jsleakHandlers, cmd) ? __jsleakHandlers[cmd] : null;
  state.cmd = typeof cmd === "string" ? cmd : null;
  if (handler === null) {
    state.phase = "protocol";
    sendError(new HarnessError("ProtocolError", `unknown command ${stringify(cmd)}`), { origin: "harness" });
    return;
  }
  state.phase = cmd !== "run" ? cmd : typeof msg.phase === "string" ? msg.phase : "run";
  state.iteration = null;
  const t0 = now();
  try {
    const result = await handler(msg);
    send({ event: "result", cmd, ms: now() - t0, ...result });
  } catch (err) {
    const harness = err instanceof HarnessError;
    sendError(err, { origin: harness ? "harness" : "target" });
  }
}

// --- the command channel -----------------------------------------------------------------------

let __jsleakCommandStream = null;

function shutdown() {
  __jsleakCommandStream?.destroy();
  closeInspector();
  if (!IS_BUN) exit(0); // its stdio pipes are blocking (below): nothing is left unwritten
  // Bun's process.exit() drops stdout it has not written yet; a natural exit flushes it. The
  // fallback covers targets whose timers or sockets keep the event loop alive.
  setTimeout_(() => exit(0), 100).unref();
  return new Promise(() => {}); // no answer: the process ends
}

// Node writes to pipes asynchronously (here, despite the docs): what the target prints while the
// pipe is full would pile up in the JS heap being measured, and process.exit() would drop it.
function blockingStdio() {
  if (IS_BUN) return;
  for (const stream of [process.stdout, process.stderr]) {
    const handle = stream._handle;
    if (handle && typeof handle.setBlocking === "function") handle.setBlocking(true);
  }
}

const __jsleakQueue = [];
let pumping = false;
let loaded;

async function pump() {
  pumping = true;
  await loaded;
  while (__jsleakQueue.length > 0) await handle(__jsleakQueue.shift());
  pumping = false;
}

function onLine(line) {
  if (line.trim() === "") return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    const message = `not JSON: ${line.slice(0, 200)}`;
    send({ event: "error", cmd: null, phase: "protocol", name: "ProtocolError", message, origin: "harness" });
    return;
  }
  if (msg === null || typeof msg !== "object") msg = { cmd: msg };
  // Answered at once, even while a command runs: if the event loop is free (a promise that never
  // settles), Python learns exactly where the scenario hangs.
  if (msg.cmd === "status") {
    send({ event: "status", cmd: state.cmd, phase: state.phase, scenario: state.scenario, iteration: state.iteration });
    return;
  }
  __jsleakQueue.push(msg);
  if (!pumping) pump();
}

function listen() {
  let pending = "";
  const onText = (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      onLine(line);
    }
  };
  if (IS_DENO) {
    __jsleakCommandStream = readDenoChannel(onText);
    return;
  }
  // Node: a net.Socket reads the pipe on the event loop. An fs stream would park a libuv pool
  // thread in read(): one thread less for the target's fs/dns/zlib work, and process.exit() waits
  // for that read to return. Bun: a net.Socket on the fd stays silent; its fs stream works.
  let stream;
  if (IS_BUN) {
    stream = fs.createReadStream(null, { fd: CMD_FD, autoClose: false, encoding: "utf8" });
  } else {
    stream = new net.Socket({ fd: CMD_FD, readable: true, writable: false });
    stream.setEncoding("utf8");
  }
  __jsleakCommandStream = stream;
  stream.on("data", onText);
  // Python closed the channel (or died): nothing more will come.
  stream.on("end", () => shutdown());
  stream.on("error", () => exit(71));
}

// Deno: the inherited fd is read through /dev/fd, as the event pipe is written (above), with its
// own reads into one buffer allocated once. Its node:fs stream allocates a fresh 64 KB Buffer for
// every read, alive at the first sample of each run: external memory that came and went by 64 KB,
// so the settling warm-up never saw memory flat and always ran to its bound.
function readDenoChannel(onText) {
  let file;
  try {
    file = Deno.openSync(`/dev/fd/${CMD_FD}`, { read: true });
  } catch (err) {
    process.stderr.write(`pytest-jsleak harness: cannot open the channel /dev/fd/${CMD_FD}: ${err}\n`);
    exit(71);
  }
  const buffer = new Uint8Array(64 * 1024);
  const decoder = new TextDecoder();
  const channel = {
    closed: false,
    destroy() {
      if (this.closed) return;
      this.closed = true;
      try {
        file.close();
      } catch {
        // already closed
      }
    },
  };
  (async () => {
    for (;;) {
      let count;
      try {
        count = await file.read(buffer);
      } catch {
        if (!channel.closed) exit(71);
        return;
      }
      // Python closed the channel (or died): nothing more will come.
      if (count === null) return shutdown();
      onText(decoder.decode(buffer.subarray(0, count), { stream: true }));
    }
  })();
  return channel;
}

// Errors the target raises outside a call (a timer callback, a forgotten rejected promise) would
// crash the runtime with a bare stack on stderr; reporting them says in which phase and call.
function onUncaught(kind) {
  return (err) => {
    sendError(err, { origin: "target", uncaught: kind });
    exit(70);
  };
}

function main() {
  if (!Number.isInteger(CMD_FD) || !Number.isInteger(EVT_FD)) {
    process.stderr.write("harness.mjs is started by pytest-jsleak (JSLEAK_CMD_FD/JSLEAK_EVT_FD are not set)\n");
    exit(64);
  }
  const target = process.argv[2];
  blockingStdio();
  process.on("uncaughtException", onUncaught("exception"));
  process.on("unhandledRejection", onUncaught("rejection"));
  // Listening first keeps the event loop alive while a top-level await of the target is pending.
  listen();
  process.on("exit", (code) => {
    // The target's own process.exit() (or an empty event loop): says exactly where it happened.
    send({ event: "exiting", code, phase: state.phase, scenario: state.scenario, iteration: state.iteration });
  });
  ownProcessListeners = processListenerCount();
  loaded = load(target).catch((err) => {
    const nodeSyntax = !IS_BUN && err instanceof SyntaxError;
    // A syntax error's stack holds only node's loader frames; the location comes below.
    sendError(err, { origin: err instanceof HarnessError ? "harness" : "target", ...(nodeSyntax ? { stack: null } : {}) });
    if (nodeSyntax) {
      // Node keeps the file:line of a syntax error out of err.stack; only its fatal-exception
      // handler prints it (to stderr, which Python keeps as the output tail).
      process.removeAllListeners("uncaughtException");
      process.removeAllListeners("unhandledRejection");
      process.removeAllListeners("exit");
      setImmediate_(() => {
        throw err;
      });
      return;
    }
    exit(65);
  });
}

main();

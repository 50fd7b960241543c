// Writes S1, S2, S3 heap snapshots of a process that leaks a known class between them.
//
// usage: node --expose-gc gen_snapshots.mjs OUTDIR BALLAST LEAKS_PER_STEP
//
// BALLAST long-lived objects (allocated before S1, so never candidates) set the snapshot's size.
// Each step allocates LEAKS_PER_STEP `RequestRecord`s, keeps them in the global array
// `requestLog` and in a listener closure `onRequest` registered on an EventEmitter; it also makes
// short-lived garbage that a full GC frees. Steps run between S1→S2 and S2→S3, so a correct
// 3-snapshot diff finds exactly LEAKS_PER_STEP RequestRecords allocated in S1→S2 alive in S3.
import v8 from 'node:v8';
import path from 'node:path';
import { EventEmitter } from 'node:events';

const [outDir, ballastArg, leaksArg] = process.argv.slice(2);
const ballastCount = Number(ballastArg ?? 1000);
const leaksPerStep = Number(leaksArg ?? 100);

class BallastItem {
  constructor(i) {
    this.index = i;
    this.label = `item-${i}`;
    this.tags = [i & 7, i & 15];
  }
}

class RequestRecord {
  constructor(n) {
    this.n = n;
    this.url = `/api/orders/${n}`;
    this.headers = { 'x-request-id': `req-${n}` };
  }
}

const ballast = [];
for (let i = 0; i < ballastCount; i++) ballast.push(new BallastItem(i));
globalThis.ballast = ballast;

globalThis.requestLog = [];
const bus = new EventEmitter();
bus.setMaxListeners(0);
globalThis.bus = bus;

let served = 0;
function handleRequest() {
  const record = new RequestRecord(served++);
  globalThis.requestLog.push(record);
  bus.on('request', function onRequest() {
    return record.n;
  });
  // Garbage that a full GC frees: must never show up as a survivor.
  const scratch = [];
  for (let i = 0; i < 8; i++) scratch.push({ i, text: `tmp-${i}` });
  return scratch.length;
}

function snapshot(name) {
  gc();
  gc();
  const file = path.join(outDir, name);
  v8.writeHeapSnapshot(file);
  return file;
}

// Warm up so that lazily created code and shapes exist before S1.
for (let i = 0; i < 50; i++) handleRequest();
snapshot('s1.heapsnapshot');
for (let i = 0; i < leaksPerStep; i++) handleRequest();
snapshot('s2.heapsnapshot');
for (let i = 0; i < leaksPerStep; i++) handleRequest();
snapshot('s3.heapsnapshot');

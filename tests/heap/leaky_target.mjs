// Writes S1, S2, S3 for the heap tests: LEAKS RequestRecords per step stay alive through the
// module-level array `requestLog` and through `onRequest` listener closures on an EventEmitter.
// usage: node --expose-gc leaky_target.mjs OUTDIR LEAKS      (bun leaky_target.mjs OUTDIR LEAKS)
import v8 from 'node:v8';
import path from 'node:path';
import { EventEmitter } from 'node:events';

const [outDir, leaksArg] = process.argv.slice(2);
const leaks = Number(leaksArg ?? 7);
const fullGC = typeof Bun !== 'undefined' ? () => Bun.gc(true) : () => gc();

class RequestRecord {
  constructor(n) {
    this.n = n;
    this.url = `/api/orders/${n}`;
  }
}

const requestLog = [];
const bus = new EventEmitter();
bus.setMaxListeners(0);

function handleRequest(n) {
  const record = new RequestRecord(n);
  requestLog.push(record);
  bus.on('request', function onRequest() {
    return record.n;
  });
  const garbage = [];
  for (let i = 0; i < 4; i++) garbage.push({ i });
  return garbage.length;
}

function snapshot(name) {
  fullGC();
  fullGC();
  v8.writeHeapSnapshot(path.join(outDir, name));
}

function step(base) {
  for (let i = 0; i < leaks; i++) handleRequest(base + i);
}

await new Promise((resolve) => setTimeout(resolve, 0));
step(0);
snapshot('s1.heapsnapshot');
step(100);
snapshot('s2.heapsnapshot');
step(200);
snapshot('s3.heapsnapshot');

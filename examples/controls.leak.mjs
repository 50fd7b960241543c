// Clean code that allocates, caches or grows and then stops: none of it is a leak, and each
// scenario must pass. These are the false positives other tools are known for.

import { Buffer } from "node:buffer";

class Entry {
  constructor(key) {
    this.key = key;
    this.value = `value-${key}`;
  }
}

// A bounded LRU cache: it fills up, then evicts.
const lru = new Map();
const LRU_SIZE = 64;
let lruKey = 0;

export function boundedLruCache() {
  const key = lruKey++;
  lru.set(key, new Entry(key));
  if (lru.size > LRU_SIZE) lru.delete(lru.keys().next().value);
  return lru.size;
}

// Lazy one-time initialisation: the first call builds a table, later calls read it.
let lookupTable = null;

export function lazyInit() {
  lookupTable ??= Array.from({ length: 5000 }, (_, i) => new Entry(i));
  return lookupTable[lruKey++ % lookupTable.length].value.length;
}

// A memo that grows past the warm-up and then plateaus (keys repeat after 150 calls).
const memo = new Map();
let memoCall = 0;

export function plateauingMemo() {
  const key = memoCall++ % 150;
  if (!memo.has(key)) memo.set(key, new Entry(key));
  return memo.get(key).value.length;
}

// Heavy temporary allocation: megabytes per call, all garbage afterwards.
export function heavyTemporaryAllocation() {
  const rows = Array.from({ length: 2000 }, (_, i) => ({ i, label: `row ${i}` }));
  const buffer = new Float64Array(64 * 1024);
  return rows.length + buffer.length;
}

// A WeakMap side table: metadata lives exactly as long as its key object.
const metadata = new WeakMap();

export function weakMapSideTable() {
  const request = { id: lruKey++ };
  metadata.set(request, new Entry(request.id));
  return metadata.get(request).key;
}

// A ring buffer of the last 32 events, overwritten in place.
const ring = new Array(32).fill(null);
let ringIndex = 0;

export function ringBuffer() {
  ring[ringIndex++ % ring.length] = new Entry(ringIndex);
  return ringIndex;
}

// Async work that settles: promises and timers that finish are not leaks.
export async function settledAsyncWork() {
  await new Promise((resolve) => setTimeout(resolve, 0));
  return new Entry(lruKey++).key;
}

// A 1 MB buffer allocated and dropped per call: its backing store is freed after GC (sometimes
// lazily, on another thread), so the memory outside the heap comes and goes but does not grow.
export function largeBufferPerCall() {
  const scratch = Buffer.alloc(1024 * 1024);
  scratch[scratch.length - 1] = 1;
  return scratch.length;
}

// A 16 MB typed array allocated once, on the first call, and kept: a one-off, not growth.
let firstCallTable = null;

export function bigTableOnFirstCall() {
  firstCallTable ??= new Float64Array(2 * 1024 * 1024).fill(0.5);
  return firstCallTable[firstCallTable.length - 1];
}

// Thumbnails kept in a Map keyed by a unique id: each one is a 64 KB Buffer. The JS wrapper is a
// few dozen bytes; the backing store, outside the JS heap, is what leaks.
// Both scenarios run under a 1 KB threshold: the pool allocates nothing per call once warm.
import { Buffer } from "node:buffer";

export const jsleak = { maxGrowthPerIteration: "1KB" };

const THUMBNAIL_BYTES = 64 * 1024;
const thumbnails = new Map();
let upload = 0;

function renderThumbnail(target, seed) {
  target.fill(seed & 0xff);
  return target;
}

export function leaky() {
  const id = `upload-${upload++}`;
  thumbnails.set(id, renderThumbnail(Buffer.alloc(THUMBNAIL_BYTES), upload)); // never evicted
  return thumbnails.size;
}

// The fix: a small pool of buffers, each reused once its previous render was consumed.
const pool = Array.from({ length: 4 }, () => Buffer.alloc(THUMBNAIL_BYTES));

export function fixed() {
  const buffer = pool[upload++ % pool.length];
  return renderThumbnail(buffer, upload).length;
}

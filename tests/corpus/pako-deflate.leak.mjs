// pako@3.0.3: compressed output lives in Uint8Array backing stores, outside the JS heap (external
// memory / arrayBuffers). Two pairs:
// - archiveLeaky keeps every deflate() result in a module-level array; archiveFixed keeps the last 16.
// - streamLeaky pushes each record into one long-lived Deflate stream with a sync flush: the stream's
//   default onData collects every output chunk in `this.chunks` until the stream ends, which it
//   never does; each sync flush also retires the whole 16 KB output buffer (pako allocates a new one
//   after every flush), so ~16 KB a call stay alive. streamFixed overrides onData to hand chunks on
//   (here: count them), as pako documents.
import { deflate, Deflate, Z_SYNC_FLUSH } from "pako";

let seed = 12345;
let recordNo = 0;

// ~700 bytes of poorly compressible text: ~450 bytes of deflate output a call, whose backing store
// lives outside the JS heap.
function record() {
  recordNo++;
  let text = `{"record":${recordNo},"samples":"`;
  for (let i = 0; i < 96; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    text += seed.toString(36);
  }
  return text + '"}';
}

const archive = [];
const recent = new Array(16);

export function archiveLeaky() {
  const packed = deflate(record());
  archive.push(packed);
  return packed.length;
}

export function archiveFixed() {
  const packed = deflate(record());
  recent[recordNo % recent.length] = packed;
  return packed.length;
}

const journal = new Deflate({ level: 6 });
const forwarded = new Deflate({ level: 6 });
let bytesOut = 0;
forwarded.onData = (chunk) => {
  bytesOut += chunk.length; // a real sink would write the chunk out here
};

export function streamLeaky() {
  journal.push(record(), Z_SYNC_FLUSH);
  return journal.chunks.length;
}

export function streamFixed() {
  forwarded.push(record(), Z_SYNC_FLUSH);
  return bytesOut;
}

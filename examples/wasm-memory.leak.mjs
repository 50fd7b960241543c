// A WebAssembly.Memory used as an arena that grows by one 64 KB page per call and is never
// reset: the memory lives outside the JS heap, and its JS object never changes. Its maximum (1 GB)
// leaves room for the longer rounds that confirm growth in place (Bun's rounds are 1,000+ calls).
const PAGE = 64 * 1024;
const arena = new WebAssembly.Memory({ initial: 1, maximum: 16384 });
let call = 0;

export function leaky() {
  arena.grow(1); // one more page per call, kept forever
  new Uint8Array(arena.buffer)[arena.buffer.byteLength - 1] = call++ & 0xff;
  return arena.buffer.byteLength / PAGE;
}

// The fix: the arena grows to what the work needs (8 pages, reached during warm-up) and is reused.
const NEEDED_PAGES = 8;
const reused = new WebAssembly.Memory({ initial: 1, maximum: 4096 });

export function fixed() {
  if (reused.buffer.byteLength / PAGE < NEEDED_PAGES) reused.grow(1);
  new Uint8Array(reused.buffer)[(call++ * 4096) % reused.buffer.byteLength] = 1;
  return reused.buffer.byteLength / PAGE;
}

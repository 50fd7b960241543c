// Allocation tracking on Node 20: kept objects whose old-space pages the GC compacts after the
// inspector numbered them (tests/runtime/test_runtime_heap.py).
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
// A turn of the event loop that lasts: the inspector's heap-stats timer fires.
export async function pause() {
  await new Promise((resolve) => setTimeout(resolve, 80));
}

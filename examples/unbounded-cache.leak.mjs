// A memoisation cache keyed by something unique per call grows forever.
// Seed: "unbounded caches" (000, 003): a Map used as a cache with no eviction.

class RenderedPage {
  constructor(url) {
    this.url = url;
    this.html = `<main>${url}</main>`;
  }
}

const pageCache = new Map();
let request = 0;

export function leaky() {
  const url = `/article/${request++}?session=${Math.random()}`; // a key that never repeats
  let page = pageCache.get(url);
  if (!page) {
    page = new RenderedPage(url);
    pageCache.set(url, page); // no eviction: the leak
  }
  return page.html.length;
}

const MAX_ENTRIES = 100;
const boundedCache = new Map();

export function fixed() {
  const url = `/article/${request++}?session=${Math.random()}`;
  let page = boundedCache.get(url);
  if (!page) {
    page = new RenderedPage(url);
    boundedCache.set(url, page);
    if (boundedCache.size > MAX_ENTRIES) {
      boundedCache.delete(boundedCache.keys().next().value); // the fix: evict the oldest
    }
  }
  return page.html.length;
}

// An ES-module TypeScript target (.mts): a metrics registry keyed by a label that is unique per
// call (a request id in the label) grows without bound. Runs under Bun, Deno and Node >= 22.6.

class Histogram {
  name: string;
  buckets: number[];

  constructor(name: string) {
    this.name = name;
    this.buckets = new Array<number>(8).fill(0);
  }
}

const registry = new Map<string, Histogram>();
let requestId = 0;

function observe(label: string, ms: number): void {
  let h = registry.get(label);
  if (h === undefined) {
    h = new Histogram(label);
    registry.set(label, h);
  }
  h.buckets[Math.min(7, Math.floor(Math.log2(ms + 1)))]++;
}

export function leaky(): number {
  observe(`GET /orders/${requestId++}`, 12); // a label per request: one histogram each, forever
  return registry.size;
}

export function fixed(): number {
  requestId++;
  observe("GET /orders/:id", 12); // the fix: label by route, not by request
  return registry.size;
}

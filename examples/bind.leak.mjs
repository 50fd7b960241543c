// `fn.bind(this)` creates a new function each time; registering it globally keeps `this`
// alive. Seed: "Function.prototype.bind() retains objects" (000).

class ResourceTracker {
  constructor(id) {
    this.id = id;
    this.resources = new Array(8).fill(id);
  }
  getResourceCount() {
    return this.resources.length;
  }
}

const metricsRegistry = []; // a global list of metric callbacks
let nextId = 0;

export function leaky() {
  const tracker = new ResourceTracker(nextId++);
  metricsRegistry.push(tracker.getResourceCount.bind(tracker)); // never unregistered
  return tracker.id;
}

export function fixed() {
  const tracker = new ResourceTracker(nextId++);
  const callback = tracker.getResourceCount.bind(tracker);
  metricsRegistry.push(callback);
  const value = callback();
  metricsRegistry.splice(metricsRegistry.indexOf(callback), 1); // the fix: unregister
  return value;
}

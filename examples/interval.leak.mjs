// A setInterval that is never cleared keeps its callback, and all it closes over, alive.
// Seed: "timers" (002, 004).

class Poller {
  constructor(id) {
    this.id = id;
    this.polls = 0;
    this.buffer = new Array(16).fill(id);
  }
  poll() {
    this.polls++;
  }
}

let nextId = 0;

export function leaky() {
  const poller = new Poller(nextId++);
  setInterval(() => poller.poll(), 60_000); // never cleared
  return poller.id;
}

export function fixed() {
  const poller = new Poller(nextId++);
  const timer = setInterval(() => poller.poll(), 60_000);
  clearInterval(timer); // the fix: clear it when its owner is done
  return poller.id;
}

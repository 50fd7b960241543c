// A closure that keeps a big object alive through a shared context.
// Seed: "closures" (002, 004) - the famous `replaceThing` leak: `unused` closes over
// `previous`, and every closure created in the same scope shares one context, so each
// new BigThing keeps the previous one alive through `keepAlive`.

class BigThing {
  constructor(payload, keepAlive) {
    this.payload = payload;
    this.keepAlive = keepAlive;
  }
}

let current = null;

export function leaky() {
  const previous = current;
  const unused = () => (previous ? previous.payload.length : 0); // captures `previous`
  current = new BigThing(new Array(64).fill(0), () => 1); // shares the context with `unused`
  return unused.length;
}

export function fixed() {
  const previous = current;
  const size = previous ? previous.payload.length : 0; // read it, do not capture it
  current = new BigThing(new Array(64).fill(0), () => size);
  return size;
}

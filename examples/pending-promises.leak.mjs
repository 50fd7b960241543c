// Promises that never settle, kept in a list "to resolve later", keep their handlers and
// everything those close over alive. Seed: promise/async leaks (004).

class Job {
  constructor(id) {
    this.id = id;
    this.payload = { id, attempts: 0 };
  }
}

const waiting = []; // resolvers that nobody ever calls
let nextId = 0;

export function leaky() {
  const job = new Job(nextId++);
  const done = new Promise((resolve) => waiting.push(resolve));
  done.then(() => job.payload.attempts++);
  return job.id;
}

export async function fixed() {
  const job = new Job(nextId++);
  const done = new Promise((resolve) => waiting.push(resolve));
  const settled = done.then(() => job.payload.attempts++);
  waiting.shift()(); // the fix: settle it (or drop it) instead of keeping it forever
  await settled;
  return job.id;
}

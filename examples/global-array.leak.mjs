// A module-level array that every request appends to and nothing ever trims.
// Seed: "global variables" (002, 003); the classic `requestLog.push(...)` of a request handler.

class RequestRecord {
  constructor(id, path) {
    this.id = id;
    this.path = path;
    this.receivedAt = Date.now();
  }
}

const requestLog = [];
let nextId = 0;

function handle(path) {
  const record = new RequestRecord(nextId++, path);
  return record.path.length;
}

export function leaky() {
  const record = new RequestRecord(nextId++, `/users/${nextId}`);
  requestLog.push(record); // kept forever: the leak
  return record.id;
}

export function fixed() {
  // The fix: log what you need (a counter, or a bounded structure), not every record.
  return handle(`/users/${nextId}`);
}

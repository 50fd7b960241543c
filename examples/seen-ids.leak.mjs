// Request ids remembered in a Set to drop duplicates: small integers are stored in the Set's own
// hash table, so the table grows with every call although no new object survives.
const seen = new Set();
let nextId = 0;

export function leaky() {
  const id = nextId++;
  if (!seen.has(id)) seen.add(id); // never forgotten
  return seen.size;
}

// The fix: remember only the last 100 ids (a Set keeps insertion order: delete the oldest).
const MAX_REMEMBERED = 100;
const recent = new Set();

export function fixed() {
  const id = nextId++;
  if (!recent.has(id)) recent.add(id);
  if (recent.size > MAX_REMEMBERED) recent.delete(recent.values().next().value);
  return recent.size;
}

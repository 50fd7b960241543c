// A request body accumulated by copying: every call replaces the kept Uint8Array by a larger
// copy. The old one dies, so no new object survives, but the one alive grows by 256 B per call.
const connection = { body: new Uint8Array(0) };

function append(body, chunk) {
  const larger = new Uint8Array(body.length + chunk.length);
  larger.set(body);
  larger.set(chunk, body.length);
  return larger;
}

export function leaky() {
  const chunk = new Uint8Array(256).fill(1);
  connection.body = append(connection.body, chunk); // the body is never released
  return connection.body.length;
}

// The fix: collect the chunks of one request and release them when the request is done.
export function fixed() {
  const chunks = [];
  for (let i = 0; i < 4; i++) chunks.push(new Uint8Array(64).fill(i));
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  chunks.length = 0; // the request is done: nothing of it is kept
  return total;
}

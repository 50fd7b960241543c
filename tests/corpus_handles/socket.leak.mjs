// A connection per request to a loopback server started in `setup`: never closed, or closed.
import { closeConnection, openConnection, startServer } from "./lib/client.mjs";

// Each leaked connection holds two descriptors (both ends live in this process).
export const jsleak = { iterations: 50, warmup: 20 };

let server;

export async function setup() {
  server = await startServer();
}

export async function teardown() {
  server.closeAllConnections?.();
  server.close();
}

export async function leaky() {
  await openConnection(server.address().port);
}

export async function fixed() {
  await closeConnection(await openConnection(server.address().port));
}

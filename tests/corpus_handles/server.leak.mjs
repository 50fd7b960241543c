// A stub server started per test case (net.createServer().listen), never closed, or closed.
import { startStub, stopStub } from "./lib/listen.mjs";

export const jsleak = { iterations: 50, warmup: 20 };

export async function leaky() {
  await startStub();
}

export async function fixed() {
  await stopStub(await startStub());
}

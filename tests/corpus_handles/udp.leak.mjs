// A metrics socket per job (dgram), never closed, or closed.
import { closeSocket, metricsSocket } from "./lib/listen.mjs";

export const jsleak = { iterations: 50, warmup: 20 };

export async function leaky() {
  await metricsSocket();
}

export async function fixed() {
  await closeSocket(await metricsSocket());
}

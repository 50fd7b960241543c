// A flush on exit registered per buffer (process.on("exit")), never removed, or removed.
import { cancelFlush, flushOnExit } from "./lib/shutdown.mjs";

export const jsleak = { iterations: 50, warmup: 20 };

process.setMaxListeners(0); // the warning is not the point here

export function leaky() {
  flushOnExit([1, 2, 3]);
}

export function fixed() {
  cancelFlush(flushOnExit([1, 2, 3]));
}

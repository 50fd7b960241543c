// A retry per failed send: ten minutes out (still pending at the end of the check) or one
// millisecond out (it fires, and the timer ends by itself).
import { retryLater } from "./lib/retry.mjs";

export const jsleak = { iterations: 50, warmup: 20 };

let sent = 0;
const send = () => { sent++; };

export function leaky() {
  retryLater(send, 600_000);
}

export async function fixed() {
  retryLater(send, 1);
}

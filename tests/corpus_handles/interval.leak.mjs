// A poller started per request and never stopped (setInterval).
import { schedulePoll, stopPoll } from "./lib/poller.mjs";

const source = { checks: 0, check() { this.checks++; } };

export function leaky() {
  schedulePoll(source);
}

export function fixed() {
  stopPoll(schedulePoll(source));
}

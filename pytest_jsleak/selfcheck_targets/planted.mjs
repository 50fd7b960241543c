// The positive control of --jsleak-self-check: one small object kept per call, and its clean twin.
// The check must call `leaky` a leak and `clean` clean, with the session's options, on this machine.

const kept = [];

export function leaky() {
  kept.push({ call: kept.length }); // one small object (and one array slot) per call, kept forever
}

export function clean() {
  const made = { call: kept.length }; // the same object, made and dropped
  return made.call;
}

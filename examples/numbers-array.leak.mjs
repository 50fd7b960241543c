// Latencies pushed into one long-lived array: no new object survives (the numbers are stored
// unboxed in the array's own storage), yet the array grows by 8 bytes per call forever.
const latencies = [];

function measure(seed) {
  return 1.5 + ((seed * 7919) % 1000) / 1000; // a double, stored unboxed
}

let call = 0;

export function leaky() {
  latencies.push(measure(call++));
  return latencies.length;
}

// The fix: a bounded window of the last 100 latencies.
const WINDOW = 100;
const window = [];

export function fixed() {
  window.push(measure(call++));
  if (window.length > WINDOW) window.shift();
  return window.length;
}

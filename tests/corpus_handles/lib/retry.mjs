// Retries a failed send after a delay.
export function retryLater(send, delayMs) {
  return setTimeout(send, delayMs);
}

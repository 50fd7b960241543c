// Flushes a buffer when the process exits.
export function flushOnExit(buffer) {
  const flush = () => buffer.length;
  process.on("exit", flush);
  return flush;
}

export function cancelFlush(flush) {
  process.removeListener("exit", flush);
}

// Listeners added to a long-lived AbortSignal stay alive until it aborts: for a server-wide
// shutdown signal that is "never". Seed: "AbortSignal listeners" (000). Async scenarios.

class PendingQuery {
  constructor(sql) {
    this.sql = sql;
    this.rows = [];
  }
  cancel() {
    this.rows = null;
  }
}

const shutdown = new AbortController(); // lives as long as the server

export async function leaky() {
  const query = new PendingQuery(`select ${Math.random()}`);
  shutdown.signal.addEventListener("abort", () => query.cancel()); // never removed
  await Promise.resolve();
  return query.sql.length;
}

export async function fixed() {
  const query = new PendingQuery(`select ${Math.random()}`);
  const onAbort = () => query.cancel();
  shutdown.signal.addEventListener("abort", onAbort);
  try {
    await Promise.resolve();
    return query.sql.length;
  } finally {
    shutdown.signal.removeEventListener("abort", onAbort); // the fix
  }
}

// A CommonJS TypeScript target (.cts): a retry helper that records every attempt in a log that
// is never cleared. Runs under Bun, Deno and Node >= 22.6.

interface Attempt {
  operation: string;
  attempt: number;
  error: string;
}

class RetryRecord implements Attempt {
  operation: string;
  attempt: number;
  error: string;

  constructor(operation: string, attempt: number, error: string) {
    this.operation = operation;
    this.attempt = attempt;
    this.error = error;
  }
}

const attemptLog: RetryRecord[] = [];
let calls = 0;

function withRetry(operation: string, log: boolean): number {
  const record = new RetryRecord(operation, ++calls, "ECONNRESET");
  if (log) attemptLog.push(record); // kept forever: the leak
  return record.attempt;
}

exports.leaky = function leaky(): number {
  return withRetry("fetchInventory", true);
};

exports.fixed = function fixed(): number {
  return withRetry("fetchInventory", false);
};

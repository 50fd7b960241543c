// Plain objects built two calls below the scenario, in another module, and kept in a trail that
// nobody trims. The report shows `Object`, held by `trail`; the allocation site names the function
// that built them: `allocated at buildAuditEntry (lib/audit.mjs:4:32) ← recordLogin ← leaky`.

import { recordLogin } from "./lib/audit.mjs";

const trail = [];
const recent = [];
const KEEP = 50;
let logins = 0;

export function leaky() {
  recordLogin(trail, `user${logins++ % 10}`); // every entry kept forever: the leak
}

export function fixed() {
  // The fix: keep the last KEEP entries (or write them out), not all of them.
  recordLogin(recent, `user${logins++ % 10}`);
  if (recent.length > KEEP) recent.shift();
}

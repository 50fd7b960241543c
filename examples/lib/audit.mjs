// Audit helpers of an application (not a *.leak.* target): audit-log.leak.mjs calls them. The
// entries are plain objects, so a leak report can tell them apart only by where they were built.

export function buildAuditEntry(user, action) {
  return { user, action, at: Date.now() };
}

export function recordLogin(trail, user) {
  const entry = buildAuditEntry(user, "login");
  trail.push(entry);
  return entry;
}

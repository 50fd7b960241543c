// A small session store, as an application module (not a *.leak.* target): the Python tests in
// test_with_fixture.py check its functions with the `jsleak` fixture.

class Session {
  constructor(id, user) {
    this.id = id;
    this.user = user;
    this.createdAt = Date.now();
  }
}

const sessions = new Map();
const auditTrail = [];
let nextId = 0;

export function createAndDestroy() {
  const session = new Session(nextId++, { name: "ada" });
  sessions.set(session.id, session);
  sessions.delete(session.id);
  return session.id;
}

// Keeps a 16-byte-ish audit entry per login: a known, accepted growth in this app.
export function loginWithAudit() {
  const session = new Session(nextId++, { name: "grace" });
  sessions.set(session.id, session);
  auditTrail.push(session.id * 2 + 1);
  sessions.delete(session.id);
  return auditTrail.length;
}

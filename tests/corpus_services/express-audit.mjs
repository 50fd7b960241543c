// Express 5: an audit middleware that records every request for a /debug/recent page.
//   GET /leaky/orders/:id  the record goes onto a module-level array that is never trimmed (leak)
//   GET /fixed/orders/:id  the same record goes into a ring of the last 100 (fixed twin)
// Run: PORT=8080 node express-audit.mjs (jsleak.service passes PORT); ground_truth.mjs imports start().
import express from "express";
import { pathToFileURL } from "node:url";

class AuditRecord {
  constructor(req) {
    this.method = req.method;
    this.path = req.path;
    this.userAgent = req.get("user-agent") ?? "";
    this.at = Date.now();
  }
}

const auditLog = []; // leaky: every request, for ever
const RING = 100;
const recent = new Array(RING); // fixed: the last RING requests
let written = 0;

export function createApp() {
  const app = express();
  app.get("/health", (req, res) => res.send("ok"));
  app.use("/leaky", (req, res, next) => {
    auditLog.push(new AuditRecord(req));
    next();
  });
  app.use("/fixed", (req, res, next) => {
    recent[written++ % RING] = new AuditRecord(req);
    next();
  });
  const order = (req, res) => res.json({ id: req.params.id, status: "shipped" });
  app.get("/leaky/orders/:id", order);
  app.get("/fixed/orders/:id", order);
  return app;
}

export function start(port) {
  return new Promise((resolve) => {
    const server = createApp().listen(port, "127.0.0.1", () => resolve(server));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await start(Number(process.env.PORT ?? 8080));
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
}

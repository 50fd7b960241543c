// Koa 3: a middleware that tracks in-flight requests by id in a module-level Map (for a /debug page).
//   GET /leaky/profile  the entry is added and never deleted (leak: the Map keeps one per request)
//   GET /fixed/profile  the entry is deleted in `finally` after the response is built (fixed twin)
// Run: PORT=8080 node koa-sessions.mjs (jsleak.service passes PORT); ground_truth.mjs imports start().
import Koa from "koa";
import { pathToFileURL } from "node:url";

class InFlight {
  constructor(ctx, id) {
    this.id = id;
    this.path = ctx.path;
    this.userAgent = ctx.get("user-agent");
    this.startedAt = Date.now();
  }
}

const inFlight = new Map();
let nextId = 0;

export function createApp() {
  const app = new Koa();
  app.use(async (ctx, next) => {
    const mode = ctx.path.split("/")[1];
    if (mode !== "leaky" && mode !== "fixed") return next();
    const id = `req-${++nextId}`;
    inFlight.set(id, new InFlight(ctx, id));
    try {
      await next();
    } finally {
      if (mode === "fixed") inFlight.delete(id);
    }
  });
  app.use(async (ctx) => {
    if (ctx.path === "/health") ctx.body = "ok";
    else if (ctx.path.endsWith("/profile")) ctx.body = { name: "Ada", inFlight: inFlight.size > 0 };
    else ctx.status = 404;
  });
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

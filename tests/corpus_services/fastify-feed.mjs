// Fastify 5: a quote route whose work is cancelled if the service shuts down: every request adds a
// `shutdown` listener on a long-lived lifecycle emitter.
//   GET /leaky/quote  the listener is never removed (leak: the emitter keeps every listener and the
//                     request's Quote it closes over)
//   GET /fixed/quote  the same, with the listener removed once the quote is answered (fixed twin)
// Run: PORT=8080 node fastify-feed.mjs (jsleak.service passes PORT); ground_truth.mjs imports start().
import Fastify from "fastify";
import { EventEmitter } from "node:events";
import { pathToFileURL } from "node:url";

class Quote {
  constructor(symbol) {
    this.symbol = symbol;
    this.requestedAt = Date.now();
    this.prices = [];
    this.cancelled = false;
  }
}

const lifecycle = new EventEmitter();
lifecycle.setMaxListeners(0); // the warning would have said it; silenced, as real code often does
let last = 100;

export function createApp() {
  const app = Fastify({ logger: false });
  app.get("/health", async () => "ok");
  for (const mode of ["leaky", "fixed"]) {
    app.get(`/${mode}/quote`, async () => {
      const quote = new Quote("ACME");
      const cancel = () => {
        quote.cancelled = true;
      };
      lifecycle.on("shutdown", cancel);
      try {
        quote.prices.push(++last);
        return { symbol: quote.symbol, price: quote.prices.at(-1), cancelled: Boolean(quote.cancelled) };
      } finally {
        if (mode === "fixed") lifecycle.off("shutdown", cancel);
      }
    });
  }
  return app;
}

export async function start(port) {
  const app = createApp();
  await app.listen({ port, host: "127.0.0.1" });
  return app.server;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await start(Number(process.env.PORT ?? 8080));
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
}

// The same service under Deno, with Deno.serve (no dependency). Started by test_service.py through
// jsleak.service(["deno", "run", "--allow-net=127.0.0.1", "--allow-env=PORT", "server.ts"]).

// --- leaky: a tracking array that only ever grows ----------------------------------------------
class RequestRecord {
  at = Date.now();
  constructor(public url: string, public userAgent: string) {}
}
const requestLog: RequestRecord[] = [];

// --- leaky: a listener added per request on a long-lived event target ----------------------------
class Subscription {
  received: unknown[] = [];
  constructor(public id: number) {}
}
const configBus = new EventTarget();
let subscriptions = 0;

// --- clean: a bounded LRU cache --------------------------------------------------------------------
class RenderedPage {
  html: string;
  constructor(public key: string) {
    this.html = `<h1>page ${key}</h1>`.repeat(4);
  }
}
const PAGE_CACHE_LIMIT = 100;
const pageCache = new Map<string, RenderedPage>();
function renderPage(key: string): RenderedPage {
  let page = pageCache.get(key);
  if (page) pageCache.delete(key);
  else page = new RenderedPage(key);
  pageCache.set(key, page);
  if (pageCache.size > PAGE_CACHE_LIMIT) pageCache.delete(pageCache.keys().next().value!);
  return page;
}

// --- clean: work that goes on after the response, then lets go of what it held ----------------------
// Audit entries are written in batches: a flush 15 ms after the first pending entry (one timer at a
// time, like a buffered log writer). The response leaves first; the entries are released at the flush.
class AuditEntry {
  payload = "x".repeat(256);
  constructor(public url: string) {}
}
const pendingAudits = new Set<AuditEntry>();
let flushTimer: number | null = null;
function flushAudits() {
  flushTimer = null;
  pendingAudits.clear(); // "written"
}

function handle(request: Request): Response {
  const url = new URL(request.url);
  switch (url.pathname) {
    case "/health":
      return new Response("ok");
    case "/track":
      requestLog.push(new RequestRecord(request.url, request.headers.get("user-agent") ?? ""));
      return new Response(`tracked ${requestLog.length}`);
    case "/subscribe": {
      const subscription = new Subscription(++subscriptions);
      configBus.addEventListener("config", (event) => subscription.received.push(event));
      return new Response(`subscribed ${subscription.id}`);
    }
    case "/page": {
      const page = renderPage(url.searchParams.get("key") ?? "home");
      return new Response(page.html, { headers: { "content-type": "text/html" } });
    }
    case "/audit": {
      pendingAudits.add(new AuditEntry(request.url));
      flushTimer ??= setTimeout(flushAudits, 15);
      return new Response("accepted"); // the entry is still held until the flush
    }
    default:
      return new Response("not found", { status: 404 });
  }
}

const port = Number(Deno.env.get("PORT") ?? 8080);
Deno.serve({ hostname: "127.0.0.1", port, onListen: () => console.log(`listening on http://127.0.0.1:${port}`) }, handle);

// A small node:http service with two leaky routes and three clean ones (no npm dependency).
// Started by test_service.py through jsleak.service(); it listens on 127.0.0.1:$PORT.
import http from "node:http";
import { EventEmitter } from "node:events";

// --- leaky: a tracking array that only ever grows ----------------------------------------------
class RequestRecord {
  constructor(url, headers) {
    this.url = url;
    this.at = Date.now();
    this.userAgent = headers["user-agent"] ?? "";
  }
}
const requestLog = [];

// --- leaky: a listener added per request on a long-lived emitter ---------------------------------
class Subscription {
  constructor(id) {
    this.id = id;
    this.received = [];
  }
}
const configBus = new EventEmitter();
configBus.setMaxListeners(0); // the warning would have told us; silenced, as real code often does
let subscriptions = 0;

// --- clean: a bounded LRU cache --------------------------------------------------------------------
class RenderedPage {
  constructor(key) {
    this.key = key;
    this.html = `<h1>page ${key}</h1>`.repeat(4);
  }
}
const PAGE_CACHE_LIMIT = 100;
const pageCache = new Map();
function renderPage(key) {
  let page = pageCache.get(key);
  if (page) {
    pageCache.delete(key); // re-inserted below: most recently used last
  } else {
    page = new RenderedPage(key);
  }
  pageCache.set(key, page);
  if (pageCache.size > PAGE_CACHE_LIMIT) pageCache.delete(pageCache.keys().next().value);
  return page;
}

// --- clean: work that goes on after the response, then lets go of what it held ----------------------
// Audit entries are written in batches: a flush 15 ms after the first pending entry (one timer at a
// time, like a buffered log writer). The response leaves first; the entries are released at the flush.
class AuditEntry {
  constructor(url) {
    this.url = url;
    this.payload = "x".repeat(256);
  }
}
const pendingAudits = new Set();
let flushTimer = null;
function flushAudits() {
  flushTimer = null;
  pendingAudits.clear(); // "written"
}

const routes = {
  "/health": (req, res) => res.end("ok"),
  "/track": (req, res) => {
    requestLog.push(new RequestRecord(req.url, req.headers));
    res.end(`tracked ${requestLog.length}`);
  },
  "/subscribe": (req, res) => {
    const subscription = new Subscription(++subscriptions);
    configBus.on("config", (config) => subscription.received.push(config));
    res.end(`subscribed ${subscription.id}`);
  },
  "/page": (req, res, url) => {
    const page = renderPage(url.searchParams.get("key") ?? "home");
    res.setHeader("content-type", "text/html");
    res.end(page.html);
  },
  "/audit": (req, res) => {
    pendingAudits.add(new AuditEntry(req.url));
    flushTimer ??= setTimeout(flushAudits, 15);
    res.end("accepted"); // the entry is still held until the flush
  },
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://localhost");
  const route = routes[url.pathname];
  if (!route) {
    res.statusCode = 404;
    res.end("not found");
    return;
  }
  Promise.resolve(route(req, res, url)).catch((error) => {
    console.error(error);
    if (!res.headersSent) res.statusCode = 500;
    res.end();
  });
});

const port = Number(process.env.PORT ?? 8080);
server.listen(port, "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${port}`));

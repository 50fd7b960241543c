// A server for the service-mode fault tests: routes that crash it, hang, drop the inspector, leak.
import http from "node:http";
import inspector from "node:inspector";
import { spawn } from "node:child_process";

if (process.env.EXIT_AT_START) {
  console.error("fatal: missing configuration DATABASE_URL");
  process.exit(Number(process.env.EXIT_AT_START));
}
if (process.env.CHILD) {
  // A worker of its own, in the server's process group: must be stopped with it.
  const child = spawn("sleep", ["300"], { stdio: "ignore" });
  console.log(`child ${child.pid}`);
}

class Kept { constructor(i) { this.i = i; this.text = "kept-".repeat(200) + i; } }
const kept = [];
let calls = 0;
const lingering = new Set();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const routes = {
  "/health": (req, res) => { res.statusCode = process.env.UNHEALTHY ? 503 : 200; res.end("ok"); },
  "/ok": (req, res) => res.end(String(++calls)),
  "/log": (req, res) => { console.log(`served request ${++calls} for ${req.headers["user-agent"]}`); res.end("ok"); },
  "/leak": (req, res) => { kept.push(new Kept(++calls)); res.end(String(kept.length)); },
  "/crash": (req, res) => { console.error("about to crash on request", calls); process.exit(7); },
  "/hang": () => {},
  "/linger": async (req, res) => {
    // 1 MB held after the response has gone, for 80 ms (an audit write, a cache fill ...).
    const big = "x".repeat(1 << 20) + (++calls);
    lingering.add(big);
    res.end("ok");
    await sleep(80);
    lingering.delete(big);
  },
  "/drop-inspector": (req, res) => { res.end("dropping"); setTimeout(() => inspector.close(), 5); },
};

const server = http.createServer((req, res) => {
  const route = routes[new URL(req.url, "http://x").pathname];
  if (!route) { res.statusCode = 404; res.end(); return; }
  route(req, res);
});
if (!process.env.NEVER_LISTEN) {
  const port = Number(process.env.PORT);
  server.listen(port, "127.0.0.1", () => console.log(`listening on ${port}`));
} else {
  setInterval(() => {}, 1000);
  console.log("not listening on purpose");
}

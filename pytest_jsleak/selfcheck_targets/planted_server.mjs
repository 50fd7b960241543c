// The positive control of --jsleak-self-check=all for service checks: a node:http server whose
// /leaky route keeps one small object per request and whose /clean route (its twin) keeps nothing.
import http from "node:http";

const kept = [];
const routes = {
  "/health": () => "ok",
  "/leaky": () => { kept.push({ request: kept.length }); return "kept"; },
  "/clean": () => { const made = { request: kept.length }; return String(made.request); },
};

http
  .createServer((req, res) => {
    const route = routes[req.url];
    res.statusCode = route ? 200 : 404;
    res.end(route ? route() : "");
  })
  .listen(Number(process.env.PORT), "127.0.0.1");

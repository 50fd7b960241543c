// Ground truth for the service corpus, independent of pytest-jsleak: start one app in this process,
// send REQUESTS plain HTTP requests to it over loopback, and read the memory after a full GC every
// EVERY requests.
//
//   node --expose-gc tests/corpus_services/ground_truth.mjs APP PATH [REQUESTS] [EVERY] [USER_AGENT]
//
// Each request is a new connection with the headers urllib's urlopen sends in the tests (`agent:
// false`; Host, Accept-Encoding: identity, User-Agent: Python-urllib/3.x, Connection: close): the
// routes keep header strings, so the ground truth must see the same ones. Prints one JSON line: {version, requests, ms, samples: [{requests, heap,
// external, code, total}]}; `total` is heapUsed - code + external (V8's machine-code spaces come and
// go with JIT decisions; external holds ArrayBuffer backing stores).
import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";

const [app, route, requestsArg = "20000", everyArg = "1000", userAgent = "Python-urllib/3.11"] = process.argv.slice(2);
const requests = Number(requestsArg);
const every = Number(everyArg);
if (!app || !route || !Number.isInteger(requests) || !Number.isInteger(every) || requests % every !== 0) {
  console.error("usage: ground_truth.mjs APP.mjs /PATH [REQUESTS] [EVERY] (REQUESTS a multiple of EVERY)");
  process.exit(2);
}
if (typeof globalThis.gc !== "function") {
  console.error("node needs --expose-gc");
  process.exit(2);
}

const macrotask = () => new Promise((resolve) => setImmediate(resolve));

async function read(done) {
  // Two turns and two collections: settle sockets' close callbacks and finalizers before reading.
  await macrotask();
  gc();
  await macrotask();
  gc();
  const m = process.memoryUsage();
  let code = 0;
  for (const space of v8.getHeapSpaceStatistics()) {
    if (space.space_name.startsWith("code")) code += space.space_used_size;
  }
  return { requests: done, heap: m.heapUsed, external: m.external, code, total: m.heapUsed - code + m.external };
}

function get(port) {
  return new Promise((resolve, reject) => {
    const headers = { "accept-encoding": "identity", "user-agent": userAgent, connection: "close" };
    const req = http.get({ host: "127.0.0.1", port, path: route, agent: false, headers },
      (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`${route}: ${res.statusCode}`))));
      });
    req.on("error", reject);
  });
}

const { start } = await import(pathToFileURL(path.resolve(app)).href);
const server = await start(0);
const port = server.address().port;
const samples = [await read(0)];
const t0 = performance.now();
for (let i = 1; i <= requests; i++) {
  await get(port);
  if (i % every === 0) samples.push(await read(i));
}
const ms = performance.now() - t0;
server.close();
process.stdout.write(JSON.stringify({ version: process.versions.node, requests, ms, samples }) + "\n");
process.exit(0);

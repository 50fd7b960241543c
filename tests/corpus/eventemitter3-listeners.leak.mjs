// eventemitter3@5.0.4: every request registers a "shutdown" listener (a closure over the request's
// context) on a long-lived server emitter so it can abort cleanly. The leak never removes it.
import EventEmitter from "eventemitter3";

const server = new EventEmitter();
let requestNo = 0;

function handle(onShutdown, context) {
  server.on("shutdown", onShutdown);
  context.body = JSON.stringify({ id: context.id, items: context.items.map((i) => i * 2) });
  return context.body.length;
}

function makeContext() {
  requestNo++;
  return { id: requestNo, startedAt: Date.now(), items: [requestNo, requestNo + 1, requestNo + 2], body: "" };
}

export function leaky() {
  const context = makeContext();
  const onShutdown = () => {
    context.aborted = true;
  };
  return handle(onShutdown, context);
}

export function fixed() {
  const context = makeContext();
  const onShutdown = () => {
    context.aborted = true;
  };
  try {
    return handle(onShutdown, context);
  } finally {
    server.removeListener("shutdown", onShutdown); // the request is done
  }
}

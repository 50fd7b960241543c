// debug@4.1.1: every debug(namespace) instance is pushed onto createDebug.instances (so enable()
// can update it) and leaves it only through instance.destroy(). A per-request namespace therefore
// keeps every instance alive. (debug 4.2+ removed the instances list; 4.1.1 is pinned for it.)
import createDebug from "debug";

createDebug.enable("app:*");
const lines = [];
let requestNo = 0;

function requestLogger() {
  requestNo++;
  const logger = createDebug(`app:request:${requestNo}`);
  logger.log = (...args) => {
    lines[requestNo % 10] = args.join(" "); // a tiny in-memory sink, bounded
  };
  logger.useColors = false;
  return logger;
}

export function leaky() {
  const logger = requestLogger();
  logger("handled %s in %dms", "/api/items", requestNo % 17);
}

export function fixed() {
  const logger = requestLogger();
  logger("handled %s in %dms", "/api/items", requestNo % 17);
  logger.destroy();
}

// loglevel@1.9.2: a plugin methodFactory that sends log lines to an in-memory sink (for a "recent
// logs" page). The audit logger's sink is an array that is never trimmed; the access logger's sink is
// a ring buffer of the last 100 lines.
import log from "loglevel";

const auditLines = [];
const accessLines = new Array(100);
let accessNext = 0;
let requestNo = 0;

function withSink(logger, sink) {
  logger.methodFactory = (methodName, _level, loggerName) => (...args) => {
    sink(`${new Date().toISOString()} ${methodName.toUpperCase()} [${String(loggerName)}] ${args.join(" ")}`);
  };
  logger.setLevel("info");
  logger.rebuild();
  return logger;
}

const audit = withSink(log.getLogger("audit"), (line) => auditLines.push(line));
const access = withSink(log.getLogger("access"), (line) => {
  accessLines[accessNext] = line;
  accessNext = (accessNext + 1) % accessLines.length;
});

export function leaky() {
  requestNo++;
  audit.info("user", requestNo % 1000, "opened document", `doc-${requestNo}`);
  audit.debug("not logged at info level");
}

export function fixed() {
  requestNo++;
  access.info("user", requestNo % 1000, "opened document", `doc-${requestNo}`);
  access.debug("not logged at info level");
}

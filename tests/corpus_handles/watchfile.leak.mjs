// A stat poller per uploaded file (fs.watchFile), never removed, or removed.
import os from "node:os";
import path from "node:path";
import { pollFile, stopPolling } from "./lib/watcher.mjs";

export const jsleak = { iterations: 50, warmup: 20 };

let next = 0;
const onChange = () => {};

export function leaky() {
  pollFile(path.join(os.tmpdir(), `jsleak-upload-${process.pid}-${next++}`), onChange);
}

export function fixed() {
  const file = path.join(os.tmpdir(), `jsleak-upload-${process.pid}-${next++}`);
  pollFile(file, onChange);
  stopPolling(file, onChange);
}

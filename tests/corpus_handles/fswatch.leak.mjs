// A directory watcher per reload request (fs.watch), never closed, or closed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { watchConfig } from "./lib/watcher.mjs";

export const jsleak = { iterations: 50, warmup: 20 };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jsleak-watch-"));

export function leaky() {
  watchConfig(dir, () => {});
}

export function fixed() {
  watchConfig(dir, () => {}).close();
}

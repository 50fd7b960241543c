import fs from "node:fs";

// Reloads a configuration when its directory changes.
export function watchConfig(dir, reload) {
  return fs.watch(dir, () => reload());
}

// Polls a file's stat for changes (fs.watchFile: one StatWatcher per path).
export function pollFile(file, onChange) {
  fs.watchFile(file, { interval: 60_000 }, onChange);
}

export function stopPolling(file, onChange) {
  fs.unwatchFile(file, onChange);
}

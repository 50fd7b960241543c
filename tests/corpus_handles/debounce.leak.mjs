// A save scheduled ten minutes out per change, the earlier ones never cancelled (setTimeout).
import { makeSaver } from "./lib/debounce.mjs";

export const jsleak = { iterations: 50, warmup: 20 };

const saver = makeSaver(() => {});
let version = 0;

export function leaky() {
  saver.changedLeaky(version++);
}

export function fixed() {
  saver.changed(version++);
}

// Scenarios that never finish at call 37, and one that leaves a child process behind.
import { spawn } from "node:child_process";

let asyncCalls = 0;
let syncCalls = 0;

export async function asyncHang() {
  if (++asyncCalls === 37) await new Promise(() => {});
}

export function spin() {
  if (++syncCalls === 37) for (;;);
}

export async function spawnsAndHangs() {
  // A grandchild that would outlive us, plus one in a session of its own.
  const keepAlive = "setInterval(() => {}, 1000)";
  const child = spawn(process.execPath, ["-e", keepAlive], { stdio: "ignore" });
  const detached = spawn(process.execPath, ["-e", keepAlive], { stdio: "ignore", detached: true });
  console.log(`children ${child.pid} ${detached.pid}`);
  await new Promise(() => {});
}

// Calls process.exit on the second call.
let calls = 0;
export function exitsAtTwo() {
  if (++calls === 2) {
    console.error("about to exit");
    process.exit(3);
  }
}
export function killsItself() {
  process.kill(process.pid, "SIGKILL");
}
export function uncaught() {
  setTimeout(() => {
    throw new Error("thrown by a timer");
  }, 0);
  return new Promise((resolve) => setTimeout(resolve, 50));
}
export function unhandled() {
  Promise.reject(new Error("nobody awaits me"));
}

// p-queue@9.3.5: a concurrency-1 queue whose first task never settles (a lost response). Every later
// add() waits behind it for ever: the queue keeps each task, its closure and its promise. fixed uses
// a queue whose tasks settle; each call awaits its task.
import PQueue from "p-queue";

const stuck = new PQueue({ concurrency: 1 });
stuck.add(() => new Promise(() => {})); // never resolves
const healthy = new PQueue({ concurrency: 1 });
let jobNo = 0;

function job(n) {
  return async () => ({ n, checksum: (n * 2654435761) >>> 0 });
}

export function leaky() {
  stuck.add(job(++jobNo)).catch(() => {});
}

export async function fixed() {
  const result = await healthy.add(job(++jobNo));
  return result.checksum;
}

// smart-buffer@4.2.0: a binary protocol writer that encodes each outgoing frame into one long-lived
// SmartBuffer. The leak never clears it: its single internal Buffer is reallocated 1.5x larger as it
// fills, so memory OUTSIDE the JS heap grows with no new object per call (one Buffer replaced in
// jumps). The fix hands the frame on (toBuffer()) and clear()s the writer after each flush.
import { SmartBuffer } from "smart-buffer";

const outbox = new SmartBuffer({ size: 4096 });
const writer = new SmartBuffer({ size: 4096 });
let frameNo = 0;
let bytesSent = 0;

function encodeFrame(buf) {
  frameNo++;
  buf.writeUInt8(0x82);
  buf.writeUInt32BE(frameNo);
  buf.writeUInt16BE(3);
  buf.writeStringNT(`metrics.cpu host-${frameNo % 64}`);
  for (let i = 0; i < 24; i++) buf.writeDoubleBE(frameNo * 0.5 + i);
}

export function leaky() {
  encodeFrame(outbox); // queued "for a batch send" that never happens
  return outbox.length;
}

export function fixed() {
  encodeFrame(writer);
  const frame = writer.toBuffer(); // a real client would write it to its socket here
  bytesSent += frame.length;
  writer.clear();
  return bytesSent;
}

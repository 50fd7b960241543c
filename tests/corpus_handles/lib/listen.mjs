import dgram from "node:dgram";
import net from "node:net";

// A throwaway server on an ephemeral port (a test double started per call).
export function startStub() {
  const server = net.createServer();
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

export function stopStub(server) {
  return new Promise((resolve) => server.close(resolve));
}

// A UDP socket for metrics, bound to an ephemeral port.
export function metricsSocket() {
  const socket = dgram.createSocket("udp4");
  return new Promise((resolve) => socket.bind(0, "127.0.0.1", () => resolve(socket)));
}

export function closeSocket(socket) {
  return new Promise((resolve) => socket.close(resolve));
}

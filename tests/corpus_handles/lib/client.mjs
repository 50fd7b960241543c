import net from "node:net";

// A loopback echo server (started once, in `setup`) and a client that opens a connection per request.
export function startServer() {
  const server = net.createServer((socket) => socket.on("data", (data) => socket.write(data)));
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

export function openConnection(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => resolve(socket));
    socket.once("error", reject);
  });
}

export function closeConnection(socket) {
  return new Promise((resolve) => {
    socket.once("close", resolve);
    socket.destroy();
  });
}

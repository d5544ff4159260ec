// Reference relay for `cobrowse-bench relay`: a minimal socket.io room relay,
// the stack OpenReplay Assist uses. A customer and an agent join the room of
// their session; every `msg` event goes to the rest of the room with
// `socket.to(room).emit(...)`. Nothing else: no auth, no session rules, so the
// comparison is generous to socket.io.
//
// Usage: node relay.js [--port 0] [--host 127.0.0.1]
// Prints `listening on http://HOST:PORT` once ready (the bench parses it).
"use strict";

const http = require("http");
const { Server } = require("socket.io");

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const host = arg("--host", "127.0.0.1");
const port = Number(arg("--port", "0"));

const httpServer = http.createServer((req, res) => {
  res.writeHead(404);
  res.end();
});

const io = new Server(httpServer, {
  // The bench connects straight over WebSocket (no long-polling upgrade dance).
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
});

io.on("connection", (socket) => {
  // `join` is acknowledged so the bench knows both parties are in the room.
  socket.on("join", (room, ack) => {
    if (typeof room === "string" && !socket.data.room) {
      socket.data.room = room;
      socket.join(room);
    }
    if (typeof ack === "function") ack("ok");
  });
  socket.on("msg", (data) => {
    const room = socket.data.room;
    if (room) socket.to(room).emit("msg", data);
  });
});

httpServer.listen(port, host, () => {
  const a = httpServer.address();
  console.log(`listening on http://${a.address}:${a.port}`);
});

function stop() {
  io.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

import { assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { configFromEnv, createSignalServer } from "../../lib/server/mod.ts";
import { Wire } from "../bench/abuse/wire.ts";

Deno.test("a socket that leaves before its hello is let go at once, not kept until its hello deadline", async () => {
  // A long deadline: without the release, every socket below would be kept for an hour.
  const config = configFromEnv((name) => ({ HELLO_TIMEOUT: "3600" })[name], { kvPath: ":memory:" });
  const server = await createSignalServer({ config, bus: new LocalBusNetwork().join() });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
    return server.handle(req, info.remoteAddr);
  });
  try {
    const wires = await Promise.all(
      Array.from({ length: 30 }, () => Wire.open({ port: http.addr.port, room: newRoomId() })),
    );
    assertEquals(server.service.awaitingHelloCount, 30);
    await Promise.all(wires.slice(0, 20).map((wire) => wire.close()));
    while (server.service.connectionCount > 10) await new Promise((resolve) => setTimeout(resolve, 5));
    assertEquals(server.service.awaitingHelloCount, 10, "the 20 that left are no longer waited for");
    await Promise.all(wires.slice(20).map((wire) => wire.abort()));
    while (server.service.connectionCount > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    assertEquals(server.service.awaitingHelloCount, 0);
  } finally {
    await server.shutdown("test over");
    await http.shutdown();
  }
});

import { assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { configFromEnv, createSignalServer } from "../../lib/server/mod.ts";
import { admit, detectAdmission, roomKey } from "../bench/abuse/admit.ts";
import { RawSocket } from "../bench/load/raw_socket.ts";
import { Wire } from "../bench/abuse/wire.ts";

Deno.test("an address group's sockets are capped, open and not yet welcomed: past a cap the upgrade is refused with 429 busy", async () => {
  const env: Record<string, string> = {
    TRUSTED_PROXIES: "loopback",
    MAX_SOCKETS_PER_ADDRESS: "6",
    MAX_PENDING_PER_ADDRESS: "3",
  };
  const config = configFromEnv((name) => env[name], { kvPath: ":memory:" });
  const server = await createSignalServer({ config, bus: new LocalBusNetwork().join() });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
    return server.handle(req, info.remoteAddr);
  });
  const port = http.addr.port;
  const wires: Wire[] = [];
  const open = async (address: string, room = newRoomId()) => {
    const wire = await Wire.open({ port, room, address });
    wires.push(wire);
    return wire;
  };
  /** Tries an upgrade from `address`; the HTTP status it got (101 when it opened). */
  const tryOpen = async (address: string) => {
    const socket = await RawSocket.open({
      hostname: "127.0.0.1",
      port,
      path: `/api/signal?v=1&room=${newRoomId()}`,
      headers: { "X-Forwarded-For": address },
    });
    if (!(socket instanceof RawSocket)) return { status: socket.status, body: socket.body };
    socket.abort();
    await socket.settled();
    return { status: 101, body: "" };
  };
  try {
    const mode = await detectAdmission(() => open("192.0.2.200"));
    // Three sockets that never say hello: the pending cap.
    for (let i = 0; i < 3; i++) await open("198.51.100.1");
    const refused = await tryOpen("198.51.100.1");
    assertEquals(refused.status, 429);
    assertEquals(JSON.parse(refused.body).error.code, "busy");
    assertEquals((await tryOpen("198.51.100.2")).status, 101, "another address is not concerned");
    // Welcomed sockets no longer count as pending, but count as open: up to 6 in all.
    const key = await roomKey(newRoomId());
    await admit(await open("203.0.113.1", key.room), mode, key, {}, true);
    for (let i = 0; i < 5; i++) await admit(await open("203.0.113.1", key.room), mode, key);
    const full = await tryOpen("203.0.113.1");
    assertEquals(full.status, 429, "7 open: the socket cap");
    assertEquals(server.service.socketsOf("203.0.113.1"), { open: 6, pending: 0 });
  } finally {
    for (const wire of wires) await wire.abort();
    await server.shutdown("test over");
    await http.shutdown();
  }
});

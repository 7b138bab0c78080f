import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { AddressPenalty } from "../../lib/server/address_penalty.ts";
import { admit, detectAdmission, roomKey } from "../bench/abuse/admit.ts";
import { RawSocket } from "../bench/load/raw_socket.ts";
import { Wire } from "../bench/abuse/wire.ts";
import { ServerProcess } from "../support/server_process.ts";

Deno.test("strikes within the window start a cool-down for that address group only, which ends", () => {
  let now = 1_000;
  const penalty = new AddressPenalty({ strikes: 3, windowMs: 60_000, cooldownMs: 30_000, now: () => now });
  assertEquals([penalty.strike("a", "wrong_proof"), penalty.strike("a", "too_big")], [false, false]);
  assertEquals(penalty.coolingDown("a"), false);
  assertEquals(penalty.strike("a", "hello_timeout"), true);
  assertEquals([penalty.coolingDown("a"), penalty.coolingDown("b")], [true, false]);
  now += 30_000;
  assertEquals(penalty.coolingDown("a"), false, "the cool-down ends");
  // Strikes spread wider than the window never add up.
  const spread = new AddressPenalty({ strikes: 3, windowMs: 1_000, cooldownMs: 30_000, now: () => now });
  for (let i = 0; i < 10; i++) {
    assertEquals(spread.strike("c", "wrong_proof"), false);
    now += 600;
  }
  assertEquals(spread.coolingDown("c"), false);
});

Deno.test("an address that keeps sending wrong proofs has its new sockets refused with 429 busy; another address is not", async () => {
  const server = await ServerProcess.start({ env: { TRUSTED_PROXIES: "loopback", ABUSE_STRIKES: "5" } });
  const wires: Wire[] = [];
  const upgrade = async (address: string) => {
    const socket = await RawSocket.open({
      hostname: "127.0.0.1",
      port: server.port,
      path: `/api/signal?v=1&room=${newRoomId()}`,
      headers: { "X-Forwarded-For": address },
    });
    if (!(socket instanceof RawSocket)) return { status: socket.status, code: JSON.parse(socket.body).error.code };
    socket.abort();
    await socket.settled();
    return { status: 101, code: "" };
  };
  try {
    const open = async (room: string, address: string) => {
      const wire = await Wire.open({ port: server.port, room, address });
      wires.push(wire);
      return wire;
    };
    const mode = await detectAdmission(() => open(newRoomId(), "192.0.2.9"));
    const key = await roomKey(newRoomId());
    await admit(await open(key.room, "192.0.2.9"), mode, key, {}, true);
    const wrong = await roomKey(key.room);
    for (let i = 0; i < 5; i++) {
      const wire = await open(key.room, "198.51.100.66");
      await admit(wire, mode, wrong).then(() => assert(false, "a wrong proof was admitted"), () => {});
      assertEquals(await wire.closed, 4403);
    }
    assertEquals(await upgrade("198.51.100.66"), { status: 429, code: "busy" });
    assertEquals((await upgrade("192.0.2.10")).status, 101, "another address is not concerned");
    // The member's socket opened before stays.
    const member = await open(key.room, "192.0.2.9");
    await admit(member, mode, key);
  } finally {
    for (const wire of wires) await wire.abort();
    await server.stop();
  }
});

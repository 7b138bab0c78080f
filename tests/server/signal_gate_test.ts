import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { admit, detectAdmission, roomKey } from "../bench/abuse/admit.ts";
import { Wire } from "../bench/abuse/wire.ts";
import { ServerProcess } from "../support/server_process.ts";

Deno.test("hellos past the gate's queue for one address are refused with busy (1013); another address's hellos all pass", async () => {
  const server = await ServerProcess.start({
    env: { TRUSTED_PROXIES: "loopback", HELLOS_IN_FLIGHT: "1", HELLOS_QUEUED_PER_ADDRESS: "2" },
  });
  const wires: Wire[] = [];
  try {
    const open = async (room: string, address: string) => {
      const wire = await Wire.open({ port: server.port, room, address });
      wires.push(wire);
      return wire;
    };
    const mode = await detectAdmission(() => open(newRoomId(), "192.0.2.1"));
    const key = await roomKey(newRoomId());
    await admit(await open(key.room, "192.0.2.1"), mode, key, {}, true);
    // Twelve sockets of one address say hello at once: one is in work, two wait, the rest are refused.
    const flood = await Promise.all(Array.from({ length: 12 }, () => open(key.room, "198.51.100.1")));
    const honest = await Promise.all(Array.from({ length: 2 }, () => open(key.room, "192.0.2.2")));
    const outcomes = await Promise.all([...flood, ...honest].map(async (wire) => {
      try {
        await admit(wire, mode, key);
        return "welcome";
      } catch (error) {
        return (error as Error).message;
      }
    }));
    const floodOutcomes = outcomes.slice(0, flood.length);
    const busy = floodOutcomes.filter((outcome) => outcome.includes('"code":"busy"'));
    assert(busy.length >= 1, `no hello was refused: ${floodOutcomes}`);
    assertEquals(busy.length + floodOutcomes.filter((o) => o === "welcome").length, flood.length, `${floodOutcomes}`);
    for (const [i, wire] of flood.entries()) {
      if (floodOutcomes[i] !== "welcome") assertEquals(await wire.closed, 1013);
    }
    assertEquals(
      outcomes.slice(flood.length),
      ["welcome", "welcome"],
      "the other address waited its turn, never refused",
    );
  } finally {
    for (const wire of wires) await wire.abort();
    await server.stop();
  }
});

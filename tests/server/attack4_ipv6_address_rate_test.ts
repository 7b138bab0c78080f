/**
 * The per-address frame and byte limits hold per address group: an IPv6 /64 shares one (it was per /128 before).
 *
 * The threat model says frames are "rate-limited per connection and per address (IPv6 by /64)", and the limits table
 * says the per-address buckets hold "over all the address's sockets: a new socket brings no new bytes". But
 * `SignalService.handle` (lib/server/signal_service.ts) keys its `#addresses` map, which holds the shared
 * `RATE_ADDR`/`RATE_ADDR_BYTES` token buckets, by `remote.hostname`: the full address. Every other per-address
 * limit (socket caps, hello queue, cool-down, new-room pace, rooms per address, budgets, ICE) uses
 * `addressGroup()`. An IPv6 subscriber holds a whole /64 and picks a new source address per socket, so each of its
 * up to `MAX_SOCKETS_PER_ADDRESS` (2,048) sockets brings a fresh address bucket: 2,048 x 50 frames/s and
 * 2,048 x 256 KiB/s instead of the documented 1,000 frames/s and 1 MiB/s per group (a 100x and 500x overshoot).
 *
 * The test: the per-address frame burst is 10 (the per-connection one stays 200). Two members' sockets from two
 * addresses of one /64 each send 20 pings. Secure: together they get at most 10 frames through (the group's
 * burst, hellos included). Before the fix each address had its own 10. A control with two sockets of one IPv4 address
 * shows the test counts right.
 *
 * Now `#addresses` is keyed by `addressGroup(remote.hostname)`.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { configFromEnv, createSignalServer } from "../../lib/server/mod.ts";
import { admit, roomKey } from "../bench/abuse/admit.ts";
import { Wire } from "../bench/abuse/wire.ts";

/** Frames one address group may send at once (hellos included); practically no refill. */
const GROUP_BURST = 10;
/** Pings each socket sends: more than the group's burst. */
const PINGS = 20;

async function framesThrough(addresses: [string, string]): Promise<{ pongs: number[]; welcomed: number }> {
  const env: Record<string, string> = {
    TRUSTED_PROXIES: "loopback",
    RATE_ADDR: "0.001",
    RATE_ADDR_BURST: String(GROUP_BURST),
    NEW_ROOM_RATE_ADDR_BURST: "50",
  };
  const config = configFromEnv((name) => env[name], { kvPath: ":memory:" });
  const server = await createSignalServer({ config, bus: new LocalBusNetwork().join() });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
    return server.handle(req, info.remoteAddr);
  });
  const wires: Wire[] = [];
  try {
    const key = await roomKey(newRoomId());
    let welcomed = 0;
    for (const [i, address] of addresses.entries()) {
      const wire = await Wire.open({ port: http.addr.port, room: key.room, address });
      wires.push(wire);
      await admit(wire, "challenge", key, {}, i === 0);
      welcomed++;
    }
    const pongs: number[] = [];
    for (const wire of wires) {
      for (let n = 0; n < PINGS; n++) wire.send({ type: "ping", n });
      // The first refused frame brings `rate_limited`; every pong before it has arrived by then (one stream).
      await wire.next((frame) => frame.type === "error" && frame.code === "rate_limited");
      pongs.push(wire.inbox.filter((frame) => frame.type === "pong").length);
    }
    return { pongs, welcomed };
  } finally {
    for (const wire of wires) await wire.abort();
    await server.shutdown("test over");
    await http.shutdown();
  }
}

Deno.test("control: two sockets of one IPv4 address share the address's frame burst", async () => {
  const { pongs, welcomed } = await framesThrough(["198.51.100.7", "198.51.100.7"]);
  assertEquals(welcomed, 2);
  assert(pongs[0] + pongs[1] + welcomed <= GROUP_BURST, `frames through: ${pongs} pongs + ${welcomed} hellos`);
});

Deno.test("two addresses of one IPv6 /64 share one per-address frame burst", async () => {
  const { pongs, welcomed } = await framesThrough(["2001:db8:7:9::a", "2001:db8:7:9::b"]);
  assertEquals(welcomed, 2);
  assert(
    pongs[0] + pongs[1] + welcomed <= GROUP_BURST,
    `one /64 got ${pongs[0] + pongs[1] + welcomed} frames through (${pongs} pongs + ${welcomed} hellos); ` +
      `its burst is ${GROUP_BURST}`,
  );
});

/**
 * ATTACK: one IPv6 subscriber (a /48) spends the whole deployment's room budget, and nobody can open a room for a day.
 *
 * The storage budget (lib/server/kv_budget.ts) bounds rooms globally (`STORAGE_MAX_ROOMS`, 100,000) and per address
 * group and hour (`BUDGET_ADDR_ROOMS`, 1,000), and new rooms are paced per address group (`NEW_ROOM_RATE_ADDR`: 50 at
 * once, then one per 4 s). An address group is an IPv4 address or an IPv6 /64 (address_group.ts). But one IPv6
 * subscriber is usually given a /56 or a /48 (256 or 65,536 /64s; a tunnel broker hands out a /48 for free), which
 * seat sharing already recognised (lib/server/seat_policy.ts counts networks by /48, after attack5). The room budget
 * and its pace did not follow: each of the 65,536 /64s brings its own 1,000 rooms an hour and its own burst of 50.
 * So, with the defaults, a stranger with one /48 (it needs no room key: it creates its own rooms) registers the
 * global 100,000 rooms from 2,000 of its /64s at once (50 each, the pace's burst), or 100 of them within the hour.
 * Every registration counts for the room's retention (`ROOM_TTL`, 24 h), so from then on every honest visitor who
 * opens a new room gets `storage_full` (close 1013) for a day, and the attacker repeats daily.
 *
 * The test scales the budget down (global 100 rooms, 5 per group and window; the pace and everything else default):
 * 20 /64s of one /48 register 100 rooms, then an honest IPv4 visitor cannot open one.
 *
 * Expected safe behaviour: the room budget (and the new-room pace) also holds per wider network: an IPv6 /48 (as
 * for seats) gets at most a small multiple of one group's budget, so one subscriber can take at most its share of
 * the global one. Here: the /48 registers at most 4 x 5 = 20 rooms, and the honest visitor's room opens.
 */
import { assert } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";
import { DEFAULT_CONFIG, type ServerConfig } from "../../lib/server/config.ts";
import { KvBudget } from "../../lib/server/kv_budget.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { KvRoomLog } from "../../lib/server/room_log_kv.ts";
import { SignalService } from "../../lib/server/signal_service.ts";
import { TestClient } from "../support/signal_test_client.ts";

const GLOBAL_ROOMS = 100;
const ROOMS_PER_GROUP = 5;
/** /64s of the attacker's one /48 it uses: enough to spend the global budget and one more. */
const SUBNETS = GLOBAL_ROOMS / ROOMS_PER_GROUP + 1;
/** Header the test's listener reads the client address from (the listener is the test's own; loopback only). */
const ADDRESS_HEADER = "x-test-client-address";

Deno.test("ATTACK: one IPv6 /48 spends the deployment's whole room budget; an honest visitor cannot open a room", async () => {
  const config: ServerConfig = {
    ...DEFAULT_CONFIG,
    storageMaxRooms: GLOBAL_ROOMS,
    budgetAddressRooms: ROOMS_PER_GROUP,
  };
  const kv = await Deno.openKv(":memory:");
  const budget = new KvBudget(kv, {
    maxRooms: config.storageMaxRooms,
    maxBytes: config.storageMaxBytes,
    addressRooms: config.budgetAddressRooms,
    addressBytes: config.budgetAddressBytes,
    windowMs: config.budgetWindowMs,
    retentionMs: config.roomTtlMs,
  });
  const log = new KvRoomLog(kv, {
    ttlMs: config.roomTtlMs,
    maxEntries: config.logMaxEntries,
    maxBytes: config.logMaxBytes,
    onStored: budget.recordStored,
  });
  const bus = new LocalBusNetwork().join("instance-0");
  const service = new SignalService({ config, kv, log, bus, budget });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => service.handle(req, { hostname: req.headers.get(ADDRESS_HEADER) ?? "127.0.0.1" }),
  );
  const port = (server.addr as Deno.NetAddr).port;
  const url = (room: string) => `ws://127.0.0.1:${port}/api/signal?v=${PROTOCOL_VERSION}&room=${room}`;

  /** Opens a new room from `address`; the error code when refused. */
  const openRoom = async (address: string): Promise<string> => {
    const client = await TestClient.connect(url(newRoomId()), { headers: { [ADDRESS_HEADER]: address } });
    try {
      await client.hello();
      client.send({ type: "bye" });
      return "welcome";
    } catch (error) {
      const match = /"code":"([a-z_]+)"/.exec(String(error));
      return match ? match[1] : String(error);
    } finally {
      await client.close().catch(() => {});
    }
  };

  try {
    let registered = 0;
    const refusals = new Map<string, number>();
    for (let subnet = 0; subnet < SUBNETS; subnet++) {
      // 2001:db8:42:<subnet>::/64, all inside the attacker's one /48 2001:db8:42::/48.
      const address = `2001:db8:42:${subnet.toString(16)}::${(subnet + 1).toString(16)}`;
      for (let i = 0; i < ROOMS_PER_GROUP; i++) {
        const answer = await openRoom(address);
        if (answer === "welcome") registered++;
        else refusals.set(answer, (refusals.get(answer) ?? 0) + 1);
      }
    }
    const honest = await openRoom("203.0.113.9");
    const usage = await budget.usage();
    console.log(
      `one /48 (${SUBNETS} of its 65,536 /64s) registered ${registered} rooms (refused: ` +
        `${JSON.stringify(Object.fromEntries(refusals))}); global budget ${usage.rooms}/${GLOBAL_ROOMS} rooms; ` +
        `an honest IPv4 visitor's new room: ${honest}. With the defaults: 65,536 x 1,000 rooms/h per /48 against ` +
        `100,000 for the whole deployment (2,000 /64s x the pace's burst of 50 spend it at once).`,
    );
    assert(
      registered <= 4 * ROOMS_PER_GROUP && honest === "welcome",
      `one IPv6 /48 registered ${registered} rooms (one /64's budget is ${ROOMS_PER_GROUP}) and spent the ` +
        `deployment's ${GLOBAL_ROOMS}: an honest visitor's new room is refused with ${honest} for the rooms' retention`,
    );
  } finally {
    await service.shutdown("test over");
    await server.shutdown();
    await budget.close();
    await bus.close();
    log.close();
    kv.close();
  }
});

/**
 * The same root cause for TURN: the ICE allowance per address group (`ICE_ADDRESS_RATE`, burst 64 then 1/s,
 * lib/server/ice_access.ts) is per /64, so one /48 mints 65,536 x 64 TURN credentials at once (4.2 M, each valid
 * `TURN_TTL`), where the README promises "one per client address group over all its sessions". Sessions behind it
 * are cheap for a member (joins are paced per /64 too). Here 50 /64s of one /48 ask 64 times each (13 sessions a
 * /64, within the per-session burst of 5): expected at most 4 x 64 credentials for the /48.
 */
Deno.test("ATTACK: one IPv6 /48 mints 64 TURN credentials per /64 it holds", async () => {
  const { IceAccess, ICE_ADDRESS_RATE } = await import("../../lib/server/ice_access.ts");
  const { IceServers, parseIceConfig } = await import("../../lib/server/ice_servers.ts");
  const { SessionStore } = await import("../../lib/server/session_store.ts");
  const now = () => 1_700_000_000_000; // frozen: no refill, the count of requests alone decides
  const env: Record<string, string> = {
    TURN_URLS: "turn:turn.example.org?transport=udp",
    TURN_SECRET: "s3cret-that-must-never-leave-the-server",
  };
  const kv = await Deno.openKv(":memory:");
  try {
    const access = new IceAccess({
      ice: new IceServers(parseIceConfig((name) => env[name]), { now }),
      store: new SessionStore(kv, { ttlMs: 3_600_000, now }),
      now,
    });
    let minted = 0;
    const socket = {
      send(text: string) {
        if (JSON.parse(text).type === "ice") minted++;
      },
      close() {},
    };
    const room = newRoomId();
    const SUBNETS_USED = 50;
    for (let subnet = 0; subnet < SUBNETS_USED; subnet++) {
      const address = `2001:db8:42:${subnet.toString(16)}::1`;
      for (let ask = 0; ask < ICE_ADDRESS_RATE.burst; ask++) {
        const session = Math.floor(ask / 5); // within each session's own burst of 5
        access.answerFrame({ room, id: `s${subnet}x${session}y`.padEnd(12, "0"), socket, address });
      }
    }
    // Minting is async (HMAC): wait until no more answers come (a hang guard, not a timing assertion).
    for (let seen = -1; seen !== minted;) {
      seen = minted;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    console.log(`one /48 (${SUBNETS_USED} /64s) was handed ${minted} TURN credentials at once`);
    assert(
      minted <= 4 * ICE_ADDRESS_RATE.burst,
      `one IPv6 /48 got ${minted} TURN credentials from ${SUBNETS_USED} of its /64s (one group's allowance is ` +
        `${ICE_ADDRESS_RATE.burst}); with all 65,536 /64s: ${65_536 * ICE_ADDRESS_RATE.burst}`,
    );
  } finally {
    kv.close();
  }
});

/**
 * ATTACK: a stranger keeps Deno KV reading forever with hellos to made-up rooms, and is never cooled down.
 *
 * The new-room pace (`NEW_ROOM_RATE_ADDR`, lib/server/group_pace.ts) is taken in `Admission.decide`
 * (lib/server/admission.ts) only AFTER `SessionStore.verifier(room)`, and the session store remembers only verifiers
 * in force (`#remember`): a room without one is read from KV again on every hello (no negative cache). Once the pace
 * is spent, every further hello to a made-up room is refused with `budget_exceeded` (reason `paced`), which is not in
 * `STRIKING_REFUSALS` (lib/server/signal_service.ts): no abuse strike, so the group never cools down. Each such hello
 * is one socket, one frame and one KV `get`, and nothing else bounds it but the address group's frame bucket
 * (1,000 frames/s) and the 4 hellos in work: a stranger without any room key makes the KV serve up to a thousand
 * reads a second per address group (3.6 M an hour; Deno Deploy bills every read), indefinitely, and its sockets
 * never meet the 429 at the upgrade that a flood of wrong proofs meets after 20.
 * The table says the pace applies "before the KV work"; the text admits the lookup comes first.
 *
 * Expected safe behaviour: a group past its new-room pace is bounded too: either the refusal counts as a strike (an
 * honest client does not open dozens of new rooms at once, and backs off when told `budget_exceeded`), so the group
 * meets the cool-down at the upgrade like any flood; or the pace is checked before the lookup of a verifier that is
 * not remembered (a negative cache per room, or a second per-group pace on uncached verifier reads).
 * Here: 250 hellos to made-up rooms from one IPv4 address may cost at most 120 KV reads, or the address must be
 * refused at the upgrade (HTTP 429) before the 250th.
 */
import { assert } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";
import { DEFAULT_CONFIG, type ServerConfig } from "../../lib/server/config.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { KvRoomLog } from "../../lib/server/room_log_kv.ts";
import { SignalService } from "../../lib/server/signal_service.ts";
import { countingKv } from "./_kv_counter.ts";
import { TestClient } from "../support/signal_test_client.ts";

const HELLOS = 250;
/** A made-up proof: 43 base64url characters. */
const PROOF = "A".repeat(43);

Deno.test("ATTACK: hellos to made-up rooms past the new-room pace cost a KV read each, with no strike", async () => {
  const config: ServerConfig = { ...DEFAULT_CONFIG };
  const raw = await Deno.openKv(":memory:");
  const counting = countingKv(raw);
  const log = new KvRoomLog(raw, {
    ttlMs: config.roomTtlMs,
    maxEntries: config.logMaxEntries,
    maxBytes: config.logMaxBytes,
  });
  const network = new LocalBusNetwork();
  const bus = network.join("instance-0");
  const service = new SignalService({ config, kv: counting.kv, log, bus });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) =>
    // Every socket comes from one IPv4 address of the attacker.
    service.handle(req, { hostname: "198.51.100.7" }));
  const port = (server.addr as Deno.NetAddr).port;
  const url = (room: string) => `ws://127.0.0.1:${port}/api/signal?v=${PROTOCOL_VERSION}&room=${room}`;
  const answers = new Map<string, number>();
  let refusedAtUpgrade = 0;
  let readsAfterPace = 0;
  let pacedSeen = 0;
  try {
    for (let i = 0; i < HELLOS; i++) {
      let client: TestClient;
      try {
        client = await TestClient.connect(url(newRoomId()));
      } catch {
        refusedAtUpgrade++; // 429 busy: the group is cooling down
        continue;
      }
      await client.challenge();
      const before = counting.counts.gets + counting.counts.lists;
      client.send({ type: "hello", v: PROTOCOL_VERSION, proof: PROOF });
      const answer = await client.next((f) => f.type === "error" || f.type === "welcome");
      const code = String(answer.code ?? answer.type);
      answers.set(code, (answers.get(code) ?? 0) + 1);
      if (code === "budget_exceeded") {
        pacedSeen++;
        readsAfterPace += counting.counts.gets + counting.counts.lists - before;
      }
      await client.close().catch(() => {});
    }
    const reads = counting.counts.gets + counting.counts.lists;
    console.log(
      `${HELLOS} hellos to made-up rooms from one IPv4 address: answers ${
        JSON.stringify(Object.fromEntries(answers))
      }, ` +
        `${refusedAtUpgrade} refused at the upgrade; KV reads ${reads} (${counting.counts.gets} gets, ` +
        `${counting.counts.lists} lists), of which ${readsAfterPace} by the ${pacedSeen} hellos refused as paced`,
    );
    assert(
      reads <= 120 || refusedAtUpgrade > 0,
      `a stranger's ${HELLOS} hellos to made-up rooms cost ${reads} KV reads (${readsAfterPace} of them after the ` +
        `new-room pace was spent, one per hello) and the address was never cooled down: the paced refusal is no ` +
        `strike, so this goes on at the address's frame rate (up to 1,000 reads/s) forever`,
    );
  } finally {
    await service.shutdown("test over");
    await server.shutdown();
    await bus.close();
    log.close();
    raw.close();
  }
});

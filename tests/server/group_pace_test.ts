import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";
import { assert, assertEquals } from "@std/assert";
import { helloProof } from "../../lib/protocol/admission.ts";
import { CLOSE } from "../../lib/protocol/codes.ts";
import { encodeBase64Url, newRoomId } from "../../lib/protocol/ids.ts";
import { Admission } from "../../lib/server/admission.ts";
import { GroupPace } from "../../lib/server/group_pace.ts";
import { MemoryRoomLog } from "../../lib/server/room_log_memory.ts";
import { SessionStore } from "../../lib/server/session_store.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { countingKv } from "./_kv_counter.ts";

const NONCE = encodeBase64Url(new Uint8Array(32).fill(7));

Deno.test("hellos to rooms without a verifier are paced per address group, before the KV work that tells a new room apart", async () => {
  const clock = new FakeClock(1_700_000_000_000);
  const raw = await Deno.openKv(":memory:");
  const { kv, counts, reset } = countingKv(raw);
  const store = new SessionStore(kv, { ttlMs: 24 * 3600_000, now: clock.now });
  const log = new MemoryRoomLog({ ttlMs: 24 * 3600_000, maxEntries: 100, maxBytes: 1 << 20, now: clock.now });
  const admission = new Admission(store, log, new GroupPace({ perSecond: 0.5, burst: 3 }, clock.now));
  /** A creator's hello for a new room (it brings its verifier). */
  const create = async (group: string) => {
    const room = newRoomId();
    const verifier = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    const hello = {
      type: "hello" as const,
      v: PROTOCOL_VERSION,
      proof: await helloProof(verifier, room, NONCE),
      verifier,
    };
    return { room, verifier, decision: await admission.decide(room, NONCE, hello, group) };
  };
  try {
    const first = await create("198.51.100.9");
    assertEquals(first.decision.kind, "admit");
    assertEquals(await store.registerVerifier(first.room, first.verifier), first.verifier);
    for (let i = 0; i < 2; i++) assertEquals((await create("198.51.100.9")).decision.kind, "admit");
    reset();
    const paced = (await create("198.51.100.9")).decision;
    assert(paced.kind === "refuse");
    assertEquals([paced.reason, paced.refusal.code, paced.refusal.close], [
      "paced",
      "budget_exceeded",
      CLOSE.TOO_MANY_ROOMS,
    ]);
    // A group past its pace is refused before a verifier lookup that needs KV: made-up rooms cost nothing.
    assertEquals([counts.gets, counts.lists], [0, 0], "nothing was looked up");
    assertEquals((await create("203.0.113.5")).decision.kind, "admit", "another group has its own pace");
    // A room with a verifier costs no token: members keep joining it.
    for (let i = 0; i < 5; i++) {
      const hello = {
        type: "hello" as const,
        v: PROTOCOL_VERSION,
        proof: await helloProof(first.verifier, first.room, NONCE),
      };
      assertEquals((await admission.decide(first.room, NONCE, hello, "198.51.100.9")).kind, "admit");
    }
    await clock.advance(2_000);
    assertEquals((await create("198.51.100.9")).decision.kind, "admit", "one more after 1 / 0.5 s");
    assertEquals((await create("198.51.100.9")).decision.kind, "refuse");
  } finally {
    await store.flush();
    log.close();
    raw.close();
  }
});

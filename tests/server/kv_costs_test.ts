import { assert, assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { KvBudget } from "../../lib/server/kv_budget.ts";
import { KvRoomLog } from "../../lib/server/room_log_kv.ts";
import { SessionStore } from "../../lib/server/session_store.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { join, openHubs } from "./_hub_harness.ts";
import { countingKv } from "./_kv_counter.ts";

Deno.test("a relayed message costs one KV write, storage budget included; the budget's counts are written per flush", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, counts, reset } = countingKv(raw);
  const clock = new FakeClock(Date.now());
  const budget = new KvBudget(kv, {
    maxRooms: 1_000,
    maxBytes: 1 << 30,
    addressRooms: 100,
    addressBytes: 1 << 26,
    windowMs: 3600_000,
    retentionMs: 24 * 3600_000,
    now: clock.now,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
  });
  const log = new KvRoomLog(kv, {
    ttlMs: 24 * 3600_000,
    maxEntries: 2_000,
    maxBytes: 1 << 23,
    onStored: budget.recordStored,
  });
  const harness = await openHubs({ kv, log, budget });
  try {
    const { socket, result } = await join(harness.hubs[0], newRoomId(), "10.0.0.1", {}, { registers: true });
    assert(result.ok);
    reset();
    for (let i = 0; i < 50; i++) {
      harness.hubs[0].onFrame(result.peer, JSON.stringify({ type: "chat", id: `m${i}`, data: "ZGF0YQ" }));
      while (socket.of("accepted").length <= i) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assertEquals([counts.lists, counts.writes], [0, 50], "one group commit per message");
    // Reads: none of its own, only the room verifier's refresh (once per room per refresh interval).
    assert(counts.gets <= 1, `${counts.gets} reads`);
    reset();
    await budget.flush();
    assertEquals([counts.gets, counts.writes], [1, 1], "the group's bytes and the global change: one read, one write");
  } finally {
    await harness.close();
    await budget.close();
    log.close();
    raw.close();
  }
});

Deno.test("an append to a full log of big frames lists about what it drops, not a batch of 128 entries", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, counts, reset } = countingKv(raw);
  const frame = "B".repeat(45_000);
  // Room for 20 such frames: from the 21st on, every append drops the oldest.
  const log = new KvRoomLog(kv, { ttlMs: 24 * 3600_000, maxEntries: 2_000, maxBytes: 20 * 45_000 + 100 });
  try {
    const room = newRoomId();
    for (let i = 0; i < 60; i++) await log.append(room, frame, true);
    reset();
    for (let i = 0; i < 10; i++) {
      const result = await log.append(room, frame, true);
      assertEquals(result.dropped, 1);
    }
    // A 45 KB frame is stored in 2 keys: each append lists the entry it drops, the next one and one key
    // more (5 keys, one round trip), not 128 entries of 45 KB.
    assert(counts.asked <= 10 * 5, `${counts.asked} keys asked for`);
    assertEquals(counts.lists, 10);
    const read = await log.readAfter(room, 0, 100);
    assertEquals(read.entries.length, 20);
    assertEquals(read.entries[0].seq, 51);
  } finally {
    log.close();
    raw.close();
  }
});

Deno.test("a room's verifier in force is read from KV once: a flood of hellos costs no reads, a join's refresh writes once per interval", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, counts, reset } = countingKv(raw);
  const ttlMs = 24 * 3600_000;
  const clock = new FakeClock(Date.now());
  const store = new SessionStore(kv, { ttlMs, now: clock.now });
  const other = new SessionStore(kv, { ttlMs, now: clock.now }); // another server instance
  try {
    const room = newRoomId();
    const verifier = "v".repeat(43);
    assertEquals(await store.registerVerifier(room, verifier), verifier);
    reset();
    for (let i = 0; i < 100; i++) assertEquals(await store.verifier(room), verifier);
    for (let i = 0; i < 100; i++) assert(await store.refreshVerifier(room, verifier));
    assertEquals([counts.gets, counts.writes], [0, 0], "the verifier it wrote is in force: nothing to read or write");
    for (let i = 0; i < 100; i++) assertEquals(await other.verifier(room), verifier);
    assertEquals(counts.gets, 1, "another instance reads it once");
    assertEquals(await other.refreshVerifier(room, "w".repeat(43)), false, "another verifier is not the one in force");
    // Past the refresh interval (ttl / 8), a join's refresh gives it a full life again: one read, one write.
    await clock.advance(ttlMs / 8 + 1);
    reset();
    assert(await store.refreshVerifier(room, verifier));
    assert(await store.refreshVerifier(room, verifier));
    assertEquals([counts.gets, counts.writes], [1, 1]);
    // Once its life is over, it is read again (and is gone).
    await clock.advance(ttlMs + ttlMs / 8 + 1);
    reset();
    assertEquals(await store.verifier(room), null);
    assertEquals(await other.verifier(room), null);
    assertEquals(counts.gets, 2);
  } finally {
    await store.flush();
    await other.flush();
    raw.close();
  }
});

Deno.test("a room floods the log at a bounded commit pace: frames that come faster share commits, none is lost", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, counts, reset } = countingKv(raw);
  const clock = new FakeClock(Date.now());
  const log = new KvRoomLog(kv, {
    ttlMs: 24 * 3600_000,
    maxEntries: 2_000,
    maxBytes: 1 << 23,
    now: clock.now,
    commitRate: { perSecond: 20, burst: 2 },
    setTimeout: clock.setTimeout,
  });
  try {
    const room = newRoomId();
    const quiet = newRoomId();
    reset();
    // 200 frames a second for a second in one room; a second room appends now and then.
    const appends: Promise<{ seq: number }>[] = [];
    for (let i = 0; i < 200; i++) {
      appends.push(log.append(room, `{"type":"chat","id":"m${i}","data":"x"}`, true));
      if (i % 40 === 0) appends.push(log.append(quiet, `{"type":"chat","id":"q${i}","data":"y"}`, true));
      await clock.advance(5);
      // Real time for KV to commit what it may: without a pace, every frame would go in its own commit.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await clock.advance(1_000);
    const seqs = (await Promise.all(appends)).map((result) => result.seq);
    assertEquals(seqs.length, 205);
    assertEquals((await log.readAfter(room, 0, 500)).entries.length, 200, "every frame is logged, in order");
    // The flooding room: its burst, then 20 a second (about 22 for the second); the quiet room: one each.
    assert(counts.writes <= 2 + 22 + 5, `${counts.writes} commits for 205 frames`);
  } finally {
    log.close();
    raw.close();
  }
});

import { assert, assertEquals } from "@std/assert";
import { CLOSE } from "../../lib/protocol/codes.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { addressGroup } from "../../lib/server/address_group.ts";
import { KvBudget, type KvBudgetOptions } from "../../lib/server/kv_budget.ts";
import { KvRoomLog } from "../../lib/server/room_log_kv.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { join, openHubs } from "./_hub_harness.ts";
import { countingKv } from "./_kv_counter.ts";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const START = 1_700_000_000_000;
/** What admission tells the hub about the creator of a new room. */
const NEW_ROOM = { registers: true };

/** Generous limits; each test narrows the one it is about. */
function limits(clock: FakeClock, overrides: Partial<KvBudgetOptions> = {}): KvBudgetOptions {
  return {
    maxRooms: 1_000,
    maxBytes: 1_000_000,
    addressRooms: 1_000,
    addressBytes: 1_000_000,
    windowMs: HOUR,
    retentionMs: DAY,
    now: clock.now,
    random: () => 0,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    ...overrides,
  };
}

Deno.test("global rooms: storage_full once the deployment holds its most rooms, on every instance, until they expire", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock(START);
  const one = new KvBudget(kv, limits(clock, { maxRooms: 3 }));
  const two = new KvBudget(kv, limits(clock, { maxRooms: 3, random: () => 0.99 }));
  try {
    for (let i = 0; i < 3; i++) assertEquals(await one.admitRoom(newRoomId(), `10.0.0.${i}`), { ok: true });
    const refused = await one.admitRoom(newRoomId(), "10.0.0.9");
    assertEquals(refused.ok ? "ok" : refused.code, "storage_full");
    await one.flush();
    const elsewhere = await two.admitRoom(newRoomId(), "10.0.0.10");
    assertEquals(elsewhere.ok ? "ok" : elsewhere.code, "storage_full", "another instance sees the sum");
    assertEquals((await two.usage()).rooms, 3);
    // A registration counts for the retention window (rounded up to a bucket), then is forgotten.
    await clock.advance(DAY + DAY / 8);
    assertEquals((await two.usage()).rooms, 0);
    assertEquals(await two.admitRoom(newRoomId(), "10.0.0.10"), { ok: true });
  } finally {
    await one.close();
    await two.close();
    kv.close();
  }
});

Deno.test("global bytes: storage_full once the kept bytes reach the bound; bytes the log dropped or expired are forgotten", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock(START);
  const budget = new KvBudget(kv, limits(clock, { maxBytes: 1_000 }));
  // Each room keeps at most 500 bytes: the log drops the oldest beyond.
  const log = new KvRoomLog(kv, {
    ttlMs: DAY,
    maxEntries: 1_000,
    maxBytes: 500,
    now: clock.now,
    onStored: budget.recordStored,
  });
  try {
    const [a, b] = [newRoomId(), newRoomId()];
    const append = async (room: string) => {
      const verdict = budget.chargeBytes("10.0.0.1", 100);
      if (verdict.ok) await log.append(room, "x".repeat(100));
      return verdict.ok ? "ok" : verdict.code;
    };
    for (let i = 0; i < 20; i++) assertEquals(await append(a), "ok", "room a churns through 2,000 bytes, keeps 500");
    assertEquals((await budget.usage()).bytes, 500);
    for (let i = 0; i < 4; i++) assertEquals(await append(b), "ok");
    assertEquals(await append(b), "ok", "900 kept: still room for one more");
    assertEquals(await append(b), "storage_full", "1,000 kept: full");
    await budget.flush();
    assertEquals((await budget.usage()).bytes, 1_000, "the sum in KV says the same");
    // The rooms' data expires one retention window after their last append.
    await clock.advance(DAY + DAY / 8);
    assertEquals((await budget.usage()).bytes, 0);
    assertEquals(await append(b), "ok");
  } finally {
    log.close();
    await budget.close();
    kv.close();
  }
});

Deno.test("per-address rooms: budget_exceeded past the window's count, for that address group only, until the next window", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock(START);
  const budget = new KvBudget(kv, limits(clock, { addressRooms: 2 }));
  try {
    const first = newRoomId();
    assertEquals(await budget.admitRoom(first, "10.0.0.1"), { ok: true });
    assertEquals(await budget.admitRoom(first, "10.0.0.1"), { ok: true }, "asking again for one room counts once");
    assertEquals(await budget.admitRoom(newRoomId(), "10.0.0.1"), { ok: true });
    const third = await budget.admitRoom(newRoomId(), "10.0.0.1");
    assertEquals(third.ok ? "ok" : third.code, "budget_exceeded");
    assertEquals(await budget.admitRoom(newRoomId(), "10.0.0.2"), { ok: true }, "another address is not charged");
    await clock.advance(HOUR);
    assertEquals(await budget.admitRoom(newRoomId(), "10.0.0.1"), { ok: true }, "a new window");
  } finally {
    await budget.close();
    kv.close();
  }
});

Deno.test("per-address rooms: simultaneous registrations on two instances never pass the limit together", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock(START);
  // Real timers: the compare-and-swap backoff must really pause.
  const options = { ...limits(clock, { addressRooms: 4 }), setTimeout: undefined, clearTimeout: undefined };
  const budgets = [new KvBudget(kv, options), new KvBudget(kv, { ...options, random: Math.random })];
  try {
    const verdicts = await Promise.all(
      Array.from({ length: 12 }, (_, i) => budgets[i % 2].admitRoom(newRoomId(), "2001:db8::/64")),
    );
    const codes = verdicts.map((v) => v.ok ? "ok" : v.code);
    assertEquals(codes.filter((c) => c === "ok").length, 4);
    assertEquals(codes.filter((c) => c === "budget_exceeded").length, 8);
  } finally {
    for (const budget of budgets) await budget.close();
    kv.close();
  }
});

Deno.test("per-address rooms: one address's simultaneous registrations on one instance take turns, none lost to its own race", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, counts } = countingKv(raw);
  const clock = new FakeClock(START);
  // Real timers: without turns, the compare-and-swap backoff would really pause.
  const budget = new KvBudget(kv, {
    ...limits(clock, { addressRooms: 40 }),
    maxAttempts: 2,
    setTimeout: undefined,
    clearTimeout: undefined,
  });
  try {
    // Racing each other on the group's key, 50 registrations would lose the compare-and-swap far more than twice.
    const verdicts = await Promise.allSettled(
      Array.from({ length: 50 }, () => budget.admitRoom(newRoomId(), "198.51.100.7")),
    );
    const codes = verdicts.map((v) => v.status === "rejected" ? String(v.reason) : v.value.ok ? "ok" : v.value.code);
    assertEquals(codes.filter((c) => c === "ok").length, 40, codes.find((c) => c.includes("Error")));
    assertEquals(codes.filter((c) => c === "budget_exceeded").length, 10);
    assertEquals(counts.failedWrites, 0, "no registration lost a race to another on this instance");
  } finally {
    await budget.close();
    raw.close();
  }
});

Deno.test("per-address bytes: budget_exceeded past the window's bytes, seen by other instances after a flush, reset by the next window", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock(START);
  const one = new KvBudget(kv, limits(clock, { addressBytes: 1_000 }));
  const two = new KvBudget(kv, limits(clock, { addressBytes: 1_000 }));
  const code = (budget: KvBudget, group: string, bytes: number) => {
    const verdict = budget.chargeBytes(group, bytes);
    return verdict.ok ? "ok" : verdict.code;
  };
  try {
    assertEquals(code(one, "10.0.0.1", 400), "ok");
    assertEquals(code(one, "10.0.0.1", 400), "ok");
    assertEquals(code(one, "10.0.0.1", 400), "budget_exceeded");
    assertEquals(code(one, "10.0.0.1", 200), "ok", "exactly the budget fits");
    assertEquals(code(one, "10.0.0.2", 400), "ok", "another address is not charged");
    await clock.advance(1_000); // the flush timer starts writing the counts
    await one.flush(); // (waits for that write)
    assertEquals(code(two, "10.0.0.1", 1), "ok", "another instance's first look is optimistic...");
    await two.flush();
    assertEquals(code(two, "10.0.0.1", 1), "budget_exceeded", "...until it has read the group's use");
    await clock.advance(HOUR);
    assertEquals(code(one, "10.0.0.1", 400), "ok");
    assertEquals(code(two, "10.0.0.1", 400), "ok");
  } finally {
    await one.close();
    await two.close();
    kv.close();
  }
});

Deno.test("the budget's own keys stay few: one per address group and window, a few per global bucket", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock(START);
  const budget = new KvBudget(kv, limits(clock, { namespace: "b" }));
  try {
    for (let i = 0; i < 50; i++) await budget.admitRoom(newRoomId(), "10.0.0.1");
    for (let i = 0; i < 500; i++) budget.chargeBytes("10.0.0.1", 10);
    for (let i = 0; i < 500; i++) {
      budget.recordStored({
        room: "r",
        beforeBytes: i,
        beforeUntil: START + DAY,
        afterBytes: i + 1,
        afterUntil: START + DAY,
      });
    }
    await budget.flush();
    const keys: Deno.KvKey[] = [];
    for await (const entry of kv.list({ prefix: ["b"] })) keys.push(entry.key);
    assertEquals(keys.filter((key) => key[1] === "a").length, 1);
    assertEquals(keys.filter((key) => key[1] === "g").length, 1, "one bucket, this instance's shard");
    assertEquals(await budget.usage(), { rooms: 50, bytes: 500 });
  } finally {
    await budget.close();
    kv.close();
  }
});

Deno.test("address groups: IPv4 per address, IPv6 per /64, IPv4-mapped IPv6 as IPv4", () => {
  assertEquals(addressGroup("203.0.113.7"), "203.0.113.7");
  assertEquals(addressGroup("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assertEquals(addressGroup("2001:db8:1:2::7"), "2001:db8:1:2::/64");
  assertEquals(addressGroup("[2001:DB8:1:2::7]"), "2001:db8:1:2::/64");
  assertEquals(addressGroup("fe80::1%eth0"), "fe80:0:0:0::/64");
  assertEquals(addressGroup("::ffff:203.0.113.7"), "203.0.113.7");
  assertEquals(addressGroup("::ffff:cb00:7107"), "203.0.113.7");
  assert(addressGroup("2001:db8:1:3::1") !== addressGroup("2001:db8:1:2::1"));
  for (const odd of ["localhost", "1:2:3:4:5:6:7:8:9", "::1::", "2001:db8::zz"]) assertEquals(addressGroup(odd), odd);
});

Deno.test("the hub answers each budget with its documented error and close code", async (t) => {
  const clock = new FakeClock(START);
  const kv = await Deno.openKv(":memory:");
  const budget = new KvBudget(kv, limits(clock, { addressRooms: 1, addressBytes: 300, maxBytes: 100_000 }));
  const harness = await openHubs({ kv, budget, now: clock.now });
  const hub = harness.hubs[0];
  try {
    await t.step("a second room from one /64 in a window: budget_exceeded, close 4429", async () => {
      assert((await join(hub, newRoomId(), "2001:db8:5:6::1", {}, NEW_ROOM)).result.ok);
      const second = await join(hub, newRoomId(), "2001:db8:5:6::2", {}, NEW_ROOM);
      assert(!second.result.ok);
      assertEquals([second.result.code, second.result.close], ["budget_exceeded", CLOSE.TOO_MANY_ROOMS]);
    });
    await t.step("a message past the address's bytes: budget_exceeded for that message, close 4429", async () => {
      const room = newRoomId();
      const alice = await join(hub, room, "10.1.1.1", {}, NEW_ROOM);
      assert(alice.result.ok);
      const peer = alice.result.peer;
      const say = (id: string) => hub.onFrame(peer, JSON.stringify({ type: "chat", id, data: "Q".repeat(100) }));
      say("m1");
      say("m2");
      assertEquals(alice.socket.sent.at(-1), {
        type: "error",
        code: "budget_exceeded",
        message: "this address stored its most bytes for now; retry later",
        ref: "m2",
      });
      assertEquals(alice.socket.closed?.code, CLOSE.TOO_MANY_ROOMS);
    });
    await t.step(
      "a full deployment: storage_full for a new room (close 1013) and for a message (stays open)",
      async () => {
        const room = newRoomId();
        const bob = await join(hub, room, "10.2.2.2", {}, NEW_ROOM);
        assert(bob.result.ok);
        budget.recordStored({
          room: "big",
          beforeBytes: 0,
          beforeUntil: 0,
          afterBytes: 100_000,
          afterUntil: START + DAY,
        });
        const carol = await join(hub, newRoomId(), "10.3.3.3", {}, NEW_ROOM);
        assert(!carol.result.ok);
        assertEquals([carol.result.code, carol.result.close], ["storage_full", CLOSE.TRY_AGAIN_LATER]);
        hub.onFrame(bob.result.peer, JSON.stringify({ type: "chat", id: "b1", data: "QQ" }));
        assertEquals(bob.socket.sent.at(-1)?.code, "storage_full");
        assertEquals(bob.socket.sent.at(-1)?.ref, "b1");
        assertEquals(bob.socket.closed, null);
      },
    );
  } finally {
    await harness.close();
    await budget.close();
    kv.close();
  }
});

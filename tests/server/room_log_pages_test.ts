import { assert, assertEquals, assertNotEquals } from "@std/assert";
import type { RoomLog, RoomLogOptions } from "../../lib/server/room_log.ts";
import { MemoryRoomLog } from "../../lib/server/room_log_memory.ts";
import { KvRoomLog } from "../../lib/server/room_log_kv.ts";
import { BacklogReader } from "../../lib/server/room_log_reader.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { countingKv } from "./_kv_counter.ts";

const HOUR = 3600_000;
const START = 1_700_000_000_000;

/** Epochs e1, e2, e3... so tests can name them. */
function epochs() {
  let n = 0;
  return () => `e${++n}`;
}

const FLAVOURS: { name: string; open(options: RoomLogOptions): Promise<{ log: RoomLog; done(): void }> }[] = [
  {
    name: "memory",
    open(options) {
      const log = new MemoryRoomLog(options);
      return Promise.resolve({ log, done: () => log.close() });
    },
  },
  {
    name: "kv",
    async open(options) {
      const kv = await Deno.openKv(":memory:");
      const log = new KvRoomLog(kv, options);
      return {
        log,
        done() {
          log.close();
          kv.close();
        },
      };
    },
  },
];

for (const flavour of FLAVOURS) {
  Deno.test(`${flavour.name} room log: bounds give each log an epoch that lasts as long as the log`, async () => {
    const { log, done } = await flavour.open({ ttlMs: HOUR, maxEntries: 100, maxBytes: 10_000, newEpoch: epochs() });
    try {
      assertEquals(
        await log.bounds("a"),
        { firstSeq: 1, lastSeq: 0, epoch: "e1" },
        "made with the head, at the first look",
      );
      await log.appendMany("a", ["one", "two"]);
      assertEquals(await log.bounds("a"), { firstSeq: 1, lastSeq: 2, epoch: "e1" });
      await log.append("b", "elsewhere");
      assertEquals((await log.bounds("b")).epoch, "e2", "each room's log has its own");
      assertEquals((await log.bounds("a")).epoch, "e1");
    } finally {
      done();
    }
  });

  Deno.test(`${flavour.name} room log: a backlog is read in pages bounded in entries and bytes, with its gap first`, async () => {
    const { log, done } = await flavour.open({ ttlMs: HOUR, maxEntries: 40, maxBytes: 1_000_000 });
    try {
      const datas = Array.from({ length: 50 }, (_, i) => `${i}:` + "x".repeat(i % 7 === 0 ? 3_000 : 10));
      await log.appendMany("r", datas);
      const reader = new BacklogReader(log, "r", 3, { entries: 8, bytes: 4_000 });
      const pages = [];
      while (!reader.done) pages.push(await reader.next());
      assertEquals(pages[0].gap, { from: 4, to: 10 }, "entries 4-10 were dropped by the count bound");
      assert(pages.slice(1).every((page) => page.gap === null));
      for (const page of pages) {
        assert(page.entries.length <= 8);
        const bytes = page.entries.reduce((sum, e) => sum + e.data.length, 0);
        assert(bytes <= 4_000 || page.entries.length === 1, `a page of ${bytes} bytes`);
      }
      assertEquals(pages.flatMap((p) => p.entries.map((e) => e.data)), datas.slice(10));
      assertEquals(pages.at(-1)!.through, 50);
      assertEquals(reader.position, 50);
      assertEquals(await reader.next(), { gap: null, entries: [], done: true, through: 50 });
      const single = await log.readAfter("r", 13, 10, 1);
      assertEquals(single.entries.map((e) => e.seq), [14], "one entry even when it alone is over the bytes");
    } finally {
      done();
    }
  });

  Deno.test(`${flavour.name} room log: a reader of a log whose entries all expired gets one gap and is done`, async () => {
    const clock = new FakeClock(START);
    const { log, done } = await flavour.open({ ttlMs: HOUR, maxEntries: 100, maxBytes: 10_000, now: clock.now });
    try {
      await log.appendMany("r", ["a", "b", "c"]);
      await clock.advance(HOUR + 1);
      const page = await new BacklogReader(log, "r", 0, { entries: 10, bytes: 1_000 }).next();
      assertEquals(page, { gap: { from: 1, to: 3 }, entries: [], done: true, through: 3 });
    } finally {
      done();
    }
  });
}

Deno.test("kv room log finds the end of an expired prefix in a few probes and moves its head past it once", async () => {
  const raw = await Deno.openKv(":memory:");
  const { kv, counts, reset } = countingKv(raw);
  const clock = new FakeClock(START);
  const log = new KvRoomLog(kv, { ttlMs: HOUR, maxEntries: 2_000, maxBytes: 1 << 24, now: clock.now });
  try {
    for (let i = 0; i < 40; i++) {
      await log.appendMany("r", Array.from({ length: 50 }, (_, j) => `${i * 50 + j}`));
      await clock.advance(60_000);
    }
    await clock.advance(HOUR - 5 * 60_000); // only the last five batches (250 entries) are left in the window
    // Another handle, so nothing is cached: what a join on another instance pays.
    const other = new KvRoomLog(kv, { ttlMs: HOUR, maxEntries: 2_000, maxBytes: 1 << 24, now: clock.now });
    reset();
    const bounds = await other.bounds("r");
    assertEquals([bounds.firstSeq, bounds.lastSeq], [1751, 2000]);
    assertEquals(counts.lists, 0, "no entry listed");
    assert(counts.gets <= 6, `${counts.gets} reads (head and probes)`);
    assertEquals(counts.writes, 1, "the head moved past the expired entries");
    reset();
    assertEquals((await other.bounds("r")).firstSeq, 1751);
    assertEquals([counts.gets, counts.lists, counts.writes], [1, 0, 0], "the next look is one read");
    reset();
    const page = await other.readAfter("r", 0, 100);
    assertEquals([page.entries[0].seq, page.entries.length, page.firstSeq], [1751, 100, 1751]);
    assertEquals([counts.gets, counts.lists], [1, 1], "a page is the head and one list round trip");
    // An append to a log whose head still points at expired entries does not walk them either.
    await clock.advance(2 * 60_000);
    const third = new KvRoomLog(kv, { ttlMs: HOUR, maxEntries: 2_000, maxBytes: 1 << 24, now: clock.now });
    reset();
    const result = await third.append("r", "new");
    assertEquals([result.seq, result.dropped], [2001, 0]);
    assertEquals(counts.lists, 0);
    assert(counts.gets <= 6, `${counts.gets} reads`);
    assertEquals(counts.writes, 1);
    assertEquals((await third.bounds("r")).firstSeq, 1851);
    other.close();
    third.close();
  } finally {
    log.close();
    raw.close();
  }
});

Deno.test("kv room log whose head is gone (expired or wiped) begins again at 1 with a new epoch", async () => {
  const kv = await Deno.openKv(":memory:");
  const log = new KvRoomLog(kv, { ttlMs: HOUR, maxEntries: 100, maxBytes: 10_000, namespace: "t", newEpoch: epochs() });
  try {
    await log.appendMany("r", ["one", "two", "three"]);
    const before = await log.bounds("r");
    assertEquals([before.lastSeq, before.epoch], [3, "e1"]);
    for await (const entry of kv.list({ prefix: ["t"] })) await kv.delete(entry.key);
    const other = new KvRoomLog(kv, {
      ttlMs: HOUR,
      maxEntries: 100,
      maxBytes: 10_000,
      namespace: "t",
      newEpoch: () => "e2",
    });
    const after = await other.bounds("r");
    assertEquals(after, { firstSeq: 1, lastSeq: 0, epoch: "e2" });
    assertNotEquals(after.epoch, before.epoch);
    assertEquals((await other.append("r", "again")).seq, 1);
    assertEquals((await log.bounds("r")).epoch, "e2", "every handle sees the new epoch");
    other.close();
  } finally {
    log.close();
    kv.close();
  }
});

Deno.test("kv room log reports each commit's kept bytes to its onStored hook", async () => {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock(START);
  const changes: unknown[] = [];
  const log = new KvRoomLog(kv, {
    ttlMs: HOUR,
    maxEntries: 100,
    maxBytes: 10,
    now: clock.now,
    onStored: (change) => changes.push(change),
  });
  try {
    await log.append("r", "aaaa");
    await clock.advance(1_000);
    await log.append("r", "bbbbbbbb"); // 12 bytes: the first goes
    assertEquals(changes, [
      { room: "r", beforeBytes: 0, beforeUntil: 0, afterBytes: 4, afterUntil: START + HOUR },
      { room: "r", beforeBytes: 4, beforeUntil: START + HOUR, afterBytes: 8, afterUntil: START + 1_000 + HOUR },
    ]);
  } finally {
    log.close();
    kv.close();
  }
});

import { assert, assertEquals, assertRejects } from "@std/assert";
import type { RoomLog, RoomLogOptions } from "../../lib/server/room_log.ts";
import { MemoryRoomLog } from "../../lib/server/room_log_memory.ts";
import { KvRoomLog, openKvRoomLog } from "../../lib/server/room_log_kv.ts";

const HOUR = 3600_000;

/** A clock the test moves by hand, starting at a fixed instant. */
function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

interface Flavour {
  name: string;
  open(options: RoomLogOptions): Promise<{ log: RoomLog; cleanup(): Promise<void> }>;
}

const FLAVOURS: Flavour[] = [
  {
    name: "memory",
    open: (options) => {
      const log = new MemoryRoomLog(options);
      return Promise.resolve({ log, cleanup: () => Promise.resolve(log.close()) });
    },
  },
  {
    name: "kv :memory:",
    async open(options) {
      const log = await openKvRoomLog(":memory:", options);
      return { log, cleanup: () => Promise.resolve(log.close()) };
    },
  },
  {
    name: "kv file",
    async open(options) {
      const dir = await Deno.makeTempDir({ prefix: "room_log_" });
      const log = await openKvRoomLog(`${dir}/kv.sqlite`, options);
      return {
        log,
        async cleanup() {
          log.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  },
];

async function readAll(log: RoomLog, room: string, after = 0, page = 7) {
  const all = [];
  for (;;) {
    const { entries, lastSeq } = await log.readAfter(room, after, page);
    all.push(...entries);
    if (entries.length === 0 || entries.at(-1)!.seq >= lastSeq) return all;
    after = entries.at(-1)!.seq;
  }
}

for (const flavour of FLAVOURS) {
  Deno.test(`${flavour.name} room log gives consecutive positions and pages them back in order`, async () => {
    const { log, cleanup } = await flavour.open({ ttlMs: HOUR, maxEntries: 1000, maxBytes: 10_000_000 });
    try {
      assertEquals(await log.readAfter("r", 0, 10), { entries: [], firstSeq: 1, lastSeq: 0 });
      const big = "é".repeat(40_000) + "€".repeat(40_000) + "x".repeat(10); // spans several KV values
      const datas = Array.from({ length: 30 }, (_, i) => i === 12 ? big : `frame ${i}`);
      const results = await Promise.all(datas.map((data) => log.append("r", data)));
      assertEquals(results.map((r) => r.seq), datas.map((_, i) => i + 1));
      assertEquals(results.map((r) => r.dropped), datas.map(() => 0));
      await log.append("other", "elsewhere");
      const all = await readAll(log, "r");
      assertEquals(all.map((e) => e.data), datas);
      assertEquals(all.map((e) => e.seq), datas.map((_, i) => i + 1));
      const tail = await log.readAfter("r", 25, 100);
      assertEquals(tail.entries.map((e) => e.seq), [26, 27, 28, 29, 30]);
      assertEquals([tail.firstSeq, tail.lastSeq], [1, 30]);
      assertEquals((await log.readAfter("r", 30, 100)).entries, []);
      assertEquals((await log.readAfter("r", 99, 100)).entries, []);
      assertEquals((await log.readAfter("other", 0, 100)).entries.map((e) => e.data), ["elsewhere"]);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${flavour.name} room log drops the oldest entries past its count and byte bounds and says so`, async (t) => {
    const { log, cleanup } = await flavour.open({ ttlMs: HOUR, maxEntries: 5, maxBytes: 100 });
    try {
      await t.step("count bound", async () => {
        const results = [];
        for (let i = 1; i <= 8; i++) results.push(await log.append("count", `m${i}`));
        assertEquals(results.map((r) => r.dropped), [0, 0, 0, 0, 0, 1, 1, 1]);
        const read = await log.readAfter("count", 0, 100);
        assertEquals(read.entries.map((e) => e.data), ["m4", "m5", "m6", "m7", "m8"]);
        assertEquals([read.firstSeq, read.lastSeq], [4, 8]);
      });
      await t.step("byte bound", async () => {
        await log.append("bytes", "a".repeat(40));
        await log.append("bytes", "b".repeat(40));
        const third = await log.append("bytes", "c".repeat(90)); // needs both gone
        assertEquals(third.dropped, 2);
        const fourth = await log.append("bytes", "€".repeat(3)); // 9 bytes of UTF-8 fit beside 90
        assertEquals(fourth.dropped, 0);
        const read = await log.readAfter("bytes", 0, 100);
        assertEquals(read.entries.map((e) => e.seq), [3, 4]);
        assertEquals(read.firstSeq, 3);
      });
      await t.step("batch bigger than the count bound", async () => {
        const results = await log.appendMany("batch", Array.from({ length: 12 }, (_, i) => `b${i}`));
        assertEquals(results.map((r) => r.seq), Array.from({ length: 12 }, (_, i) => i + 1));
        assertEquals(results.reduce((sum, r) => sum + r.dropped, 0), 7);
        const read = await log.readAfter("batch", 0, 100);
        assertEquals(read.entries.map((e) => e.data), ["b7", "b8", "b9", "b10", "b11"]);
        assertEquals(read.firstSeq, 8);
      });
      await t.step("an entry bigger than the byte bound is refused", async () => {
        await assertRejects(() => log.append("bytes", "z".repeat(101)), RangeError);
      });
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${flavour.name} room log never returns entries older than the retention window`, async () => {
    const clock = fakeClock();
    const { log, cleanup } = await flavour.open({ ttlMs: HOUR, maxEntries: 100, maxBytes: 10_000, now: clock.now });
    try {
      await log.appendMany("r", ["old1", "old2"]);
      clock.advance(HOUR / 2);
      await log.append("r", "mid");
      clock.advance(HOUR / 2 + 1); // old1 and old2 are now past the window
      let read = await log.readAfter("r", 0, 100);
      assertEquals(read.entries.map((e) => e.data), ["mid"]);
      assertEquals([read.firstSeq, read.lastSeq], [3, 3]);
      read = await log.readAfter("r", 1, 100);
      assertEquals(read.entries.map((e) => e.data), ["mid"]);
      const next = await log.append("r", "new");
      assertEquals([next.seq, next.dropped], [4, 0]);
      clock.advance(HOUR);
      read = await log.readAfter("r", 0, 100);
      assertEquals(read.entries.map((e) => e.data), ["new"]);
      clock.advance(1);
      read = await log.readAfter("r", 0, 100);
      assertEquals(read, { entries: [], firstSeq: 5, lastSeq: 4 });
      assertEquals((await log.append("r", "again")).seq, 5);
      assertEquals((await log.readAfter("r", 0, 100)).entries.map((e) => e.seq), [5]);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${flavour.name} room log keeps positions increasing when the clock steps back`, async () => {
    const clock = fakeClock();
    const { log, cleanup } = await flavour.open({ ttlMs: HOUR, maxEntries: 100, maxBytes: 10_000, now: clock.now });
    try {
      const a = await log.append("r", "a");
      clock.advance(-5000);
      const b = await log.append("r", "b");
      assert(b.at >= a.at, "times never go back within a room");
      assertEquals(b.seq, a.seq + 1);
    } finally {
      await cleanup();
    }
  });
}

Deno.test("kv room log gives unique consecutive positions to two handles appending to one room at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "room_log_" });
  const path = `${dir}/kv.sqlite`;
  const options = { ttlMs: HOUR, maxEntries: 100_000, maxBytes: 100_000_000 };
  const [a, b] = [await openKvRoomLog(path, options), await openKvRoomLog(path, options)];
  try {
    const work = [];
    for (let i = 0; i < 150; i++) {
      work.push(a.append("r", `a${i}`), b.append("r", `b${i}`));
      if (i % 50 === 0) {
        work.push(
          a.appendMany("r", [`am${i}.0`, `am${i}.1`, `am${i}.2`]),
          b.appendMany("r", [`bm${i}.0`, `bm${i}.1`]),
        );
      }
    }
    const results = (await Promise.all(work)).flat();
    const seqs = results.map((r) => r.seq).sort((x, y) => x - y);
    assertEquals(seqs, seqs.map((_, i) => i + 1), "no position given twice, none skipped");
    const all = await readAll(a, "r", 0, 64);
    assertEquals(all.length, results.length);
    const fromB = await readAll(b, "r", 0, 1000);
    assertEquals(fromB, all);
    const order = (prefix: string) => all.filter((e) => e.data.startsWith(prefix)).map((e) => e.data);
    assertEquals(order("a").filter((d) => !d.startsWith("am")), Array.from({ length: 150 }, (_, i) => `a${i}`));
    assertEquals(order("b").filter((d) => !d.startsWith("bm")), Array.from({ length: 150 }, (_, i) => `b${i}`));
  } finally {
    a.close();
    b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv room log keeps its bounds when two handles append and drop at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "room_log_" });
  const path = `${dir}/kv.sqlite`;
  const options = { ttlMs: HOUR, maxEntries: 20, maxBytes: 100_000 };
  const [a, b] = [await openKvRoomLog(path, options), await openKvRoomLog(path, options)];
  try {
    const work = [];
    for (let i = 0; i < 100; i++) work.push(a.append("r", `a${i}`), b.append("r", `b${i}`));
    const results = await Promise.all(work);
    assertEquals(results.reduce((sum, r) => sum + r.dropped, 0), 180);
    const read = await a.readAfter("r", 0, 1000);
    assertEquals(read.entries.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => 181 + i));
    assertEquals([read.firstSeq, read.lastSeq], [181, 200]);
    // The dropped entries are gone from KV, not just hidden.
    const kv = await Deno.openKv(path);
    let stored = 0;
    for await (const _ of kv.list({ prefix: ["log", "e", "r"] })) stored++;
    kv.close();
    assertEquals(stored, 20);
  } finally {
    a.close();
    b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv room log survives closing and reopening its file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "room_log_" });
  const path = `${dir}/kv.sqlite`;
  const options = { ttlMs: HOUR, maxEntries: 1000, maxBytes: 1_000_000 };
  try {
    let log = await openKvRoomLog(path, options);
    await log.appendMany("r", ["one", "two", "three"]);
    log.close();
    log = await openKvRoomLog(path, options);
    assertEquals((await log.readAfter("r", 1, 10)).entries.map((e) => e.data), ["two", "three"]);
    assertEquals((await log.append("r", "four")).seq, 4);
    log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv room log splits a large batch across atomics within KV limits", async () => {
  const kv = await Deno.openKv(":memory:");
  const log = new KvRoomLog(kv, { ttlMs: HOUR, maxEntries: 10_000, maxBytes: 100_000_000, namespace: "t" });
  try {
    const datas = Array.from({ length: 2500 }, (_, i) => `${i}:` + "x".repeat(i % 10 === 0 ? 5000 : 20));
    const results = await log.appendMany("r", datas);
    assertEquals(results.map((r) => r.seq), datas.map((_, i) => i + 1));
    const all = await readAll(log, "r", 0, 500);
    assertEquals(all.map((e) => e.data), datas);
  } finally {
    log.close();
    kv.close();
  }
});

Deno.test("kv room log rejects appends after it is closed", async () => {
  const log = await openKvRoomLog(":memory:", { ttlMs: HOUR, maxEntries: 10, maxBytes: 1000 });
  log.close();
  await assertRejects(() => log.append("r", "late"), Error, "closed");
});

Deno.test("kv room log gives unique consecutive positions to three Workers appending to one room", async () => {
  const dir = await Deno.makeTempDir({ prefix: "room_log_" });
  const path = `${dir}/kv.sqlite`;
  const workers = ["x", "y", "z"].map(() =>
    new Worker(new URL("./_log_worker.ts", import.meta.url), { type: "module" })
  );
  try {
    const replies = await Promise.all(
      workers.map((worker, i) =>
        new Promise<{ seqs?: number[]; error?: string }>((resolve) => {
          worker.onmessage = (event) => resolve(event.data);
          worker.postMessage({ path, room: "r", prefix: "xyz"[i], count: 300 });
        })
      ),
    );
    for (const reply of replies) assertEquals(reply.error, undefined);
    const seqs = replies.flatMap((reply) => reply.seqs!).sort((a, b) => a - b);
    assertEquals(seqs, Array.from({ length: 900 }, (_, i) => i + 1), "no position given twice, none skipped");
    const log = await openKvRoomLog(path, { ttlMs: HOUR, maxEntries: 1_000_000, maxBytes: 1_000_000_000 });
    const all = await readAll(log, "r", 0, 250);
    log.close();
    for (const prefix of "xyz") {
      assertEquals(
        all.filter((e) => e.data.startsWith(prefix)).map((e) => e.data),
        Array.from({ length: 300 }, (_, i) => `${prefix}${i}`),
        "each worker's frames keep their order",
      );
    }
  } finally {
    workers.forEach((worker) => worker.terminate());
    await Deno.remove(dir, { recursive: true });
  }
});

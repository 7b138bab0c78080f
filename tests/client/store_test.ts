// fake-indexeddb (dev-only) gives Deno an in-memory IndexedDB, so the browser store runs the same suite as the memory one.
import "fake-indexeddb/auto";
import { assert, assertEquals, assertRejects } from "@std/assert";
import type { OutboxEntry, Store, StoredMessage } from "../../lib/client/store.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { openIdbStore } from "../../lib/client/store_idb.ts";
import { openResilientStore } from "../../lib/client/store_resilient.ts";

const ROOM = "room-a-xxxxxxxxxxxxxxxx";
const OTHER = "room-b-xxxxxxxxxxxxxxxx";

function message(id: string, order: string, fields: Partial<StoredMessage> = {}): StoredMessage {
  return { id, author: "alice", order, body: `body ${id}`, status: "pending", time: 1_000, ...fields };
}

function entry(id: string, order: string, fields: Partial<OutboxEntry> = {}): OutboxEntry {
  return { id, order, ackedBy: [], accepted: false, attempts: 0, ...fields };
}

let dbCounter = 0;

const KINDS: [string, () => Promise<Store>][] = [
  ["memory", () => Promise.resolve(new MemoryStore())],
  ["indexeddb", () => openIdbStore(`parley-test-${dbCounter++}`)],
  ["resilient", () => openResilientStore({ name: `parley-test-${dbCounter++}` })],
];

for (const [kind, open] of KINDS) {
  Deno.test(`${kind} store: putting a message twice keeps one record and never lowers its status`, async () => {
    const store = await open();
    try {
      await store.putMessage(ROOM, message("m1", "0001"));
      await store.putMessage(ROOM, message("m1", "0001"));
      assertEquals((await store.listMessages(ROOM)).length, 1);
      assert(await store.setStatus(ROOM, "m1", "delivered", 7));
      await store.putMessage(ROOM, message("m1", "0001", { status: "sent", body: "edited" }));
      const stored = await store.getMessage(ROOM, "m1");
      assertEquals(stored, message("m1", "0001", { status: "delivered", body: "edited", seq: 7 }));
      assert(await store.setStatus(ROOM, "m1", "pending"));
      assertEquals((await store.getMessage(ROOM, "m1"))?.status, "delivered");
      assertEquals(await store.setStatus(ROOM, "nope", "sent"), false);
      assertEquals(await store.getMessage(ROOM, "nope"), undefined);
    } finally {
      store.close();
    }
  });

  Deno.test(`${kind} store: history comes back in order key order, per room, newest N on request`, async () => {
    const store = await open();
    try {
      for (const [id, order] of [["c", "0003"], ["a", "0001"], ["e", "0005"], ["b", "0002"], ["d", "0004"]]) {
        await store.putMessage(ROOM, message(id, order, { to: id === "d" ? "bob" : undefined }));
      }
      await store.putMessage(OTHER, message("z", "0000"));
      assertEquals((await store.listMessages(ROOM)).map((m) => m.id), ["a", "b", "c", "d", "e"]);
      assertEquals((await store.listMessages(ROOM, { limit: 2 })).map((m) => m.id), ["d", "e"]);
      assertEquals((await store.listMessages(ROOM, { limit: 0 })).length, 0);
      assertEquals((await store.listMessages(ROOM, { limit: 99 })).length, 5);
      assertEquals((await store.listMessages(OTHER)).map((m) => m.id), ["z"]);
      assertEquals((await store.getMessage(ROOM, "d"))?.to, "bob");
      assert(!("to" in (await store.getMessage(ROOM, "a"))!));
    } finally {
      store.close();
    }
  });

  Deno.test(`${kind} store: equal order keys fall back to id order`, async () => {
    const store = await open();
    try {
      await store.putMessage(ROOM, message("y", "0001"));
      await store.putMessage(ROOM, message("x", "0001"));
      assertEquals((await store.listMessages(ROOM)).map((m) => m.id), ["x", "y"]);
    } finally {
      store.close();
    }
  });

  Deno.test(`${kind} store: the outbox holds own messages until they are acknowledged`, async (t) => {
    const store = await open();
    try {
      await t.step("putOwn stores message and outbox entry together", async () => {
        await store.putOwn(ROOM, message("m2", "0002"), entry("m2", "0002"));
        await store.putOwn(ROOM, message("m1", "0001"), entry("m1", "0001", { to: "bob" }));
        assertEquals((await store.listOutbox(ROOM)).map((e) => e.id), ["m1", "m2"]);
        assertEquals((await store.listMessages(ROOM)).map((m) => m.id), ["m1", "m2"]);
        assertEquals((await store.listOutbox(ROOM))[0], entry("m1", "0001", { to: "bob" }));
      });
      await t.step("an update replaces the entry by id", async () => {
        await store.putOutbox(ROOM, entry("m2", "0002", { ackedBy: ["bob"], accepted: true, attempts: 2 }));
        await store.putOutbox(ROOM, entry("m2", "0002", { ackedBy: ["bob"], accepted: true, attempts: 2 }));
        const list = await store.listOutbox(ROOM);
        assertEquals(list.length, 2);
        assertEquals(list[1], entry("m2", "0002", { ackedBy: ["bob"], accepted: true, attempts: 2 }));
      });
      await t.step("returned entries are copies", async () => {
        const [first] = await store.listOutbox(ROOM);
        first.ackedBy.push("mallory");
        assertEquals((await store.listOutbox(ROOM))[0].ackedBy, []);
      });
      await t.step("delete removes one entry, twice is harmless, the message stays", async () => {
        await store.deleteOutbox(ROOM, "m1");
        await store.deleteOutbox(ROOM, "m1");
        assertEquals((await store.listOutbox(ROOM)).map((e) => e.id), ["m2"]);
        assertEquals((await store.listMessages(ROOM)).length, 2);
        assertEquals(await store.listOutbox(OTHER), []);
      });
    } finally {
      store.close();
    }
  });

  Deno.test(`${kind} store: room state merges patches and removes undefined fields`, async () => {
    const store = await open();
    try {
      assertEquals(await store.getState(ROOM), {});
      assertEquals(await store.patchState(ROOM, { token: "t1", peer: "p1" }), { token: "t1", peer: "p1" });
      await store.patchState(ROOM, { lastSeq: 42, name: "Ann" });
      await store.patchState(ROOM, { token: undefined, lastSeq: 43 });
      assertEquals(await store.getState(ROOM), { peer: "p1", lastSeq: 43, name: "Ann" });
      assertEquals(await store.getState(OTHER), {});
    } finally {
      store.close();
    }
  });

  Deno.test(`${kind} store: clearing a room forgets only that room`, async () => {
    const store = await open();
    try {
      await store.putOwn(ROOM, message("m1", "0001"), entry("m1", "0001"));
      await store.patchState(ROOM, { token: "t" });
      await store.putOwn(OTHER, message("m9", "0009"), entry("m9", "0009"));
      await store.clearRoom(ROOM);
      assertEquals(await store.listMessages(ROOM), []);
      assertEquals(await store.listOutbox(ROOM), []);
      assertEquals(await store.getState(ROOM), {});
      assertEquals((await store.listMessages(OTHER)).length, 1);
      assertEquals((await store.listOutbox(OTHER)).length, 1);
    } finally {
      store.close();
    }
  });

  Deno.test(`${kind} store: a closed store rejects calls`, async () => {
    const store = await open();
    store.close();
    await assertRejects(() => store.listMessages(ROOM));
  });
}

Deno.test("the indexeddb store keeps history, outbox and state across a reopen (a reload)", async () => {
  const name = `parley-test-reload-${dbCounter++}`;
  const first = await openIdbStore(name);
  await first.putOwn(ROOM, message("m1", "0001"), entry("m1", "0001"));
  await first.patchState(ROOM, { token: "tok", lastSeq: 5 });
  first.close();
  const second = await openIdbStore(name);
  try {
    assertEquals((await second.listOutbox(ROOM)).map((e) => e.id), ["m1"]);
    assertEquals(await second.getMessage(ROOM, "m1"), message("m1", "0001"));
    assertEquals(await second.getState(ROOM), { token: "tok", lastSeq: 5 });
  } finally {
    second.close();
  }
});

Deno.test("the page's store opens IndexedDB when present and says its writes are durable", async () => {
  const store = await openResilientStore({ name: `parley-test-open-${dbCounter++}` });
  try {
    assert(store.durable());
    assertEquals(store.state.value, { mode: "durable" });
  } finally {
    store.close();
  }
});

Deno.test("durable() tells memory from IndexedDB", async () => {
  const memory = new MemoryStore({ durable: false });
  const idb = await openIdbStore(`parley-test-durable-${dbCounter++}`);
  try {
    assertEquals(memory.durable(), false);
    assertEquals(new MemoryStore().durable(), true, "a memory store standing for a device's disk in tests");
    assertEquals(idb.durable(), true);
  } finally {
    memory.close();
    idb.close();
  }
  assertEquals(idb.durable(), false);
});

/**
 * The first visit's store (`store_deferred.ts`): memory until `start()`, then
 * the real resilient store over a real (fake-indexeddb) database, holding
 * every write made before, in order, and on disk once durable. Its code
 * failing to load leaves the page in memory, saying so, and it tries again.
 */
import "fake-indexeddb/auto";
import { assert, assertEquals, assertRejects } from "@std/assert";
import type { OutboxEntry, StoredMessage } from "../../lib/client/store.ts";
import { openIdbStore } from "../../lib/client/store_idb.ts";
import { DeferredStore, type PageStore } from "../../lib/client/store_deferred.ts";
import { openResilientStore, type ResilientStore } from "../../lib/client/store_resilient.ts";
import { FakeClock, settle } from "../support/fake_clock.ts";

const ROOM = "room-a-xxxxxxxxxxxxxxxx";
let dbCounter = 0;

function message(id: string, order: string, fields: Partial<StoredMessage> = {}): StoredMessage {
  return { id, order, author: "me", body: `body ${id}`, time: 1, status: "pending", ...fields };
}

function entry(id: string, order: string): OutboxEntry {
  return { id, order, ackedBy: [], accepted: false, attempts: 0 };
}

/** What a reload would find on disk. */
async function onDisk(name: string) {
  const db = await openIdbStore(name);
  try {
    return {
      messages: (await db.listMessages(ROOM)).map((m) => [m.id, m.status]),
      outbox: (await db.listOutbox(ROOM)).map((e) => e.id),
      state: await db.getState(ROOM),
    };
  } finally {
    db.close();
  }
}

/** A deferred store over a fresh database, whose loads can be held and made to fail; counts the loads. */
function deferred(options: { failures?: number; clock?: FakeClock } = {}) {
  const name = `parley-deferred-${dbCounter++}`;
  let failures = options.failures ?? 0;
  let release = () => {};
  const held = { on: false };
  const loaded: ResilientStore[] = [];
  const errors: unknown[] = [];
  const load = async (): Promise<PageStore> => {
    if (held.on) await new Promise<void>((resolve) => release = resolve);
    if (failures-- > 0) throw new TypeError("Failed to fetch dynamically imported module");
    const store = await openResilientStore({ name, deferred: true });
    loaded.push(store);
    return store;
  };
  const store = new DeferredStore({
    load,
    onFailure: (error) => errors.push(error),
    timers: options.clock,
    random: () => 0.5,
  });
  return { store, name, loaded, errors, held, release: () => release() };
}

Deno.test("a first visit's store keeps writes in memory until start(), then holds them, in order, on disk", async () => {
  const { store, name, loaded, held, release } = deferred();
  try {
    assertEquals(store.state.value, { mode: "opening" }, "no notice: storage has not failed");
    await store.putOwn(ROOM, message("m1", "0001"), entry("m1", "0001"));
    await store.patchState(ROOM, { lastSeq: 7, name: "Ivan" });
    await store.putMessage(ROOM, message("m2", "0002", { author: "peer", status: "received" }));
    assertEquals(loaded.length, 0, "nothing loaded before start()");
    assertEquals((await store.listMessages(ROOM)).map((m) => m.id), ["m1", "m2"], "the room runs in memory meanwhile");
    assert(!store.durable());

    // Writes made while the code loads are kept too, after the earlier ones (a status only goes forwards).
    held.on = true;
    const started = store.start();
    await store.setStatus(ROOM, "m1", "sent", 8);
    await store.deleteOutbox(ROOM, "m1");
    await store.patchState(ROOM, { lastSeq: 9 });
    release();
    await started;
    assertEquals(loaded.length, 1);
    assertEquals(store.state.value, { mode: "durable" });
    assert(store.durable());
    // Later calls go to the resilient store, and reads see everything.
    await store.setStatus(ROOM, "m1", "delivered");
    assertEquals((await store.listMessages(ROOM)).map((m) => [m.id, m.status]), [["m1", "delivered"], [
      "m2",
      "received",
    ]]);
    const disk = await onDisk(name);
    assertEquals(disk.messages, [["m1", "delivered"], ["m2", "received"]]);
    assertEquals(disk.outbox, [], "the outbox entry deleted while loading stays deleted");
    assertEquals([disk.state.lastSeq, disk.state.name], [9, "Ivan"]);

    await store.start();
    assertEquals(loaded.length, 1, "a second start() loads nothing");
  } finally {
    store.close();
  }
});

Deno.test("storage code that fails to load leaves the room in memory, says so, and is tried again", async () => {
  const clock = new FakeClock(1_000_000);
  const { store, name, loaded, errors } = deferred({ failures: 2, clock });
  try {
    await store.putOwn(ROOM, message("m1", "0001"), entry("m1", "0001"));
    await store.start();
    assertEquals(store.state.value.mode, "memory", "the notice says history lives in memory only");
    assertEquals(store.state.value.reason, "other");
    assertEquals(errors.length, 1);
    await store.putMessage(ROOM, message("m2", "0002", { author: "peer", status: "received" }));
    // The retry timer (jitter 0.5 of 1 s), which fails again; then a start() (a send) before the next timer.
    await clock.advance(1_000);
    await settle();
    assertEquals(errors.length, 2);
    await store.start();
    assertEquals(loaded.length, 1);
    assertEquals(store.state.value, { mode: "durable" });
    assertEquals((await onDisk(name)).messages, [["m1", "pending"], ["m2", "received"]]);
    assertEquals(clock.pending, 0, "the retry timer was cleared");
  } finally {
    store.close();
  }
});

Deno.test("a first visit's store closed while its code loads closes what arrives and rejects later calls", async () => {
  const { store, loaded, held, release } = deferred();
  held.on = true;
  const started = store.start();
  store.close();
  release();
  await started;
  assertEquals(loaded.length, 1);
  await assertRejects(() => loaded[0].getState(ROOM), Error, "closed");
  await assertRejects(() => store.getState(ROOM), Error, "closed");
});

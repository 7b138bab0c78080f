/**
 * The resilient store under real storage failures: fake-indexeddb with a put
 * that throws QuotaExceededError, connections the "browser" closes
 * (forceCloseDatabase fires the real `close` event), a database another tab
 * upgrades, and storage that cannot open at all. Timers run on a fake clock;
 * IndexedDB itself is fake-indexeddb, awaited through `settled()`.
 * A seeded random schedule checks the two promises at once: reads always equal
 * a plain in-memory model, and whenever `durable()` says so, the database holds
 * exactly that model too. Replay one schedule with STORE_SEED=<seed>;
 * STORE_RUNS sets how many run (default 60).
 * @module
 */
import "fake-indexeddb/auto";
import { forceCloseDatabase as forceCloseUntyped } from "fake-indexeddb";
import { assert, assertEquals } from "@std/assert";
import type { OutboxEntry, RoomState, Store, StoredMessage } from "../../lib/client/store.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { type IdbLoss, openIdbStore } from "../../lib/client/store_idb.ts";
import {
  classifyStorageError,
  openResilientStore,
  type PersistentStore,
  ResilientStore,
  STORAGE_RETRY_CAP_MS,
  type StorageFailure,
  StorageUnavailableError,
} from "../../lib/client/store_resilient.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { Prng } from "../support/prng.ts";

const ROOM = "room-a-xxxxxxxxxxxxxxxx";
const OTHER = "room-b-xxxxxxxxxxxxxxxx";

function message(id: string, order: string, fields: Partial<StoredMessage> = {}): StoredMessage {
  return { id, author: "alice", order, body: `body ${id}`, status: "pending", time: 1_000, ...fields };
}

function entry(id: string, order: string, fields: Partial<OutboxEntry> = {}): OutboxEntry {
  return { id, order, ackedBy: [], accepted: false, attempts: 0, ...fields };
}

let dbCounter = 0;
const freshName = () => `parley-resilient-${dbCounter++}`;

// ---- injected failures --------------------------------------------------------------------------------------

/** While true, every IndexedDB put throws QuotaExceededError, as a full origin or disk does. */
let quotaFull = false;
const realPut = IDBObjectStore.prototype.put;
IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore["put"]>) {
  if (quotaFull) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
  return realPut.apply(this, args);
};

/** Closes a connection as the browser does when site data is cleared (fake-indexeddb types it as the class). */
const forceCloseDatabase = forceCloseUntyped as unknown as (db: IDBDatabase) => void;

/** Every raw connection opened, so a test can have the "browser" close one. */
const connections: IDBDatabase[] = [];
const realOpen = indexedDB.open.bind(indexedDB);
indexedDB.open = (name: string, version?: number) => {
  const request = realOpen(name, version);
  request.addEventListener("success", () => connections.push(request.result));
  return request;
};

function lastConnection(name: string): IDBDatabase {
  const found = connections.findLast((db) => db.name === name);
  assert(found, `a connection to ${name}`);
  return found;
}

// ---- helpers -------------------------------------------------------------------------------------------------

/** The watchdog in these tests: longer than any backoff wait, so a recorded delay is always a reopen's. */
const STALL_MS = 2 * STORAGE_RETRY_CAP_MS;

interface Harness {
  store: ResilientStore;
  clock: FakeClock;
  name: string;
  failures: StorageFailure[];
  /** Every backoff delay the store asked for, ms. */
  delays: number[];
}

async function harness(
  options: {
    name?: string;
    clock?: FakeClock;
    open?: (name: string, onLost: (reason: IdbLoss) => void) => Promise<PersistentStore>;
  } = {},
): Promise<Harness> {
  const name = options.name ?? freshName();
  const clock = options.clock ?? new FakeClock(1_000_000);
  const failures: StorageFailure[] = [];
  const delays: number[] = [];
  const store = new ResilientStore({
    open: (onLost) => options.open ? options.open(name, onLost) : openIdbStore(name, { onLost }),
    stallMs: STALL_MS,
    timers: {
      setTimeout: (fn, ms) => {
        if (ms !== STALL_MS) delays.push(ms);
        return clock.setTimeout(fn, ms);
      },
      clearTimeout: clock.clearTimeout,
    },
    now: clock.now,
    random: () => 0.5,
    onFailure: (reason) => failures.push(reason),
  });
  await store.start();
  return { store, clock, name, failures, delays };
}

/** An opener that refuses `refusals` times (InvalidStateError, as a closing browser does), then opens IndexedDB. */
function openAfterRefusals(
  refusals: number,
): (name: string, onLost: (reason: IdbLoss) => void) => Promise<PersistentStore> {
  return (name, onLost) =>
    refusals-- > 0
      ? Promise.reject(new DOMException("A mutation operation was attempted", "InvalidStateError"))
      : openIdbStore(name, { onLost });
}

/** Runs the pending reopen timer (the longest wait is the cap) and waits for the real IndexedDB work. */
async function reopen(h: Harness): Promise<void> {
  await h.clock.advance(STORAGE_RETRY_CAP_MS);
  await h.store.settled();
}

interface Contents {
  messages: StoredMessage[];
  outbox: OutboxEntry[];
  state: RoomState;
}

async function contents(store: Store, room: string): Promise<Contents> {
  return {
    messages: await store.listMessages(room),
    outbox: await store.listOutbox(room),
    state: await store.getState(room),
  };
}

/** What a reload would find: a new connection to the same database. */
async function onDisk(name: string, room: string): Promise<Contents> {
  const db = await openIdbStore(name);
  try {
    return await contents(db, room);
  } finally {
    db.close();
  }
}

// ---- tests ---------------------------------------------------------------------------------------------------

Deno.test("storage errors are classified by name into typed reasons", () => {
  const cases: [unknown, StorageFailure][] = [
    [new DOMException("", "QuotaExceededError"), "quota"],
    [new DOMException("", "InvalidStateError"), "closed"],
    [new DOMException("", "VersionError"), "version"],
    [new DOMException("", "AbortError"), "aborted"],
    [new DOMException("", "UnknownError"), "unknown"],
    [new DOMException("", "SecurityError"), "blocked"],
    [new DOMException("", "TimeoutError"), "stalled"],
    [new StorageUnavailableError(), "unavailable"],
    [new TypeError("boom"), "other"],
    ["a string", "other"],
    [null, "other"],
  ];
  for (const [error, reason] of cases) assertEquals(classifyStorageError(error), reason, String(error));
});

Deno.test("a quota error goes on in memory, and the reopen writes back what lived only there", async (t) => {
  const h = await harness();
  const { store } = h;
  const model = new MemoryStore();
  const both = async (op: (s: Store) => Promise<unknown>) => {
    await op(model);
    await op(store);
  };
  try {
    await t.step("durable at first: a write lands in IndexedDB before it resolves", async () => {
      assert(store.durable());
      await both((s) => s.putOwn(ROOM, message("m1", "0001"), entry("m1", "0001")));
      await both((s) => s.patchState(ROOM, { token: "t1", lastSeq: 3 }));
      assertEquals(await onDisk(h.name, ROOM), await contents(model, ROOM));
    });

    await t.step("the quota is full: the write still resolves, reads see it, durable() is false", async () => {
      quotaFull = true;
      await both((s) => s.putOwn(ROOM, message("m2", "0002"), entry("m2", "0002")));
      assertEquals(store.durable(), false);
      assertEquals(store.state.value.mode, "memory");
      assertEquals(store.state.value.reason, "quota");
      assertEquals(h.failures, ["quota"]);
      assertEquals(await contents(store, ROOM), await contents(model, ROOM));
      assertEquals((await onDisk(h.name, ROOM)).messages.map((m) => m.id), ["m1"], "m2 is not on disk");
    });

    await t.step("more writes in memory: status, outbox delete, state, another room", async () => {
      await both((s) => s.setStatus(ROOM, "m1", "delivered", 9).then(() => undefined));
      await both((s) => s.deleteOutbox(ROOM, "m1"));
      await both((s) => s.patchState(ROOM, { token: undefined, name: "Ann" }));
      await both((s) => s.putMessage(OTHER, message("x1", "0001", { status: "received", author: "bob" })));
      assertEquals(await contents(store, ROOM), await contents(model, ROOM));
      assertEquals(await contents(store, OTHER), await contents(model, OTHER));
    });

    await t.step("a reopen while the quota is still full fails and keeps memory, retrying later", async () => {
      const before = h.delays.length;
      await reopen(h);
      assertEquals(store.durable(), false);
      assertEquals(store.state.value.reason, "quota");
      assertEquals(h.delays.length, before + 1, "another reopen is scheduled");
    });

    await t.step("space returns: the next reopen writes everything back, then says durable", async () => {
      quotaFull = false;
      await reopen(h);
      assert(store.durable());
      assertEquals(store.state.value, { mode: "durable" });
      assertEquals(await onDisk(h.name, ROOM), await contents(model, ROOM));
      assertEquals(await onDisk(h.name, OTHER), await contents(model, OTHER));
      assertEquals(h.clock.pending, 0, "no reopen is scheduled once durable");
    });

    await t.step("durable again: a new write lands before it resolves", async () => {
      await both((s) => s.putMessage(ROOM, message("m3", "0003", { status: "received" })));
      assertEquals(await onDisk(h.name, ROOM), await contents(model, ROOM));
    });
  } finally {
    quotaFull = false;
    store.close();
  }
});

Deno.test("the browser closing the connection switches to memory at once; the reopen rewrites a deleted database", async () => {
  const h = await harness();
  const { store } = h;
  const model = new MemoryStore();
  try {
    for (const s of [model, store] as Store[]) {
      await s.putOwn(ROOM, message("m1", "0001"), entry("m1", "0001"));
      await s.putMessage(ROOM, message("r1", "0002", { status: "received", author: "bob", seq: 4 }));
      await s.patchState(ROOM, { lastSeq: 4, peer: "p1" });
    }
    forceCloseDatabase(lastConnection(h.name));
    assertEquals(store.state.value.mode, "memory", "the close event alone switches, before any write fails");
    assertEquals(store.state.value.reason, "closed");
    // What "clear site data" or a failed backing store leaves: no database at all.
    await new Promise((resolve, reject) => {
      const request = indexedDB.deleteDatabase(h.name);
      request.onsuccess = resolve;
      request.onerror = () => reject(request.error);
    });
    for (const s of [model, store] as Store[]) await s.putMessage(ROOM, message("m2", "0003"));
    assertEquals(await contents(store, ROOM), await contents(model, ROOM));
    await reopen(h);
    assert(store.durable());
    assertEquals(await onDisk(h.name, ROOM), await contents(model, ROOM), "the whole room is back on disk");
  } finally {
    store.close();
  }
});

Deno.test("a write on a connection that closed under it (InvalidStateError) goes on in memory", async () => {
  const h = await harness();
  const { store } = h;
  try {
    await store.putMessage(ROOM, message("m1", "0001"));
    lastConnection(h.name).close(); // closed without a close event: the next transaction() throws
    await store.putMessage(ROOM, message("m2", "0002"));
    assertEquals(store.state.value.reason, "closed");
    assertEquals((await store.listMessages(ROOM)).map((m) => m.id), ["m1", "m2"]);
    await reopen(h);
    assert(store.durable());
    assertEquals((await onDisk(h.name, ROOM)).messages.map((m) => m.id), ["m1", "m2"]);
  } finally {
    store.close();
  }
});

Deno.test("storage that cannot open starts in memory, retries with growing capped backoff, then merges the old history", async () => {
  const name = freshName();
  // A previous visit left history on disk.
  const earlier = await openIdbStore(name);
  await earlier.putMessage(ROOM, message("old", "0000", { status: "delivered" }));
  await earlier.patchState(ROOM, { name: "Ann", lastSeq: 2 });
  earlier.close();

  const h = await harness({ name, open: openAfterRefusals(9) });
  const { store } = h;
  try {
    assertEquals(store.state.value.mode, "memory");
    await store.putOwn(ROOM, message("new", "0001"), entry("new", "0001"));
    await store.patchState(ROOM, { lastSeq: 5 });
    assertEquals((await store.listMessages(ROOM)).map((m) => m.id), ["new"], "the old history is out of reach");
    while (!store.durable()) await reopen(h);
    // full jitter at random 0.5: half of min(cap, base · 2^n)
    assertEquals(h.delays, [500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000, 15_000]);
    assertEquals(h.failures.length, 9);
    const expected: Contents = {
      messages: [message("old", "0000", { status: "delivered" }), message("new", "0001")],
      outbox: [entry("new", "0001")],
      state: { name: "Ann", lastSeq: 5 },
    };
    assertEquals(await contents(store, ROOM), expected, "the copy took in the old history, own writes win");
    assertEquals(await onDisk(name, ROOM), expected);
  } finally {
    store.close();
  }
});

Deno.test("a browser without IndexedDB stays in memory and never schedules a reopen", async () => {
  const h = await harness({ open: () => Promise.reject(new StorageUnavailableError()) });
  try {
    assertEquals(h.store.state.value.reason, "unavailable");
    assertEquals(h.clock.pending, 0);
    await h.store.putMessage(ROOM, message("m1", "0001"));
    assertEquals((await h.store.listMessages(ROOM)).length, 1);
    assertEquals(h.store.durable(), false);
  } finally {
    h.store.close();
  }
});

Deno.test("another tab opening a newer schema closes this connection; this tab stays in memory meanwhile", async () => {
  const h = await harness();
  const { store } = h;
  try {
    await store.putMessage(ROOM, message("m1", "0001"));
    const newer = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(h.name, 2);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    try {
      assertEquals(store.state.value.reason, "version");
      await store.putMessage(ROOM, message("m2", "0002"));
      await reopen(h);
      assertEquals(store.state.value.reason, "version", "an old page never writes into a newer schema");
      assertEquals((await store.listMessages(ROOM)).map((m) => m.id), ["m1", "m2"]);
    } finally {
      newer.close();
    }
  } finally {
    store.close();
  }
});

Deno.test("a write IndexedDB never answers counts as failed after the stall time; the room goes on in memory", async () => {
  let hang = false;
  const h = await harness({
    open: async (name, onLost) => {
      const db = await openIdbStore(name, { onLost });
      // putMessage hangs while `hang` is set, as IndexedDB does in some browsers after a tab sleeps.
      return new Proxy(db, {
        get(target, field: keyof PersistentStore) {
          if (hang && field === "putMessage") return () => new Promise(() => {});
          const value = target[field];
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    },
  });
  const { store } = h;
  try {
    await store.listMessages(ROOM); // the room is loaded: the write below goes straight to IndexedDB
    hang = true;
    let resolved = false;
    const write = store.putMessage(ROOM, message("m1", "0001")).then(() => resolved = true);
    await h.clock.advance(STALL_MS - 1);
    assertEquals(resolved, false, "within the stall time the write waits for IndexedDB");
    assert(store.durable());
    await h.clock.advance(1);
    await write;
    assertEquals(store.state.value.reason, "stalled");
    assertEquals((await store.listMessages(ROOM)).map((m) => m.id), ["m1"]);
    hang = false;
    await reopen(h);
    assert(store.durable());
    assertEquals((await onDisk(h.name, ROOM)).messages.map((m) => m.id), ["m1"]);
  } finally {
    store.close();
  }
});

Deno.test("an IndexedDB open that never answers leaves the page in memory after the stall time", async () => {
  const clock = new FakeClock(1_000_000);
  let hangs = 1;
  const opening = harness({
    clock,
    open: (name, onLost) => hangs-- > 0 ? new Promise(() => {}) : openIdbStore(name, { onLost }),
  });
  await clock.advance(STALL_MS);
  const h = await opening;
  try {
    assertEquals(h.store.state.value.reason, "stalled");
    await h.store.putMessage(ROOM, message("m1", "0001"));
    await reopen(h);
    assert(h.store.durable());
    assertEquals((await onDisk(h.name, ROOM)).messages.map((m) => m.id), ["m1"]);
  } finally {
    h.store.close();
  }
});

Deno.test("writes made while the write-back runs are written back too", async () => {
  const h = await harness();
  const { store } = h;
  try {
    quotaFull = true;
    await store.putMessage(ROOM, message("m1", "0001"));
    quotaFull = false;
    await h.clock.advance(STORAGE_RETRY_CAP_MS); // the reopen starts and waits for IndexedDB
    for (let i = 2; i <= 6; i++) await store.putMessage(ROOM, message(`m${i}`, `000${i}`));
    await store.deleteOutbox(ROOM, "nothing");
    await store.settled();
    assert(store.durable());
    assertEquals((await onDisk(h.name, ROOM)).messages.map((m) => m.id), ["m1", "m2", "m3", "m4", "m5", "m6"]);
  } finally {
    store.close();
  }
});

Deno.test("a deferred store (a first visit) opens nothing until start(), then writes back what came meanwhile", async () => {
  const name = freshName();
  const opened: string[] = [];
  const store = await openResilientStore({
    name,
    deferred: true,
    onOpened: () => opened.push(store.state.peek().mode),
  });
  try {
    assertEquals(store.state.value, { mode: "opening" }, "no notice: storage has not failed");
    assert(!store.durable());
    const before = connections.length;
    await store.putOwn(ROOM, message("m1", "0001"), entry("m1", "0001"));
    await store.patchState(ROOM, { lastSeq: 7 });
    assertEquals(connections.length, before, "no database opened before start()");
    assertEquals((await store.listMessages(ROOM)).map((m) => m.id), ["m1"], "the room runs in memory meanwhile");

    await store.start();
    await store.settled();
    assertEquals(store.state.value, { mode: "durable" });
    assertEquals(opened, ["opening"], "told once, when the database opened, before the write-back made it durable");
    const disk = await onDisk(name, ROOM);
    assertEquals(disk.messages.map((m) => m.id), ["m1"]);
    assertEquals(disk.outbox.map((e) => e.id), ["m1"]);
    assertEquals(disk.state.lastSeq, 7);

    const connectionsNow = connections.length;
    await store.start();
    assertEquals(connections.length, connectionsNow, "a second start() does nothing once durable");
  } finally {
    store.close();
  }
});

// ---- the seeded random schedule ------------------------------------------------------------------------------

function envNumber(name: string): number | undefined {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${raw}`);
  return value;
}

const STATUSES = ["pending", "sent", "delivered", "received"] as const;

/** One random schedule; returns how many faults it injected. */
async function schedule(seed: number): Promise<{ ops: number; faults: number; durableChecks: number }> {
  const rng = new Prng(seed);
  const h = await harness();
  const { store } = h;
  const model = new MemoryStore();
  const rooms = [ROOM, OTHER];
  let faults = 0;
  let durableChecks = 0;
  const ops = rng.int(20, 60);
  try {
    for (let step = 0; step < ops; step++) {
      const room = rooms[rng.int(0, 1)];
      const id = `m${rng.int(0, 9)}`;
      const order = String(rng.int(0, 99)).padStart(4, "0");
      const roll = rng.next();
      let op: (s: Store) => Promise<unknown>;
      if (roll < 0.25) {
        const status = STATUSES[rng.int(0, 3)];
        op = (s) => s.putMessage(room, message(id, order, { status, body: `b${step}` }));
      } else if (roll < 0.4) op = (s) => s.putOwn(room, message(id, order), entry(id, order));
      else if (roll < 0.55) {
        const status = STATUSES[rng.int(0, 3)];
        const seq = rng.chance(0.5) ? step : undefined;
        op = (s) => s.setStatus(room, id, status, seq);
      } else if (roll < 0.65) {
        const acked = rng.chance(0.5) ? ["bob"] : [];
        op = (s) => s.putOutbox(room, entry(id, order, { attempts: step, ackedBy: acked }));
      } else if (roll < 0.78) op = (s) => s.deleteOutbox(room, id);
      else if (roll < 0.95) {
        const patch: Partial<RoomState> = rng.chance(0.5) ? { lastSeq: step } : { token: undefined, name: `n${step}` };
        op = (s) => s.patchState(room, patch);
      } else op = (s) => s.clearRoom(room);
      const expected = await op(model);
      const actual = await op(store);
      assertEquals(actual, expected, `seed ${seed} step ${step}: the call's result`);

      const fault = rng.next();
      if (fault < 0.08) {
        quotaFull = !quotaFull;
        faults++;
      } else if (fault < 0.12 && store.durable()) {
        forceCloseDatabase(lastConnection(h.name));
        faults++;
      } else if (fault < 0.25) {
        await h.clock.advance(rng.int(0, STORAGE_RETRY_CAP_MS));
      }
      for (const r of rooms) {
        assertEquals(await contents(store, r), await contents(model, r), `seed ${seed} step ${step}: reads of ${r}`);
      }
      if (rng.chance(0.3)) {
        await store.settled();
        if (store.durable()) {
          durableChecks++;
          for (const r of rooms) {
            assertEquals(await onDisk(h.name, r), await contents(model, r), `seed ${seed} step ${step}: disk of ${r}`);
          }
        }
      }
    }
    quotaFull = false;
    for (let i = 0; i < 10 && !store.durable(); i++) await reopen(h);
    assert(store.durable(), `seed ${seed}: durable again once storage works`);
    for (const r of rooms) assertEquals(await onDisk(h.name, r), await contents(model, r), `seed ${seed}: end of ${r}`);
    return { ops, faults, durableChecks };
  } finally {
    quotaFull = false;
    store.close();
  }
}

Deno.test("over random schedules of writes and failures, reads match a model and durable() means on disk", async () => {
  const replay = envNumber("STORE_SEED");
  const runs = replay === undefined ? envNumber("STORE_RUNS") ?? 60 : 1;
  const base = replay ?? (Date.now() % 1_000_000_000);
  console.log(`resilient store: base seed ${base}, ${runs} schedules (replay one with STORE_SEED=<seed>)`);
  let ops = 0;
  let faults = 0;
  let checks = 0;
  for (let i = 0; i < runs; i++) {
    const result = await schedule(base + i);
    ops += result.ops;
    faults += result.faults;
    checks += result.durableChecks;
  }
  console.log(
    `resilient store: ${ops} operations, ${faults} injected failures, ${checks} on-disk checks while durable`,
  );
  assert(faults > 0 && checks > 0, "the schedules injected failures and checked the disk");
});

Deno.test("a write-back never replaces a member key pair another tab stored meanwhile", async () => {
  const keys = () =>
    crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]) as Promise<
      CryptoKeyPair
    >;
  const [mine, theirs] = await Promise.all([keys(), keys()]);
  // This tab could not open IndexedDB: the room started empty in memory and made its own key pair.
  const h = await harness({ open: openAfterRefusals(1) });
  const { store } = h;
  try {
    assertEquals(store.state.value.mode, "memory");
    await store.patchState(ROOM, { identity: mine, lastSeq: 3 });
    // Meanwhile another tab of the same room opened IndexedDB and stored its key pair.
    const other = await openIdbStore(h.name);
    await other.patchState(ROOM, { identity: theirs });
    other.close();
    while (!store.durable()) await reopen(h);
  } finally {
    store.close();
  }
  const db = await openIdbStore(h.name);
  try {
    const state = await db.getState(ROOM);
    assert(state.identity, "a key pair is stored");
    const stored = await crypto.subtle.exportKey("raw", state.identity.publicKey);
    const expected = await crypto.subtle.exportKey("raw", theirs.publicKey);
    assertEquals(new Uint8Array(stored), new Uint8Array(expected), "the stored key pair stays");
    assertEquals(state.lastSeq, 3, "the other fields are written back");
  } finally {
    db.close();
  }
});
